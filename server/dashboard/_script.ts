/**
 * The dashboard page script (`/assets/dashboard.js`): plain browser JavaScript, no build step. It
 * calls the JSON API of the server that serves it and inserts job data only as text, never as HTML.
 * The job list is fetched without payloads (a job is fetched when opened); the charts are uPlot
 * (`/assets/uplot.js`, global `uPlot`) over `GET /queues/:queue/stats`; auto-refresh pauses while
 * the tab is hidden. tests/server/dashboard_chromium_test.ts drives it in a real browser.
 *
 * @module
 */

/** The page script. */
export const DASHBOARD_JS: string = String.raw`"use strict";
const STATES = ["scheduled","ready","active","failed","completed","dead","canceled"];
const ENDED = ["completed","dead","canceled"];
const PAGE = 25;
const view = { queue: null, state: "ready", cursors: [null], page: 0, job: null, search: null };
let queues = [];
let token = sessionStorage.getItem("kvq-token") || "";
const charts = { queue: null, throughput: null, latency: null };

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
const jpath = (q, id) => qpath(q) + "/jobs/" + encodeURIComponent(id);

async function loadQueues() {
  queues = (await api("GET", "/queues")).queues;
  const box = $("queues");
  box.replaceChildren();
  if (!queues.length) box.append(el("div", { class: "empty" }, "No queues yet. Add a job to create one."));
  for (const q of queues) {
    const mini = el("div", { class: "mini" }, STATES.filter((s) => q.counts[s]).map((s) => el("span", { class: "pill st-" + s, title: s }, s + " " + q.counts[s])));
    box.append(el("a", { class: q.name === view.queue && !view.search ? "sel" : "", "data-queue": q.name, onclick: () => select(q.name) },
      el("div", { class: "name" }, el("span", {}, q.name), q.paused ? el("span", { class: "pill paused" }, "paused") : null), mini));
  }
  if (!view.queue && queues.length) select(queues[0].name, true);
}

function setHash() { history.replaceState(null, "", "#" + encodeURIComponent(view.queue) + "/" + view.state + (view.job ? "/" + encodeURIComponent(view.job.id) : "")); }
function select(name, keepState) {
  view.search = null; $("search").value = "";
  if (view.queue !== name) { view.queue = name; if (!keepState) view.state = "ready"; }
  view.cursors = [null]; view.page = 0;
  setHash();
  refresh();
}
function setState(s) { view.state = s; view.cursors = [null]; view.page = 0; setHash(); loadJobs(); }

async function act(what, fn) {
  try { await fn(); toast(what); await refresh(); return true; } catch (e) { toast(e.message); return false; }
}

function jobTable(jobs, withQueue) {
  const runs = view.state === "scheduled" || view.state === "failed";
  const head = [withQueue ? "queue" : null, "id", "state", "attempt", "priority", "created", runs && !withQueue ? "runs" : "updated", "error"].filter(Boolean);
  return el("table", {}, el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
    el("tbody", {}, jobs.map((j) => el("tr", { "data-job": j.id, onclick: () => openJob(j.queue, j.id) },
      withQueue ? el("td", {}, j.queue) : null,
      el("td", { class: "mono" }, j.id),
      el("td", {}, el("span", { class: "pill st-" + j.state }, j.state)),
      el("td", {}, j.attempt + "/" + j.maxAttempts),
      el("td", {}, j.priority),
      el("td", { title: time(j.createdAt) }, ago(j.createdAt)),
      el("td", { title: time(runs && !withQueue ? j.runAt : j.updatedAt) }, ago(runs && !withQueue ? j.runAt : j.updatedAt)),
      el("td", { class: "err", title: j.error ? j.error.message : "" }, j.error ? j.error.name + ": " + j.error.message : "")))));
}

async function loadJobs() {
  if (view.search) return showSearch();
  const panel = $("queuepanel");
  const q = queues.find((x) => x.name === view.queue);
  if (!view.queue) return;
  const counts = q ? q.counts : {};
  const paused = q && q.paused;
  // Ended jobs newest first: the ones you look for are the latest.
  const order = ENDED.includes(view.state) ? "&order=newest" : "";
  const page = await api("GET", qpath(view.queue) + "/jobs?state=" + view.state + "&limit=" + PAGE + order + (view.cursors[view.page] ? "&cursor=" + encodeURIComponent(view.cursors[view.page]) : ""));
  view.cursors[view.page + 1] = page.cursor;
  const toolbar = el("div", { class: "toolbar" },
    el("h3", {}, view.queue), paused ? el("span", { class: "pill paused" }, "paused") : null,
    el("span", { style: "flex:1" }),
    el("button", { id: "addtoggle", onclick: () => $("addform").classList.toggle("open") }, "Add job"),
    el("button", { id: "cleantoggle", onclick: () => $("cleanform").classList.toggle("open") }, "Clean…"),
    paused
      ? el("button", { onclick: () => act("Resumed", () => api("POST", qpath(view.queue) + "/resume")) }, "Resume")
      : el("button", { onclick: () => act("Paused", () => api("POST", qpath(view.queue) + "/pause")) }, "Pause"),
    el("button", { id: "redriveall", class: "danger", disabled: !counts.dead, onclick: () => act("Redriven", () => api("POST", qpath(view.queue) + "/dead/redrive")) }, "Redrive dead (" + (counts.dead || 0) + ")"));
  const tabs = el("div", { class: "tabs" }, STATES.map((s) =>
    el("div", { class: "tab" + (s === view.state ? " sel" : ""), "data-state": s, onclick: () => setState(s) }, s, el("span", { class: "n" }, counts[s] || 0))));
  const body = page.jobs.length ? jobTable(page.jobs, false) : el("div", { class: "empty" }, "No " + view.state + " jobs.");
  const pager = el("div", { class: "pager" }, "page " + (view.page + 1),
    el("button", { disabled: view.page === 0, onclick: () => { view.page--; loadJobs(); } }, "‹ Prev"),
    el("button", { disabled: !page.cursor, onclick: () => { view.page++; loadJobs(); } }, "Next ›"));
  panel.replaceChildren(toolbar, addForm(), cleanForm(), chartBox(), tabs, body, pager);
  await loadCharts();
}

function addForm() {
  if (addForm.node) return addForm.node;
  const data = el("textarea", { "aria-label": "payload (JSON)" }, '{"hello": "world"}');
  const delay = el("input", { type: "number", min: "0", placeholder: "delay ms", "aria-label": "delay in ms" });
  const prio = el("input", { type: "number", placeholder: "priority", "aria-label": "priority" });
  const key = el("input", { placeholder: "idempotency key", "aria-label": "idempotency key", style: "width:150px" });
  addForm.node = el("div", { id: "addform" }, data, delay, prio, key, el("button", { class: "primary", onclick: () => act("Added", async () => {
    const body = { data: JSON.parse(data.value) };
    if (delay.value) body.delay = Number(delay.value);
    if (prio.value) body.priority = Number(prio.value);
    if (key.value) body.key = key.value;
    await api("POST", qpath(view.queue) + "/jobs", body);
  }) }, "Add"));
  return addForm.node;
}

function cleanForm() {
  if (cleanForm.node) return cleanForm.node;
  const state = el("select", { "aria-label": "state to clean" }, ENDED.map((s) => el("option", { value: s }, s)));
  const age = el("input", { type: "number", min: "0", placeholder: "older than (min)", "aria-label": "older than, in minutes" });
  const count = el("input", { type: "number", min: "0", placeholder: "keep newest", "aria-label": "keep the newest n" });
  cleanForm.node = el("div", { id: "cleanform" }, "Remove", state, "jobs that ended more than", age, "minutes ago, and/or beyond the newest", count,
    el("button", { class: "danger", id: "cleanrun", onclick: () => {
      const body = { state: state.value };
      if (age.value !== "") body.age = Math.round(Number(age.value) * 60_000);
      if (count.value !== "") body.count = Number(count.value);
      if (body.age === undefined && body.count === undefined) return toast("Give an age, a count, or both");
      if (!confirm("Remove " + state.value + " jobs of " + view.queue + "?")) return;
      act("Cleaned", async () => toast("Removed " + (await api("POST", qpath(view.queue) + "/clean", body)).removed));
    } }, "Clean"));
  return cleanForm.node;
}

// ------------------------------------------------------------------ charts (uPlot)
function chartBox() {
  if (chartBox.node) return chartBox.node;
  chartBox.node = el("div", { id: "charts" },
    el("div", { class: "chart" }, el("h4", {}, "Throughput (jobs/s)"), el("div", { id: "chart-throughput" })),
    el("div", { class: "chart" }, el("h4", {}, "Latency (ms)"), el("div", { id: "chart-latency" })));
  return chartBox.node;
}
function chartWidth() { return Math.max(240, Math.floor(($("charts").clientWidth - 36) / 2)); }
function makeCharts() {
  for (const c of [charts.throughput, charts.latency]) if (c) c.destroy();
  const axes = [{}, { size: 50 }];
  const opts = (series) => ({ width: chartWidth(), height: 150, series: [{}, ...series], axes, legend: { live: false }, cursor: { drag: { x: false } } });
  charts.throughput = new uPlot(opts([
    { label: "completed", stroke: "#27ae60", fill: "rgba(39,174,96,.12)", width: 1.5 },
    { label: "failed", stroke: "#d64545", width: 1.5 },
  ]), [[], [], []], $("chart-throughput"));
  charts.latency = new uPlot(opts([
    { label: "run p50", stroke: "#2f80ed", points: { show: true, size: 5 }, width: 1.5, spanGaps: true },
    { label: "run p95", stroke: "#8a63d2", points: { show: true, size: 5 }, width: 1.5, spanGaps: true },
    { label: "wait p95", stroke: "#f2994a", points: { show: true, size: 5 }, width: 1.5, spanGaps: true },
  ]), [[], [], [], []], $("chart-latency"));
  charts.queue = view.queue;
}
async function loadCharts() {
  if (typeof uPlot !== "function") return;
  const s = await api("GET", qpath(view.queue) + "/stats");
  if (charts.queue !== view.queue || !charts.throughput || !$("chart-throughput").firstChild) makeCharts();
  charts.throughput.setData([s.t, s.completed, s.failed]);
  charts.latency.setData([s.t, s.runP50, s.runP95, s.waitP95]);
}
window.addEventListener("resize", () => {
  if (!charts.throughput || !$("charts")) return;
  const w = chartWidth();
  for (const c of [charts.throughput, charts.latency]) c.setSize({ width: w, height: 150 });
});

// ------------------------------------------------------------------ search
async function search(term) {
  term = term.trim();
  if (!term) { view.search = null; return refresh(); }
  view.search = term;
  closeJob();
  await refresh();
}
async function showSearch() {
  const { jobs } = await api("GET", "/search?q=" + encodeURIComponent(view.search));
  charts.queue = null;
  $("queuepanel").replaceChildren(
    el("div", { class: "toolbar results" }, el("h3", {}, "Search: " + view.search), el("span", { style: "flex:1" }),
      el("button", { onclick: () => { $("search").value = ""; search(""); } }, "Clear")),
    jobs.length ? jobTable(jobs, true) : el("div", { class: "empty", id: "noresults" }, "No job has this id or idempotency key."));
  if (jobs.length === 1 && !view.job) openJob(jobs[0].queue, jobs[0].id);
}
$("search").addEventListener("keydown", (e) => { if (e.key === "Enter") search($("search").value); });
$("search").addEventListener("search", () => search($("search").value));

// ------------------------------------------------------------------ job detail
async function openJob(queue, id) {
  const d = $("detail");
  let job;
  try { job = (await api("GET", jpath(queue, id))).job; }
  catch (e) { toast(e.message); return; }
  view.job = { queue, id };
  const terminal = ENDED.includes(job.state);
  const again = (what, method, path) => () => act(what, () => api(method, path)).then((ok) => ok && openJob(queue, id));
  const facts = [["queue", job.queue], ["state", el("span", { class: "pill st-" + job.state }, job.state)], ["attempt", job.attempt + " of " + job.maxAttempts],
    ["priority", job.priority], ["created", time(job.createdAt)], ["run at", time(job.runAt)], ["started", time(job.startedAt)], ["finished", time(job.finishedAt)],
    ["key", job.key], ["reason", job.reason], ["timeout", job.timeout && job.timeout + " ms"], ["schedule", job.schedule]].filter((f) => f[1] !== undefined && f[1] !== "");
  // Not "history": a local of that name would shadow window.history (replaceState).
  const attempts = job.history.length
    ? el("table", {}, el("thead", {}, el("tr", {}, ["#", "outcome", "started", "took", "error"].map((h) => el("th", {}, h)))),
        el("tbody", {}, job.history.map((a) => el("tr", {}, el("td", {}, a.attempt), el("td", {}, a.outcome), el("td", {}, time(a.startedAt)),
          el("td", {}, (a.endedAt - a.startedAt) + " ms"), el("td", { class: "mono" }, a.error ? a.error.name + ": " + a.error.message : "")))))
    : el("div", { class: "empty" }, "No attempt has ended yet.");
  const runNow = job.state === "failed" ? "Retry now" : "Run now";
  d.replaceChildren(...[
    el("header", {}, el("h1", { class: "mono", style: "font-size:14px" }, job.id), el("div", { class: "right" },
      el("button", { id: "promote", class: "primary", disabled: job.state !== "scheduled" && job.state !== "failed", title: "a delayed job or a waiting retry becomes ready now",
        onclick: again(job.state === "failed" ? "Retrying now" : "Promoted", "POST", jpath(queue, id) + "/promote") }, runNow),
      el("button", { id: "cancel", class: "danger", disabled: terminal, onclick: again("Canceled", "POST", jpath(queue, id) + "/cancel") }, "Cancel"),
      el("button", { id: "redrive", disabled: job.state !== "dead", onclick: again("Redriven", "POST", jpath(queue, id) + "/redrive") }, "Redrive"),
      el("button", { id: "delete", class: "danger", disabled: job.state === "active", onclick: () => {
        if (!confirm("Delete job " + id + " with its payload?")) return;
        act("Deleted", () => api("POST", jpath(queue, id) + "/remove")).then((ok) => ok && closeJob());
      } }, "Delete"),
      el("button", { id: "close", onclick: closeJob }, "Close"))),
    el("section", {}, el("dl", {}, facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]))),
    el("section", {}, el("h4", {}, "Payload"), el("pre", {}, show(job.data))),
    job.result !== undefined ? el("section", {}, el("h4", {}, "Result"), el("pre", {}, show(job.result))) : null,
    job.progress !== undefined ? el("section", {}, el("h4", {}, "Progress"), el("pre", {}, show(job.progress))) : null,
    job.error ? el("section", {}, el("h4", {}, "Last error"), el("pre", {}, job.error.stack || (job.error.name + ": " + job.error.message))) : null,
    el("section", {}, el("h4", {}, "Attempts"), attempts),
  ].filter(Boolean));
  d.dataset.state = job.state;
  d.classList.add("open");
  if (!view.search) setHash();
}
function closeJob() {
  view.job = null;
  $("detail").classList.remove("open");
  if (view.queue && !view.search) setHash();
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
const m = /^#([^/]+)\/(\w+)(?:\/([^/]+))?$/.exec(location.hash);
if (m) { view.queue = decodeURIComponent(m[1]); if (STATES.includes(m[2])) view.state = m[2]; }
refresh().then(() => { if (m && m[3]) openJob(view.queue, decodeURIComponent(m[3])); });
// Auto-refresh only while the tab is visible; catch up at once when it becomes visible again.
setInterval(() => { if ($("auto").checked && document.visibilityState === "visible") refresh(); }, 2000);
document.addEventListener("visibilitychange", () => { if ($("auto").checked && document.visibilityState === "visible") refresh(); });
`;
