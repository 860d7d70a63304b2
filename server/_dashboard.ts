/**
 * The dashboard: one self-contained HTML page (inline CSS and JS, no external assets, no build
 * step) that calls the JSON API of the server that serves it. Job data is only ever inserted as
 * text, never as HTML. The job list is fetched without payloads (a job's data, result and progress
 * are fetched when it is opened), and auto-refresh pauses while the tab is hidden.
 *
 * @module
 */

/** The dashboard page. */
export const DASHBOARD_HTML: string = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kvq dashboard</title>
<style>
:root { --bg:#f6f7f9; --panel:#fff; --line:#e3e6ea; --text:#1d2330; --muted:#6b7483; --accent:#3056d3;
  --scheduled:#8a63d2; --ready:#2f80ed; --active:#f2994a; --completed:#27ae60; --failed:#e2b93b; --dead:#d64545; --canceled:#828b99; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; align-items:center; gap:16px; padding:10px 20px; background:#141a26; color:#fff; }
header h1 { font-size:18px; margin:0; letter-spacing:.5px; }
header .sub { color:#9aa3b2; font-size:12px; }
header .right { margin-left:auto; display:flex; gap:12px; align-items:center; font-size:12px; color:#c7cdd6; }
main { display:grid; grid-template-columns:260px 1fr; gap:16px; padding:16px 20px; }
.panel { background:var(--panel); border:1px solid var(--line); border-radius:8px; }
.panel h2 { font-size:13px; text-transform:uppercase; letter-spacing:.6px; color:var(--muted); margin:0; padding:10px 12px; border-bottom:1px solid var(--line); }
#queues a { display:block; padding:9px 12px; border-bottom:1px solid var(--line); color:inherit; text-decoration:none; cursor:pointer; }
#queues a:hover { background:#f0f3f8; }
#queues a.sel { background:#e8eefc; border-left:3px solid var(--accent); padding-left:9px; }
#queues .name { font-weight:600; display:flex; justify-content:space-between; }
.mini { display:flex; gap:4px; flex-wrap:wrap; margin-top:4px; }
.pill { display:inline-block; padding:0 7px; border-radius:10px; font-size:11px; color:#fff; background:var(--muted); white-space:nowrap; }
.st-scheduled{background:var(--scheduled)} .st-ready{background:var(--ready)} .st-active{background:var(--active)}
.st-completed{background:var(--completed)} .st-failed{background:var(--failed);color:#222} .st-dead{background:var(--dead)} .st-canceled{background:var(--canceled)}
.paused { background:#444; }
.toolbar { display:flex; gap:8px; align-items:center; padding:10px 12px; border-bottom:1px solid var(--line); flex-wrap:wrap; }
.toolbar h3 { margin:0 8px 0 0; font-size:16px; }
.tabs { display:flex; gap:2px; padding:0 12px; border-bottom:1px solid var(--line); overflow-x:auto; }
.tab { padding:8px 12px; cursor:pointer; border-bottom:2px solid transparent; color:var(--muted); white-space:nowrap; }
.tab.sel { color:var(--text); border-bottom-color:var(--accent); font-weight:600; }
.tab .n { margin-left:5px; font-size:11px; color:var(--muted); }
button { font:inherit; font-size:13px; padding:5px 11px; border-radius:6px; border:1px solid var(--line); background:#fff; cursor:pointer; }
button:hover { background:#f0f3f8; }
button.primary { background:var(--accent); border-color:var(--accent); color:#fff; }
button.danger { color:var(--dead); border-color:#efc4c4; }
button:disabled { opacity:.45; cursor:default; }
table { width:100%; border-collapse:collapse; }
th, td { text-align:left; padding:7px 12px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; color:var(--muted); font-weight:600; }
tbody tr { cursor:pointer; } tbody tr:hover { background:#f6f8fc; }
td.mono, .mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12px; }
td.err { color:var(--dead); max-width:320px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.empty { padding:28px; text-align:center; color:var(--muted); }
.pager { display:flex; gap:8px; justify-content:flex-end; align-items:center; padding:10px 12px; color:var(--muted); font-size:12px; }
#detail { position:fixed; top:0; right:0; bottom:0; width:min(620px,100%); background:#fff; border-left:1px solid var(--line); box-shadow:-8px 0 24px rgba(0,0,0,.08); overflow:auto; display:none; }
#detail.open { display:block; }
#detail header { background:#fff; color:var(--text); border-bottom:1px solid var(--line); }
#detail section { padding:12px 20px; border-bottom:1px solid var(--line); }
#detail h4 { margin:0 0 6px; font-size:12px; text-transform:uppercase; letter-spacing:.6px; color:var(--muted); }
pre { margin:0; background:#f6f8fa; border:1px solid var(--line); border-radius:6px; padding:8px 10px; overflow:auto; max-height:260px; font-size:12px; white-space:pre-wrap; word-break:break-word; }
dl { display:grid; grid-template-columns:140px 1fr; gap:3px 12px; margin:0; }
dt { color:var(--muted); } dd { margin:0; }
#banner { display:none; padding:10px 20px; background:#fff4d6; border-bottom:1px solid #f0dc9b; gap:8px; align-items:center; }
#banner.show { display:flex; }
#banner input { font:inherit; padding:4px 8px; border:1px solid var(--line); border-radius:6px; width:280px; }
#toast { position:fixed; left:50%; bottom:18px; transform:translateX(-50%); background:#141a26; color:#fff; padding:8px 14px; border-radius:6px; display:none; max-width:80%; }
#addform { display:none; padding:10px 12px; border-bottom:1px solid var(--line); gap:8px; align-items:flex-start; flex-wrap:wrap; }
#addform.open { display:flex; }
#addform textarea { font-family:ui-monospace,monospace; font-size:12px; width:360px; height:60px; }
#addform input { width:90px; font:inherit; padding:4px 6px; }
</style>
</head>
<body>
<header>
  <h1>kvq</h1><span class="sub">job queue dashboard</span>
  <div class="right"><label><input type="checkbox" id="auto" checked> auto-refresh</label><span id="updated"></span></div>
</header>
<div id="banner"><span id="bannertext">This server needs a token.</span><input id="token" type="password" placeholder="bearer token" autocomplete="off"><button class="primary" id="savetoken">Use token</button></div>
<main>
  <div class="panel"><h2>Queues</h2><div id="queues"><div class="empty">Loading…</div></div></div>
  <div class="panel" id="queuepanel"><div class="empty">Select a queue.</div></div>
</main>
<aside id="detail"></aside>
<div id="toast"></div>
<script>
"use strict";
const STATES = ["scheduled","ready","active","failed","completed","dead","canceled"];
const PAGE = 25;
const view = { queue: null, state: "ready", cursors: [null], page: 0, job: null };
let queues = [];
let token = sessionStorage.getItem("kvq-token") || "";

const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
function toast(msg) { const t = $("toast"); t.textContent = msg; t.style.display = "block"; clearTimeout(toast.t); toast.t = setTimeout(() => t.style.display = "none", 3500); }
function time(ms) { return ms === undefined || ms === null ? "" : new Date(ms).toLocaleString(); }
function ago(ms) {
  if (!ms) return "";
  const s = Math.round((Date.now() - ms) / 1000), a = Math.abs(s);
  const t = a < 60 ? a + "s" : a < 3600 ? Math.round(a / 60) + "m" : a < 86400 ? Math.round(a / 3600) + "h" : Math.round(a / 86400) + "d";
  return s >= 0 ? t + " ago" : "in " + t;
}
function show(v) { return v === undefined ? "(none)" : JSON.stringify(v, null, 2); }

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (token) headers.authorization = "Bearer " + token;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) { $("banner").classList.add("show"); throw new Error("unauthorized"); }
  if (!res.ok) throw new Error((data.error && (data.error.name + ": " + data.error.message)) || res.statusText);
  $("banner").classList.remove("show");
  return data;
}
const qpath = (q) => "/queues/" + encodeURIComponent(q);

async function loadQueues() {
  queues = (await api("GET", "/queues")).queues;
  const box = $("queues");
  box.replaceChildren();
  if (!queues.length) box.append(el("div", { class: "empty" }, "No queues yet. Add a job to create one."));
  for (const q of queues) {
    const mini = el("div", { class: "mini" }, STATES.filter((s) => q.counts[s]).map((s) => el("span", { class: "pill st-" + s, title: s }, s + " " + q.counts[s])));
    box.append(el("a", { class: q.name === view.queue ? "sel" : "", onclick: () => select(q.name) },
      el("div", { class: "name" }, el("span", {}, q.name), q.paused ? el("span", { class: "pill paused" }, "paused") : null), mini));
  }
  if (!view.queue && queues.length) select(queues[0].name, true);
}

function select(name, keepState) {
  if (view.queue !== name) { view.queue = name; if (!keepState) view.state = "ready"; }
  view.cursors = [null]; view.page = 0;
  location.hash = "#" + encodeURIComponent(view.queue) + "/" + view.state;
  refresh();
}
function setState(s) { view.state = s; view.cursors = [null]; view.page = 0; location.hash = "#" + encodeURIComponent(view.queue) + "/" + s; loadJobs(); }

async function act(what, fn) {
  try { await fn(); toast(what); await refresh(); } catch (e) { toast(e.message); }
}

async function loadJobs() {
  const panel = $("queuepanel");
  const q = queues.find((x) => x.name === view.queue);
  if (!view.queue) return;
  const counts = q ? q.counts : {};
  const paused = q && q.paused;
  // Ended jobs newest first: the ones you look for are the latest.
  const order = ["completed", "dead", "canceled"].includes(view.state) ? "&order=newest" : "";
  const page = await api("GET", qpath(view.queue) + "/jobs?state=" + view.state + "&limit=" + PAGE + order + (view.cursors[view.page] ? "&cursor=" + encodeURIComponent(view.cursors[view.page]) : ""));
  view.cursors[view.page + 1] = page.cursor;
  const toolbar = el("div", { class: "toolbar" },
    el("h3", {}, view.queue), paused ? el("span", { class: "pill paused" }, "paused") : null,
    el("span", { style: "flex:1" }),
    el("button", { onclick: () => $("addform").classList.toggle("open") }, "Add job"),
    paused
      ? el("button", { onclick: () => act("Resumed", () => api("POST", qpath(view.queue) + "/resume")) }, "Resume")
      : el("button", { onclick: () => act("Paused", () => api("POST", qpath(view.queue) + "/pause")) }, "Pause"),
    el("button", { class: "danger", disabled: !counts.dead, onclick: () => act("Redriven", () => api("POST", qpath(view.queue) + "/dead/redrive")) }, "Redrive dead (" + (counts.dead || 0) + ")"));
  const addform = addForm();
  const tabs = el("div", { class: "tabs" }, STATES.map((s) =>
    el("div", { class: "tab" + (s === view.state ? " sel" : ""), onclick: () => setState(s) }, s, el("span", { class: "n" }, counts[s] || 0))));
  let body;
  if (!page.jobs.length) body = el("div", { class: "empty" }, "No " + view.state + " jobs.");
  else {
    body = el("table", {}, el("thead", {}, el("tr", {}, ["id", "state", "attempt", "priority", "created", view.state === "scheduled" || view.state === "failed" ? "runs" : "updated", "error"].map((h) => el("th", {}, h)))),
      el("tbody", {}, page.jobs.map((j) => el("tr", { onclick: () => openJob(j.id) },
        el("td", { class: "mono" }, j.id),
        el("td", {}, el("span", { class: "pill st-" + j.state }, j.state)),
        el("td", {}, j.attempt + "/" + j.maxAttempts),
        el("td", {}, j.priority),
        el("td", { title: time(j.createdAt) }, ago(j.createdAt)),
        el("td", { title: time(j.runAt) }, view.state === "scheduled" || view.state === "failed" ? ago(j.runAt) : ago(j.updatedAt)),
        el("td", { class: "err", title: j.error ? j.error.message : "" }, j.error ? j.error.name + ": " + j.error.message : "")))));
  }
  const pager = el("div", { class: "pager" }, "page " + (view.page + 1),
    el("button", { disabled: view.page === 0, onclick: () => { view.page--; loadJobs(); } }, "‹ Prev"),
    el("button", { disabled: !page.cursor, onclick: () => { view.page++; loadJobs(); } }, "Next ›"));
  panel.replaceChildren(toolbar, addform, tabs, body, pager);
}

function addForm() {
  if (addForm.node) return addForm.node;
  const data = el("textarea", { "aria-label": "payload (JSON)" }, '{"hello": "world"}');
  const delay = el("input", { type: "number", min: "0", placeholder: "delay ms" });
  const prio = el("input", { type: "number", placeholder: "priority" });
  addForm.node = el("div", { id: "addform" }, data, delay, prio, el("button", { class: "primary", onclick: () => act("Added", async () => {
    const body = { data: JSON.parse(data.value) };
    if (delay.value) body.delay = Number(delay.value);
    if (prio.value) body.priority = Number(prio.value);
    await api("POST", qpath(view.queue) + "/jobs", body);
  }) }, "Add"));
  return addForm.node;
}

async function openJob(id) {
  view.job = id;
  const d = $("detail");
  let job;
  try { job = (await api("GET", qpath(view.queue) + "/jobs/" + encodeURIComponent(id))).job; }
  catch (e) { toast(e.message); return; }
  const terminal = ["completed", "dead", "canceled"].includes(job.state);
  const facts = [["queue", job.queue], ["state", el("span", { class: "pill st-" + job.state }, job.state)], ["attempt", job.attempt + " of " + job.maxAttempts],
    ["priority", job.priority], ["created", time(job.createdAt)], ["run at", time(job.runAt)], ["started", time(job.startedAt)], ["finished", time(job.finishedAt)],
    ["key", job.key], ["reason", job.reason], ["timeout", job.timeout && job.timeout + " ms"], ["schedule", job.schedule]].filter((f) => f[1] !== undefined && f[1] !== "");
  // Not "history": a local of that name would shadow window.history (replaceState below).
  const attempts = job.history.length
    ? el("table", {}, el("thead", {}, el("tr", {}, ["#", "outcome", "started", "took", "error"].map((h) => el("th", {}, h)))),
        el("tbody", {}, job.history.map((a) => el("tr", {}, el("td", {}, a.attempt), el("td", {}, a.outcome), el("td", {}, time(a.startedAt)),
          el("td", {}, (a.endedAt - a.startedAt) + " ms"), el("td", { class: "mono" }, a.error ? a.error.name + ": " + a.error.message : "")))))
    : el("div", { class: "empty" }, "No attempt has ended yet.");
  d.replaceChildren(...[
    el("header", {}, el("h1", { class: "mono", style: "font-size:14px" }, job.id), el("div", { class: "right" },
      el("button", { class: "danger", disabled: terminal, onclick: () => act("Canceled", () => api("DELETE", qpath(job.queue) + "/jobs/" + job.id)).then(() => openJob(id)) }, "Cancel"),
      el("button", { disabled: job.state !== "dead", onclick: () => act("Redriven", () => api("POST", qpath(job.queue) + "/jobs/" + job.id + "/redrive")).then(() => openJob(id)) }, "Redrive"),
      el("button", { onclick: closeJob }, "Close"))),
    el("section", {}, el("dl", {}, facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]))),
    el("section", {}, el("h4", {}, "Payload"), el("pre", {}, show(job.data))),
    job.result !== undefined ? el("section", {}, el("h4", {}, "Result"), el("pre", {}, show(job.result))) : null,
    job.progress !== undefined ? el("section", {}, el("h4", {}, "Progress"), el("pre", {}, show(job.progress))) : null,
    job.error ? el("section", {}, el("h4", {}, "Last error"), el("pre", {}, job.error.stack || (job.error.name + ": " + job.error.message))) : null,
    el("section", {}, el("h4", {}, "Attempts"), attempts),
  ].filter(Boolean));
  d.classList.add("open");
  history.replaceState(null, "", "#" + encodeURIComponent(view.queue) + "/" + view.state + "/" + id);
}
function closeJob() {
  view.job = null;
  $("detail").classList.remove("open");
  history.replaceState(null, "", "#" + encodeURIComponent(view.queue) + "/" + view.state);
}

async function refresh() {
  try {
    await loadQueues();
    await loadJobs();
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) { if (e.message !== "unauthorized") toast(e.message); }
}

$("savetoken").onclick = () => { token = $("token").value.trim(); sessionStorage.setItem("kvq-token", token); refresh(); };
document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeJob(); });
const m = /^#([^/]+)\\/(\\w+)(?:\\/(\\w+))?$/.exec(location.hash);
if (m) { view.queue = decodeURIComponent(m[1]); if (STATES.includes(m[2])) view.state = m[2]; }
refresh().then(() => { if (m && m[3]) openJob(m[3]); });
// Auto-refresh only while the tab is visible; catch up at once when it becomes visible again.
setInterval(() => { if ($("auto").checked && document.visibilityState === "visible") refresh(); }, 2000);
document.addEventListener("visibilitychange", () => { if ($("auto").checked && document.visibilityState === "visible") refresh(); });
</script>
</body>
</html>
`;
