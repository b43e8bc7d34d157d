// The aggregator's live dashboard: one HTML document with its CSS and JavaScript inline, so that
// the single-file binary serves it with nothing read from disk and the browser fetches nothing but
// the aggregator's own JSON (docs/aggregator.md is the contract for what that JSON holds).
//
// The page never puts a string from the JSON through innerHTML: every node id, domain, error
// message and description goes in as a text node or through setAttribute, so registry content
// is shown as text and never parsed as markup. The Content-Security-Policy pins the inline script
// and style by hash, so even markup that slipped in could not run a script or load anything.
import { createHash } from "node:crypto";

const STYLE = String.raw`
:root {
  --bg: #f3f4f6; --panel: #fff; --line: #e5e7eb; --text: #111827; --muted: #6b7280;
  --ok: #15803d; --ok-bg: #dcfce7; --warn: #b45309; --warn-bg: #fef3c7; --bad: #b91c1c; --bad-bg: #fee2e2;
  --unknown: #4b5563; --unknown-bg: #e5e7eb; --accent: #2563eb;
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--text); }
body { font: 13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.mono, td.num, .card-value, .facts dd, .kv dd { font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12px; }
header.top { display: flex; align-items: center; gap: 18px; padding: 8px 16px; background: #111827; color: #f9fafb; }
.brand { font-weight: 600; font-size: 15px; white-space: nowrap; }
.brand .sub { font-weight: 400; color: #9ca3af; margin-left: 4px; }
.pill { display: inline-block; padding: 2px 10px; border-radius: 999px; font-weight: 600; text-transform: uppercase; font-size: 12px; letter-spacing: .04em; }
header .pill.st-healthy { background: #16a34a; color: #fff; }
header .pill.st-degraded { background: #d97706; color: #fff; }
header .pill.st-critical { background: #dc2626; color: #fff; }
header .pill.st-unknown { background: #4b5563; color: #fff; }
.facts { display: flex; gap: 18px; margin: 0; }
.facts div { display: flex; flex-direction: column; }
.facts dt { font-size: 10px; text-transform: uppercase; letter-spacing: .06em; color: #9ca3af; }
.facts dd { margin: 0; font-weight: 600; }
.facts dd.warn { color: #fbbf24; }
.spacer { flex: 1; }
.updated { color: #d1d5db; font-size: 12px; white-space: nowrap; }
.stale { background: var(--warn-bg); color: #78350f; border-bottom: 1px solid #fcd34d; padding: 6px 16px; font-weight: 600; }
.stale[hidden] { display: none; }
body.is-stale main { opacity: .6; }
main { padding: 12px 16px 24px; display: flex; flex-direction: column; gap: 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 10px; }
.card { background: var(--panel); border: 1px solid var(--line); border-left: 4px solid var(--unknown); border-radius: 6px; padding: 8px 10px; min-width: 0; }
.card.st-ok { border-left-color: var(--ok); }
.card.st-pending { border-left-color: #f59e0b; background: #fffbeb; }
.card.st-firing { border-left-color: #dc2626; background: #fef2f2; }
.card-head { display: flex; justify-content: space-between; align-items: center; gap: 6px; }
.card-name { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.card-value { font-size: 22px; font-weight: 600; margin: 2px 0; white-space: nowrap; }
.card-foot { font-size: 11px; color: var(--muted); display: flex; justify-content: space-between; gap: 6px; white-space: nowrap; }
.badge { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 11px; font-weight: 600; text-transform: uppercase; background: var(--unknown-bg); color: var(--unknown); white-space: nowrap; }
.badge.st-ok, .badge.st-healthy, .badge.st-synced, .badge.st-up { background: var(--ok-bg); color: var(--ok); }
.badge.st-pending, .badge.st-degraded, .badge.st-stale, .badge.st-half_open { background: var(--warn-bg); color: var(--warn); }
.badge.st-firing, .badge.st-critical, .badge.st-down, .badge.st-open, .badge.st-unhealthy { background: var(--bad-bg); color: var(--bad); }
.row2 { display: grid; grid-template-columns: 280px 1fr 1fr; gap: 10px; }
.row3 { display: grid; grid-template-columns: minmax(0, 1fr) 280px; gap: 10px; align-items: start; }
.col { display: flex; flex-direction: column; gap: 10px; min-width: 0; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; min-width: 0; }
.panel h2 { margin: 0 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: #374151; display: flex; justify-content: space-between; align-items: baseline; }
.panel h2 .hint { font-weight: 400; text-transform: none; letter-spacing: 0; color: var(--muted); }
.panel h2 .now { font-size: 14px; color: var(--text); text-transform: none; letter-spacing: 0; }
.kv { display: grid; grid-template-columns: auto 1fr; gap: 3px 12px; margin: 0; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; text-align: right; font-weight: 600; }
svg.chart { display: block; width: 100%; height: 130px; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .axis { fill: var(--muted); font-size: 11px; }
svg.chart .line { fill: none; stroke: var(--accent); stroke-width: 1.8; stroke-linejoin: round; }
svg.chart .area { fill: var(--accent); fill-opacity: .12; stroke: none; }
svg.chart .dot { fill: var(--accent); }
svg.chart .empty { fill: var(--muted); font-size: 12px; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-size: 11px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; padding: 4px 5px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 4px 5px; border-bottom: 1px solid #f3f4f6; vertical-align: middle; }
th.num, td.num { text-align: right; white-space: nowrap; }
tr.row-open td:first-child { box-shadow: inset 3px 0 0 #dc2626; }
tr.row-open { background: #fef2f2; }
tr.row-down { color: var(--muted); }
td.empty, li.empty { color: var(--muted); font-style: italic; }
.scroll { overflow-x: auto; }
td.id { max-width: 170px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
.chip { display: inline-block; max-width: 150px; overflow: hidden; text-overflow: ellipsis; vertical-align: middle; padding: 0 6px; margin: 1px 3px 1px 0; border-radius: 4px; background: #eef2ff; color: #3730a3; font-size: 11px; white-space: nowrap; }
.chip.open { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
.chip.half_open { background: var(--warn-bg); color: var(--warn); font-weight: 600; }
.sub-text { color: var(--muted); font-size: 11px; }
.warn-text { color: var(--warn); }
.bad-text { color: var(--bad); font-weight: 600; }
.list { list-style: none; margin: 0; padding: 0; }
.list li { display: flex; align-items: center; gap: 6px; padding: 4px 0; border-bottom: 1px solid #f3f4f6; min-width: 0; }
.list li .grow { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
`;

const SCRIPT = String.raw`
(function () {
  "use strict";
  var METRICS_URL = "v1/cluster/metrics";
  var ALERTS_URL = "v1/alerts";
  var DEFAULT_INTERVAL_MS = 5000;
  var HISTORY_MS = 10 * 60 * 1000;
  var SVG_NS = "http://www.w3.org/2000/svg";
  var METRICS = [
    ["control_plane_availability", "CP availability"],
    ["config_sync_latency", "Config sync latency"],
    ["cross_node_latency", "Cross-node p99"],
    ["network_partition_duration", "Partition duration"],
    ["request_success_rate", "Success rate"],
    ["circuit_breaker_open_count", "Open breakers"]
  ];
  var ALERT_STATES = ["ok", "pending", "firing"];
  var HEALTH_STATES = ["healthy", "degraded", "critical"];

  var state = {
    metrics: null, alerts: null, history: [],
    intervalMs: DEFAULT_INTERVAL_MS, clockOffsetMs: 0,
    lastMetricsAt: 0, lastAlertsAt: 0, error: null, renderErrors: []
  };
  var inFlight = false;

  function byId(id) { return document.getElementById(id); }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function str(v) { return v == null ? "" : String(v); }
  function arr(v) { return Array.isArray(v) ? v : []; }
  function obj(v) { return v && typeof v === "object" && !Array.isArray(v) ? v : {}; }
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function message(e) { return e && e.message ? e.message : String(e); }
  function serverNow() { return Date.now() + state.clockOffsetMs; }
  function parseTime(v) { var t = typeof v === "string" ? Date.parse(v) : NaN; return isFinite(t) ? t : null; }

  // Builds an element; strings become text nodes and attributes go through setAttribute, so
  // nothing from the JSON is ever parsed as markup.
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }
  function s(tag, attrs) {
    var el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    return el;
  }
  function setAttrs(el, attrs) {
    if (!attrs) return;
    for (var k in attrs) {
      var v = attrs[k];
      if (v == null || v === false || v === "") continue;
      if (k === "text") el.textContent = String(v);
      else el.setAttribute(k, String(v));
    }
  }
  function append(el, children) {
    if (children == null) return;
    if (!Array.isArray(children)) children = [children];
    for (var i = 0; i < children.length; i++) {
      var c = children[i];
      if (c == null || c === false) continue;
      el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
  }
  function fill(el, children) { el.replaceChildren(); append(el, children); }
  function oneOf(v, allowed, fallback) { return allowed.indexOf(v) >= 0 ? v : fallback; }

  var intFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  function fmtCount(v) { v = num(v); return v == null ? "\u2014" : intFormat.format(v); }
  // A fixed number of decimals without the zeros that say nothing: 20 s, 2.5 s, 99.8%.
  function fixed(v, digits) { return String(parseFloat(v.toFixed(digits))); }
  function fmtRate(v) {
    v = num(v);
    if (v == null) return "\u2014";
    return fixed(v, v < 10 ? 2 : v < 100 ? 1 : 0);
  }
  function fmtPct(v) {
    v = num(v);
    if (v == null) return "\u2014";
    var p = v * 100;
    // Floored near 100% so that 0.99996 never reads as a clean 100%.
    if (p >= 99 && p < 100) return fixed(Math.floor(p * 100) / 100, 2) + "%";
    return fixed(p, p < 10 ? 2 : 1) + "%";
  }
  function fmtSeconds(v) {
    v = num(v);
    if (v == null) return "\u2014";
    if (v === 0) return "0 s";
    var a = Math.abs(v);
    if (a < 1) return fixed(v * 1000, a < 0.001 ? 2 : a < 0.01 ? 1 : 0) + " ms";
    if (a < 60) return fixed(v, a < 10 ? 2 : 1) + " s";
    return fmtAge(v * 1000);
  }
  function fmtAge(ms) {
    var sec = Math.max(0, Math.round(ms / 1000));
    if (sec < 60) return sec + "s";
    var m = Math.floor(sec / 60);
    if (m < 60) return m + "m" + (sec % 60 ? " " + pad(sec % 60) + "s" : "");
    var hr = Math.floor(m / 60);
    if (hr < 48) return hr + "h" + (m % 60 ? " " + pad(m % 60) + "m" : "");
    return Math.floor(hr / 24) + "d" + (hr % 24 ? " " + (hr % 24) + "h" : "");
  }
  function fmtClock(ms) {
    var d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function fmtUnit(v, unit) {
    if (unit === "ratio") return fmtPct(v);
    if (unit === "seconds") return fmtSeconds(v);
    if (unit === "count") return fmtCount(v);
    v = num(v);
    return v == null ? "\u2014" : String(v) + (unit ? " " + unit : "");
  }
  function ago(iso) {
    var t = parseTime(iso);
    return t == null ? null : fmtAge(serverNow() - t);
  }

  // --- fetching -------------------------------------------------------------------------------

  async function fetchJson(url, timeoutMs) {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, timeoutMs);
    try {
      var res, text;
      try {
        res = await fetch(url, { signal: ctl.signal, cache: "no-store", headers: { accept: "application/json" } });
        text = await res.text();
      } catch (e) {
        throw new Error(ctl.signal.aborted ? "no answer within " + timeoutMs + " ms" : "unreachable");
      }
      var body;
      try { body = JSON.parse(text); } catch (e) { body = undefined; }
      if (!res.ok) {
        var err = obj(obj(body).error);
        throw new Error("HTTP " + res.status + (err.message ? " " + str(err.message) : ""));
      }
      if (body === undefined) throw new Error("malformed JSON");
      return body;
    } finally {
      clearTimeout(timer);
    }
  }

  function acceptMetrics(m) {
    if (!m || typeof m !== "object" || !m.cluster_health || typeof m.cluster_health !== "object") {
      throw new Error("unexpected answer (no cluster_health)");
    }
    state.metrics = m;
    state.lastMetricsAt = Date.now();
    var interval = num(m.scrapeIntervalSeconds);
    state.intervalMs = interval != null && interval > 0 ? Math.min(Math.max(interval * 1000, 1000), 300000) : DEFAULT_INTERVAL_MS;
    var generated = parseTime(m.generatedAt);
    if (generated != null) state.clockOffsetMs = generated - Date.now();
    remember(generated != null ? generated : serverNow(), m);
  }

  function acceptAlerts(a) {
    if (!a || typeof a !== "object" || !Array.isArray(a.alerts)) throw new Error("unexpected answer (no alerts list)");
    state.alerts = a;
    state.lastAlertsAt = Date.now();
  }

  // The rolling history the charts draw: one point per distinct metrics snapshot.
  function remember(t, m) {
    var history = state.history;
    var last = history[history.length - 1];
    if (last && t === last.t) return;
    if (last && t < last.t) history.length = 0;
    history.push({ t: t, rps: num(m.requests_per_second), p99: num(obj(m.latency).p99) });
    while (history.length && history[0].t < t - HISTORY_MS) history.shift();
  }

  function failure(what, e, lastOkAt) {
    return what + ": " + message(e) + (lastOkAt
      ? " (showing the answer of " + fmtClock(lastOkAt) + ", " + fmtAge(Date.now() - lastOkAt) + " ago)"
      : " (no answer yet)");
  }

  // One poll at a time, and one request at a time within it: the next poll is scheduled only
  // once this one has settled, whether it succeeded or not.
  async function poll() {
    if (inFlight) return;
    inFlight = true;
    var started = Date.now();
    var timeoutMs = Math.min(Math.max(state.intervalMs, 2000), 10000);
    var errors = [];
    try {
      try { acceptMetrics(await fetchJson(METRICS_URL, timeoutMs)); } catch (e) { errors.push(failure("metrics", e, state.lastMetricsAt)); }
      try { acceptAlerts(await fetchJson(ALERTS_URL, timeoutMs)); } catch (e) { errors.push(failure("alerts", e, state.lastAlertsAt)); }
      state.error = errors.length ? errors.join("; ") : null;
      render();
    } finally {
      inFlight = false;
      setTimeout(poll, Math.max(0, state.intervalMs - (Date.now() - started)));
    }
  }

  // --- rendering ------------------------------------------------------------------------------

  function render() {
    state.renderErrors = [];
    section("header", renderHeader);
    section("metrics", renderCards);
    section("traffic", renderTraffic);
    section("charts", renderCharts);
    section("nodes", renderNodes);
    section("breakers", renderBreakers);
    section("domains", renderDomains);
    section("members", renderMembers);
    renderStale();
  }

  // A section that cannot be drawn (a field of an unexpected shape) leaves the others drawn and
  // says so in the banner instead of stopping the page.
  function section(name, fn) {
    try { fn(); } catch (e) { state.renderErrors.push(name + ": " + message(e)); }
  }

  function renderStale() {
    var banner = byId("stale");
    var problems = [];
    if (state.error) problems.push(state.error);
    if (state.renderErrors.length) problems.push("could not draw " + state.renderErrors.join("; "));
    var stale = problems.length > 0;
    document.body.classList.toggle("is-stale", stale && state.error != null);
    banner.hidden = !stale;
    if (!stale) { banner.textContent = ""; return; }
    banner.textContent = (state.error ? "Stale: " : "Warning: ") + problems.join("; ");
    banner.setAttribute("data-error", state.error ? "true" : "false");
  }

  function renderHeader() {
    var m = state.metrics;
    if (!m) return;
    var ch = obj(m.cluster_health);
    var status = oneOf(ch.status, HEALTH_STATES, "unknown");
    var health = byId("health");
    health.textContent = status;
    health.className = "pill st-" + status;
    health.setAttribute("data-status", status);
    document.title = status + " \u00b7 Nagent Mesh";
    byId("score").textContent = fmtPct(ch.score);
    var leader = byId("leader");
    leader.textContent = ch.leader ? str(ch.leader) : "none";
    leader.className = ch.leader ? "" : "warn";
    counter(byId("members"), ch.membersUp, ch.membersTotal);
    counter(byId("nodes"), ch.nodesUp, ch.nodesTotal);
    var windowSeconds = num(m.windowSeconds);
    byId("window").textContent = windowSeconds == null ? "\u2014" : fmtAge(windowSeconds * 1000) + " / " + fmtAge(state.intervalMs);
    var generated = parseTime(m.generatedAt);
    var updated = byId("updated");
    updated.textContent = "updated " + fmtClock(state.lastMetricsAt);
    updated.title = generated != null ? "generated at " + new Date(generated).toISOString() : "";
  }

  function counter(el, up, total) {
    up = num(up); total = num(total);
    el.textContent = (up == null ? "?" : up) + "/" + (total == null ? "?" : total);
    el.setAttribute("data-up", up == null ? "" : String(up));
    el.setAttribute("data-total", total == null ? "" : String(total));
    el.className = up != null && total != null && up < total ? "warn" : "";
  }

  function renderCards() {
    var alerts = state.alerts ? arr(state.alerts.alerts) : [];
    var byName = {};
    var names = METRICS.map(function (m) { return m[0]; });
    alerts.forEach(function (a) {
      if (!a || typeof a.name !== "string") return;
      byName[a.name] = a;
      if (names.indexOf(a.name) < 0) names.push(a.name);
    });
    fill(byId("cards"), names.map(function (name) { return card(name, byName[name]); }));
  }

  function label(name) {
    for (var i = 0; i < METRICS.length; i++) if (METRICS[i][0] === name) return METRICS[i][1];
    return name.replace(/_/g, " ");
  }

  function card(name, a) {
    var st = a ? oneOf(a.state, ALERT_STATES, "unknown") : "unknown";
    var since = a ? parseTime(a.since) : null;
    var threshold = a && num(a.threshold) != null ? "alert if " + str(a.comparison) + " " + fmtUnit(a.threshold, a.unit) : "";
    var forText = since != null ? "for " + fmtAge(serverNow() - since) : "";
    return h("div", {
      "class": "card st-" + st, "data-testid": "metric-" + name, "data-state": st,
      title: (a && a.description ? str(a.description) + "\n" : "") + (since != null ? st + " since " + new Date(since).toISOString() : "")
    }, [
      h("div", { "class": "card-head" }, [
        h("span", { "class": "card-name", text: label(name) }),
        h("span", { "class": "badge st-" + st, "data-testid": "metric-state", text: st })
      ]),
      h("div", { "class": "card-value", "data-testid": "metric-value", text: a ? fmtUnit(a.value, a.unit) : "\u2014" }),
      h("div", { "class": "card-foot" }, [
        h("span", { text: threshold }),
        h("span", { "data-testid": "metric-since", text: forText })
      ])
    ]);
  }

  function renderTraffic() {
    var m = state.metrics;
    if (!m) return;
    var lat = obj(m.latency);
    var windowSeconds = num(m.windowSeconds);
    byId("traffic-window").textContent = windowSeconds == null ? "" : "last " + fmtAge(windowSeconds * 1000);
    var rows = [
      ["Requests/s", fmtRate(m.requests_per_second)],
      ["Total requests", fmtCount(m.total_requests)],
      ["Error rate", fmtPct(m.error_rate)],
      ["Average latency", fmtSeconds(m.average_latency)],
      ["p50 / p90", fmtSeconds(lat.p50) + " / " + fmtSeconds(lat.p90)],
      ["p99", fmtSeconds(lat.p99)]
    ];
    var children = [];
    rows.forEach(function (r) { children.push(h("dt", { text: r[0] }), h("dd", { text: r[1] })); });
    fill(byId("traffic"), children);
  }

  function renderCharts() {
    var last = state.history[state.history.length - 1];
    byId("rps-now").textContent = last ? fmtRate(last.rps) : "";
    byId("p99-now").textContent = last ? fmtSeconds(last.p99) : "";
    chart(byId("chart-rps"), function (p) { return p.rps; }, fmtRate);
    chart(byId("chart-p99"), function (p) { return p.p99; }, fmtSeconds);
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var e = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * e >= v) return steps[i] * e;
    return 10 * e;
  }

  // Draws the history as a line over an area; a gap of several intervals (failed fetches, a
  // sleeping laptop) breaks the line instead of bridging it. The time axis spans the history held,
  // at least ten intervals and at most ten minutes.
  function chart(svg, pick, fmt) {
    // Drawn at the element's own size, so that the axis text is never scaled.
    var W = Math.round(svg.clientWidth) || 600, H = Math.round(svg.clientHeight) || 130, L = 52, R = 8, T = 8, B = 18;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.replaceChildren();
    var points = state.history.filter(function (p) { return pick(p) != null; });
    var last = state.history[state.history.length - 1];
    var first = state.history[0];
    if (!last || !first || points.length === 0) {
      svg.appendChild(s("text", { "class": "empty", x: W / 2, y: H / 2, "text-anchor": "middle", text: last ? "no values yet" : "no data yet" }));
      return;
    }
    var t1 = last.t;
    var span = Math.min(HISTORY_MS, Math.max(t1 - first.t, 10 * state.intervalMs));
    var t0 = t1 - span;
    var max = niceMax(Math.max.apply(null, points.map(pick)));
    function x(t) { return L + ((t - t0) / span) * (W - L - R); }
    function y(v) { return T + (1 - v / max) * (H - T - B); }
    [0, max / 2, max].forEach(function (v) {
      svg.appendChild(s("line", { "class": "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.appendChild(s("text", { "class": "axis", x: L - 6, y: y(v) + 4, "text-anchor": "end", text: v === 0 ? "0" : fmt(v) }));
    });
    [[t0, "start", "-" + fmtAge(span)], [t0 + span / 2, "middle", "-" + fmtAge(span / 2)], [t1, "end", "now"]].forEach(function (tick) {
      svg.appendChild(s("text", { "class": "axis", x: x(tick[0]), y: H - 4, "text-anchor": tick[1], text: tick[2] }));
    });
    var maxGap = 2.5 * state.intervalMs + 1000;
    var segments = [];
    var current = [];
    for (var i = 0; i < state.history.length; i++) {
      var p = state.history[i];
      var v = pick(p);
      var prev = state.history[i - 1];
      if (v == null || (prev && p.t - prev.t > maxGap)) { if (current.length) segments.push(current); current = []; }
      if (v != null) current.push([x(p.t), y(v)]);
    }
    if (current.length) segments.push(current);
    segments.forEach(function (seg) {
      var line = seg.map(function (pt, j) { return (j ? "L" : "M") + pt[0].toFixed(1) + " " + pt[1].toFixed(1); }).join(" ");
      if (seg.length > 1) {
        var base = y(0).toFixed(1);
        svg.appendChild(s("path", { "class": "area", d: line + " L" + seg[seg.length - 1][0].toFixed(1) + " " + base + " L" + seg[0][0].toFixed(1) + " " + base + " Z" }));
        svg.appendChild(s("path", { "class": "line", d: line }));
      }
    });
    var lastSeg = segments[segments.length - 1];
    var end = lastSeg && lastSeg[lastSeg.length - 1];
    if (end) svg.appendChild(s("circle", { "class": "dot", cx: end[0].toFixed(1), cy: end[1].toFixed(1), r: 2.5 }));
  }

  function nonClosedBreakers(node) {
    return arr(node.breakers).filter(function (b) { return b && (b.state === "open" || b.state === "half_open"); });
  }

  function renderNodes() {
    var m = state.metrics;
    if (!m) return;
    var nodes = arr(m.nodes);
    byId("nodes-hint").textContent = nodes.length + (nodes.length === 1 ? " node" : " nodes");
    if (nodes.length === 0) {
      fill(byId("node-rows"), h("tr", null, h("td", { "class": "empty", colspan: 9, text: "No registered nodes." })));
      return;
    }
    fill(byId("node-rows"), nodes.map(function (raw) {
      var n = obj(raw);
      var breakers = nonClosedBreakers(n);
      var open = breakers.some(function (b) { return b.state === "open"; });
      var sync = obj(n.sync);
      var syncState = oneOf(sync.state, ["synced", "stale", "unknown"], "unknown");
      var syncLatency = num(sync.latencySeconds);
      var up = n.up === true;
      var down = ago(n.unreachableSince);
      var errorRate = num(n.error_rate);
      return h("tr", {
        "data-testid": "node-row", "data-node": str(n.id),
        "class": (open ? "row-open" : "") + (up ? "" : " row-down")
      }, [
        h("td", { "class": "id mono", title: str(n.id) + (n.address ? "\n" + str(n.address) : ""), text: str(n.id) }),
        h("td", null, arr(n.domains).map(function (d) { return h("span", { "class": "chip", title: str(d), text: str(d) }); })),
        h("td", { title: n.healthy === true ? "registered, lease alive" : "lease expired" }, h("span", { "class": "badge st-" + (n.healthy === true ? "healthy" : "unhealthy"), text: n.healthy === true ? "yes" : "no" })),
        h("td", { "class": "nowrap", title: n.scrapeError ? str(n.scrapeError) : "" }, [
          h("span", { "class": "badge st-" + (up ? "up" : "down"), text: up ? "up" : "down" }),
          !up && down ? h("span", { "class": "sub-text", text: " " + down }) : null
        ]),
        h("td", { "class": "nowrap", title: n.configRevision != null ? "revision " + str(n.configRevision) : "" }, [
          h("span", { "class": "badge st-" + syncState, text: syncState }),
          syncLatency != null ? h("span", { "class": "sub-text", text: " " + fmtSeconds(syncLatency) }) : null
        ]),
        h("td", { "class": "num", text: fmtRate(n.requests_per_second) }),
        h("td", { "class": "num" + (errorRate != null && errorRate >= 0.05 ? " bad-text" : errorRate != null && errorRate > 0.01 ? " warn-text" : ""), text: fmtPct(n.error_rate) }),
        h("td", { "class": "num", text: fmtSeconds(n.average_latency) }),
        h("td", null, breakers.length
          ? breakers.map(function (b) { return h("span", { "class": "chip " + (b.state === "open" ? "open" : "half_open"), title: str(b.domain) + " " + str(b.state), text: str(b.domain) }); })
          : h("span", { "class": "sub-text", text: "\u2014" }))
      ]);
    }));
  }

  function renderBreakers() {
    var m = state.metrics;
    if (!m) return;
    var items = [];
    arr(m.nodes).forEach(function (raw) {
      var n = obj(raw);
      nonClosedBreakers(n).forEach(function (b) { items.push({ node: str(n.id), domain: str(b.domain), state: b.state }); });
    });
    items.sort(function (a, b) {
      if (a.state !== b.state) return a.state === "open" ? -1 : 1;
      return a.node < b.node ? -1 : a.node > b.node ? 1 : a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0;
    });
    var open = items.filter(function (i) { return i.state === "open"; }).length;
    byId("breaker-count").textContent = open + " open" + (items.length > open ? ", " + (items.length - open) + " half-open" : "");
    if (items.length === 0) {
      fill(byId("breakers"), h("li", { "class": "empty", "data-testid": "breakers-empty", text: "No open circuit breakers." }));
      return;
    }
    fill(byId("breakers"), items.map(function (i) {
      return h("li", { "data-testid": "breaker", "data-node": i.node, "data-domain": i.domain, "data-state": i.state }, [
        h("span", { "class": "grow mono", title: i.node, text: i.node }),
        h("span", { "class": "chip", title: i.domain, text: i.domain }),
        h("span", { "class": "badge st-" + i.state, text: i.state === "open" ? "open" : "half-open" })
      ]);
    }));
  }

  function renderDomains() {
    var m = state.metrics;
    if (!m) return;
    var nodes = arr(m.nodes).map(obj);
    var domains = arr(m.domains);
    if (domains.length === 0) {
      fill(byId("domain-rows"), h("tr", null, h("td", { "class": "empty", colspan: 9, text: "No domains." })));
      return;
    }
    fill(byId("domain-rows"), domains.map(function (raw) {
      var d = obj(raw);
      var serving = nodes.filter(function (n) { return arr(n.domains).indexOf(d.domain) >= 0; });
      var up = serving.filter(function (n) { return n.up === true; }).length;
      var lat = obj(d.latency);
      return h("tr", { "data-testid": "domain-row", "data-domain": str(d.domain) }, [
        h("td", null, h("span", { "class": "chip", title: str(d.domain), text: str(d.domain) })),
        h("td", { "class": "num" + (up < serving.length ? " warn-text" : ""), text: up + "/" + serving.length }),
        h("td", { "class": "num", text: fmtRate(d.requests_per_second) }),
        h("td", { "class": "num", text: fmtCount(d.total_requests) }),
        h("td", { "class": "num", text: fmtPct(d.error_rate) }),
        h("td", { "class": "num", text: fmtSeconds(d.average_latency) }),
        h("td", { "class": "num", text: fmtSeconds(lat.p50) }),
        h("td", { "class": "num", text: fmtSeconds(lat.p90) }),
        h("td", { "class": "num", text: fmtSeconds(lat.p99) })
      ]);
    }));
  }

  function renderMembers() {
    var m = state.metrics;
    if (!m) return;
    var members = arr(m.members);
    if (members.length === 0) {
      fill(byId("members-list"), h("li", { "class": "empty", text: "No members reported." }));
      return;
    }
    fill(byId("members-list"), members.map(function (raw) {
      var mb = obj(raw);
      var up = mb.up === true;
      var down = ago(mb.unreachableSince);
      return h("li", { "data-testid": "member-row", "data-member": str(mb.id), title: str(mb.url) }, [
        h("span", { "class": "grow mono", text: str(mb.id) }),
        h("span", { "class": "sub-text", text: str(mb.role) }),
        h("span", { "class": "badge st-" + (up ? "up" : "down"), text: up ? "up" : "down" + (down ? " " + down : "") })
      ]);
    }));
  }

  render();
  poll();
})();
`;

const BODY = String.raw`
<header class="top">
  <div class="brand">Nagent Mesh<span class="sub">aggregator</span></div>
  <span id="health" class="pill st-unknown" data-testid="health-status" data-status="unknown">loading</span>
  <dl class="facts">
    <div><dt>score</dt><dd id="score" data-testid="health-score">&mdash;</dd></div>
    <div><dt>leader</dt><dd id="leader" data-testid="leader">&mdash;</dd></div>
    <div><dt>members up</dt><dd id="members" data-testid="member-count">&mdash;</dd></div>
    <div><dt>nodes up</dt><dd id="nodes" data-testid="node-count">&mdash;</dd></div>
    <div><dt>window / scrape</dt><dd id="window">&mdash;</dd></div>
  </dl>
  <div class="spacer"></div>
  <span id="updated" class="updated" data-testid="last-update">waiting for data&hellip;</span>
</header>
<div id="stale" class="stale" data-testid="stale" role="alert" hidden></div>
<main>
  <section id="cards" class="cards" aria-label="critical metrics"></section>
  <section class="row2">
    <div class="panel"><h2>Traffic <span id="traffic-window" class="hint"></span></h2><dl id="traffic" class="kv" data-testid="traffic"></dl></div>
    <div class="panel"><h2>Requests/s <span id="rps-now" class="now"></span></h2><svg id="chart-rps" class="chart" data-testid="chart-rps" role="img" aria-label="requests per second over time"></svg></div>
    <div class="panel"><h2>p99 latency <span id="p99-now" class="now"></span></h2><svg id="chart-p99" class="chart" data-testid="chart-p99" role="img" aria-label="p99 latency over time"></svg></div>
  </section>
  <section class="row3">
    <div class="col">
      <div class="panel">
        <h2>Nodes <span id="nodes-hint" class="hint"></span></h2>
        <div class="scroll"><table>
          <thead><tr><th>Node</th><th>Domains</th><th>Healthy</th><th>Up</th><th>Config sync</th><th class="num">Req/s</th><th class="num">Errors</th><th class="num">Avg lat.</th><th>Breakers</th></tr></thead>
          <tbody id="node-rows" data-testid="nodes"></tbody>
        </table></div>
      </div>
      <div class="panel">
        <h2>Domains</h2>
        <div class="scroll"><table>
          <thead><tr><th>Domain</th><th class="num">Nodes up</th><th class="num">Req/s</th><th class="num">Requests</th><th class="num">Errors</th><th class="num">Avg</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th></tr></thead>
          <tbody id="domain-rows" data-testid="domains"></tbody>
        </table></div>
      </div>
    </div>
    <div class="col">
      <div class="panel"><h2>Open breakers <span id="breaker-count" class="hint"></span></h2><ul id="breakers" class="list" data-testid="breakers"></ul></div>
      <div class="panel"><h2>Control plane</h2><ul id="members-list" class="list" data-testid="members"></ul></div>
    </div>
  </section>
</main>
`;

function sha256Source(source: string): string {
  return `'sha256-${createHash("sha256").update(source, "utf8").digest("base64")}'`;
}

/**
 * The Content-Security-Policy the dashboard is written for: its one inline script and stylesheet
 * pinned by hash, requests only to its own origin, nothing else loaded. DASHBOARD_HTML carries it
 * in a meta tag; a server may also send it as a header (adding `frame-ancestors 'none'`, which a
 * meta tag cannot express).
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256Source(SCRIPT)}`,
  `style-src ${sha256Source(STYLE)}`,
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

/**
 * The aggregator's dashboard, a complete HTML document to serve at `GET /` as
 * `text/html; charset=utf-8`. It reads `v1/cluster/metrics` and `v1/alerts` (relative, so it also
 * works behind a path prefix) every `scrapeIntervalSeconds` of the metrics answer (5 s until it
 * knows), one request at a time, and shows the cluster's health, the six critical metrics with
 * their alert state, nodes, open breakers, domains, control-plane members, and request rate and
 * p99 latency over the last ten minutes it has seen. A failed fetch keeps the last data on screen
 * marked stale and polling goes on. Stable `data-testid` attributes name what tests look at.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${DASHBOARD_CSP}">
<title>Nagent Mesh</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;
