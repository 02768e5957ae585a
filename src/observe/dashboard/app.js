// keyferry dashboard: polls the server it was loaded from about once a second and draws
// what it gets. No framework, no chart library, no other origin (the server's CSP is
// default-src 'self'). Read-only: it only sends GET requests.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");
const WINDOW_MS = 10 * 60 * 1000;  // charts keep the last ten minutes
const POLL_MS = 1000;

// The token the page was opened with goes with every request.
async function getJson(path) {
  const headers = TOKEN ? { Authorization: "Bearer " + TOKEN } : {};
  const res = await fetch(path, { headers, cache: "no-store" });
  if (!res.ok) throw new Error(path + ": HTTP " + res.status);
  return res.json();
}

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c ?? ""));
  return e;
}

function fmtCount(n) {
  if (n == null || Number.isNaN(n)) return "–";
  const abs = Math.abs(n);
  if (abs >= 1e9) return (n / 1e9).toFixed(1) + "G";
  if (abs >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (abs >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return Math.round(n).toLocaleString("en-US");
}
function fmtBytes(n) {
  if (n == null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}
function fmtMs(ms) {
  if (ms == null) return "–";
  if (ms < 1000) return ms + " ms";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  return Math.floor(m / 60) + "h" + String(m % 60).padStart(2, "0") + "m";
}
function fmtSeconds(s) { return s < 1 ? (s * 1000).toFixed(0) + " ms" : s.toFixed(2) + " s"; }
function fmtTime(ms) { return new Date(ms).toISOString().replace("T", " ").replace("Z", ""); }

// ---- charts: a line per canvas over the last WINDOW_MS, drawn by hand ----
class Chart {
  constructor(canvas, format) {
    this.canvas = canvas;
    this.format = format;
    this.points = [];  // [time_ms, value]
  }
  add(t, v) {
    if (v == null || Number.isNaN(v)) return;
    this.points.push([t, v]);
    while (this.points.length && this.points[0][0] < t - WINDOW_MS) this.points.shift();
    this.canvas.dataset.points = String(this.points.length);
    this.draw();
  }
  draw() {
    const c = this.canvas, g = c.getContext("2d"), w = c.width, h = c.height;
    g.clearRect(0, 0, w, h);
    const pts = this.points;
    if (pts.length === 0) return;
    // The x axis spans the samples kept (at least 10 s), so a young chart fills its width.
    const t1 = pts[pts.length - 1][0], t0 = Math.min(pts[0][0], t1 - 10000);
    let max = 0;
    for (const [, v] of pts) max = Math.max(max, v);
    if (max === 0) max = 1;
    const pad = 4, top = 16;
    const x = (t) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (w - 2 * pad);
    const y = (v) => h - pad - (v / max) * (h - pad - top);
    g.strokeStyle = "#263240";
    g.beginPath(); g.moveTo(pad, y(max)); g.lineTo(w - pad, y(max)); g.stroke();
    g.strokeStyle = "#4fb3d9"; g.lineWidth = 2;
    g.beginPath();
    pts.forEach(([t, v], i) => (i ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v))));
    g.stroke();
    g.fillStyle = "#8a96a3"; g.font = "11px sans-serif";
    g.fillText("max " + this.format(max) + "   now " + this.format(pts[pts.length - 1][1]), pad, 11);
  }
}

const charts = {
  keys: new Chart($("chart-keys"), fmtCount),
  commands: new Chart($("chart-commands"), fmtCount),
  lagBytes: new Chart($("chart-lag-bytes"), fmtBytes),
  lagSeconds: new Chart($("chart-lag-seconds"), fmtSeconds),
  memory: new Chart($("chart-memory"), fmtBytes),
};
let previous = null;  // the last live sample, for the rates

function onLive(live) {
  $("title").textContent = live.title || "";
  $("stats-source").textContent = live.source;
  const s = live.stats;
  if (!s) return;
  $("keys").textContent = fmtCount(s.keys_written);
  $("commands").textContent = fmtCount(s.commands_applied);
  $("lag").textContent = fmtBytes(s.lag_bytes) + " / " + fmtSeconds((s.lag_ms ?? 0) / 1000);
  const t = live.time_ms;
  if (previous && t > previous.t) {
    const dt = (t - previous.t) / 1000;
    // A counter that went back (a new snapshot) restarts the rate instead of going negative.
    const rate = (now, before) => (now >= before ? (now - before) / dt : 0);
    charts.keys.add(t, rate(s.keys_written ?? 0, previous.keys));
    charts.commands.add(t, rate(s.commands_applied ?? 0, previous.commands));
  }
  charts.lagBytes.add(t, s.lag_bytes ?? 0);
  charts.lagSeconds.add(t, (s.lag_ms ?? 0) / 1000);
  previous = { t, keys: s.keys_written ?? 0, commands: s.commands_applied ?? 0 };
}

function onStatus(st) {
  $("phase").textContent = st.phase || "(not started)";
  $("phase-status").textContent = st.phase_status || "";
  $("phase-age").textContent = st.phase_started_ms ? "for " + fmtMs(Date.now() - st.phase_started_ms) : "";
}

function nodeTable(side) {
  const box = el("div");
  if (!side) { box.append(el("div", { class: "muted" }, "not read yet")); return box; }
  if (side.file) {
    box.append(el("div", {}, "RDB file " + side.file + (side.file_bytes != null ? " (" + fmtBytes(side.file_bytes) + ")" : "")));
  }
  if (side.error) box.append(el("div", { class: "error" }, side.error));
  if (side.cluster) box.append(el("div", { class: "muted" }, "cluster, state " + (side.cluster_state || "?")));
  if (!side.nodes || side.nodes.length === 0) return box;
  const table = el("table", {}, el("tr", {}, ...["endpoint", "engine", "version", "role", "keys", "memory"].map((h) => el("th", {}, h))));
  for (const n of side.nodes) {
    if (n.error) {
      table.append(el("tr", {}, el("td", {}, n.endpoint), el("td", { class: "error", colspan: "5" }, n.error)));
    } else {
      table.append(el("tr", { class: "node" }, el("td", {}, n.endpoint), el("td", {}, n.engine), el("td", {}, n.version),
        el("td", {}, n.role + (n.slots ? " " + n.slots : "")), el("td", {}, fmtCount(n.keys)), el("td", {}, fmtBytes(n.used_memory))));
    }
  }
  box.append(table);
  return box;
}

let lastNodesRefresh = null;
function onNodes(nodes) {
  $("source-nodes").replaceChildren(nodeTable(nodes.source));
  $("target-nodes").replaceChildren(nodeTable(nodes.target));
  if (nodes.note) $("source-nodes").replaceChildren(el("div", { class: "muted" }, nodes.note));
  if (nodes.refreshed_ms && nodes.refreshed_ms !== lastNodesRefresh && nodes.target && nodes.target.nodes) {
    lastNodesRefresh = nodes.refreshed_ms;
    const mem = nodes.target.nodes.reduce((sum, n) => sum + (n.used_memory || 0), 0);
    charts.memory.add(nodes.refreshed_ms, mem);
  }
}

function onTimeline(tl) {
  const items = tl.phases.map((p) => {
    const dur = p.duration_ms != null ? fmtMs(p.duration_ms) : fmtMs(tl.now_ms - p.started_ms) + "…";
    return el("li", { class: p.outcome }, p.phase, el("span", { class: "dur" }, dur + (p.outcome === "running" || p.outcome === "finish" ? "" : " " + p.outcome)));
  });
  $("timeline").replaceChildren(...items);
  const pause = tl.pause;
  if (!pause) $("pause").textContent = "not yet";
  else if (pause.running) $("pause").textContent = "paused " + fmtMs(tl.now_ms - pause.started_ms) + "…";
  else $("pause").textContent = fmtMs(pause.pause_ms);
  const v = tl.verify;
  if (v) {
    const box = el("div", {},
      el("div", { class: "verify-" + v.result }, v.result + " (" + (v.mode || "") + ", " + fmtCount(v.keys_checked) + " keys checked, " + fmtCount(v.differing_keys) + " differing) — " + v.message),
      el("div", { class: "muted" }, v.phase + " at " + fmtTime(v.time_ms)));
    if (v.first_differences.length) {
      const list = el("ul");
      for (const d of v.first_differences) {
        const issues = (d.issues || []).map((i) => i.kind + (i.detail ? ": " + i.detail : "")).join("; ");
        list.append(el("li", {}, "db" + (d.db ?? "") + " " + (d.key ?? d.library ?? "") + " — " + issues));
      }
      box.append(list);
    }
    $("verify").replaceChildren(box);
    $("verify").className = "";
  }
}

let lastEventId = 0;
function onEvents(res) {
  if (!res.journal) { $("events").replaceChildren(el("li", { class: "muted" }, "no journal: no event log")); return; }
  const list = $("events");
  for (const e of res.events) {  // oldest first from the server; shown newest first
    lastEventId = Math.max(lastEventId, e.id);
    const data = e.data && Object.keys(e.data).length ? " " + JSON.stringify(e.data).slice(0, 200) : "";
    list.prepend(el("li", { class: "kind-" + e.kind, "data-id": String(e.id) },
      e.time.replace("T", " ").replace("Z", "") + "  " + e.phase + " " + e.kind + "  " + e.message + data));
  }
  while (list.children.length > 2000) list.lastChild.remove();
}

async function poll(path, handle) {
  try {
    handle(await getJson(path));
    return true;
  } catch (err) {
    $("conn").textContent = "cannot read " + String(err.message || err);
    return false;
  }
}

async function tick() {
  const results = await Promise.all([
    poll("/status", onStatus),
    poll("/api/live", onLive),
    poll("/api/nodes", onNodes),
    poll("/api/timeline", onTimeline),
    poll("/api/events?after=" + lastEventId, onEvents),
  ]);
  if (results.every(Boolean)) $("conn").textContent = "updated " + new Date().toLocaleTimeString();
  setTimeout(tick, POLL_MS);
}

tick();
