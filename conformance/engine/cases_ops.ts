// deno-lint-ignore-file no-explicit-any
// Engine cases, items 9-17 of the job-engine issue: capacity, transient stores, signed payloads,
// retention, hooks and events, graceful shutdown, introspection and results, determinism,
// transactional enqueue.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CountingKv, flush, gate, until, withHarness } from "./_helpers.ts";
import type { EngineSuiteOptions } from "../types.ts";
import {
  CanceledError,
  FakeClock,
  IntegrityError,
  JobFailedError,
  JobNotFoundError,
  LeaseLostError,
  monotonicUlid,
  Queue,
  QueueFullError,
  seededRandom,
  ShutdownError,
} from "../../mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Registers the engine cases of capacity, retention, events, shutdown, introspection, transactions and external leases. */
export function opsCases(o: EngineSuiteOptions): void {
  const it = (name: string, fn: Parameters<typeof withHarness>[1]) =>
    test(name, { timeout: 30_000 }, () => withHarness(o, fn));

  describe(`${o.name}: 9 capacity`, () => {
    it("maxQueued rejects the add past it with QueueFullError and stores nothing", async (h) => {
      const q = h.queue("full", { maxQueued: 2 });
      await q.add(1);
      await q.add(2, { delay: 1000 });
      const before = await q.counts();
      await assert.rejects(q.add(3), (e: unknown) => e instanceof QueueFullError && e.limit === 2);
      await assert.rejects(q.add(3, { key: "k" }), QueueFullError);
      assert.deepEqual(await q.counts(), before);
      assert.equal((await q.list("ready")).jobs.length, 1);
      const results = await Promise.allSettled([q.add(4), q.add(5)]);
      assert.ok(results.every((r) => r.status === "rejected"));
      const w = q.process(() => "done");
      await until(async () => (await q.counts()).completed === 1, "one completed");
      const again = await q.add(6);
      assert.equal(again.created, true);
      await assert.rejects(q.add(7), QueueFullError);
      await w.close();
    });

    it("maxQueued with overflow 'dead' stores the job dead with reason overflow", async (h) => {
      const q = h.queue("over", { maxQueued: 1, overflow: "dead" });
      const dead = h.record(q, "dead");
      await q.add(1);
      const job = await q.add(2);
      assert.equal(job.state, "dead");
      assert.equal(job.reason, "overflow");
      assert.equal((await q.getJob(job.id))?.reason, "overflow");
      assert.equal(dead.length, 1);
      const c = await q.counts();
      assert.deepEqual([c.ready, c.dead], [1, 1]);
      await assert.rejects(
        q.result(job.id),
        (e: unknown) => e instanceof JobFailedError && e.reason === "overflow",
      );
    });

    it("maxQueued holds exactly under concurrent adds", async (h) => {
      const q = h.queue("race", { maxQueued: 10 });
      const other = h.queue("race", { maxQueued: 10 }, new CountingKv(h.kv));
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) => (i % 2 ? q : other).add(i)),
      );
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 10);
      assert.equal((await q.counts()).ready, 10);
    });
  });

  describe(`${o.name}: 10 transient`, () => {
    it("queue.transient says whether the store loses jobs when the process ends", (h) => {
      const q = h.queue("t");
      assert.equal(q.transient, !h.kv.info.durable);
      return Promise.resolve();
    });
  });

  describe(`${o.name}: 11 signed payloads`, () => {
    it("signed payloads verify and run", async (h) => {
      const q = h.queue<{ amount: number }, number>("signed", { signingKey: "s3cret" });
      const w = q.process((j) => j.data.amount);
      const job = await q.add({ amount: 10 });
      assert.equal(await q.result(job.id), 10);
      await w.close();
    });

    it("a payload changed in the store goes to dead with an IntegrityError and never runs", async (h) => {
      const q = h.queue<{ amount: number }>("tamper", { signingKey: "s3cret" });
      const job = await q.add({ amount: 10 });
      const key = [...h.root, "job", "tamper", job.id];
      const entry = (await h.kv.get(key))!;
      const record = JSON.parse(dec.decode(entry.value));
      record.payload = { json: { amount: 1_000_000 } };
      await h.kv.atomic().check(key, entry.versionstamp).set(key, enc.encode(JSON.stringify(record)))
        .commit();
      const dead = h.record(q, "dead");
      let ran = false;
      const w = q.process(() => {
        ran = true;
      });
      await until(() => dead.length === 1, "the dead event");
      assert.equal(ran, false);
      const d = (await q.getJob(job.id))!;
      assert.equal(d.state, "dead");
      assert.equal(d.reason, "integrity");
      assert.equal(d.error?.name, "IntegrityError");
      assert.ok(dead[0].event.error instanceof IntegrityError);
      await w.close();
    });

    it("a job whose payload chunk is missing goes to dead with an IntegrityError and never runs", async (h) => {
      const q = h.queue<string>("lost-chunk");
      const job = await q.add("z".repeat(h.kv.info.maxValueBytes * 2));
      await h.kv.atomic().delete([...h.root, "blob", "lost-chunk", job.id, "p", 1]).commit();
      await assert.rejects(q.getJob(job.id), IntegrityError);
      let ran = false;
      const w = q.process(() => {
        ran = true;
      });
      await until(async () => (await q.counts()).dead === 1, "dead");
      assert.equal(ran, false);
      const [listed] = (await q.list("dead")).jobs;
      assert.equal(listed.id, job.id);
      assert.equal(listed.reason, "integrity");
      assert.equal(listed.data, undefined);
      assert.equal(listed.error?.name, "IntegrityError");
      await w.close();
    });

    it("a job signed with another key is not run", async (h) => {
      const a = h.queue("keys", { signingKey: "one" });
      const b = h.queue("keys", { signingKey: "two" });
      const job = await a.add("x");
      const w = b.process(() => "ran");
      await until(async () => (await b.getJob(job.id))?.state === "dead", "dead");
      assert.equal((await b.getJob(job.id))?.reason, "integrity");
      await w.close();
    });
  });

  describe(`${o.name}: 12 retention`, () => {
    it("clean() removes ended jobs by age and by count, with their payload chunks and keys", async (h) => {
      const q = h.queue<any>("clean");
      const w = q.process(() => "ok", { concurrency: 5 });
      const big = "x".repeat(h.kv.info.maxValueBytes * 2);
      const old = await q.addBulk([{ data: big, options: { key: "old-0" } }, { data: 1 }, { data: 2 }]);
      await until(async () => (await q.counts()).completed === 3, "three done");
      await h.clock.advance(10_000);
      const fresh = await q.addBulk([1, 2, 3, 4].map((data) => ({ data })));
      await until(async () => (await q.counts()).completed === 7, "seven done");
      assert.equal(await q.clean("completed", { age: 5000 }), 3);
      for (const j of old) assert.equal(await q.getJob(j.id), null);
      assert.equal((await q.add("again", { key: "old-0" })).created, true, "the key was released");
      await until(async () => (await q.counts()).completed === 5, "five done");
      assert.equal(await q.clean("completed", { count: 2 }), 3);
      const left = (await q.list("completed")).jobs.map((j) => j.id);
      assert.equal(left.length, 2);
      assert.ok(!left.includes(fresh[0].id), "the oldest went first");
      assert.equal((await q.counts()).completed, 2);
      const blobs = [];
      for await (const e of h.kv.list({ prefix: [...h.root, "blob"] })) blobs.push(e.key);
      assert.deepEqual(blobs, []);
      await w.close();
    });

    it("workers apply the retention option and removeOnComplete deletes the job", async (h) => {
      const q = h.queue("ret", { retention: { dead: { count: 1 } } });
      const w = q.process((j) => {
        if (j.data === "fail") throw new Error("x");
        return "ok";
      }, { cleanInterval: 1000 });
      const gone = await q.add("ok", { removeOnComplete: true });
      await until(async () => (await q.getJob(gone.id)) === null, "removed on complete");
      assert.equal((await q.counts()).completed, 0);
      await q.addBulk([1, 2, 3].map(() => ({ data: "fail", options: { maxAttempts: 1 } })));
      await until(async () => (await q.counts()).dead === 3, "three dead");
      await h.run(2000, 500);
      await until(async () => (await q.counts()).dead === 1, "retention kept one");
      await w.close();
    });
  });

  describe(`${o.name}: 13 hooks and events`, () => {
    it("middleware runs around every handler, first added outermost", async (h) => {
      const q = h.queue<number, number>("mw");
      const log: string[] = [];
      q.use(async (job, next) => {
        log.push(`a:before:${job.data}`);
        const r = await next();
        log.push(`a:after:${r}`);
        return r + 1;
      }).use(async (_job, next, ctx) => {
        log.push(`b:before:${ctx.attempt}`);
        return await next();
      });
      const w = q.process((j) => {
        log.push("handler");
        return j.data * 10;
      });
      const job = await q.add(4);
      assert.equal(await q.result(job.id), 41);
      assert.deepEqual(log, ["a:before:4", "b:before:1", "handler", "a:after:40"]);
      await w.close();
    });

    it("events completed, failed, retrying, dead, stalled and canceled are dispatched", async (h) => {
      const q = h.queue<string>("ev", { backoff: 100 });
      const seen = h.record(q, "completed", "failed", "retrying", "dead", "stalled", "canceled");
      const typed: string[] = [];
      const off = q.on("completed", (e) => typed.push(`${e.job?.id}:${e.job?.result}`));
      assert.throws(() => q.on("nope" as any, () => {}), TypeError);
      const w = q.process((j) => {
        if (j.data === "bad") throw new Error("bad");
        return "ok";
      });
      const good = await q.add("ok");
      const bad = await q.add("bad", { maxAttempts: 2 });
      await until(() => seen.some((e) => e.type === "retrying"), "retrying");
      await h.run(100);
      await until(() => seen.some((e) => e.type === "dead"), "dead");
      const c = await q.add("later", { delay: 1000 });
      await q.cancel(c.id);
      await w.close();
      // stalled: a job whose worker stopped heartbeating.
      const frozen = h.queue("ev", { clock: new FakeClock(h.clock.now()) });
      const st = await q.add("hang");
      const hang = gate();
      const w2 = frozen.process(() => hang.promise, { leaseMs: 100, maintenance: false });
      await until(async () => (await q.getJob(st.id))?.state === "active", "active");
      await h.clock.advance(100);
      await q.heal();
      const types = (id: string) => seen.filter((e) => e.id === id).map((e) => e.type);
      assert.deepEqual(types(good.id), ["completed"]);
      assert.deepEqual(typed, [`${good.id}:ok`]);
      off();
      assert.deepEqual(types(bad.id), ["failed", "retrying", "failed", "dead"]);
      assert.deepEqual(types(c.id), ["canceled"]);
      assert.deepEqual(types(st.id), ["stalled"]);
      assert.equal((seen.find((e) => e.type === "completed")!.event.job as any).result, "ok");
      assert.equal((seen.find((e) => e.type === "dead")!.event.error as Error).message, "bad");
      hang.open();
      await w2.close({ timeout: 0 });
    });
  });

  describe(`${o.name}: 13 hooks and events`, () => {
    it("each event carries the job as committed: completed, failed/retrying, dead, canceled", async (h) => {
      const q = h.queue<string, string>("ev-state", { backoff: 100 });
      const seen = h.record(q, "completed", "failed", "retrying", "dead", "canceled");
      const started = gate();
      const w = q.process((j, ctx) => {
        if (j.data === "bad") throw new Error("bad");
        if (j.data === "hang") {
          started.open();
          return new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))
          );
        }
        return j.data.toUpperCase();
      });
      const ok = await q.add("ok");
      const bad = await q.add("bad", { maxAttempts: 2 });
      const gone = await q.add("gone", { removeOnComplete: true });
      await until(() => seen.some((e) => e.type === "retrying"), "retrying");
      await h.run(100);
      await until(() => seen.some((e) => e.type === "dead"), "dead");
      const hang = await q.add("hang");
      await started.promise;
      await q.cancel(hang.id);
      const waiting = await q.add("later", { delay: 10_000 });
      await q.cancel(waiting.id);
      await until(() => seen.filter((e) => e.type === "canceled").length === 2, "two canceled");
      await until(() => seen.filter((e) => e.type === "completed").length === 2, "two completed");
      const job = (type: string, id: string) => seen.find((e) => e.type === type && e.id === id)!.event.job!;
      const completed = job("completed", ok.id);
      assert.equal(completed.state, "completed");
      assert.equal(completed.result, "OK");
      assert.equal(typeof completed.finishedAt, "number");
      assert.equal(completed.lease, undefined);
      const stored = (await q.getJob(ok.id))!;
      assert.equal(completed.versionstamp, stored.versionstamp);
      assert.deepEqual({ ...completed, data: stored.data }, stored);
      const removed = job("completed", gone.id);
      assert.equal(removed.state, "completed");
      assert.equal(removed.versionstamp, null, "removed on complete: no stored version");
      const failedEvents = seen.filter((e) => e.id === bad.id && e.type === "failed").map((e) =>
        e.event.job!.state
      );
      assert.deepEqual(failedEvents, ["failed", "dead"]);
      assert.equal(job("retrying", bad.id).state, "failed");
      const dead = job("dead", bad.id);
      assert.equal(dead.state, "dead");
      assert.equal(dead.reason, "exhausted");
      assert.deepEqual(dead, await q.getJob(bad.id));
      for (const id of [hang.id, waiting.id]) {
        const c = job("canceled", id);
        assert.equal(c.state, "canceled");
        assert.equal(c.reason, "canceled");
        assert.equal(typeof c.finishedAt, "number");
        assert.deepEqual(c, await q.getJob(id));
      }
      await w.close();
    });
  });

  describe(`${o.name}: 14 graceful shutdown`, () => {
    it("close() stops claiming and waits for running jobs", async (h) => {
      const q = h.queue("close");
      const g = gate();
      let started = 0;
      const w = q.process(async () => {
        started++;
        await g.promise;
        return "finished";
      });
      const a = await q.add(1);
      await until(() => started === 1, "started");
      const closing = w.close();
      await q.add(2);
      await flush(10);
      assert.equal(started, 1, "no claim after close()");
      g.open();
      await closing;
      assert.equal((await q.getJob(a.id))?.state, "completed");
      assert.equal((await q.counts()).ready, 1);
    });

    it("close({ timeout }) aborts jobs still running and returns them to ready without counting the attempt", async (h) => {
      const q = h.queue("close-t");
      const job = await q.add(1, { maxAttempts: 1 });
      let reason: unknown;
      const started = gate();
      const w = q.process((_j, ctx) =>
        new Promise(() => {
          started.open();
          ctx.signal.addEventListener("abort", () => (reason = ctx.signal.reason));
        })
      );
      await started.promise;
      const closing = w.close({ timeout: 1000 });
      await h.run(1000);
      await closing;
      assert.ok(reason instanceof ShutdownError);
      const j = (await q.getJob(job.id))!;
      assert.equal(j.state, "ready");
      assert.equal(j.attempt, 0, "the interrupted attempt does not count");
      assert.equal(j.history.at(-1)?.outcome, "released");
      const w2 = q.process(() => "second run");
      assert.equal(await q.result(job.id), "second run");
      await w2.close();
    });
  });

  describe(`${o.name}: 15 introspection and results`, () => {
    it("list() pages with a cursor through every job of a state", async (h) => {
      const q = h.queue<number>("pages");
      const jobs = await q.addBulk(Array.from({ length: 25 }, (_, i) => ({ data: i })));
      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<typeof q.list>> = await q.list("ready", { limit: 10, cursor });
        seen.push(...page.jobs.map((j) => j.data));
        cursor = page.cursor;
        pages++;
      } while (cursor);
      assert.deepEqual(seen, jobs.map((j) => j.data));
      assert.ok(pages >= 3);
      await q.add(99, { delay: 100 });
      assert.deepEqual((await q.list("scheduled")).jobs.map((j) => j.data), [99]);
      assert.deepEqual((await q.list("failed")).jobs, []);
      await assert.rejects(q.list("nope" as any), TypeError);
    });

    it("pause() is persisted and seen by workers of other queue handles; resume() restarts them", async (h) => {
      const q = h.queue("pause");
      const other = h.queue("pause", {}, new CountingKv(h.kv));
      await q.pause();
      assert.equal(await other.isPaused(), true);
      const ran: string[] = [];
      const w = other.process((j) => void ran.push(j.id));
      await q.add(1);
      await h.run(3000, 500);
      assert.deepEqual(ran, []);
      assert.equal((await q.counts()).ready, 1);
      await q.resume();
      await h.run(1000, 500);
      await until(() => ran.length === 1, "ran after resume");
      await w.close();
    });

    it("result() resolves for a job that ended before the call, and rejects for dead, canceled, missing", async (h) => {
      const q = h.queue<string, string>("res");
      const w = q.process((j) => {
        if (j.data === "die") throw new Error("died");
        return j.data.toUpperCase();
      });
      const a = await q.add("done", {});
      await until(async () => (await q.getJob(a.id))?.state === "completed", "completed first");
      assert.equal(await q.result(a.id), "DONE");
      const b = await q.add("die", { maxAttempts: 1 });
      await assert.rejects(q.result(b.id), (e: unknown) => {
        return e instanceof JobFailedError && e.reason === "exhausted" && e.lastError?.message === "died";
      });
      await assert.rejects(q.result("01J00000000000000000000000"), JobNotFoundError);
      const c = await q.add("x", { delay: 10_000 });
      const waiting = q.result(c.id);
      await q.cancel(c.id);
      await assert.rejects(waiting, CanceledError);
      const d = await q.add("y", { delay: 10_000 });
      const ac = new AbortController();
      const p = q.result(d.id, { signal: ac.signal });
      ac.abort(new Error("gave up"));
      await assert.rejects(p, /gave up/);
      await w.close();
    });

    it("result() waits for an ending made through another store handle (polling)", async (h) => {
      const q = h.queue<number, number>("res-poll");
      const other = h.queue<number, number>("res-poll", {}, new CountingKv(h.kv));
      const job = await q.add(2);
      const waiting = q.result(job.id);
      const w = other.process((j) => j.data * 3);
      await until(async () => (await q.getJob(job.id))?.state === "completed", "completed");
      await h.run(1000, 500);
      assert.equal(await waiting, 6);
      await w.close();
    });

    it("a large result is stored in chunks and read back", async (h) => {
      const q = h.queue<number, string>("bigres");
      const size = h.kv.info.maxValueBytes * 2;
      const w = q.process(() => "r".repeat(size));
      const job = await q.add(1);
      assert.equal((await q.result(job.id)).length, size);
      assert.equal((await q.getJob(job.id))?.result?.length, size);
      await w.close();
    });
  });

  describe(`${o.name}: 15 list newest first`, () => {
    it("list(state, { reverse: true }) pages newest first", async (h) => {
      const q = h.queue<number>("rev");
      const w = q.process(() => "ok");
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const j = await q.add(i);
        await until(async () => (await q.getJob(j.id))?.state === "completed", `job ${i} done`);
        ids.push(j.id);
        await h.clock.advance(10);
      }
      await w.close();
      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof q.list>> = await q.list("completed", {
          limit: 2,
          cursor,
          reverse: true,
        });
        pages.push(page.jobs.map((j) => j.id));
        cursor = page.cursor;
      } while (cursor);
      assert.deepEqual(pages.flat(), [...ids].reverse());
      assert.deepEqual(pages[0], [ids[4], ids[3]]);
      assert.deepEqual((await q.list("completed")).jobs.map((j) => j.id), ids, "oldest first by default");
      await assert.rejects(q.list("completed", { reverse: "yes" as any }), TypeError);
    });
  });

  describe(`${o.name}: 16 determinism`, () => {
    it("the same clock, ids and seed give the same jobs, ids and retry times", async (h) => {
      const runOnce = async (tag: string) => {
        const clock = new FakeClock(1_800_000_000_000);
        const q = h.queue<number>(`det-${tag}`, {
          clock,
          ids: monotonicUlid(seededRandom(42)),
          random: seededRandom(7),
          backoff: { type: "exponential", delay: 1000, jitter: 0.3 },
        });
        const jobs = await q.addBulk([3, 1, 2].map((data) => ({ data, options: { priority: data } })));
        const order: number[] = [];
        const w = q.process((j) => {
          order.push(j.data);
          throw new Error("x");
        });
        await until(async () => (await q.counts()).failed === 3, "three failed");
        await w.close();
        const after = await Promise.all(jobs.map((j) => q.getJob(j.id)));
        return { ids: jobs.map((j) => j.id), order, runAt: after.map((j) => j!.runAt) };
      };
      const a = await runOnce("a");
      const b = await runOnce("b");
      assert.deepEqual(a, b);
      assert.deepEqual(a.order, [3, 2, 1]);
    });
  });

  describe(`${o.name}: 17 transactional enqueue`, () => {
    it("a job added inside the application's commit exists once that commit succeeds", async (h) => {
      const q = h.queue<{ orderId: number }>("tx");
      const ran: number[] = [];
      const w = q.process((j) => void ran.push(j.data.orderId));
      await flush(5);
      const appKey = [...h.root, "app", "order", 1];
      const op = h.kv.atomic().check(appKey, null).set(appKey, enc.encode("paid"));
      const job = await q.add({ orderId: 1 }, { atomic: op });
      assert.equal(job.versionstamp, null);
      assert.equal(await q.getJob(job.id), null, "nothing before the commit");
      const res = await op.commit();
      assert.equal(res.ok, true);
      assert.equal((await q.getJob(job.id))?.data.orderId, 1);
      await until(() => ran.length === 1, "the worker woke on the commit");
      await until(async () => (await q.counts()).completed === 1, "completed");
      await w.close();
    });

    it("a job added inside a commit that fails does not exist", async (h) => {
      const q = h.queue<{ orderId: number }>("tx-fail");
      const appKey = [...h.root, "app", "order", 2];
      await h.kv.atomic().set(appKey, enc.encode("taken")).commit();
      const op = h.kv.atomic().check(appKey, null).set(appKey, enc.encode("mine"));
      const job = await q.add({ orderId: 2 }, { atomic: op, key: "order-2" });
      const res = await op.commit();
      assert.equal(res.ok, false);
      assert.equal(await q.getJob(job.id), null);
      assert.equal(dec.decode((await h.kv.get(appKey))!.value), "taken");
      const c = await q.counts();
      assert.equal(c.ready, 0);
      assert.equal((await q.add({ orderId: 2 }, { key: "order-2" })).created, true, "the key is free");
    });

    it("transactional adds count exactly once their deltas are folded", async (h) => {
      const q = h.queue("tx-count");
      for (let i = 0; i < 3; i++) {
        const op = h.kv.atomic();
        await q.add(i, { atomic: op });
        await op.commit();
      }
      assert.equal((await q.counts()).ready, 3);
      const w = q.process(() => "ok");
      await until(async () => (await q.counts()).completed === 3, "three done");
      const c = await q.counts();
      assert.deepEqual([c.ready, c.active, c.completed], [0, 0, 3]);
      await w.close();
      const other = new Queue(h.kv, "tx-count", { root: h.root, clock: h.clock });
      assert.equal((await other.counts()).completed, 3);
    });
  });

  describe(`${o.name}: 18 external leases (claim, heartbeat, complete, fail, release)`, () => {
    it("claim() leases up to limit jobs in priority order in one commit, each with a token", async (h) => {
      const kv = new CountingKv(h.kv);
      const q = h.queue<string>("ext-claim", {}, kv);
      await q.addBulk([
        { data: "low" },
        { data: "high", options: { priority: 9 } },
        { data: "mid", options: { priority: 5 } },
        { data: "low2" },
      ]);
      const before = kv.commits;
      const got = await q.claim({ owner: "py-7", leaseMs: 5000, limit: 3 });
      assert.equal(kv.commits - before, 1, "one claim commit for three jobs");
      assert.deepEqual(got.map((c) => c.job.data), ["high", "mid", "low"]);
      for (const { job, token } of got) {
        assert.equal(job.state, "active");
        assert.equal(job.attempt, 1);
        assert.deepEqual(job.lease, { owner: "py-7", expiresAt: h.clock.now() + 5000 });
        assert.equal(typeof token, "string");
        assert.deepEqual((await q.getJob(job.id))?.lease, job.lease);
      }
      assert.equal(new Set(got.map((c) => c.token)).size, 3);
      assert.deepEqual((await q.claim({ limit: 5 })).map((c) => c.job.data), ["low2"]);
      assert.deepEqual(await q.claim(), []);
      const c = await q.counts();
      assert.deepEqual([c.active, c.ready], [4, 0]);
      await assert.rejects(q.claim({ limit: 0 }), RangeError);
      await assert.rejects(q.claim({ leaseMs: NaN }), TypeError);
      await assert.rejects(q.claim({ owner: "" }), TypeError);
    });

    it("heartbeat() renews the lease and stores progress; complete() stores the result once", async (h) => {
      const q = h.queue<number, number>("ext-hb");
      const completed = h.record(q, "completed");
      await q.add(21);
      const [{ job, token }] = await q.claim({ leaseMs: 1000 });
      await h.clock.advance(600);
      const beat = await q.heartbeat(job.id, token);
      assert.equal(beat.lease?.expiresAt, h.clock.now() + 1000, "renewed for the lease's own length");
      const longer = await q.heartbeat(job.id, token, { leaseMs: 60_000, progress: { pct: 50 } });
      assert.equal(longer.lease?.expiresAt, h.clock.now() + 60_000);
      assert.deepEqual((await q.getJob(job.id))?.progress, { pct: 50 });
      await h.clock.advance(5000);
      assert.equal(await q.heal(), 0, "a renewed lease does not expire");
      const done = await q.complete(job.id, token, job.data * 2);
      assert.equal(done.state, "completed");
      assert.equal(done.result, 42);
      assert.deepEqual(done, await q.getJob(job.id));
      assert.equal(completed.length, 1);
      assert.equal(completed[0].event.job?.state, "completed");
      await assert.rejects(q.complete(job.id, token, 43), LeaseLostError);
      await assert.rejects(q.heartbeat(job.id, token), LeaseLostError);
      assert.equal(await q.result(job.id), 42);
      await assert.rejects(q.heartbeat(job.id, ""), TypeError);
    });

    it("fail() retries after the backoff or, with retry false, ends dead; release() does not count the attempt", async (h) => {
      const q = h.queue<string>("ext-fail", { backoff: 1000 });
      await q.addBulk([{ data: "a" }, { data: "b" }, { data: "c" }]);
      const [a, b, c] = await q.claim({ limit: 3 });
      const err = new Error("bad input");
      err.name = "ValueError";
      const failed = await q.fail(a.job.id, a.token, err);
      assert.equal(failed.state, "failed");
      assert.equal(failed.runAt, h.clock.now() + 1000);
      assert.equal(failed.history[0].error?.name, "ValueError");
      assert.equal(failed.history[0].error?.message, "bad input");
      const dead = await q.fail(b.job.id, b.token, err, { retry: false });
      assert.equal(dead.state, "dead");
      assert.equal(dead.reason, "permanent");
      assert.equal(dead.error?.name, "ValueError");
      const released = await q.release(c.job.id, c.token);
      assert.equal(released.state, "ready");
      assert.equal(released.attempt, 0);
      assert.equal(released.history.at(-1)?.outcome, "released");
      await assert.rejects(q.release(c.job.id, c.token), LeaseLostError);
      assert.deepEqual((await q.claim()).map((x) => [x.job.id, x.job.attempt]), [[c.job.id, 1]]);
      await h.clock.advance(1000);
      const again = await q.claim();
      assert.deepEqual(again.map((x) => [x.job.id, x.job.attempt]), [[a.job.id, 2]], "promoted by claim()");
      await assert.rejects(q.fail(a.job.id, a.token, err, { retry: "no" as any }), TypeError);
    });

    it("a stale token after lease expiry and reclaim is refused with LeaseLostError and changes nothing", async (h) => {
      const q = h.queue<string, string>("ext-stale");
      const job = await q.add("x");
      const [first] = await q.claim({ owner: "c1", leaseMs: 1000 });
      await h.clock.advance(1000);
      const [second] = await q.claim({ owner: "c2", leaseMs: 1000 }); // heals, then claims
      assert.equal(second.job.id, job.id);
      assert.equal(second.job.attempt, 2, "the expired attempt counted");
      assert.notEqual(second.token, first.token);
      const stalled = (await q.getJob(job.id))!.history[0];
      assert.equal(stalled.outcome, "stalled");
      assert.equal(stalled.error?.name, "LeaseExpiredError");
      const before = (await q.getJob(job.id))!;
      for (
        const stale of [
          () => q.heartbeat(job.id, first.token),
          () => q.heartbeat(job.id, first.token, { progress: 1 }),
          () => q.complete(job.id, first.token, "stale"),
          () => q.fail(job.id, first.token, new Error("stale")),
          () => q.release(job.id, first.token),
        ]
      ) {
        await assert.rejects(stale(), (e: unknown) => e instanceof LeaseLostError && e.jobId === job.id);
      }
      assert.deepEqual(await q.getJob(job.id), before, "nothing changed");
      assert.equal((await q.complete(job.id, second.token, "fresh")).result, "fresh");
    });

    it("concurrent claim() calls never hand one job to two claimers", async (h) => {
      const q = h.queue<string>("ext-race");
      const other = h.queue<string>("ext-race", {}, new CountingKv(h.kv));
      await q.addBulk(["a", "b", "c"].map((data) => ({ data })));
      const claims = await Promise.all([q, other, q, other].map((x) => x.claim()));
      const got = claims.flat().map((c) => c.job.data).sort();
      assert.deepEqual(got, ["a", "b", "c"]);
      assert.equal(claims.filter((c) => c.length === 0).length, 1);
    });

    it("a token works through another queue handle: the lease lives in the store", async (h) => {
      const q = h.queue<number, number>("ext-restart");
      await q.add(1);
      const [{ job, token }] = await q.claim({ leaseMs: 5000 });
      const restarted = new Queue<number, number>(new CountingKv(h.kv), "ext-restart", {
        root: h.root,
        clock: h.clock,
      });
      assert.equal((await restarted.heartbeat(job.id, token)).state, "active");
      assert.equal((await restarted.complete(job.id, token, 7)).result, 7);
      assert.equal((await q.getJob(job.id))?.state, "completed");
    });

    it("claim() with wait is woken by an add, gives up at the deadline, and claims nothing while paused", async (h) => {
      const q = h.queue<string>("ext-wait");
      const waiting = q.claim({ wait: 10_000 });
      await flush(5);
      const job = await q.add("late");
      const [got] = await waiting;
      assert.equal(got.job.id, job.id);
      const none = q.claim({ wait: 3000 });
      await h.run(3000, 500);
      assert.deepEqual(await none, []);
      const ac = new AbortController();
      const aborted = q.claim({ wait: 60_000, signal: ac.signal });
      await flush(5);
      ac.abort();
      assert.deepEqual(await aborted, []);
      await q.add("held back");
      await q.pause();
      assert.deepEqual(await q.claim(), []);
      await q.resume();
      assert.equal((await q.claim()).length, 1);
      const delayed = await q.add("soon", { delay: 500 });
      const forDelayed = q.claim({ wait: 5000 });
      await h.run(500, 100);
      assert.equal((await forDelayed)[0]?.job.id, delayed.id, "a delayed job is claimed at its time");
    });

    it("cancel() of a job under an external lease ends it canceled at once; its holder gets LeaseLostError", async (h) => {
      const q = h.queue("ext-cancel");
      const canceled = h.record(q, "canceled");
      const job = await q.add(1);
      const [{ token }] = await q.claim();
      assert.equal(await q.cancel(job.id), true);
      const after = (await q.getJob(job.id))!;
      assert.equal(after.state, "canceled");
      assert.equal(after.reason, "canceled");
      assert.equal(canceled.length, 1);
      await assert.rejects(q.heartbeat(job.id, token), (e: unknown) => {
        return e instanceof LeaseLostError && e.cause instanceof CanceledError;
      });
      await assert.rejects(q.complete(job.id, token), LeaseLostError);
      await assert.rejects(q.result(job.id), CanceledError);
    });

    it("claim() does not hand out a job whose payload fails its signature check", async (h) => {
      const q = h.queue("ext-signed", { signingKey: "k1" });
      const foreign = h.queue("ext-signed", { signingKey: "k2" });
      const bad = await foreign.add("forged");
      const good = await q.add("fine");
      const got = await q.claim({ limit: 5 });
      assert.deepEqual(got.map((c) => c.job.id), [good.id]);
      const dead = (await q.getJob(bad.id))!;
      assert.equal(dead.state, "dead");
      assert.equal(dead.reason, "integrity");
    });
  });
}
