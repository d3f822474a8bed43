// Keeps the deployment page current: Server-Sent Events from the event log, polling if that fails.
// The server rendered the page at data-seq; every event after it is applied here, in seq order.
(function () {
  "use strict";
  var root = document.getElementById("deployment");
  if (!root) return;
  var TERMINAL = ["Succeeded", "Failed", "Stopped"];
  var DONE = ["Succeeded", "Failed", "Skipped", "Unknown"];
  var seq = parseInt(root.dataset.seq, 10) || 0;
  // The server's clock minus this browser's, so a running duration ticks from the server's start time.
  var skew = (Date.parse(root.dataset.serverNow) - Date.now()) || 0;
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
  function logHost(name) { return $('#log-hosts .log-host[data-host="' + attr(name) + '"]'); }

  // Times: the server renders UTC; here each <time> shows the viewer's zone, with UTC in its tooltip.
  var FULL = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit",
    minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short" });
  var CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  var AGENT_TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(\+00:00|Z)$/;
  function utc(d, millis) { var iso = d.toISOString(); return iso.slice(0, 10) + " " + iso.slice(11, millis ? 23 : 19) + " UTC"; }
  function localize(el) {
    var d = new Date(el.getAttribute("datetime"));
    if (isNaN(d)) return;
    el.textContent = (el.classList.contains("ts") ? CLOCK : FULL).format(d);
  }
  function timeEl(value, isClock) {
    var d = new Date(value), t = document.createElement("time");
    t.setAttribute("datetime", d.toISOString());
    t.title = utc(d, isClock);
    if (isClock) t.className = "ts"; else t.dataset.local = "";
    localize(t);
    return t;
  }
  function showTime(sel, value) { var dd = $(sel); if (dd) { dd.textContent = ""; dd.appendChild(timeEl(value, false)); } }

  // Durations of what is still running tick every second.
  function tick() {
    var now = Date.now() + skew, dur = $("#dep-duration");
    if (dur && dur.dataset.started && TERMINAL.indexOf(root.dataset.status) < 0) {
      dur.textContent = human(now - Date.parse(dur.dataset.started));
    }
    $$('#instances li[data-status="InProgress"][data-started]').forEach(function (li) {
      $("[data-event-duration]", li).textContent = human(now - Date.parse(li.dataset.started));
    });
  }
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
      prepare(document);
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
      // As detail.batch_state: running while any host runs, done when all are, waiting before.
      var state = by.InProgress ? "running" : (done === members.length ? "done" : "waiting");
      b.className = "batch batch-" + state;
      b.dataset.state = state;
      $("[data-batch-state]", b).textContent = state.charAt(0).toUpperCase() + state.slice(1);
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
    var hostEl = logHost(e.instance);
    if (!hostEl) { refresh(); return; }
    var ev = $('.log-event[data-event="' + attr(e.event) + '"]', hostEl);
    if (!ev) {
      ev = document.createElement("div"); ev.className = "log-event"; ev.dataset.event = e.event;
      var h = document.createElement("h3"); h.textContent = e.event; ev.appendChild(h);
      var p = document.createElement("pre"); p.className = "log"; ev.appendChild(p);
      hostEl.appendChild(ev);
      addOption(eventSelect, e.event);
      filterEvent(ev);
    }
    ev.removeAttribute("data-empty");
    // The same markup as logview.render_lines: the time the agent read the line (else when stored).
    var span = document.createElement("span"), tx = document.createElement("span");
    span.className = "ln" + (e.stream === "stderr" ? " err" : "");
    span.dataset.seq = e.seq;
    span.appendChild(timeEl(AGENT_TS.test(e.ts || "") ? e.ts : e.at, true));
    tx.className = "tx"; tx.textContent = e.message;
    span.appendChild(tx);
    span.appendChild(document.createTextNode("\n"));
    filterLine(span, textFilter ? textFilter.value.toLowerCase() : "");
    $("pre", ev).appendChild(span);
    focusable($("pre", ev));
    followTo(span, hostEl, ev);
  }

  function apply(e) {
    if (e.kind === "log") {
      logLine(e);
    } else if (e.kind === "deployment") {
      setBadge($("#dep-status"), e.status);
      if (e.status === "InProgress" && root.dataset.status !== "InProgress" && !$("#instances .host")) refresh();
      root.dataset.status = e.status;
      if (e.status === "InProgress" && !$("#dep-duration").dataset.started) { $("#dep-duration").dataset.started = e.at; showTime("#dep-started", e.at); }
      if (e.error_code) { $("#dep-error").hidden = false; $("#dep-error-code").textContent = e.error_code; $("#dep-error-message").textContent = e.message || ""; }
      if (TERMINAL.indexOf(e.status) >= 0) {
        showTime("#dep-ended", e.at);
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
      autoOpen(e.instance, e.status);
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

  // The log: open while a host runs or after it failed, closed once it succeeded, unless the viewer
  // opened or closed it; filters by text, host and event; "follow" keeps the newest line in view.
  var textFilter = $("#log-filter"), hostSelect = $("#log-host-filter"), eventSelect = $("#log-event-filter");
  var follow = $("#log-follow");

  function autoOpen(name, status) {
    var d = logHost(name);
    if (!d) return;
    setBadge($("[data-log-status]", d), status);
    // Opened by hand, or the log "follow" is showing: the viewer's choice, not the status, decides.
    if (d.dataset.touched || (follow && follow.checked && d.dataset.followed)) return;
    if (status === "InProgress" || status === "Failed") d.open = true;
    else if (DONE.indexOf(status) >= 0) d.open = false;
  }
  function addOption(select, value) {
    if (!select || $$("option", select).some(function (o) { return o.value === value; })) return;
    var o = document.createElement("option"); o.textContent = value; select.appendChild(o);
  }
  function filterLine(ln, q) {
    var tx = $(".tx", ln);
    ln.hidden = !!q && (tx ? tx.textContent : ln.textContent).toLowerCase().indexOf(q) < 0;
  }
  function filterEvent(ev) { ev.hidden = !!(eventSelect && eventSelect.value) && ev.dataset.event !== eventSelect.value; }
  function applyFilter() {
    if (!textFilter) return;
    var q = textFilter.value.toLowerCase(), only = hostSelect.value;
    $$("#log-hosts .log-host").forEach(function (d) { d.hidden = !!only && d.dataset.host !== only; });
    $$("#log-hosts .log-event").forEach(filterEvent);
    $$("#log-hosts .ln").forEach(function (ln) { filterLine(ln, q); });
  }
  // A chosen host, or the hosts with output for a chosen event, open: that is what the viewer asked to see.
  function openChosen() {
    $$("#log-hosts .log-host:not([hidden])").forEach(function (d) {
      if (hostSelect.value || (eventSelect.value && $('.log-event:not([hidden]):not([data-empty])', d))) d.open = true;
    });
  }
  function followTo(span, hostEl, ev) {
    if (!follow || !follow.checked || span.hidden || hostEl.hidden || ev.hidden) return;
    hostEl.open = true;
    hostEl.dataset.followed = "1";
    var pre = span.parentNode;
    pre.scrollTop = pre.scrollHeight;
    span.scrollIntoView({ block: "nearest" });
  }
  function newest() {
    var lines = $$("#log-hosts .log-host:not([hidden]) .log-event:not([hidden]) .ln:not([hidden])"), best = null;
    lines.forEach(function (ln) { if (!best || +ln.dataset.seq > +best.dataset.seq) best = ln; });
    return best;
  }
  if (textFilter) {
    textFilter.addEventListener("input", applyFilter);
    [hostSelect, eventSelect].forEach(function (s) { s.addEventListener("change", function () { applyFilter(); openChosen(); }); });
    // A closed log has no height: check whether it scrolls once it opens.
    document.addEventListener("toggle", function (ev) {
      if (ev.target.classList && ev.target.classList.contains("log-host") && ev.target.open) $$("pre.log", ev.target).forEach(focusable);
    }, true);
    // Delegated from the document: a refresh swaps #log-hosts for a fresh copy.
    document.addEventListener("click", function (ev) {
      var summary = ev.target.closest && ev.target.closest("#log-hosts .log-host > summary");
      if (summary) summary.parentNode.dataset.touched = "1";
    });
    follow.addEventListener("change", function () {
      var ln = follow.checked && newest();
      if (ln) followTo(ln, ln.closest(".log-host"), ln.closest(".log-event"));
    });
    // Scrolling back up to read means "stop following".
    window.addEventListener("wheel", function (ev) { if (ev.deltaY < 0 && follow.checked) follow.checked = false; }, { passive: true });
    window.addEventListener("keydown", function (ev) {
      if (follow.checked && ["PageUp", "ArrowUp", "Home"].indexOf(ev.key) >= 0 && !ev.target.closest("input, select, textarea")) follow.checked = false;
    });
  }

  // A log that scrolls can be scrolled from the keyboard too (it takes focus only then).
  function focusable(pre) {
    if (pre.hasAttribute("tabindex") || pre.scrollHeight <= pre.clientHeight) return;
    pre.tabIndex = 0;
    var ev = pre.closest(".log-event"), host = pre.closest(".log-host");
    pre.setAttribute("aria-label", (host ? host.dataset.host + " " : "") + (ev ? ev.dataset.event : "") + " log");
  }

  // Whatever the server rendered (or a refresh swapped in): times in the viewer's zone, filters applied.
  function prepare(scope) {
    $$("time[data-local], time.ts", scope).forEach(localize);
    $$("#log-hosts pre.log", scope).forEach(focusable);
    $$("#log-hosts .log-host").forEach(function (d) {
      addOption(hostSelect, d.dataset.host);
      $$(".log-event", d).forEach(function (ev) { addOption(eventSelect, ev.dataset.event); });
    });
    applyFilter();
  }

  prepare(document);
  tick();
  setInterval(tick, 1000);
  sizeSegments();
  // Even a finished page connects once: the stream sends any row written after the cursor, then "end".
  connect();
  window.fleetdeckDeployment = { seq: function () { return seq; } };
})();
