// A wide table, a command or a long log scrolls inside its box (.table-wrap, pre). A region that scrolls
// must take keyboard focus and have a name, or a keyboard user cannot scroll it (WCAG 2.1.1, axe's
// scrollable-region-focusable). Only boxes that scroll now become tab stops: checked on load, on resize
// and when the page's scripts add content (live logs).
(function () {
  "use strict";

  var SCROLLERS = ".table-wrap, pre";

  function nameOf(box) {
    var caption = box.querySelector("caption");
    var holder = box.closest("section, .card, li, .log-event");
    var heading = holder && holder.querySelector("h1, h2, h3");
    var text = (caption || heading || {}).textContent || "";
    return (text.trim() || (box.matches("pre") ? "Text" : "Table")) + " (scrolls)";
  }

  function update() {
    document.querySelectorAll(SCROLLERS).forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", nameOf(box));
        box.dataset.scrollFocus = "";
      } else if (!scrolls && "scrollFocus" in box.dataset) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
        delete box.dataset.scrollFocus;
      }
    });
  }

  var pending = false;
  function soon() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; update(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    update();
    new MutationObserver(soon).observe(document.body, { childList: true, subtree: true });
  });
  window.addEventListener("resize", update);
})();
