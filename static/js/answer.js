// Citation markers: hovering or focusing one shows the quoted passage.
(function () {
  "use strict";
  var pop = document.getElementById("popover");
  if (!pop) return;

  function show(marker) {
    var source = document.getElementById("quote-" + marker.getAttribute("data-ordinal"));
    if (!source) return;
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

  function hide() { pop.hidden = true; }

  document.querySelectorAll("a.cite").forEach(function (marker) {
    marker.addEventListener("mouseenter", function () { show(marker); });
    marker.addEventListener("focus", function () { show(marker); });
    marker.addEventListener("mouseleave", hide);
    marker.addEventListener("blur", hide);
  });
})();
