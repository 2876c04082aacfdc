// Bring the cited passage (or the cited page) into view.
(function () {
  "use strict";
  var mark = document.getElementById("cited");
  var text = document.getElementById("text");
  var target = mark;
  if (!target && text && text.getAttribute("data-focus-page")) {
    target = document.getElementById("page-" + text.getAttribute("data-focus-page"));
    if (target) target.classList.add("focused");
  }
  if (target) target.scrollIntoView({ block: "center" });
})();
