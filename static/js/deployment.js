// Keeps the deployment page current: Server-Sent Events from the event log, polling if that fails.
// The server rendered the page at data-seq; every event after it is applied here, in seq order.
(function () {
  "use strict";
  var root = document.getElementById("deployment");
  if (!root) return;
  var TERMINAL = ["Succeeded", "Failed", "Stopped"];
  var DONE = ["Succeeded", "Failed", "Skipped", "Unknown"];
  var seq = parseInt(root.dataset.seq, 10) || 0;
  var logHigh = seq; // log lines up to here are already on the page
  var finished = false, polling = false, source = null, refreshing = false;

  function $(sel, el) { return (el || document).querySelector(sel); }
  function $$(sel, el) { return Array.prototype.slice.call((el || document).querySelectorAll(sel)); }
  function attr(v) { return String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"'); }
  function setBadge(el, status) { if (el) { el.className = "badge status-" + status; el.textContent = status; } }
  function note(text) { var n = $("#live-note"); if (n) n.textContent = text; }
  function human(ms) {
    var s = Math.max(ms, 0) / 1000;
    if (s < 60) return s.toFixed(1) + " s";
    var m = Math.floor(s / 60);
    return m < 60 ? m + " m " + Math.floor(s % 60) + " s" : Math.floor(m / 60) + " h " + (m % 60) + " m";
  }
  function host(name) { return $('#instances .host[data-host="' + attr(name) + '"]'); }
  // The server sends each segment's share as data-pct, never a style attribute (the CSP allows no inline
  // style); setting the width here goes through the CSSOM, which the policy allows.
  function sizeSegments() { $$("#batches .seg[data-pct]").forEach(function (s) { s.style.width = s.dataset.pct + "%"; }); }

  // Unknown hosts (a queued deployment that just started): fetch the page once more and swap it in.
  function refresh() {
    if (refreshing) return;
    refreshing = true;
    fetch(location.pathname, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.getElementById("deployment");
      ["#plan", "#batches", "#instances", "#diagnostics", "#log-hosts", "#overview"].forEach(function (sel) {
        var a = $(sel), b = $(sel, fresh);
        if (a && b) a.replaceWith(b);
      });
      logHigh = Math.max(logHigh, parseInt(fresh.dataset.seq, 10) || 0);
      sizeSegments();
      applyFilter();
    }).catch(function () {}).then(function () { refreshing = false; });
  }

  function recount() {
    var counts = {};
    $$("#instances .host").forEach(function (h) { counts[h.dataset.status] = (counts[h.dataset.status] || 0) + 1; });
    $$("#overview [data-count]").forEach(function (c) { c.textContent = counts[c.dataset.count] || 0; });
    $$("#batches .batch").forEach(function (b) {
      var members = $$('#instances .host[data-batch="' + b.dataset.batch + '"]');
      var bar = $(".bar", b), done = 0, by = {};
      members.forEach(function (h) { by[h.dataset.status] = (by[h.dataset.status] || 0) + 1; if (DONE.indexOf(h.dataset.status) >= 0) done++; });
      bar.innerHTML = "";
      ["Succeeded", "Failed", "Unknown", "Skipped", "InProgress"].forEach(function (s) {
        if (!by[s]) return;
        var seg = document.createElement("span");
        seg.className = "seg seg-" + s;
        seg.style.width = (100 * by[s] / members.length) + "%";
        bar.appendChild(seg);
      });
      $("[data-batch-count]", b).textContent = done + " of " + members.length;
      bar.setAttribute("aria-label", "Batch " + (+b.dataset.batch + 1) + ": " + done + " of " + members.length + " done");
    });
  }

  function failure(e) {
    var list = $("#failure-list"), box = $("#diagnostics");
    if (!list) return;
    var li = document.createElement("li");
    li.dataset.host = e.instance; li.dataset.event = e.event;
    var strong = document.createElement("strong"); strong.textContent = e.instance;
    var badge = document.createElement("span"); badge.className = "badge status-Failed"; badge.textContent = e.error_code || e.status;
    li.appendChild(strong); li.appendChild(document.createTextNode(" · " + e.event + " · ")); li.appendChild(badge);
    if (e.message) { var d = document.createElement("div"); d.className = "diag-message"; d.textContent = e.message; li.appendChild(d); }
    if (!$("#first-failure")) li.id = "first-failure";
    list.appendChild(li);
    box.hidden = false;
    $("#jump-failure").hidden = false;
  }

  function logLine(e) {
    if (e.seq <= logHigh) return;
    logHigh = e.seq;
    var hostEl = $('#log-hosts .log-host[data-host="' + attr(e.instance) + '"]');
    if (!hostEl) { refresh(); return; }
    var ev = $('.log-event[data-event="' + attr(e.event) + '"]', hostEl);
    if (!ev) {
      ev = document.createElement("div"); ev.className = "log-event"; ev.dataset.event = e.event;
      var h = document.createElement("h3"); h.textContent = e.event; ev.appendChild(h);
      var p = document.createElement("pre"); p.className = "log"; ev.appendChild(p);
      hostEl.appendChild(ev);
    }
    ev.removeAttribute("data-empty");
    var span = document.createElement("span");
    span.className = "ln" + (e.stream === "stderr" ? " err" : "");
    span.dataset.seq = e.seq;
    span.textContent = e.message + "\n";
    var filter = $("#log-filter").value.toLowerCase();
    if (filter && span.textContent.toLowerCase().indexOf(filter) < 0) span.hidden = true;
    $("pre", ev).appendChild(span);
  }

  function apply(e) {
    if (e.kind === "log") {
      logLine(e);
    } else if (e.kind === "deployment") {
      setBadge($("#dep-status"), e.status);
      if (e.status === "InProgress" && root.dataset.status !== "InProgress" && !$("#instances .host")) refresh();
      root.dataset.status = e.status;
      if (e.status === "InProgress" && !$("#dep-duration").dataset.started) $("#dep-duration").dataset.started = e.at;
      if (e.error_code) { $("#dep-error").hidden = false; $("#dep-error-code").textContent = e.error_code; $("#dep-error-message").textContent = e.message || ""; }
      if (TERMINAL.indexOf(e.status) >= 0) {
        $("#dep-ended").textContent = new Date(e.at).toLocaleTimeString();
        var started = $("#dep-duration").dataset.started;
        if (started) $("#dep-duration").textContent = human(new Date(e.at) - new Date(started));
        var stop = $("#stop-form"); if (stop) stop.remove();
      }
    } else if (e.kind === "halting") {
      $("#dep-error").hidden = false; $("#dep-error-code").textContent = e.error_code || ""; $("#dep-error-message").textContent = e.message || "";
    } else if (e.kind === "target") {
      var h = host(e.instance);
      if (!h) { refresh(); return; }
      h.dataset.status = e.status;
      setBadge($("[data-target-status]", h), e.status);
      if (e.message) $("[data-target-message]", h).textContent = e.message;
      recount();
    } else if (e.kind === "event") {
      var hh = host(e.instance);
      if (!hh) { refresh(); return; }
      var li = $('li[data-event="' + attr(e.event) + '"]', hh);
      if (!li) return;
      li.dataset.status = e.status;
      setBadge($("[data-event-status]", li), e.status);
      if (e.status === "InProgress") li.dataset.started = e.at;
      else if (DONE.indexOf(e.status) >= 0 && li.dataset.started) $("[data-event-duration]", li).textContent = human(new Date(e.at) - new Date(li.dataset.started));
      if (e.status === "Failed") failure(e);
    }
  }

  function take(e) {
    if (e.seq <= seq) return; // replays after a reconnect
    seq = e.seq;
    apply(e);
  }

  function done() {
    finished = true;
    note("Finished.");
    if (source) { source.close(); source = null; }
  }

  function poll() {
    if (finished) return;
    fetch(root.dataset.eventsApi + "?after=" + seq, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (page) {
        page.events.forEach(take);
        if (page.done) { done(); return; }
        setTimeout(poll, page.has_more ? 0 : 2000);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }

  function startPolling() {
    if (polling || finished) return;
    polling = true;
    note("Live (polling): this page updates every 2 seconds.");
    poll();
  }

  function connect() {
    if (!window.EventSource) { startPolling(); return; }
    source = new EventSource(root.dataset.stream + "?after=" + seq);
    ["deployment", "halting", "target", "event", "log"].forEach(function (kind) {
      source.addEventListener(kind, function (m) { take(JSON.parse(m.data)); });
    });
    source.addEventListener("end", function () { done(); });
    source.onerror = function () {
      if (finished) return;
      if (source) { source.close(); source = null; }
      startPolling();
    };
  }

  // Client-side filter over the full log.
  function applyFilter() {
    var input = $("#log-filter");
    if (!input) return;
    var q = input.value.toLowerCase();
    $$("#log-hosts .ln").forEach(function (ln) { ln.hidden = !!q && ln.textContent.toLowerCase().indexOf(q) < 0; });
  }
  var input = $("#log-filter");
  if (input) input.addEventListener("input", applyFilter);

  sizeSegments();
  // Even a finished page connects once: the stream sends any row written after the cursor, then "end".
  connect();
  window.fleetdeckDeployment = { seq: function () { return seq; } };
})();
