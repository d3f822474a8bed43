// Copy buttons: <button type="button" class="copy" data-copy="ID">Copy</button> copies the text of the
// element with that id, and says so in the button and to screen readers (aria-live on the button).
(function () {
  "use strict";
  if (window.fleetdeckCopyButtons) { return; }  // included by more than one part of a page
  window.fleetdeckCopyButtons = true;

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  function say(button, words) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = words;
    button.classList.add("copied");
    window.setTimeout(function () {
      button.textContent = label;
      button.classList.remove("copied");
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = (source.value !== undefined && source.tagName !== "CODE" && source.tagName !== "PRE")
      ? source.value : source.textContent;
    copy(text.trim()).then(
      function () { say(button, "Copied"); },
      function () { say(button, "Select and copy by hand"); }
    );
  });
})();
