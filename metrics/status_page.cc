// status_page_html: the page itself.
#include "metrics/status_page.h"

namespace ringmta::metrics {
namespace {

constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ringmta status</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:baseline}
header h1{font-size:18px;margin:0}
#state{font-weight:600}
main{padding:16px 20px;display:grid;grid-template-columns:1fr 1fr;gap:16px}
section{background:#fff;border-radius:6px;padding:12px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
section.wide{grid-column:1 / span 2}
h2{font-size:14px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;color:#556}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px 3px 0;border-bottom:1px solid #eee;font-variant-numeric:tabular-nums}
td.n,th.n{text-align:right}
.bar{background:#e6e8ee;border-radius:3px;height:10px;min-width:120px}
.bar>div{background:#2f7d4f;height:10px;border-radius:3px}
.kpi{display:flex;gap:28px;flex-wrap:wrap}
.kpi div b{display:block;font-size:22px}
.deferred,.backing-off,.throttled,.paused{color:#a86a00}.failed,.failing{color:#b3261e}.delivered,.delivering,.open{color:#2f7d4f}.waiting,.queued{color:#556}
#chart{width:100%;height:220px;display:block}
.muted{color:#889}
</style></head>
<body>
<header><h1>ringmta</h1><span id="state">connecting…</span><span id="updated" class="muted"></span></header>
<main>
<section class="wide"><h2>Delivery rate (messages per second)</h2>
<canvas id="chart" width="1100" height="220"></canvas>
<div class="kpi" id="kpi"></div></section>
<section class="wide"><h2>Campaigns</h2>
<table id="campaigns"><thead><tr><th>campaign</th><th>progress</th><th class="n">delivered</th>
<th class="n">failed</th><th class="n" title="attempts answered with a temporary refusal">deferrals</th><th class="n">total</th></tr></thead><tbody></tbody></table></section>
<section><h2>Routes</h2><table id="routes"><thead><tr><th>route</th><th>state</th>
<th class="n">open</th><th class="n">allowed</th><th class="n">limit</th><th class="n">rate limit</th><th class="n">rate now</th><th>last reply</th></tr></thead><tbody></tbody></table></section>
<section><h2>Queue</h2><table id="queue"><tbody></tbody></table></section>
<section><h2>Top domains</h2><table id="domains"><thead><tr><th>domain</th><th>state</th>
<th class="n">in progress</th><th class="n">delivered</th><th class="n">failed</th><th class="n">deferrals</th><th>last reply</th></tr></thead><tbody></tbody></table></section>
<section><h2>Throttle changes</h2><table id="events"><thead><tr><th>time</th><th>route</th><th>change</th>
<th>reason</th></tr></thead><tbody></tbody></table><p id="noevents" class="muted">none</p></section>
</main>
<script>
"use strict";
const fmt = n => (n === null || n === undefined) ? "–" : Number(n).toLocaleString("en-US");
const rate = n => Number(n).toFixed(1);
// 1536 -> "1.5 KiB": sizes in binary units, three significant digits.
function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Number(n), u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return (u === 0 ? String(v) : v.toPrecision(3)) + " " + units[u];
}
const clock = t => new Date(t * 1000).toLocaleTimeString("en-GB");
// When `t` comes, from `now` (unix seconds): "12:03:04 (in 2 min)".
function when(t, now) {
  if (!t) return "–";
  const d = Math.max(0, t - now);
  const rel = d < 60 ? d + " s" : d < 3600 ? Math.round(d / 60) + " min" : (d / 3600).toFixed(1) + " h";
  return clock(t) + " (in " + rel + ")";
}
// A route's configured message rates: "50/s, 2,000/h"; "–" without.
function limits(l) {
  const parts = [];
  for (const [k, unit] of [["messages_per_second", "s"], ["messages_per_minute", "min"], ["messages_per_hour", "h"]]) {
    if (l[k] !== null && l[k] !== undefined) parts.push(fmt(l[k]) + "/" + unit);
  }
  return parts.length ? parts.join(", ") : "–";
}
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
function row(tbody, cells) {
  const tr = el("tr");
  for (const c of cells) { const td = (c instanceof Node) ? (() => { const t = el("td"); t.appendChild(c); return t; })() : el("td", String(c)); if (typeof c === "number" || /^[0-9,.–]+( [KMGT]?i?B|\/s)?$/.test(String(c))) td.className = "n"; tr.appendChild(td); }
  tbody.appendChild(tr); return tr;
}
function fill(id, rows) { const tb = document.querySelector("#" + id + " tbody"); tb.replaceChildren(); rows.forEach(r => row(tb, r)); return tb; }
// The chart: one point a second, the last at `at`; time labels at its ends and at whole minutes.
function draw(series, at) {
  const c = document.getElementById("chart"), g = c.getContext("2d");
  const w = c.width, h = c.height, pad = 36, bottom = 18;
  g.clearRect(0, 0, w, h);
  const max = Math.max(1, ...series) * 1.1;
  c.dataset.points = series.length;
  g.strokeStyle = "#e0e2e8"; g.fillStyle = "#889"; g.font = "11px sans-serif"; g.lineWidth = 1;
  const plot = h - pad / 2 - bottom;
  for (let i = 0; i <= 4; i++) { const y = pad / 2 + plot * i / 4; g.beginPath(); g.moveTo(pad, y); g.lineTo(w, y); g.stroke(); g.fillText(Math.round(max * (4 - i) / 4), 2, y + 4); }
  const x = i => pad + (w - pad) * (series.length > 1 ? i / (series.length - 1) : 1);
  const labels = [];
  for (let i = 0; i < series.length; i++) {
    const t = at - (series.length - 1 - i);
    const end = i === 0 || i === series.length - 1;
    if (!end && (t % 60 !== 0 || x(i) - x(0) < 40 || x(series.length - 1) - x(i) < 40)) continue;
    const text = clock(t).slice(0, 5);
    labels.push(text);
    g.beginPath(); g.moveTo(x(i), pad / 2); g.lineTo(x(i), pad / 2 + plot); g.stroke();
    g.fillText(text, Math.min(w - 30, Math.max(pad, x(i) - 14)), h - 4);
  }
  c.dataset.axis = labels.join(" ");
  if (series.length < 2) return;
  g.strokeStyle = "#2f7d4f"; g.lineWidth = 2; g.beginPath();
  series.forEach((v, i) => { const y = pad / 2 + plot * (1 - v / max); if (i) g.lineTo(x(i), y); else g.moveTo(x(i), y); });
  g.stroke();
}
function render(s) {
  document.getElementById("state").textContent = s.finished ? "job finished" : "delivering";
  document.getElementById("updated").textContent = "updated " + clock(s.at);
  const r = s.rates.delivered_per_second, t = s.totals, q = s.queue;
  const kpi = document.getElementById("kpi"); kpi.replaceChildren();
  for (const [k, v, cls] of [["delivered", fmt(t.delivered), "delivered"], ["failed", fmt(t.failed), "failed"], ["queued", fmt(q.ready + q.deferred), "queued"], ["deferrals", fmt(t.deferred), "deferred"], ["1 min", rate(r["1m"]) + "/s"], ["5 min", rate(r["5m"]) + "/s"], ["15 min", rate(r["15m"]) + "/s"]]) {
    const d = el("div"); d.appendChild(el("b", v, cls)); d.appendChild(el("span", k, "muted")); d.dataset.kpi = k; kpi.appendChild(d);
  }
  draw(s.delivered_per_second_recent, s.at);
  const tb = fill("campaigns", []);
  for (const c of s.campaigns) {
    const bar = el("div", undefined, "bar"), fillDiv = el("div"); fillDiv.style.width = ((c.progress || 0) * 100).toFixed(1) + "%"; bar.appendChild(fillDiv);
    const tr = row(tb, [c.id, bar, fmt(c.delivered), fmt(c.failed), fmt(c.deferred), fmt(c.total)]);
    tr.className = "campaign"; tr.dataset.campaign = c.id; tr.dataset.delivered = c.delivered;
  }
  const rt = fill("routes", []);
  for (const x of s.routes.slice(0, 20)) {
    const state = x.state === "backing off" ? "backing off until " + clock(x.backing_off_until) : x.state;
    const tr = row(rt, [x.name, state, fmt(x.connections_open), fmt(x.limits.connections_allowed), fmt(x.limits.max_connections), limits(x.limits), Math.round(x.limits.rate_factor * 100) + "%", x.last_reply ? x.last_reply.reply : "–"]);
    tr.className = "route"; tr.dataset.route = x.name; tr.dataset.state = x.state;
    tr.children[1].className = x.state.replace(" ", "-");
  }
  fill("queue", [["ready", fmt(q.ready)], ["waiting for a retry", fmt(q.deferred)], ["next retry", when(q.next_retry_at, s.at)], ["RocksDB live data", bytes(q.rocksdb_live_bytes)], ["pending compaction", bytes(q.rocksdb_pending_compaction_bytes)]]);
  const dt = fill("domains", []);
  for (const d of s.domains.slice(0, 20)) {
    const tr = row(dt, [d.domain, d.state, fmt(d.in_progress), fmt(d.delivered), fmt(d.failed), fmt(d.deferred), d.last_reply ? d.last_reply.reply : "–"]);
    tr.className = "domain"; tr.dataset.domain = d.domain; tr.dataset.state = d.state;
    tr.children[1].className = d.state;
  }
  fill("events", s.throttle_events.slice(-20).reverse().map(e => [clock(e.at), e.route, e.change, e.reason]));
  document.getElementById("noevents").style.display = s.throttle_events.length ? "none" : "";
}
async function poll() {
  try { const res = await fetch("/status", {cache: "no-store"}); render(await res.json()); }
  catch (e) { document.getElementById("state").textContent = "not reachable: " + e; }
  setTimeout(poll, 1000);
}
poll();
</script></body></html>
)HTML";

}  // namespace

std::string_view status_page_html() {
  return kPage;
}

}  // namespace ringmta::metrics
