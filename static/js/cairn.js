// Every page: behaviour that would otherwise be inline handlers, which the
// Content-Security-Policy refuses (project/settings.py).
(function () {
  "use strict";
  // The workspace switcher submits on change.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });
  // Forms with data-confirm ask before they are sent.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
})();
