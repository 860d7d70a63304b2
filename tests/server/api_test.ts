// The sidecar's JSON API end to end through its fetch handler (no port), on the memory store.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { Queue } from "../../mod.ts";
import { createServer } from "../../server/mod.ts";
import { client, withServer } from "./_helpers.ts";

describe("server API", () => {
  test("POST /queues/:queue/jobs adds a job that GET returns by id, with and without the queue", () =>
    withServer({}, async (s) => {
      const added = await s.call("POST", "/queues/mail/jobs", { data: { to: "a@b.c" }, priority: 3 });
      assert.equal(added.status, 201);
      assert.equal(added.headers.get("content-type"), "application/json; charset=utf-8");
      const { job } = added.body;
      assert.equal(job.state, "ready");
      assert.equal(job.priority, 3);
      assert.deepEqual(job.data, { to: "a@b.c" });
      const byQueue = await s.call("GET", `/queues/mail/jobs/${job.id}`);
      assert.equal(byQueue.status, 200);
      assert.equal(byQueue.body.job.id, job.id);
      const byId = await s.call("GET", `/jobs/${job.id}`);
      assert.equal(byId.status, 200);
      assert.equal(byId.body.job.queue, "mail");
    }));

  test("POST /queues/:queue/jobs applies delay, runAt (number or ISO date), maxAttempts and key", () =>
    withServer({}, async (s) => {
      const delayed = await s.call("POST", "/queues/q/jobs", { data: 1, delay: 60_000, maxAttempts: 7 });
      assert.equal(delayed.body.job.state, "scheduled");
      assert.equal(delayed.body.job.maxAttempts, 7);
      const at = "2999-01-01T00:00:00.000Z";
      const later = await s.call("POST", "/queues/q/jobs", { data: 2, runAt: at });
      assert.equal(later.body.job.runAt, Date.parse(at));
      const first = await s.call("POST", "/queues/q/jobs", { data: 3, key: "order-42" });
      const again = await s.call("POST", "/queues/q/jobs", { data: 3, key: "order-42" });
      assert.equal(first.status, 201);
      assert.equal(again.status, 200);
      assert.equal(again.body.job.created, false);
      assert.equal(again.body.job.id, first.body.job.id);
    }));

  test("POST /queues/:queue/jobs/bulk adds every job in order", () =>
    withServer({}, async (s) => {
      const res = await s.call("POST", "/queues/q/jobs/bulk", {
        jobs: [{ data: "a" }, { data: "b", delay: 1000 }],
      });
      assert.equal(res.status, 201);
      assert.deepEqual(res.body.jobs.map((j: { data: string }) => j.data), ["a", "b"]);
      assert.deepEqual(res.body.jobs.map((j: { state: string }) => j.state), ["ready", "scheduled"]);
      const counts = await s.call("GET", "/queues/q/counts");
      assert.equal(counts.body.ready, 1);
      assert.equal(counts.body.scheduled, 1);
    }));

  test("GET /queues/:queue/jobs pages through a state with limit and cursor", () =>
    withServer({}, async (s) => {
      await s.call("POST", "/queues/q/jobs/bulk", { jobs: [1, 2, 3, 4, 5].map((data) => ({ data })) });
      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const qs: string = `state=ready&payloads=true&limit=2${
          cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
        }`;
        const page = await s.call("GET", `/queues/q/jobs?${qs}`);
        assert.equal(page.status, 200);
        for (const j of page.body.jobs) seen.push(j.data);
        cursor = page.body.cursor;
        pages++;
      } while (cursor);
      assert.deepEqual(seen, [1, 2, 3, 4, 5]);
      assert.equal(pages, 3);
    }));

  test("GET /queues/:queue/jobs?order=newest pages newest first (the dashboard's order for ended jobs)", () =>
    withServer({}, async (s) => {
      const q = s.app.queue("q");
      await q.addBulk([1, 2, 3].map((data) => ({ data })));
      for (const { job, token } of await q.claim({ limit: 3 })) {
        await q.complete(job.id, token, job.data);
        await new Promise((r) => setTimeout(r, 2)); // distinct finish times
      }
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const qs: string = `state=completed&order=newest&payloads=true&limit=2${
          cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
        }`;
        const page = await s.call("GET", `/queues/q/jobs?${qs}`);
        for (const j of page.body.jobs) seen.push(j.data);
        cursor = page.body.cursor;
      } while (cursor);
      assert.deepEqual(seen, [3, 2, 1]);
      const oldest = await s.call("GET", "/queues/q/jobs?state=completed&payloads=true");
      assert.deepEqual(oldest.body.jobs.map((j: { data: number }) => j.data), [1, 2, 3]);
      assert.equal((await s.call("GET", "/queues/q/jobs?state=completed&order=up")).status, 400);
    }));

  test("GET /queues lists queues found in the store with counts and the paused flag", () =>
    withServer({}, async (s) => {
      const other = new Queue(s.store, "made-elsewhere");
      await other.add("x");
      await s.call("POST", "/queues/mine/jobs", { data: 1 });
      await s.call("POST", "/queues/mine/pause");
      const res = await s.call("GET", "/queues");
      assert.equal(res.status, 200);
      const byName = Object.fromEntries(
        res.body.queues.map((q: { name: string; paused: boolean; counts: { ready: number } }) => [q.name, q]),
      );
      assert.deepEqual(Object.keys(byName).sort(), ["made-elsewhere", "mine"]);
      assert.equal(byName.mine.paused, true);
      assert.equal(byName["made-elsewhere"].counts.ready, 1);
      const resumed = await s.call("POST", "/queues/mine/resume");
      assert.deepEqual(resumed.body, { paused: false });
      assert.equal((await s.call("GET", "/queues/mine")).body.paused, false);
    }));

  test("DELETE /jobs/:id cancels a waiting job; a second cancel reports false; an unknown id is 404", () =>
    withServer({}, async (s) => {
      const { body } = await s.call("POST", "/queues/q/jobs", { data: 1, delay: 10_000 });
      const res = await s.call("DELETE", `/jobs/${body.job.id}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.canceled, true);
      assert.equal(res.body.job.state, "canceled");
      const again = await s.call("DELETE", `/queues/q/jobs/${body.job.id}`);
      assert.equal(again.body.canceled, false);
      const missing = await s.call("DELETE", "/queues/q/jobs/01NOTAJOB");
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.name, "JobNotFoundError");
      assert.equal((await s.call("GET", "/jobs/01NOTAJOB")).status, 404);
    }));

  test("POST /queues/:queue/dead/redrive moves dead jobs back to ready; redriving a live job is 409", () =>
    withServer({}, async (s) => {
      const { body } = await s.call("POST", "/queues/q/jobs", { data: 1, maxAttempts: 1 });
      const claim = await s.call("POST", "/queues/q/claim", {});
      assert.equal(claim.body.job.id, body.job.id);
      const failed = await s.call("POST", `/jobs/${body.job.id}/fail`, {
        token: claim.body.token,
        error: "nope",
      });
      assert.equal(failed.body.job.state, "dead");
      assert.equal((await s.call("GET", "/queues/q/counts")).body.dead, 1);
      const res = await s.call("POST", "/queues/q/dead/redrive");
      assert.deepEqual(res.body, { redriven: 1 });
      const job = (await s.call("GET", `/jobs/${body.job.id}`)).body.job;
      assert.equal(job.state, "ready");
      assert.equal(job.history.length, 1);
      const conflict = await s.call("POST", `/jobs/${body.job.id}/redrive`);
      assert.equal(conflict.status, 409);
      assert.equal(conflict.body.error.name, "JobStateError");
    }));

  test("Uint8Array payloads are answered as base64 under $bytes", () =>
    withServer({}, async (s) => {
      const q = s.app.queue("bin");
      const job = await q.add(new Uint8Array([1, 2, 255]));
      const res = await s.call("GET", `/queues/bin/jobs/${job.id}`);
      assert.deepEqual(res.body.job.data, { $bytes: "AQL/" });
    }));
});

describe("server auth", () => {
  test("requests without a valid bearer token get 401; the dashboard page and /healthz stay open", () =>
    withServer({ auth: ["s3cret", "other"] }, async (s) => {
      const missing = await s.call("GET", "/queues", undefined, { token: null });
      assert.equal(missing.status, 401);
      assert.equal(missing.body.error.name, "UnauthorizedError");
      assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer/);
      assert.equal((await s.call("GET", "/queues", undefined, { token: "s3cre" })).status, 401);
      assert.equal((await s.call("GET", "/queues", undefined, { token: "s3cret-" })).status, 401);
      assert.equal((await s.call("GET", "/metrics", undefined, { token: null })).status, 401);
      assert.equal((await s.call("POST", "/queues/q/jobs", { data: 1 }, { token: null })).status, 401);
      assert.equal((await s.call("GET", "/queues", undefined, { token: "s3cret" })).status, 200);
      assert.equal((await s.call("GET", "/queues", undefined, { token: "other" })).status, 200);
      assert.equal((await s.call("GET", "/healthz", undefined, { token: null })).status, 200);
      assert.equal((await s.call("GET", "/", undefined, { token: null })).status, 200);
    }));

  test("a function decides access when given; publicMetrics opens /metrics only", () =>
    withServer({ auth: (req) => req.headers.get("x-api-key") === "k", publicMetrics: true }, async (s) => {
      assert.equal((await s.call("GET", "/queues")).status, 401);
      assert.equal(
        (await s.call("GET", "/queues", undefined, { headers: { "x-api-key": "k" } })).status,
        200,
      );
      assert.equal((await s.call("GET", "/metrics")).status, 200);
    }));

  test("createServer() refuses an empty token and a missing store", () => {
    assert.throws(() => createServer({ store: new MemoryKv(), auth: "" }), TypeError);
    assert.throws(() => createServer({}), TypeError);
  });
});

describe("server errors", () => {
  test("bad input is 400 with the TypeError or RangeError message", () =>
    withServer({}, async (s) => {
      const unknownField = await s.call("POST", "/queues/q/jobs", { data: 1, prority: 2 });
      assert.equal(unknownField.status, 400);
      assert.equal(unknownField.body.error.name, "TypeError");
      assert.match(unknownField.body.error.message, /unknown field "prority"/);
      const noData = await s.call("POST", "/queues/q/jobs", { priority: 1 });
      assert.equal(noData.status, 400);
      assert.match(noData.body.error.message, /"data"/);
      const badAttempts = await s.call("POST", "/queues/q/jobs", { data: 1, maxAttempts: 0 });
      assert.equal(badAttempts.status, 400);
      assert.equal(badAttempts.body.error.name, "RangeError");
      const badJson = await s.call("POST", "/queues/q/jobs", undefined, {
        raw: "{nope",
        headers: { "content-type": "application/json" },
      });
      assert.equal(badJson.status, 400);
      assert.equal(badJson.body.error.name, "SyntaxError");
      await s.call("POST", "/queues/q/jobs", { data: 0 }); // the queue exists: its reads are checked
      const badState = await s.call("GET", "/queues/q/jobs?state=sleeping");
      assert.equal(badState.status, 400);
      assert.match(badState.body.error.message, /unknown state "sleeping"/);
      assert.equal((await s.call("GET", "/queues/q/jobs?limit=0")).status, 400);
      assert.equal((await s.call("GET", "/queues/q/jobs?cursor=%7Bx")).status, 400);
    }));

  test("a payload over the queue's limit is 413 LimitError; a body over maxBodyBytes is 413", () =>
    withServer({ queueOptions: { maxPayloadBytes: 100 }, maxBodyBytes: 1000 }, async (s) => {
      const big = await s.call("POST", "/queues/q/jobs", { data: "x".repeat(200) });
      assert.equal(big.status, 413);
      assert.equal(big.body.error.name, "LimitError");
      const huge = await s.call("POST", "/queues/q/jobs", { data: "x".repeat(2000) });
      assert.equal(huge.status, 413);
      assert.match(huge.body.error.message, /limit is 1000/);
    }));

  test("a full queue is 429 QueueFullError with Retry-After", () =>
    withServer({ queueOptions: { maxQueued: 1 } }, async (s) => {
      assert.equal((await s.call("POST", "/queues/q/jobs", { data: 1 })).status, 201);
      const full = await s.call("POST", "/queues/q/jobs", { data: 2 });
      assert.equal(full.status, 429);
      assert.equal(full.body.error.name, "QueueFullError");
      assert.equal(full.headers.get("retry-after"), "1");
    }));

  test("unknown routes and, without a store, unknown queues are 404", async () => {
    const q = new Queue(new MemoryKv(), "only");
    const app = createServer({ queues: [q] });
    const call = client(app);
    try {
      assert.equal((await call("GET", "/queues/only/counts")).status, 200);
      const other = await call("GET", "/queues/other/counts");
      assert.equal(other.status, 404);
      assert.equal(other.body.error.name, "QueueNotFoundError");
      const route = await call("GET", "/nowhere");
      assert.equal(route.status, 404);
      assert.deepEqual(Object.keys(route.body.error), ["name", "message"]);
    } finally {
      await app.close();
      await q.kv.close();
    }
  });
});

describe("server metrics and dashboard", () => {
  test("GET /metrics answers the Prometheus text format with jobs per state and counters", () =>
    withServer({ metrics: { settleMs: 0 } }, async (s) => {
      await s.call("POST", "/queues/mail/jobs/bulk", { jobs: [{ data: 1 }, { data: 2 }] });
      const claim = await s.call("POST", "/queues/mail/claim", {});
      await s.call("POST", `/jobs/${claim.body.job.id}/complete`, { token: claim.body.token, result: "ok" });
      const res = await s.call("GET", "/metrics");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const lines = res.text.trimEnd().split("\n");
      for (const line of lines) {
        if (line.startsWith("#")) assert.match(line, /^# (HELP|TYPE) kvq_[a-z_]+ .+$/);
        else {assert.match(
            line,
            /^kvq_[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? (-?[0-9.]+(e[-+]?\d+)?|NaN)$/,
          );}
      }
      assert.ok(lines.includes('kvq_jobs{queue="mail",state="ready"} 1'));
      assert.ok(lines.includes('kvq_jobs{queue="mail",state="completed"} 1'));
      assert.ok(lines.includes('kvq_jobs_completed_total{queue="mail"} 1'));
      assert.ok(lines.includes('kvq_attempt_duration_seconds_count{queue="mail"} 1'));
      assert.ok(lines.includes("# TYPE kvq_attempt_duration_seconds histogram"));
      assert.ok(lines.includes('kvq_queue_paused{queue="mail"} 0'));
    }));

  test("metrics escape quotes and backslashes in the names of queues served as instances", async () => {
    const store = new MemoryKv();
    const odd = new Queue(store, 'a"b\\c');
    const app = createServer({ queues: [odd] });
    try {
      await odd.add(1);
      const res = await client(app)("GET", "/metrics");
      assert.ok(res.text.includes('kvq_jobs{queue="a\\"b\\\\c",state="ready"} 1'), res.text);
    } finally {
      await app.close();
      await store.close();
    }
  });

  test("GET / serves the self-contained dashboard page", () =>
    withServer({ auth: "t" }, async (s) => {
      const res = await s.call("GET", "/", undefined, { token: null });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
      assert.match(res.text, /<title>kvq dashboard<\/title>/);
      // Its script and uPlot come from this server (open too: they hold no data), never inline.
      assert.match(res.text, /<script src="\/assets\/dashboard\.js"><\/script>/);
      assert.doesNotMatch(res.text, /<script>/);
      assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self';/);
      assert.doesNotMatch(res.text, /(src|href)=["']?https?:/);
      const script = await s.call("GET", "/assets/dashboard.js", undefined, { token: null });
      assert.equal(script.status, 200);
      assert.doesNotMatch(script.text, /innerHTML/);
      const off = createServer({ store: s.store, dashboard: false });
      assert.equal((await client(off)("GET", "/")).status, 404);
      await off.close();
    }));
});
