// Citation markers: hovering shows the quote; clicking opens the side panel with
// the passage in its surrounding text (and the rendered page for PDFs).
(function () {
  "use strict";
  var pop = document.getElementById("popover");
  var panel = document.getElementById("panel");

  function show(marker) {
    var source = document.getElementById("quote-" + marker.getAttribute("data-ordinal"));
    if (!pop || !source) return;
    pop.innerHTML = "";
    var title = source.querySelector("a").cloneNode(true);
    var quote = source.querySelector("blockquote").cloneNode(true);
    var page = source.querySelector(".muted");
    pop.appendChild(title);
    if (page) { pop.appendChild(document.createTextNode(" ")); pop.appendChild(page.cloneNode(true)); }
    pop.appendChild(quote);
    var box = marker.getBoundingClientRect();
    pop.style.left = Math.max(8, window.scrollX + box.left - 40) + "px";
    pop.style.top = window.scrollY + box.bottom + 6 + "px";
    pop.hidden = false;
  }

  function hide() { if (pop) pop.hidden = true; }

  function open(marker) {
    var template = document.getElementById("passage-" + marker.getAttribute("data-ordinal"));
    if (!panel || !template) return false;
    var body = panel.querySelector(".panel-body");
    body.innerHTML = "";
    body.appendChild(template.content.cloneNode(true));
    document.querySelectorAll("a.cite.active").forEach(function (m) { m.classList.remove("active"); });
    marker.classList.add("active");
    panel.hidden = false;
    var mark = body.querySelector("mark.cited");
    if (mark) mark.scrollIntoView({ block: "center" });
    return true;
  }

  document.querySelectorAll("#answer a.cite").forEach(function (marker) {
    marker.addEventListener("mouseenter", function () { show(marker); });
    marker.addEventListener("focus", function () { show(marker); });
    marker.addEventListener("mouseleave", hide);
    marker.addEventListener("blur", hide);
    marker.addEventListener("click", function (event) {
      if (open(marker)) { event.preventDefault(); hide(); }
    });
  });
  if (panel) {
    panel.querySelector(".panel-close").addEventListener("click", function () { panel.hidden = true; });
  }
})();
