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
  // Forms (or the buttons that submit them) with data-confirm ask first.
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var message =
      (submitter && submitter.getAttribute && submitter.getAttribute("data-confirm")) ||
      (event.target.getAttribute && event.target.getAttribute("data-confirm"));
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
})();
