// Drag and drop onto the upload form: the dropped files are uploaded at once,
// through the same form (and the same one-banner summary) as chosen files.
(function () {
  "use strict";
  var form = document.getElementById("upload");
  if (!form || !window.DataTransfer) return;
  var input = form.querySelector('input[type="file"]');
  var depth = 0;

  function hasFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return types && Array.prototype.indexOf.call(types, "Files") !== -1;
  }

  form.addEventListener("dragenter", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    form.classList.add("dragging");
  });
  form.addEventListener("dragover", function (event) {
    if (hasFiles(event)) event.preventDefault();
  });
  form.addEventListener("dragleave", function () {
    depth = Math.max(0, depth - 1);
    if (!depth) form.classList.remove("dragging");
  });
  form.addEventListener("drop", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    form.classList.remove("dragging");
    if (!event.dataTransfer.files.length) return;
    input.files = event.dataTransfer.files;
    form.classList.add("busy");
    form.submit();
  });
})();
