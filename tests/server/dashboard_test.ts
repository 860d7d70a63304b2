// The dashboard page's script (no shadowed browser globals, pauses when hidden), the list API it
// polls (no payloads), and its routes: promote (run now / retry now), remove, clean, search, stats.
// The page itself is driven in real Chromium by dashboard_chromium_test.ts.
import { describe, test } from "node:test";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { createServer } from "../../server/mod.ts";
import { Queue } from "../../mod.ts";
import { UPLOT_CSS, UPLOT_JS, UPLOT_VERSION } from "../../server/dashboard/_uplot.ts";
import { ChartStats } from "../../server/dashboard/_stats.ts";
import { client, until, withServer } from "./_helpers.ts";

/** Names a page script must not declare: they would shadow the window's own. */
const BROWSER_GLOBALS = [
  "history",
  "location",
  "name",
  "status",
  "top",
  "parent",
  "self",
  "window",
  "document",
  "navigator",
  "screen",
  "event",
  "origin",
  "length",
  "close",
  "open",
  "print",
  "stop",
  "focus",
  "blur",
  "fetch",
  "alert",
  "confirm",
  "performance",
  "crypto",
  "frames",
  "scroll",
  "find",
  "closed",
  "opener",
  "localStorage",
  "sessionStorage",
];

async function script(): Promise<string> {
  const store = new MemoryKv();
  const app = createServer({ store });
  try {
    return (await client(app)("GET", "/assets/dashboard.js")).text;
  } finally {
    await app.close();
    await store.close();
  }
}

describe("dashboard", () => {
  test("the page script parses and declares no name that shadows a browser global", async () => {
    const js = await script();
    new Function(js); // a syntax error throws here
    const declared = [...js.matchAll(/\b(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)/g)]
      .map((m) => m[1]);
    const shadowing = declared.filter((n) => BROWSER_GLOBALS.includes(n));
    assert.deepEqual(shadowing, [], `declared: ${shadowing.join(", ")}`);
    assert.match(js, /history\.replaceState/);
  });

  test("auto-refresh runs only while the tab is visible", async () => {
    const js = await script();
    assert.match(js, /setInterval\(/);
    assert.match(js, /visibilityState === "visible"/);
    assert.match(js, /addEventListener\("visibilitychange"/);
  });

  test("list pages carry no payloads, results or progress; a job's detail and payloads=true do", async () => {
    const store = new MemoryKv();
    const app = createServer({ store });
    const call = client(app);
    try {
      const big = "x".repeat(100_000);
      const job = (await call("POST", "/queues/q/jobs", { data: { big } })).body.job;
      const list = await call("GET", "/queues/q/jobs?state=ready");
      assert.equal(list.status, 200);
      assert.equal(list.body.jobs.length, 1);
      assert.equal(list.body.jobs[0].id, job.id);
      assert.equal("data" in list.body.jobs[0], false);
      assert.ok(list.text.length < 5000, `a one-job page is ${list.text.length} bytes`);
      assert.equal((await call("GET", `/queues/q/jobs/${job.id}`)).body.job.data.big, big);
      const full = await call("GET", "/queues/q/jobs?state=ready&payloads=true");
      assert.equal(full.body.jobs[0].data.big, big);
    } finally {
      await app.close();
      await store.close();
    }
  });
});

describe("dashboard assets", () => {
  test("the page, its script and styles and uPlot are served without a token, same-origin only", () =>
    withServer({ auth: "t" }, async ({ call }) => {
      for (
        const [path, type] of [
          ["/", /^text\/html/],
          ["/assets/dashboard.js", /^text\/javascript/],
          ["/assets/dashboard.css", /^text\/css/],
          ["/assets/uplot.js", /^text\/javascript/],
          ["/assets/uplot.css", /^text\/css/],
        ] as const
      ) {
        const res = await call("GET", path, undefined, { token: null });
        assert.equal(res.status, 200, path);
        assert.match(res.headers.get("content-type") ?? "", type, path);
        assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self';/, path);
      }
      assert.equal((await call("GET", "/queues/q/stats", undefined, { token: null })).status, 401);
      assert.equal((await call("GET", "/assets/uplot.js")).text, UPLOT_JS);
    }));

  test("the served uPlot is the installed uplot package's (rerun scripts/gen_uplot.mjs after upgrading)", () => {
    const dir = new URL("../../node_modules/uplot/", import.meta.url);
    const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8"));
    assert.equal(UPLOT_VERSION, pkg.version);
    assert.equal(UPLOT_JS, readFileSync(new URL("dist/uPlot.iife.min.js", dir), "utf8"));
    assert.equal(UPLOT_CSS, readFileSync(new URL("dist/uPlot.min.css", dir), "utf8"));
  });
});

describe("dashboard routes", () => {
  test("promote runs a delayed job now and refuses a ready one (409)", () =>
    withServer({}, async ({ call }) => {
      const job = (await call("POST", "/queues/q/jobs", { data: 1, delay: 3_600_000 })).body.job;
      assert.equal(job.state, "scheduled");
      const res = await call("POST", `/queues/q/jobs/${job.id}/promote`);
      assert.equal(res.status, 200);
      assert.equal(res.body.job.state, "ready");
      assert.equal("data" in res.body.job, false);
      assert.equal((await call("POST", `/queues/q/jobs/${job.id}/promote`)).status, 409);
      assert.equal((await call("POST", "/queues/q/jobs/nope/promote")).status, 404);
      assert.equal((await call("POST", "/queues/none/jobs/nope/promote")).status, 404);
    }));

  test("promote retries a failed job (waiting for its backoff) now", () =>
    withServer({}, async ({ app, call }) => {
      const job = (await call("POST", "/queues/q/jobs", { data: 1, backoff: 3_600_000 })).body.job;
      const claimed = (await call("POST", "/queues/q/claim", { leaseMs: 10_000 })).body;
      await call("POST", `/jobs/${job.id}/fail`, { token: claimed.token, error: "down" });
      assert.equal((await app.queue("q").getJob(job.id))?.state, "failed");
      const res = await call("POST", `/queues/q/jobs/${job.id}/promote`);
      assert.deepEqual([res.body.job.state, res.body.job.attempt], ["ready", 1]);
    }));

  test("remove deletes a job that is not active; an active one is 409, an absent one 404", () =>
    withServer({}, async ({ app, call }) => {
      const a = (await call("POST", "/queues/q/jobs", { data: 1 })).body.job;
      assert.deepEqual((await call("POST", `/queues/q/jobs/${a.id}/remove`)).body, { removed: true });
      assert.equal(await app.queue("q").getJob(a.id), null);
      assert.equal((await call("POST", `/queues/q/jobs/${a.id}/remove`)).status, 404);
      const b = (await call("POST", "/queues/q/jobs", { data: 2 })).body.job;
      await call("POST", "/queues/q/claim", { leaseMs: 10_000 });
      assert.equal((await call("POST", `/queues/q/jobs/${b.id}/remove`)).status, 409);
    }));

  test("clean removes completed jobs beyond a count or older than an age; bad bodies are 400", () =>
    withServer({}, async ({ app, call }) => {
      const q = app.queue("q");
      await call("POST", "/queues/q/jobs/bulk", { jobs: [1, 2, 3, 4].map((data) => ({ data })) });
      for (const { job, token } of await q.claim({ limit: 4, leaseMs: 10_000 })) {
        await q.complete(job.id, token, null);
      }
      assert.equal((await q.counts()).completed, 4);
      assert.deepEqual((await call("POST", "/queues/q/clean", { state: "completed", count: 3 })).body, {
        removed: 1,
      });
      assert.deepEqual((await call("POST", "/queues/q/clean", { age: 3_600_000 })).body, { removed: 0 });
      assert.deepEqual((await call("POST", "/queues/q/clean", { state: "completed", age: 0 })).body, {
        removed: 3,
      });
      for (
        const bad of [{}, { state: "ready", age: 1 }, { age: -1 }, { count: 1.5 }, { age: 1, extra: true }]
      ) {
        const res = await call("POST", "/queues/q/clean", bad);
        assert.equal(res.status, 400, JSON.stringify(bad));
      }
    }));

  test("search finds a job by id and by idempotency key, in one queue or all", () =>
    withServer({}, async ({ call }) => {
      const a = (await call("POST", "/queues/mail/jobs", { data: 1, key: "welcome:42" })).body.job;
      const b = (await call("POST", "/queues/sms/jobs", { data: 2, key: "welcome:42" })).body.job;
      const byId = await call("GET", `/search?q=${a.id}`);
      assert.deepEqual(byId.body.jobs.map((j: { id: string }) => j.id), [a.id]);
      assert.equal("data" in byId.body.jobs[0], false);
      const byKey = await call("GET", "/search?q=welcome%3A42");
      assert.deepEqual(byKey.body.jobs.map((j: { id: string }) => j.id).sort(), [a.id, b.id].sort());
      const inSms = await call("GET", "/search?q=welcome%3A42&queue=sms");
      assert.deepEqual(inSms.body.jobs.map((j: { id: string }) => j.id), [b.id]);
      assert.deepEqual((await call("GET", "/search?q=nothing")).body, { jobs: [] });
      assert.equal((await call("GET", "/search?q=")).status, 400);
      assert.equal((await call("GET", "/search?q=x&queue=none")).status, 404);
    }));

  test("stats counts the attempts that end and their run times, per time bucket", async () => {
    const store = new MemoryKv();
    const queue = new Queue(store, "work", { maxAttempts: 1 });
    const app = createServer({ store, queues: [queue] });
    const call = client(app);
    const worker = queue.process((job) => {
      if ((job.data as number) < 0) throw new Error("negative");
      return job.data;
    });
    try {
      await queue.addBulk([1, 2, 3, -1].map((data) => ({ data })));
      await until(async () => {
        const c = await queue.counts();
        return c.completed === 3 && c.dead === 1;
      }, "jobs ended");
      const s = (await call("GET", "/queues/work/stats")).body;
      assert.equal(s.bucketMs, 5000);
      assert.equal(s.t.length, 120);
      for (const k of ["completed", "failed", "runP50", "runP95", "waitP95"]) {
        assert.equal(s[k].length, 120, k);
      }
      // Rates per second: the 3 completions and 1 failure fall in the newest bucket or two.
      assert.ok(s.completed.some((v: number) => v > 0), JSON.stringify(s.completed.slice(-2)));
      assert.ok(s.failed.some((v: number) => v > 0), JSON.stringify(s.failed.slice(-2)));
      assert.ok(s.runP50.some((v: number | null) => v !== null && v >= 0));
      assert.equal((await call("GET", "/queues/none/stats")).status, 404);
    } finally {
      await worker.close();
      await app.close();
      await store.close();
    }
  });
});

describe("ChartStats", () => {
  test("buckets completed and failed attempts with their run and wait times, and forgets past the window", () => {
    let now = 99_500;
    const stats = new ChartStats({ bucketMs: 1000, buckets: 3, now: () => now });
    const target = new EventTarget() as unknown as Queue;
    Object.defineProperty(target, "name", { value: "q" });
    stats.attach(target);
    const job = (startedAt: number, finishedAt: number) => ({
      runAt: startedAt - 7,
      startedAt,
      finishedAt,
      history: [],
    });
    const emit = (type: string, j: unknown) => {
      const e = new Event(type) as Event & { job: unknown };
      e.job = j;
      target.dispatchEvent(e);
    };
    emit("completed", job(99_000, 99_040));
    emit("completed", job(99_000, 99_020));
    now = 101_500;
    emit("failed", { runAt: 101_000, startedAt: 101_000, history: [{ endedAt: 101_300 }] });
    const s = stats.read("q");
    assert.deepEqual(s.t, [99, 100, 101]);
    assert.deepEqual(s.completed, [2, 0, 0]);
    // The newest bucket is still filling: its rate is over at least 1 s.
    assert.deepEqual(s.failed, [0, 0, 1]);
    assert.deepEqual(s.runP50, [40, null, 300]);
    assert.deepEqual(s.waitP95, [7, null, 0]);
    now = 103_000;
    assert.deepEqual(stats.read("q").completed, [0, 0, 0]);
    stats.close();
    emit("completed", job(102_900, 102_950));
    assert.deepEqual(stats.read("q").completed, [0, 0, 0]);
  });
});
