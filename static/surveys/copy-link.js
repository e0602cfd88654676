// The "Copy link" button next to the participant's personal link. Without JavaScript the button
// stays hidden and the read-only field can be selected and copied by hand.
(function () {
  "use strict";
  var button = document.getElementById("copy-link");
  var field = document.getElementById("personal-link");
  var status = document.getElementById("copy-status");
  if (!button || !field) return;
  button.hidden = false;
  function done(ok) {
    status.textContent = ok ? button.dataset.copied : button.dataset.failed;
    if (!ok) { field.focus(); field.select(); }
  }
  button.addEventListener("click", function () {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () { done(false); });
      return;
    }
    field.focus();
    field.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    done(ok);
  });
  field.addEventListener("focus", function () { field.select(); });
})();
