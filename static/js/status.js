// Live ingestion status on the documents list. Polls for the rows on this page
// that changed since the last answer (the server renders them with the same
// template as the page), quickly while any is in flight, slowly otherwise, and
// not at all while the tab is hidden.
(function () {
  "use strict";
  var table = document.getElementById("documents");
  if (!table) return;
  var url = table.getAttribute("data-status-url");
  var since = table.getAttribute("data-now");
  var added = document.getElementById("added");
  var timer = null;
  var FAST = 1500, SLOW = 15000;

  function rows() { return table.querySelectorAll("tbody tr[data-id]"); }

  function inFlight() {
    return table.querySelector('tr[data-status="queued"], tr[data-status="processing"]') !== null;
  }

  function replace(doc) {
    var row = table.querySelector('tr[data-id="' + doc.id + '"]');
    if (!row || row.getAttribute("data-version") === doc.version) return;
    if (row.contains(document.activeElement)) return; // never pull a button from under a click
    var holder = document.createElement("tbody");
    holder.innerHTML = doc.html.trim();
    var fresh = holder.querySelector("tr");
    if (!fresh) return;
    fresh.setAttribute("data-version", doc.version);
    row.replaceWith(fresh);
  }

  function tick() {
    timer = null;
    var ids = Array.prototype.map.call(rows(), function (r) { return r.getAttribute("data-id"); });
    if (!ids.length) { schedule(SLOW); return; }
    var query = "?ids=" + ids.join(",") + "&since=" + encodeURIComponent(since) +
      "&list=" + encodeURIComponent(window.location.search.replace(/^\?/, ""));
    fetch(url + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        since = data.now;
        data.documents.forEach(replace);
        if (data.added && added) {
          var shown = parseInt(added.getAttribute("data-count") || "0", 10) + data.added;
          added.setAttribute("data-count", shown);
          added.querySelector("span").textContent = shown + " new document" + (shown === 1 ? "" : "s") + " since this page opened.";
          added.hidden = false;
        }
        schedule(inFlight() ? FAST : SLOW);
      })
      .catch(function () { schedule(SLOW); });
  }

  function schedule(ms) {
    if (timer !== null) window.clearTimeout(timer);
    timer = document.hidden ? null : window.setTimeout(tick, ms);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) schedule(0);
    else if (timer !== null) { window.clearTimeout(timer); timer = null; }
  });
  schedule(inFlight() ? FAST : SLOW);

  // The filters apply as soon as a choice changes.
  var filters = document.getElementById("filters");
  if (filters) {
    filters.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () { filters.submit(); });
    });
  }
})();
