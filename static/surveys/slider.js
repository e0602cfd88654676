// Progressive enhancement: a range control beside each slider item's number input. The number
// input stays the field that is submitted and the one keyboard and screen reader users reach;
// the range is a pointer convenience only, so it starts unset (no default answer is suggested).
(function () {
  "use strict";
  document.querySelectorAll("input.slider-number").forEach(function (number) {
    var range = document.createElement("input");
    range.type = "range";
    range.className = "slider-range";
    range.min = number.min; range.max = number.max; range.step = number.step;
    range.tabIndex = -1;
    range.setAttribute("aria-hidden", "true");
    if (number.value === "") { range.classList.add("unset"); range.value = number.min; } else { range.value = number.value; }
    range.addEventListener("input", function () { number.value = range.value; range.classList.remove("unset"); });
    number.addEventListener("input", function () { if (number.value !== "") { range.value = number.value; range.classList.remove("unset"); } });
    number.parentNode.insertBefore(range, number.nextSibling);
  });
})();
