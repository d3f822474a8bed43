// A table wider than the screen scrolls sideways inside its .table-wrap. Such a region must take
// keyboard focus and have a name, or a keyboard user cannot scroll it (WCAG 2.1.1, axe's
// scrollable-region-focusable). Only regions that scroll at the current width become tab stops.
(function () {
  "use strict";

  function nameOf(wrap) {
    var caption = wrap.querySelector("caption");
    var holder = wrap.closest("section, .card");
    var heading = holder && holder.querySelector("h1, h2, h3");
    var text = (caption || heading || {}).textContent || "";
    return text.trim() || "Table";
  }

  function update() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      if (scrolls && !wrap.hasAttribute("tabindex")) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", nameOf(wrap) + " (scrolls sideways)");
        wrap.dataset.scrollFocus = "";
      } else if (!scrolls && "scrollFocus" in wrap.dataset) {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
        delete wrap.dataset.scrollFocus;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", update);
  window.addEventListener("resize", update);
})();
