// The builder works without JavaScript; this only improves it: kind-specific fields appear for the
// chosen kind, and the preview's controls update both frames (phone and desktop) at once.
(function () {
  "use strict";
  function syncKind(select) {
    var form = select.form;
    var option = select.options[select.selectedIndex];
    var scale = form.querySelector(".scale-fields");
    if (scale && option) { scale.classList.toggle("hidden", option.getAttribute("data-scale") === "none"); }
  }
  document.querySelectorAll("select.kind-select").forEach(function (select) {
    syncKind(select);
    select.addEventListener("change", function () { syncKind(select); });
  });
  var controls = document.querySelector("form.preview-controls");
  var phone = document.getElementById("preview-phone");
  var desktop = document.getElementById("preview-desktop");
  if (controls && phone && desktop) {
    var update = function (event) {
      if (event) { event.preventDefault(); }
      var url = controls.action + "?" + new URLSearchParams(new FormData(controls)).toString();
      phone.src = url;
      desktop.src = url;
    };
    controls.addEventListener("submit", update);
    controls.querySelectorAll("select").forEach(function (s) { s.addEventListener("change", update); });
  }
})();
