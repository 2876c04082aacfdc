// Live ingestion status on the document list: polls while anything is in flight.
(function () {
  "use strict";
  var table = document.getElementById("documents");
  if (!table) return;
  var url = table.getAttribute("data-status-url");
  var busy = { queued: true, processing: true };

  function set(row, role, value) {
    var el = row.querySelector('[data-role="' + role + '"]');
    if (!el) return;
    if (role === "progress") el.value = value;
    else if (role === "status") {
      el.textContent = value;
      el.className = "status status-" + value;
    } else el.textContent = value === null || value === undefined ? "" : value;
  }

  function tick() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        var pending = false;
        data.documents.forEach(function (doc) {
          var row = table.querySelector('tr[data-id="' + doc.id + '"]');
          if (!row) { pending = true; return; }
          set(row, "title", doc.title);
          set(row, "status", doc.status);
          set(row, "progress", doc.progress);
          set(row, "stage", doc.status === "ready" ? "" : doc.stage);
          set(row, "error", doc.error);
          set(row, "pages", doc.pages);
          set(row, "chunks", doc.chunk_count);
          set(row, "file", doc.file_id || doc.files_api_note);
          var retry = row.querySelector('[data-role="retry"]');
          if (retry) retry.hidden = doc.status !== "failed";
          if (busy[doc.status]) pending = true;
        });
        schedule(pending ? 1000 : 5000);
      })
      .catch(function () { schedule(5000); });
  }

  function schedule(ms) { window.setTimeout(tick, ms); }
  tick();
})();
