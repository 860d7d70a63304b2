/**
 * The dashboard page script, as a typed function: {@linkcode dashboardMain} runs in the browser,
 * where the server sends its source text (`_script.ts`). It must not use anything from outside its
 * own body (its source is all the browser gets); the types below are erased. They declare the few
 * DOM shapes it uses, so it type-checks without the DOM library, like `adapters/indexeddb`.
 *
 * It calls the JSON API of the server that serves it and inserts job data only as text, never as
 * HTML. The job list is fetched without payloads (a job is fetched when opened); the charts are
 * uPlot (`/assets/uplot.js`, global `uPlot`) over `GET /queues/:queue/stats`; auto-refresh pauses
 * while the tab is hidden. tests/server/dashboard_chromium_test.ts drives it in real Chromium.
 *
 * @module
 */

/** An element, as far as the page uses one. */
interface El {
  className: string;
  textContent: string | null;
  value: string;
  checked: boolean;
  readonly clientWidth: number;
  readonly firstChild: unknown;
  readonly dataset: Record<string, string | undefined>;
  readonly style: Record<string, string>;
  readonly classList: { add(c: string): void; remove(c: string): void; toggle(c: string): boolean };
  setAttribute(name: string, value: string): void;
  addEventListener(type: string, fn: (e: KeyEv) => void): void;
  append(...nodes: (El | string)[]): void;
  replaceChildren(...nodes: (El | string)[]): void;
  onclick: (() => void) | null;
}
interface KeyEv {
  readonly key?: string;
}
interface Doc {
  getElementById(id: string): El | null;
  createElement(tag: string): El;
  readonly visibilityState: string;
  addEventListener(type: string, fn: (e: KeyEv) => void): void;
}
/** A uPlot chart (the parts the page uses). */
interface Plot {
  setData(data: (number | null)[][]): void;
  setSize(size: { width: number; height: number }): void;
  destroy(): void;
}
interface Win {
  readonly document: Doc;
  readonly sessionStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void };
  readonly history: { replaceState(state: null, unused: string, url: string): void };
  readonly location: { readonly hash: string };
  confirm(message: string): boolean;
  addEventListener(type: string, fn: () => void): void;
  readonly uPlot?: new (options: unknown, data: unknown[][], target: El) => Plot;
}

/** A job as the API lists it (no payload). */
interface JobRow {
  id: string;
  queue: string;
  state: string;
  attempt: number;
  maxAttempts: number;
  priority: number;
  createdAt: number;
  updatedAt: number;
  runAt: number;
  error?: { name: string; message: string; stack?: string };
}
/** A job as `GET .../jobs/:id` returns it. */
interface JobFull extends JobRow {
  data?: unknown;
  result?: unknown;
  progress?: unknown;
  startedAt?: number;
  finishedAt?: number;
  key?: string;
  reason?: string;
  timeout?: number;
  schedule?: string;
  history: {
    attempt: number;
    outcome: string;
    startedAt: number;
    endedAt: number;
    error?: { name: string; message: string };
  }[];
}
interface QueueRow {
  name: string;
  paused: boolean;
  counts: Record<string, number>;
}
interface Series {
  t: number[];
  completed: number[];
  failed: number[];
  runP50: (number | null)[];
  runP95: (number | null)[];
  waitP95: (number | null)[];
}
type Kid = El | string | number | null | undefined | false | Kid[];
type Attrs = Record<string, string | boolean | number | undefined | null | ((e: KeyEv) => void)>;

/** The page script: runs once in the browser when the page loads. */
export function dashboardMain(): void {
  const w = globalThis as unknown as Win;
  const doc = w.document;
  const STATES = ["scheduled", "ready", "active", "failed", "completed", "dead", "canceled"];
  const ENDED = ["completed", "dead", "canceled"];
  const PAGE = 25;
  const view: {
    queue: string | null;
    state: string;
    cursors: (string | null)[];
    page: number;
    job: { queue: string; id: string } | null;
    search: string | null;
  } = { queue: null, state: "ready", cursors: [null], page: 0, job: null, search: null };
  let queues: QueueRow[] = [];
  let token = w.sessionStorage.getItem("kvq-token") || "";
  const charts: { queue: string | null; throughput: Plot | null; latency: Plot | null } = {
    queue: null,
    throughput: null,
    latency: null,
  };
  const nodes: { add?: El; clean?: El; charts?: El } = {};
  let toastTimer: ReturnType<typeof setTimeout> | undefined;

  const $ = (id: string): El => {
    const e = doc.getElementById(id);
    if (!e) throw new Error(`the page has no #${id}`);
    return e;
  };
  const has = (id: string): boolean => doc.getElementById(id) !== null;
  function el(tag: string, attrs: Attrs | null, ...kids: Kid[]): El {
    const e = doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = String(v);
      else if (typeof v === "function") e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : String(v));
    }
    const add = (k: Kid): void => {
      if (Array.isArray(k)) k.forEach(add);
      else if (k !== null && k !== undefined && k !== false) e.append(typeof k === "object" ? k : String(k));
    };
    kids.forEach(add);
    return e;
  }
  function toast(msg: string): void {
    const t = $("toast");
    t.textContent = msg;
    t.style.display = "block";
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.style.display = "none", 3500);
  }
  const time = (ms: number | undefined): string =>
    ms === undefined || ms === null ? "" : new Date(ms).toLocaleString();
  function ago(ms: number | undefined): string {
    if (!ms) return "";
    const s = Math.round((Date.now() - ms) / 1000), a = Math.abs(s);
    const t = a < 60
      ? a + "s"
      : a < 3600
      ? Math.round(a / 60) + "m"
      : a < 86400
      ? Math.round(a / 3600) + "h"
      : Math.round(a / 86400) + "d";
    return s >= 0 ? t + " ago" : "in " + t;
  }
  const show = (v: unknown): string => v === undefined ? "(none)" : JSON.stringify(v, null, 2);
  const errorText = (e: unknown): string => e instanceof Error ? e.message : String(e);

  // deno-lint-ignore no-explicit-any
  async function api(method: string, path: string, body?: unknown): Promise<any> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (token) headers.authorization = "Bearer " + token;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = (await res.json().catch(() => ({}))) as { error?: { name: string; message: string } };
    if (res.status === 401) {
      $("banner").classList.add("show");
      throw new Error("unauthorized");
    }
    if (!res.ok) {
      throw new Error((data.error && (data.error.name + ": " + data.error.message)) || res.statusText);
    }
    $("banner").classList.remove("show");
    return data;
  }
  const qpath = (q: string): string => "/queues/" + encodeURIComponent(q);
  const jpath = (q: string, id: string): string => qpath(q) + "/jobs/" + encodeURIComponent(id);

  async function loadQueues(): Promise<void> {
    queues = (await api("GET", "/queues")).queues;
    const box = $("queues");
    box.replaceChildren();
    if (!queues.length) box.append(el("div", { class: "empty" }, "No queues yet. Add a job to create one."));
    for (const q of queues) {
      const mini = el(
        "div",
        { class: "mini" },
        STATES.filter((s) => q.counts[s]).map((s) =>
          el("span", { class: "pill st-" + s, title: s }, s + " " + q.counts[s])
        ),
      );
      box.append(el(
        "a",
        {
          class: q.name === view.queue && !view.search ? "sel" : "",
          "data-queue": q.name,
          onclick: () => select(q.name),
        },
        el(
          "div",
          { class: "name" },
          el("span", {}, q.name),
          q.paused ? el("span", { class: "pill paused" }, "paused") : null,
        ),
        mini,
      ));
    }
    if (!view.queue && queues.length) select(queues[0].name, true);
  }

  function setHash(): void {
    w.history.replaceState(
      null,
      "",
      "#" + encodeURIComponent(view.queue ?? "") + "/" + view.state +
        (view.job ? "/" + encodeURIComponent(view.job.id) : ""),
    );
  }
  function select(name: string, keepState?: boolean): void {
    view.search = null;
    $("search").value = "";
    if (view.queue !== name) {
      view.queue = name;
      if (!keepState) view.state = "ready";
    }
    view.cursors = [null];
    view.page = 0;
    setHash();
    refresh();
  }
  function setState(s: string): void {
    view.state = s;
    view.cursors = [null];
    view.page = 0;
    setHash();
    loadJobs().catch((e) => toast(errorText(e)));
  }

  async function act(what: string, fn: () => Promise<unknown>): Promise<boolean> {
    try {
      await fn();
      toast(what);
      await refresh();
      return true;
    } catch (e) {
      toast(errorText(e));
      return false;
    }
  }

  function jobTable(jobs: JobRow[], withQueue: boolean): El {
    const runs = !withQueue && (view.state === "scheduled" || view.state === "failed");
    const head = [
      withQueue ? "queue" : null,
      "id",
      "state",
      "attempt",
      "priority",
      "created",
      runs ? "runs" : "updated",
      "error",
    ].filter((h): h is string => h !== null);
    return el(
      "table",
      {},
      el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        jobs.map((j) =>
          el(
            "tr",
            { "data-job": j.id, onclick: () => openJob(j.queue, j.id) },
            withQueue ? el("td", {}, j.queue) : null,
            el("td", { class: "mono" }, j.id),
            el("td", {}, el("span", { class: "pill st-" + j.state }, j.state)),
            el("td", {}, j.attempt + "/" + j.maxAttempts),
            el("td", {}, j.priority),
            el("td", { title: time(j.createdAt) }, ago(j.createdAt)),
            el(
              "td",
              { title: time(runs ? j.runAt : j.updatedAt) },
              ago(runs ? j.runAt : j.updatedAt),
            ),
            el(
              "td",
              { class: "err", title: j.error ? j.error.message : "" },
              j.error ? j.error.name + ": " + j.error.message : "",
            ),
          )
        ),
      ),
    );
  }

  async function loadJobs(): Promise<void> {
    if (view.search) return await showSearch();
    const qname = view.queue;
    if (!qname) return;
    const panel = $("queuepanel");
    const q = queues.find((x) => x.name === qname);
    const counts = q ? q.counts : {};
    const paused = q && q.paused;
    // Ended jobs newest first: the ones you look for are the latest.
    const order = ENDED.includes(view.state) ? "&order=newest" : "";
    const cursor = view.cursors[view.page];
    const page = await api(
      "GET",
      qpath(qname) + "/jobs?state=" + view.state + "&limit=" + PAGE + order +
        (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""),
    );
    view.cursors[view.page + 1] = page.cursor;
    const toolbar = el(
      "div",
      { class: "toolbar" },
      el("h3", {}, qname),
      paused ? el("span", { class: "pill paused" }, "paused") : null,
      el("span", { style: "flex:1" }),
      el("button", { id: "addtoggle", onclick: () => addForm().classList.toggle("open") }, "Add job"),
      el("button", { id: "cleantoggle", onclick: () => cleanForm().classList.toggle("open") }, "Clean…"),
      paused
        ? el(
          "button",
          { onclick: () => act("Resumed", () => api("POST", qpath(qname) + "/resume")) },
          "Resume",
        )
        : el("button", { onclick: () => act("Paused", () => api("POST", qpath(qname) + "/pause")) }, "Pause"),
      el(
        "button",
        {
          id: "redriveall",
          class: "danger",
          disabled: !counts.dead,
          onclick: () => act("Redriven", () => api("POST", qpath(qname) + "/dead/redrive")),
        },
        "Redrive dead (" + (counts.dead || 0) + ")",
      ),
    );
    const tabs = el(
      "div",
      { class: "tabs" },
      STATES.map((s) =>
        el(
          "div",
          { class: "tab" + (s === view.state ? " sel" : ""), "data-state": s, onclick: () => setState(s) },
          s,
          el("span", { class: "n" }, counts[s] || 0),
        )
      ),
    );
    const body = page.jobs.length
      ? jobTable(page.jobs, false)
      : el("div", { class: "empty" }, "No " + view.state + " jobs.");
    const pager = el(
      "div",
      { class: "pager" },
      "page " + (view.page + 1),
      el("button", {
        disabled: view.page === 0,
        onclick: () => {
          view.page--;
          loadJobs().catch((e) => toast(errorText(e)));
        },
      }, "‹ Prev"),
      el("button", {
        disabled: !page.cursor,
        onclick: () => {
          view.page++;
          loadJobs().catch((e) => toast(errorText(e)));
        },
      }, "Next ›"),
    );
    panel.replaceChildren(toolbar, addForm(), cleanForm(), chartBox(), tabs, body, pager);
    await loadCharts(qname);
  }

  function addForm(): El {
    if (nodes.add) return nodes.add;
    const data = el("textarea", { "aria-label": "payload (JSON)" }, '{"hello": "world"}');
    const delay = el("input", {
      type: "number",
      min: "0",
      placeholder: "delay ms",
      "aria-label": "delay in ms",
    });
    const prio = el("input", { type: "number", placeholder: "priority", "aria-label": "priority" });
    const key = el("input", {
      placeholder: "idempotency key",
      "aria-label": "idempotency key",
      style: "width:150px",
    });
    const add = () =>
      act("Added", async () => {
        const body: Record<string, unknown> = { data: JSON.parse(data.value) };
        if (delay.value) body.delay = Number(delay.value);
        if (prio.value) body.priority = Number(prio.value);
        if (key.value) body.key = key.value;
        await api("POST", qpath(view.queue ?? "") + "/jobs", body);
      });
    nodes.add = el(
      "div",
      { id: "addform" },
      data,
      delay,
      prio,
      key,
      el("button", { class: "primary", onclick: add }, "Add"),
    );
    return nodes.add;
  }

  function cleanForm(): El {
    if (nodes.clean) return nodes.clean;
    const state = el(
      "select",
      { "aria-label": "state to clean" },
      ENDED.map((s) => el("option", { value: s }, s)),
    );
    const age = el("input", {
      type: "number",
      min: "0",
      placeholder: "older than (min)",
      "aria-label": "older than, in minutes",
    });
    const count = el("input", {
      type: "number",
      min: "0",
      placeholder: "keep newest",
      "aria-label": "keep the newest n",
    });
    const run = () => {
      const body: { state: string; age?: number; count?: number } = { state: state.value };
      if (age.value !== "") body.age = Math.round(Number(age.value) * 60_000);
      if (count.value !== "") body.count = Number(count.value);
      if (body.age === undefined && body.count === undefined) return toast("Give an age, a count, or both");
      const qname = view.queue ?? "";
      if (!w.confirm("Remove " + state.value + " jobs of " + qname + "?")) return;
      act(
        "Cleaned",
        async () => toast("Removed " + (await api("POST", qpath(qname) + "/clean", body)).removed),
      );
    };
    nodes.clean = el(
      "div",
      { id: "cleanform" },
      "Remove",
      state,
      "jobs that ended more than",
      age,
      "minutes ago, and/or beyond the newest",
      count,
      el("button", { class: "danger", id: "cleanrun", onclick: run }, "Clean"),
    );
    return nodes.clean;
  }

  // ---------------------------------------------------------------- charts (uPlot)
  function chartBox(): El {
    if (nodes.charts) return nodes.charts;
    nodes.charts = el(
      "div",
      { id: "charts" },
      el(
        "div",
        { class: "chart" },
        el("h4", {}, "Throughput (jobs/s)"),
        el("div", { id: "chart-throughput" }),
      ),
      el("div", { class: "chart" }, el("h4", {}, "Latency (ms)"), el("div", { id: "chart-latency" })),
    );
    return nodes.charts;
  }
  const chartWidth = (): number => Math.max(240, Math.floor(($("charts").clientWidth - 36) / 2));
  function makeCharts(Plot: NonNullable<Win["uPlot"]>, name: string): { throughput: Plot; latency: Plot } {
    for (const c of [charts.throughput, charts.latency]) if (c) c.destroy();
    const opts = (series: Record<string, unknown>[]) => ({
      width: chartWidth(),
      height: 150,
      series: [{}, ...series],
      axes: [{}, { size: 50 }],
      legend: { live: false },
      cursor: { drag: { x: false } },
    });
    const line = (label: string, stroke: string, extra: Record<string, unknown> = {}) => ({
      label,
      stroke,
      width: 1.5,
      ...extra,
    });
    const dots = { spanGaps: true, points: { show: true, size: 5 } };
    const made = {
      throughput: new Plot(
        opts([
          line("completed", "#27ae60", { fill: "rgba(39,174,96,.12)" }),
          line("failed", "#d64545"),
        ]),
        [[], [], []],
        $("chart-throughput"),
      ),
      latency: new Plot(
        opts([
          line("run p50", "#2f80ed", dots),
          line("run p95", "#8a63d2", dots),
          line("wait p95", "#f2994a", dots),
        ]),
        [[], [], [], []],
        $("chart-latency"),
      ),
    };
    Object.assign(charts, made, { queue: name });
    return made;
  }
  async function loadCharts(name: string): Promise<void> {
    const Plot = w.uPlot;
    if (typeof Plot !== "function") return;
    const s: Series = await api("GET", qpath(name) + "/stats");
    const made =
      charts.queue === name && charts.throughput && charts.latency && $("chart-throughput").firstChild
        ? { throughput: charts.throughput, latency: charts.latency }
        : makeCharts(Plot, name);
    made.throughput.setData([s.t, s.completed, s.failed]);
    made.latency.setData([s.t, s.runP50, s.runP95, s.waitP95]);
  }
  w.addEventListener("resize", () => {
    if (!charts.throughput || !charts.latency || !has("charts")) return;
    const width = chartWidth();
    for (const c of [charts.throughput, charts.latency]) c.setSize({ width, height: 150 });
  });

  // ---------------------------------------------------------------- search
  async function search(term: string): Promise<void> {
    term = term.trim();
    view.search = term || null;
    if (term) closeJob();
    await refresh();
  }
  async function showSearch(): Promise<void> {
    const term = view.search ?? "";
    const { jobs } = await api("GET", "/search?q=" + encodeURIComponent(term));
    charts.queue = null;
    $("queuepanel").replaceChildren(
      el(
        "div",
        { class: "toolbar results" },
        el("h3", {}, "Search: " + term),
        el("span", { style: "flex:1" }),
        el("button", {
          onclick: () => {
            $("search").value = "";
            search("");
          },
        }, "Clear"),
      ),
      jobs.length
        ? jobTable(jobs, true)
        : el("div", { class: "empty", id: "noresults" }, "No job has this id or idempotency key."),
    );
    if (jobs.length === 1 && !view.job) openJob(jobs[0].queue, jobs[0].id);
  }
  $("search").addEventListener("keydown", (e) => {
    if (e.key === "Enter") search($("search").value);
  });
  $("search").addEventListener("search", () => search($("search").value));

  // ---------------------------------------------------------------- job detail
  async function openJob(queue: string, id: string): Promise<void> {
    const d = $("detail");
    let job: JobFull;
    try {
      job = (await api("GET", jpath(queue, id))).job;
    } catch (e) {
      toast(errorText(e));
      return;
    }
    view.job = { queue, id };
    const terminal = ENDED.includes(job.state);
    const again = (what: string, path: string) => () =>
      act(what, () => api("POST", path)).then((ok) => {
        if (ok) return openJob(queue, id);
      });
    const facts: [string, Kid][] = ([
      ["queue", job.queue],
      ["state", el("span", { class: "pill st-" + job.state }, job.state)],
      ["attempt", job.attempt + " of " + job.maxAttempts],
      ["priority", job.priority],
      ["created", time(job.createdAt)],
      ["run at", time(job.runAt)],
      ["started", time(job.startedAt)],
      ["finished", time(job.finishedAt)],
      ["key", job.key],
      ["reason", job.reason],
      ["timeout", job.timeout && job.timeout + " ms"],
      ["schedule", job.schedule],
    ] as [string, Kid][]).filter((f) => f[1] !== undefined && f[1] !== "");
    const attempts = job.history.length
      ? el(
        "table",
        {},
        el(
          "thead",
          {},
          el("tr", {}, ["#", "outcome", "started", "took", "error"].map((h) => el("th", {}, h))),
        ),
        el(
          "tbody",
          {},
          job.history.map((a) =>
            el(
              "tr",
              {},
              el("td", {}, a.attempt),
              el("td", {}, a.outcome),
              el("td", {}, time(a.startedAt)),
              el("td", {}, (a.endedAt - a.startedAt) + " ms"),
              el("td", { class: "mono" }, a.error ? a.error.name + ": " + a.error.message : ""),
            )
          ),
        ),
      )
      : el("div", { class: "empty" }, "No attempt has ended yet.");
    const retry = job.state === "failed";
    const remove = () => {
      if (!w.confirm("Delete job " + id + " with its payload?")) return;
      act("Deleted", () => api("POST", jpath(queue, id) + "/remove")).then((ok) => ok && closeJob());
    };
    const error = job.error;
    d.replaceChildren(
      el(
        "header",
        {},
        el("h1", { class: "mono", style: "font-size:14px" }, job.id),
        el(
          "div",
          { class: "right" },
          el("button", {
            id: "promote",
            class: "primary",
            disabled: job.state !== "scheduled" && !retry,
            title: "a delayed job or a waiting retry becomes ready now",
            onclick: again(retry ? "Retrying now" : "Promoted", jpath(queue, id) + "/promote"),
          }, retry ? "Retry now" : "Run now"),
          el("button", {
            id: "cancel",
            class: "danger",
            disabled: terminal,
            onclick: again("Canceled", jpath(queue, id) + "/cancel"),
          }, "Cancel"),
          el("button", {
            id: "redrive",
            disabled: job.state !== "dead",
            onclick: again("Redriven", jpath(queue, id) + "/redrive"),
          }, "Redrive"),
          el(
            "button",
            { id: "delete", class: "danger", disabled: job.state === "active", onclick: remove },
            "Delete",
          ),
          el("button", { id: "close", onclick: closeJob }, "Close"),
        ),
      ),
      el("section", {}, el("dl", {}, facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]))),
      el("section", {}, el("h4", {}, "Payload"), el("pre", {}, show(job.data))),
      job.result !== undefined
        ? el("section", {}, el("h4", {}, "Result"), el("pre", {}, show(job.result)))
        : "",
      job.progress !== undefined
        ? el("section", {}, el("h4", {}, "Progress"), el("pre", {}, show(job.progress)))
        : "",
      error
        ? el(
          "section",
          {},
          el("h4", {}, "Last error"),
          el("pre", {}, error.stack || (error.name + ": " + error.message)),
        )
        : "",
      el("section", {}, el("h4", {}, "Attempts"), attempts),
    );
    d.dataset.state = job.state;
    d.classList.add("open");
    if (!view.search) setHash();
  }
  function closeJob(): void {
    view.job = null;
    $("detail").classList.remove("open");
    if (view.queue && !view.search) setHash();
  }

  async function refresh(): Promise<void> {
    try {
      await loadQueues();
      await loadJobs();
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (e) {
      if (errorText(e) !== "unauthorized") toast(errorText(e));
    }
  }

  $("savetoken").onclick = () => {
    token = $("token").value.trim();
    w.sessionStorage.setItem("kvq-token", token);
    refresh();
  };
  doc.addEventListener("keydown", (e) => {
    if (e.key === "Escape") closeJob();
  });
  const m = /^#([^/]+)\/(\w+)(?:\/([^/]+))?$/.exec(w.location.hash);
  if (m) {
    view.queue = decodeURIComponent(m[1]);
    if (STATES.includes(m[2])) view.state = m[2];
  }
  refresh().then(() => {
    if (m && m[3] && view.queue) openJob(view.queue, decodeURIComponent(m[3]));
  });
  // Auto-refresh only while the tab is visible; catch up at once when it becomes visible again.
  const visible = () => $("auto").checked && doc.visibilityState === "visible";
  setInterval(() => {
    if (visible()) refresh();
  }, 2000);
  doc.addEventListener("visibilitychange", () => {
    if (visible()) refresh();
  });
}
