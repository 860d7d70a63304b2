// The consumer API for other languages (claim, heartbeat, complete, fail, release) through the
// fetch handler, on the memory store.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { Queue } from "../../mod.ts";
import { createServer } from "../../server/mod.ts";
import { client, until } from "./_helpers.ts";

interface Setup {
  app: ReturnType<typeof createServer>;
  call: ReturnType<typeof client>;
}

async function withServer(
  options: Omit<Parameters<typeof createServer>[0], "store">,
  fn: (s: Setup) => Promise<void>,
): Promise<void> {
  const store = new MemoryKv();
  const app = createServer({ store, ...options });
  try {
    await fn({ app, call: client(app) });
  } finally {
    await app.close();
    await store.close();
  }
}

describe("server consumer API", () => {
  test("claim leases a job with a token; heartbeat renews it; complete stores the result once", () =>
    withServer({}, async ({ call }) => {
      const added = (await call("POST", "/queues/q/jobs", { data: { n: 21 } })).body.job;
      const claim = await call("POST", "/queues/q/claim", { leaseMs: 5000 });
      assert.equal(claim.status, 200);
      assert.equal(claim.body.job.id, added.id);
      assert.equal(claim.body.job.state, "active");
      assert.equal(claim.body.job.attempt, 1);
      assert.deepEqual(claim.body.job.data, { n: 21 });
      assert.equal(typeof claim.body.token, "string");
      assert.equal(claim.body.leaseMs, 5000);
      const { token } = claim.body;
      const beat = await call("POST", `/jobs/${added.id}/heartbeat`, { token, progress: { pct: 50 } });
      assert.equal(beat.status, 200);
      assert.ok(beat.body.expiresAt >= claim.body.expiresAt);
      assert.deepEqual((await call("GET", `/jobs/${added.id}`)).body.job.progress, { pct: 50 });
      const done = await call("POST", `/jobs/${added.id}/complete`, { token, result: 42 });
      assert.equal(done.status, 200);
      assert.equal(done.body.job.state, "completed");
      assert.equal(done.body.job.result, 42);
      const twice = await call("POST", `/jobs/${added.id}/complete`, { token, result: 43 });
      assert.equal(twice.status, 409);
      assert.equal(twice.body.error.name, "LeaseLostError");
      assert.equal((await call("GET", "/queues/q/counts")).body.completed, 1);
    }));

  test("claim answers {job: null} at once when nothing is ready, and waits with wait", () =>
    withServer({}, async ({ call }) => {
      const started = Date.now();
      const none = await call("POST", "/queues/q/claim", {});
      assert.deepEqual(none.body, { job: null });
      assert.ok(Date.now() - started < 1000);
      const waiting = call("POST", "/queues/q/claim", { wait: 5000 });
      await new Promise((r) => setTimeout(r, 50));
      const added = (await call("POST", "/queues/q/jobs", { data: "late" })).body.job;
      const got = await waiting;
      assert.equal(got.body.job.id, added.id);
      await call("POST", `/jobs/${added.id}/complete`, { token: got.body.token });
    }));

  test("concurrent claims never hand one job to two consumers", () =>
    withServer({}, async ({ call }) => {
      await call("POST", "/queues/q/jobs/bulk", { jobs: [{ data: "a" }, { data: "b" }, { data: "c" }] });
      const claims = await Promise.all([1, 2, 3, 4].map(() => call("POST", "/queues/q/claim", {})));
      const got = claims.map((c) => c.body.job?.data ?? null);
      assert.deepEqual(got.filter((x) => x !== null).sort(), ["a", "b", "c"]);
      assert.equal(got.filter((x) => x === null).length, 1);
      for (const c of claims.filter((c) => c.body.job)) {
        const done = await call("POST", `/jobs/${c.body.job.id}/complete`, { token: c.body.token });
        assert.equal(done.body.job.state, "completed");
      }
    }));

  test("claim hands out the highest priority first", () =>
    withServer({}, async ({ call }) => {
      await call("POST", "/queues/q/jobs/bulk", {
        jobs: [{ data: "low" }, { data: "high", priority: 10 }, { data: "mid", priority: 5 }],
      });
      const order: string[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await call("POST", "/queues/q/claim", {});
        order.push(c.body.job.data);
        await call("POST", `/jobs/${c.body.job.id}/complete`, { token: c.body.token });
      }
      assert.deepEqual(order, ["high", "mid", "low"]);
    }));

  test("fail retries with the error in the history; fail with retry false sends the job to dead", () =>
    withServer({ queueOptions: { backoff: 60_000 } }, async ({ call }) => {
      const a = (await call("POST", "/queues/q/jobs", { data: "a" })).body.job;
      const claim = await call("POST", "/queues/q/claim", {});
      const failed = await call("POST", `/jobs/${a.id}/fail`, {
        token: claim.body.token,
        error: { name: "ValueError", message: "bad input", stack: "Traceback (most recent call last): ..." },
      });
      assert.equal(failed.status, 200);
      assert.equal(failed.body.job.state, "failed");
      assert.equal(failed.body.job.history[0].error.name, "ValueError");
      assert.equal(failed.body.job.history[0].error.message, "bad input");
      assert.match(failed.body.job.error.stack, /Traceback/);

      const b = (await call("POST", "/queues/q/jobs", { data: "b" })).body.job;
      const claimB = await call("POST", "/queues/q/claim", {});
      assert.equal(claimB.body.job.id, b.id);
      const dead = await call("POST", `/jobs/${b.id}/fail`, {
        token: claimB.body.token,
        error: "gone",
        retry: false,
      });
      assert.equal(dead.body.job.state, "dead");
      assert.equal(dead.body.job.reason, "permanent");
    }));

  test("a wrong token is 409 and changes nothing; a missing token is 400", () =>
    withServer({}, async ({ call }) => {
      const job = (await call("POST", "/queues/q/jobs", { data: 1 })).body.job;
      const claim = await call("POST", "/queues/q/claim", {});
      const wrong = await call("POST", `/jobs/${job.id}/complete`, { token: claim.body.token + "x" });
      assert.equal(wrong.status, 409);
      assert.equal(wrong.body.error.name, "LeaseLostError");
      const missing = await call("POST", `/jobs/${job.id}/heartbeat`, {});
      assert.equal(missing.status, 400);
      assert.match(missing.body.error.message, /token/);
      assert.equal((await call("GET", `/jobs/${job.id}`)).body.job.state, "active");
      const ok = await call("POST", `/jobs/${job.id}/complete`, { token: claim.body.token });
      assert.equal(ok.body.job.state, "completed");
    }));

  test("release gives the job back to ready without counting the attempt", () =>
    withServer({}, async ({ call }) => {
      const job = (await call("POST", "/queues/q/jobs", { data: 1 })).body.job;
      const claim = await call("POST", "/queues/q/claim", {});
      const released = await call("POST", `/jobs/${job.id}/release`, { token: claim.body.token });
      assert.equal(released.status, 200);
      assert.equal(released.body.job.state, "ready");
      assert.equal(released.body.job.attempt, 0);
      const again = await call("POST", "/queues/q/claim", {});
      assert.equal(again.body.job.id, job.id);
      assert.equal(again.body.job.attempt, 1);
      await call("POST", `/jobs/${job.id}/complete`, { token: again.body.token });
    }));

  test("a lease without heartbeat expires: the healer counts the attempt and later reports are 409", () =>
    withServer({ queueOptions: { backoff: 60_000 }, minLeaseMs: 100 }, async ({ call }) => {
      const job = (await call("POST", "/queues/q/jobs", { data: 1 })).body.job;
      const claim = await call("POST", "/queues/q/claim", { leaseMs: 100 });
      // The server runs the healer for queues it hands jobs out of: the job is claimable again.
      await until(
        async () => (await call("GET", `/jobs/${job.id}`)).body.job.state === "ready",
        "the healer to recover the expired lease",
      );
      const after = (await call("GET", `/jobs/${job.id}`)).body.job;
      assert.equal(after.attempt, 1, "the expired attempt counted");
      assert.equal(after.history[0].outcome, "stalled");
      assert.equal(after.history[0].error.name, "LeaseExpiredError");
      const late = await call("POST", `/jobs/${job.id}/complete`, { token: claim.body.token });
      assert.equal(late.status, 409);
      assert.equal(late.body.error.name, "LeaseLostError");
      assert.match(late.body.error.message, /LeaseExpiredError/);
      const again = await call("POST", "/queues/q/claim", {});
      assert.equal(again.body.job.attempt, 2);
    }));

  test("canceling a leased job ends the lease: the next heartbeat is 409 CanceledError", () =>
    withServer({}, async ({ call }) => {
      const job = (await call("POST", "/queues/q/jobs", { data: 1 })).body.job;
      const claim = await call("POST", "/queues/q/claim", {});
      const canceled = await call("DELETE", `/jobs/${job.id}`);
      assert.equal(canceled.body.canceled, true);
      await until(
        async () => (await call("GET", `/jobs/${job.id}`)).body.job.state === "canceled",
        "the cancel to end the job",
      );
      const beat = await call("POST", `/jobs/${job.id}/heartbeat`, { token: claim.body.token });
      assert.equal(beat.status, 409);
      assert.equal(beat.body.error.name, "CanceledError");
    }));

  test("a paused queue hands out nothing; a closed server refuses claims and leaves leases in the store", () =>
    withServer({}, async ({ app, call }) => {
      await call("POST", "/queues/q/jobs/bulk", { jobs: [{ data: 1 }, { data: 2 }] });
      const held = await call("POST", "/queues/q/claim", {});
      assert.ok(held.body.job);
      await call("POST", "/queues/q/pause");
      assert.deepEqual((await call("POST", "/queues/q/claim", {})).body, { job: null });
      await call("POST", "/queues/q/resume");
      assert.ok((await call("POST", "/queues/q/claim", {})).body.job);
      const waiting = call("POST", "/queues/q/claim", { wait: 5000, limit: 1 });
      await new Promise((r) => setTimeout(r, 20));
      await app.close();
      assert.deepEqual((await waiting).body, { jobs: [] }, "a waiting claim answers with nothing");
      const counts = await app.queue("q").counts();
      assert.equal(counts.active, 2, "the held leases stay");
      const closed = await call("POST", "/queues/q/claim", {});
      assert.equal(closed.status, 503);
    }));

  test("a lease survives a server restart: another server on the same store accepts its token", async () => {
    const store = new MemoryKv();
    const first = createServer({ store });
    const second = createServer({ store });
    try {
      const call1 = client(first);
      const job = (await call1("POST", "/queues/q/jobs", { data: "x" })).body.job;
      const claim = await call1("POST", "/queues/q/claim", { leaseMs: 60_000 });
      await first.close();
      const call2 = client(second);
      const beat = await call2("POST", `/jobs/${job.id}/heartbeat`, { token: claim.body.token, progress: 1 });
      assert.equal(beat.status, 200);
      assert.ok(beat.body.expiresAt >= claim.body.expiresAt);
      const done = await call2("POST", `/jobs/${job.id}/complete`, { token: claim.body.token, result: "y" });
      assert.equal(done.status, 200);
      assert.equal(done.body.job.state, "completed");
      assert.equal(done.body.job.result, "y");
    } finally {
      await first.close();
      await second.close();
      await store.close();
    }
  });

  test("claim with limit leases several jobs in one answer, each with its own token", () =>
    withServer({}, async ({ call }) => {
      await call("POST", "/queues/q/jobs/bulk", {
        jobs: [{ data: "a" }, { data: "b", priority: 5 }, { data: "c" }, { data: "d" }],
      });
      const batch = await call("POST", "/queues/q/claim", { limit: 3, leaseMs: 5000 });
      assert.equal(batch.status, 200);
      assert.deepEqual(batch.body.jobs.map((c: { job: { data: string } }) => c.job.data), ["b", "a", "c"]);
      for (const c of batch.body.jobs) {
        assert.equal(c.job.state, "active");
        assert.equal(c.leaseMs, 5000);
        assert.equal(typeof c.expiresAt, "number");
      }
      assert.equal(new Set(batch.body.jobs.map((c: { token: string }) => c.token)).size, 3);
      for (const c of batch.body.jobs) {
        const done = await call("POST", `/jobs/${c.job.id}/complete`, { token: c.token });
        assert.equal(done.body.job.state, "completed");
      }
      assert.deepEqual((await call("POST", "/queues/q/claim", { limit: 10 })).body.jobs.length, 1);
      assert.deepEqual((await call("POST", "/queues/q/claim", { limit: 10 })).body, { jobs: [] });
      assert.equal((await call("POST", "/queues/q/claim", { limit: 0 })).status, 400);
      assert.equal((await call("POST", "/queues/q/claim", { limit: 1.5 })).status, 400);
    }));

  test("with signingKey, payloads are signed at add and a tampered-with job is never handed out", () =>
    withServer({ signingKey: "hmac-secret" }, async ({ app, call }) => {
      const good = (await call("POST", "/queues/s/jobs", { data: { amount: 10 } })).body.job;
      const claim = await call("POST", "/queues/s/claim", {});
      assert.equal(claim.body.job.id, good.id);
      await call("POST", `/jobs/${good.id}/complete`, { token: claim.body.token });
      // A job written by a producer without the key has no signature: it goes dead, unseen.
      const unsigned = await new Queue(app.queue("s").kv, "s").add({ amount: 1_000_000 });
      const none = await call("POST", "/queues/s/claim", {});
      assert.deepEqual(none.body, { job: null });
      const dead = (await call("GET", `/jobs/${unsigned.id}`)).body.job;
      assert.equal(dead.state, "dead");
      assert.equal(dead.reason, "integrity");
    }));

  test("claim validates leaseMs and wait", () =>
    withServer({ maxWaitMs: 1000 }, async ({ call }) => {
      const res = await call("POST", "/queues/q/claim", { leaseMs: 5 });
      assert.equal(res.status, 400);
      assert.match(res.body.error.message, /leaseMs/);
      assert.equal((await call("POST", "/queues/q/claim", { wait: 5000 })).status, 400);
    }));
});
