// deno-lint-ignore-file no-explicit-any
// Engine cases, items 1-8 of the job-engine issue: enqueue, states, ordering, workers, retries,
// recovery and fencing, scheduling, cancel.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CountingKv, flush, gate, hookedKv, until, withHarness } from "./_helpers.ts";
import type { EngineSuiteOptions } from "../types.ts";
import {
  CanceledError,
  FakeClock,
  LeaseLostError,
  LimitError,
  PermanentError,
  seededRandom,
} from "../../mod.ts";
import type { Job, QueueEvent } from "../../mod.ts";

/** Registers the engine cases of enqueue, states, ordering, workers, retries, recovery, scheduling and cancel. */
export function coreCases(o: EngineSuiteOptions): void {
  const it = (name: string, fn: Parameters<typeof withHarness>[1]) =>
    test(name, { timeout: 30_000 }, () => withHarness(o, fn));

  describe(`${o.name}: 1 enqueue`, () => {
    it("add() resolves with a stored ready job whose JSON payload reads back", async (h) => {
      const q = h.queue<{ to: string; n: number[] }>();
      const job = await q.add({ to: "a@b.c", n: [1, 2] });
      assert.equal(job.created, true);
      assert.equal(job.state, "ready");
      assert.match(job.id, /^[0-9A-Z]{26}$/);
      assert.ok(job.versionstamp);
      const read = await q.getJob(job.id);
      assert.deepEqual(read?.data, { to: "a@b.c", n: [1, 2] });
      assert.equal(read?.state, "ready");
      assert.equal((await q.counts()).ready, 1);
    });

    it("add() stores a Uint8Array payload byte for byte", async (h) => {
      const q = h.queue<Uint8Array>();
      const bytes = new Uint8Array([0, 1, 2, 255, 0]);
      const job = await q.add(bytes);
      assert.deepEqual((await q.getJob(job.id))?.data, bytes);
    });

    it("add() options priority, delay, runAt, maxAttempts, backoff and timeout are stored", async (h) => {
      const q = h.queue();
      const now = h.clock.now();
      const a = await q.add(1, { priority: 7, delay: 5000, maxAttempts: 9, backoff: 250, timeout: 1234 });
      assert.equal(a.state, "scheduled");
      assert.equal(a.runAt, now + 5000);
      assert.equal(a.priority, 7);
      assert.equal(a.maxAttempts, 9);
      assert.equal(a.timeout, 1234);
      const b = await q.add(2, { runAt: new Date(now + 10) });
      assert.equal(b.runAt, now + 10);
      assert.deepEqual(await q.counts(), { ...(await q.counts()), scheduled: 2 });
      await assert.rejects(q.add(3, { priority: NaN }), TypeError);
      await assert.rejects(q.add(3, { maxAttempts: 0 }), RangeError);
      await assert.rejects(q.add(3, { backoff: ((n: number) => n) as any }), /per-job backoff/);
    });

    it("add() with an existing key returns the existing job as not created and stores nothing", async (h) => {
      const q = h.queue();
      const first = await q.add({ v: 1 }, { key: "order-42" });
      const before = await q.counts();
      const second = await q.add({ v: 2 }, { key: "order-42" });
      assert.equal(second.created, false);
      assert.equal(second.id, first.id);
      assert.deepEqual(second.data, { v: 1 });
      assert.deepEqual(await q.counts(), before);
      const [x, y] = await Promise.all([q.add(1, { key: "k2" }), q.add(2, { key: "k2" })]);
      assert.equal(x.id, y.id);
      assert.deepEqual([x.created, y.created].sort(), [false, true]);
      assert.equal((await q.counts()).ready, 2);
    });

    it("addBulk() and concurrent add() calls share commits", async (h) => {
      const kv = new CountingKv(h.kv);
      const q = h.queue("bulk", {}, kv);
      // A new job is one check (its key is free) and two mutations (record, index entry); each
      // commit also checks and writes the counts record. So the store's declared limits say how
      // many adds fit in one commit (Deno KV through @deno/kv allows only 10 checks).
      const { maxChecks, maxMutations } = kv.info;
      const perCommit = Math.min(maxChecks - 1, Math.floor((maxMutations - 1) / 2));
      const fewest = (n: number) => Math.ceil(n / perCommit);
      const jobs = await q.addBulk(
        Array.from({ length: 50 }, (_, i) => ({ data: i, options: { priority: i % 3 } })),
      );
      assert.equal(jobs.length, 50);
      assert.ok(kv.commits <= fewest(50), `50 bulk adds took ${kv.commits} commits, ${perCommit} fit in one`);
      const before = kv.commits;
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => q.add(i)));
      assert.equal(new Set(many.map((j) => j.id)).size, 20);
      assert.ok(
        kv.commits - before <= fewest(20),
        `20 concurrent adds took ${kv.commits - before} commits, ${perCommit} fit in one`,
      );
      assert.equal((await q.counts()).ready, 70);
    });

    it("a payload over the store's value limit is chunked transparently", async (h) => {
      const size = h.kv.info.maxValueBytes * 3 + 17;
      const q = h.queue<{ s: string }, number>("big", { maxPayloadBytes: size * 2 });
      const data = { s: "x".repeat(size) };
      const job = await q.add(data);
      assert.equal((await q.getJob(job.id))?.data.s.length, size);
      const bin = await (h.queue<Uint8Array>("bigbin", { maxPayloadBytes: size * 2 })).add(
        new Uint8Array(size).map((_, i) => i % 251),
      );
      const got = await h.queue<Uint8Array>("bigbin").getJob(bin.id);
      assert.equal(got?.data.length, size);
      assert.equal(got?.data[1000], 1000 % 251);
      let seen = 0;
      const w = q.process((j) => {
        seen = j.data.s.length;
        return j.data.s.length;
      });
      assert.equal(await q.result(job.id), size);
      assert.equal(seen, size);
      await w.close();
    });

    it("a payload over maxPayloadBytes is rejected with a LimitError and nothing is stored", async (h) => {
      const q = h.queue("small", { maxPayloadBytes: 100 });
      await assert.rejects(q.add("x".repeat(200)), (e: unknown) => {
        assert.ok(e instanceof LimitError);
        assert.equal(e.kind, "payloadBytes");
        assert.equal(e.limit, 100);
        assert.match(e.message, /payload is 202 bytes, the limit is 100/);
        return true;
      });
      const keys = [];
      for await (const e of h.kv.list({ prefix: h.root })) keys.push(e.key);
      assert.deepEqual(keys, []);
    });
  });

  describe(`${o.name}: 2 states`, () => {
    it("counts() follow a job through ready, active, failed, dead", async (h) => {
      const q = h.queue("s", { backoff: 1000 });
      const job = await q.add(1, { maxAttempts: 2 });
      const g = gate();
      const seen: string[] = [];
      const w = q.process(async () => {
        seen.push(JSON.stringify(await q.counts()));
        await g.promise;
        throw new Error("no");
      });
      await until(() => seen.length === 1, "first attempt");
      assert.equal(JSON.parse(seen[0]).active, 1);
      g.open();
      await until(async () => (await q.getJob(job.id))?.state === "failed", "failed");
      assert.equal((await q.counts()).failed, 1);
      await h.run(1000);
      await until(async () => (await q.getJob(job.id))?.state === "dead", "dead");
      const c = await q.counts();
      assert.deepEqual([c.dead, c.failed, c.active, c.ready], [1, 0, 0, 0]);
      await w.close();
    });
  });

  describe(`${o.name}: 3 ordering`, () => {
    it("claims interleaved priorities and delays in exact priority-then-submission order", async (h) => {
      const q = h.queue<string>("order");
      await q.add("a", { priority: 0 });
      await q.add("b", { priority: 5 });
      await q.add("c", { priority: 0, delay: 100 });
      await q.add("d", { priority: 5 });
      await q.add("e", { priority: -1 });
      await q.add("f", { priority: 0 });
      await q.add("g", { priority: 9, delay: 60_000 });
      await q.add("h", { priority: 5, delay: 50 });
      await h.clock.advance(100);
      const order: string[] = [];
      const w = q.process((job) => {
        order.push(job.data);
      });
      await until(() => order.length === 7, "seven jobs");
      assert.deepEqual(order, ["b", "d", "h", "a", "c", "f", "e"]);
      await h.run(60_000, 10_000);
      await until(() => order.length === 8, "the late job");
      assert.equal(order[7], "g");
      await w.close();
    });

    it("list('ready') returns jobs in claim order", async (h) => {
      const q = h.queue<string>("lo");
      await q.addBulk([{ data: "x" }, { data: "y", options: { priority: 1 } }, { data: "z" }]);
      assert.deepEqual((await q.list("ready")).jobs.map((j) => j.data), ["y", "x", "z"]);
    });
  });

  describe(`${o.name}: 4 workers`, () => {
    it("process() runs up to concurrency jobs at once and claims them in batches", async (h) => {
      const kv = new CountingKv(h.kv);
      const q = h.queue<number>("conc", {}, kv);
      await q.addBulk(Array.from({ length: 10 }, (_, i) => ({ data: i })));
      const g = gate();
      let running = 0, peak = 0;
      const before = kv.commits;
      const w = q.process(async () => {
        peak = Math.max(peak, ++running);
        await g.promise;
        running--;
      }, { concurrency: 4 });
      await until(() => running === 4, "four running");
      assert.equal(kv.commits - before, 1, "one claim commit for four jobs");
      await flush(5);
      assert.equal(peak, 4);
      g.open();
      await until(async () => (await q.counts()).completed === 10, "all done");
      assert.equal(peak, 4);
      await w.close();
    });

    it("a worker wakes at once for a job added in the same process", async (h) => {
      const q = h.queue("wake");
      const done: string[] = [];
      const w = q.process((job) => void done.push(job.id));
      await h.idle();
      const job = await q.add(1);
      await until(() => done.length === 1, "the job ran without the clock moving");
      assert.equal(done[0], job.id);
      await w.close();
    });

    it("a worker finds jobs added through another store handle by polling", async (h) => {
      const q = h.queue("poll");
      const other = h.queue("poll", {}, new CountingKv(h.kv));
      const done: string[] = [];
      const w = q.process((job) => void done.push(job.id));
      await h.idle(); // its first round is over: only a poll (or watch) can find the next job
      const job = await other.add(1);
      await flush(10);
      if (!(h.kv.info.watch && h.kv.info.scope !== "process")) {
        assert.equal(done.length, 0, "no in-process wake-up");
      }
      await h.run(1000);
      await until(() => done.length === 1, "the poll found it");
      assert.equal(done[0], job.id);
      await w.close();
    });

    test("a worker wakes through the store's watch() for jobs added by another handle", {
      timeout: 30_000,
      skip: o.watch ? false : "the store declares no watch",
    }, () =>
      withHarness(o, async (h) => {
        const watched = new CountingKv(h.kv, "machine");
        const q = h.queue("watch", {}, watched);
        const other = h.queue("watch", {}, new CountingKv(h.kv));
        const done: string[] = [];
        const w = q.process((job) => void done.push(job.id));
        await h.idle();
        const job = await other.add(1);
        await until(() => done.length === 1, "woken by watch without the clock moving");
        assert.equal(done[0], job.id);
        const later = await other.add(2, { delay: 500 });
        await flush(5);
        await h.clock.advance(500);
        await until(() => done.length === 2, "the delayed job, seen through watch");
        assert.equal(done[1], later.id);
        await w.close();
      }));

    it("a worker whose rounds take longer than the poll interval does not sleep while a job is due", async (h) => {
      // Every list takes 1.5 s of (fake) time, as a slow store would: each round outlasts the
      // 1 s poll interval. The test never moves the clock itself, so a worker that went to sleep
      // with work due would never wake.
      const slow = hookedKv(h.kv, {
        before: async (op) => {
          if (op === "list") await h.clock.advance(1500);
          await flush(0);
        },
      });
      const q = h.queue("slow-rounds", {}, slow);
      const job = await q.add("later", { delay: 120_000 });
      const ran: string[] = [];
      const w = q.process((j) => void ran.push(j.id));
      await until(() => ran.length === 1, "the job ran once its time came", 15_000);
      assert.equal(ran[0], job.id);
      assert.ok(h.clock.now() >= job.runAt);
      await w.close();
    });

    it("a job delayed while the worker reads its next due time runs at its time", async (h) => {
      // Hold the worker's read of its next delayed job (after the store answered "none") while
      // a delayed job is added: the add's wake-up must not be overwritten by the stale answer.
      let hold: ReturnType<typeof gate<void>> | null = null;
      const entered = gate();
      const delayedPrefix = JSON.stringify([...h.root, "delayed", "lost-wake"]);
      const kv = hookedKv(h.kv, {
        afterList: async (selector, options) => {
          const s = selector as { prefix?: unknown[]; end?: unknown };
          if (hold && options?.limit === 1 && !s.end && JSON.stringify(s.prefix) === delayedPrefix) {
            const held = hold;
            hold = null;
            entered.open();
            await held.promise;
          }
        },
      });
      const q = h.queue("lost-wake", {}, kv);
      const ran: string[] = [];
      const w = q.process((j) => void ran.push(j.id));
      await h.idle();
      const release = hold = gate();
      await h.clock.advance(1000); // maintenance: the worker reads its next delayed job
      await entered.promise;
      const job = await q.add("soon", { delay: 100 });
      release.open();
      await h.idle();
      await h.clock.advance(100);
      await until(() => ran.length === 1, "the delayed job ran at its time");
      assert.equal(ran[0], job.id);
      await w.close();
    });

    it("close({ timeout }) counts from the call even while the worker's round waits on the store", async (h) => {
      let hold: ReturnType<typeof gate<void>> | null = null;
      const entered = gate();
      const kv = hookedKv(h.kv, {
        before: async (op) => {
          if (hold && op === "list") {
            const held = hold;
            hold = null;
            entered.open();
            await held.promise;
          }
        },
      });
      const q = h.queue("close-slow", {}, kv);
      const job = await q.add(1);
      const started = gate();
      const w = q.process((_j, ctx) =>
        new Promise((_, reject) => {
          started.open();
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
        }), { concurrency: 2 });
      await started.promise;
      await h.idle();
      const release = hold = gate();
      await h.clock.advance(1000); // a maintenance round starts and waits on the store
      await entered.promise;
      let closed = false;
      const closing = w.close({ timeout: 500 }).then(() => (closed = true));
      await h.clock.advance(500); // the timeout passes while the round still waits
      release.open();
      await until(() => closed, "close() returned after its timeout");
      await closing;
      const j = (await q.getJob(job.id))!;
      assert.equal(j.state, "ready");
      assert.equal(j.attempt, 0);
    });

    it("ctx gives attempt, progress and heartbeat; the lease is renewed while the handler runs", async (h) => {
      const q = h.queue("ctx");
      const job = await q.add(1);
      const g = gate();
      const stalled = h.record(q, "stalled");
      let attempt = 0;
      const w = q.process(async (_j, ctx) => {
        attempt = ctx.attempt;
        await ctx.progress({ pct: 50 });
        await ctx.heartbeat();
        await g.promise;
        return "ok";
      }, { leaseMs: 3000, heartbeatInterval: 1000 });
      await until(async () => (await q.getJob(job.id))?.progress !== undefined, "progress");
      assert.deepEqual((await q.getJob(job.id))?.progress, { pct: 50 });
      const lease0 = (await q.getJob(job.id))!;
      // 10 s of fake time (over three leases) in 250 ms steps. A heartbeat is real I/O (on a file store it
      // can queue behind a slow fsync) while the fake clock moves on its own, so before each step wait, in
      // real time, until the lease outlasts that step: a renewal in flight is not overtaken by fake time,
      // and a heartbeat that never lands still fails here (the wait times out).
      for (let t = 0; t < 10_000; t += 250) {
        await until(
          async () => ((await q.getJob(job.id))?.lease?.expiresAt ?? 0) > h.clock.now() + 250,
          "the heartbeat to renew the lease",
        );
        await h.run(250, 250);
      }
      assert.equal(stalled.length, 0, "a heartbeating job is never stalled");
      // Renewed all along: the lease now runs well past where the first one ended.
      assert.ok(
        (await q.getJob(job.id))!.lease!.expiresAt >= lease0.lease!.expiresAt + 8000,
        "the lease was renewed",
      );
      assert.equal((await q.getJob(job.id))?.state, "active");
      g.open();
      assert.equal(await q.result(job.id), "ok");
      assert.equal(attempt, 1);
      assert.equal(lease0.attempt, 1);
      await w.close();
    });

    it("ctx.signal aborts with a TimeoutError at the job's timeout and the attempt fails", async (h) => {
      const q = h.queue("to", { backoff: 100 });
      const job = await q.add(1, { timeout: 500, maxAttempts: 1 });
      let reason: unknown;
      const started = gate();
      const w = q.process((_j, ctx) =>
        new Promise((_, reject) => {
          started.open();
          ctx.signal.addEventListener("abort", () => {
            reason = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        })
      );
      await started.promise; // the handler runs, so its timeout is armed
      await h.run(500);
      await until(async () => (await q.getJob(job.id))?.state === "dead", "dead after timeout");
      assert.equal((reason as Error).name, "TimeoutError");
      assert.equal((await q.getJob(job.id))?.error?.name, "TimeoutError");
      await w.close();
    });
  });

  describe(`${o.name}: 5 failures and retries`, () => {
    it("a failing job retries after its fixed backoff, not before, and keeps every error", async (h) => {
      const q = h.queue<number, string>("retry");
      const job = await q.add(1, { maxAttempts: 3, backoff: { type: "fixed", delay: 1000 } });
      let calls = 0;
      const w = q.process((_j, ctx) => {
        calls++;
        if (ctx.attempt < 3) throw new Error(`fail ${ctx.attempt}`);
        return "third time";
      });
      await until(() => calls === 1, "first attempt");
      await until(async () => (await q.getJob(job.id))?.state === "failed", "failed");
      const f = (await q.getJob(job.id))!;
      assert.equal(f.runAt, f.history[0].endedAt + 1000);
      await h.run(900);
      assert.equal(calls, 1, "not retried before the backoff");
      await h.run(100);
      await until(() => calls === 2, "second attempt");
      await until(async () => (await q.getJob(job.id))?.state === "failed", "failed again");
      await h.run(1000);
      assert.equal(await q.result(job.id), "third time");
      const done = (await q.getJob(job.id))!;
      assert.deepEqual(done.history.map((x) => [x.attempt, x.outcome, x.error?.message]), [
        [1, "failed", "fail 1"],
        [2, "failed", "fail 2"],
        [3, "completed", undefined],
      ]);
      assert.ok(done.history[0].error?.stack?.includes("fail 1"));
      assert.ok(done.history[0].endedAt >= done.history[0].startedAt);
      await w.close();
    });

    it("exponential backoff with a cap, linear, and a queue-level function set runAt", async (h) => {
      const delays = async (queueOpts: any, jobOpts: any, attempts: number) => {
        const q = h.queue(`b${Math.random()}`, queueOpts);
        const job = await q.add(1, { maxAttempts: attempts + 1, ...jobOpts });
        const out: number[] = [];
        const w = q.process(() => {
          throw new Error("x");
        });
        for (let i = 0; i < attempts; i++) {
          await until(async () => (await q.getJob(job.id))?.history.length === i + 1, `attempt ${i + 1}`);
          await until(async () => (await q.getJob(job.id))?.state === "failed", "failed");
          const j = (await q.getJob(job.id))!;
          out.push(j.runAt - j.history[i].endedAt);
          await h.clock.advance(j.runAt - h.clock.now());
        }
        await w.close({ timeout: 0 });
        return out;
      };
      assert.deepEqual(
        await delays({}, { backoff: { type: "exponential", delay: 100, max: 500 } }, 5),
        [100, 200, 400, 500, 500],
      );
      assert.deepEqual(await delays({}, { backoff: { type: "linear", delay: 100 } }, 3), [100, 200, 300]);
      assert.deepEqual(await delays({ backoff: (n: number) => n * 11 }, {}, 3), [11, 22, 33]);
    });

    it("jitter comes from the queue's seeded generator and is reproducible", async (h) => {
      const runAt = async (seed: number) => {
        const q = h.queue(`j${seed}${Math.random()}`, { random: seededRandom(seed) });
        const job = await q.add(1, { backoff: { type: "fixed", delay: 10_000, jitter: 0.5 } });
        const w = q.process(() => {
          throw new Error("x");
        });
        await until(async () => (await q.getJob(job.id))?.state === "failed", "failed");
        await w.close();
        const j = (await q.getJob(job.id))!;
        return j.runAt - j.history[0].endedAt;
      };
      const a = await runAt(5), b = await runAt(5);
      assert.equal(a, b);
      assert.ok(a >= 5000 && a <= 10_000);
    });

    it("a PermanentError sends the job straight to dead", async (h) => {
      const q = h.queue("perm");
      const job = await q.add(1, { maxAttempts: 10 });
      const w = q.process(() => {
        throw new PermanentError("bad input", { cause: new Error("root") });
      });
      await until(async () => (await q.getJob(job.id))?.state === "dead", "dead");
      const d = (await q.getJob(job.id))!;
      assert.equal(d.reason, "permanent");
      assert.equal(d.attempt, 1);
      assert.equal(d.error?.name, "PermanentError");
      await w.close();
    });

    it("dead jobs are listed and redriven, one or all", async (h) => {
      const q = h.queue<number>("redrive");
      const jobs = await q.addBulk([1, 2, 3].map((data) => ({ data, options: { maxAttempts: 1 } })));
      let fail = true;
      const ran: number[] = [];
      const w = q.process((j) => {
        ran.push(j.data);
        if (fail) throw new Error("down");
      });
      await until(async () => (await q.counts()).dead === 3, "three dead");
      const page = await q.list("dead");
      assert.deepEqual(page.jobs.map((j) => j.id).sort(), jobs.map((j) => j.id).sort());
      fail = false;
      const one = await q.redrive(jobs[0].id);
      assert.equal(one.attempt, 0);
      await until(async () => (await q.getJob(jobs[0].id))?.state === "completed", "redriven one done");
      assert.equal(await q.redriveAll(), 2);
      await until(async () => (await q.counts()).completed === 3, "all done");
      const history = (await q.getJob(jobs[1].id))!.history;
      assert.deepEqual(history.map((x) => x.outcome), ["failed", "completed"]);
      await w.close();
    });
  });

  describe(`${o.name}: 6 recovery and fencing`, () => {
    it("a worker stopped mid-job without cleanup is finished by another after the lease expires", async (h) => {
      const q1 = h.queue("crash", { clock: new FakeClock(h.clock.now()) });
      const job = await q1.add("work");
      const hang = gate();
      const started = gate();
      const errors: unknown[] = [];
      q1.addEventListener("error", (e) => errors.push((e as QueueEvent).error));
      const w1 = q1.process(async () => {
        started.open();
        await hang.promise; // never returns while the test runs: a "crashed" worker
        return "stale";
      }, { leaseMs: 5000 });
      await started.promise;
      // A second process (its own clock, which moves) takes over.
      const q2 = h.queue("crash");
      const stalled = h.record(q2, "stalled");
      const w2 = q2.process(() => "finished by w2", { leaseMs: 5000 });
      await h.run(5000, 500);
      await until(
        async () => (await q2.getJob(job.id))?.state === "completed",
        "completed by the second worker",
      );
      assert.equal(stalled.length, 1);
      const done = (await q2.getJob(job.id))!;
      assert.equal(done.result, "finished by w2");
      assert.equal(done.attempt, 2, "the expired attempt counted");
      assert.deepEqual(done.history.map((x) => x.outcome), ["stalled", "completed"]);
      // The stale worker wakes up: its completion changes nothing.
      hang.open();
      await until(
        () => errors.some((e) => e instanceof LeaseLostError),
        "LeaseLostError for the stale worker",
      );
      assert.equal((await q2.getJob(job.id))?.result, "finished by w2");
      await w1.close();
      await w2.close();
    });

    it("a worker paused past its lease cannot complete the job another worker now holds", async (h) => {
      const frozen = new FakeClock(h.clock.now());
      const q1 = h.queue("fence", { clock: frozen });
      const job = await q1.add("x");
      const resume1 = gate();
      const resume2 = gate();
      const errors: unknown[] = [];
      q1.addEventListener("error", (e) => errors.push((e as QueueEvent).error));
      let w1Ctx: any;
      const w1 = q1.process(async (_j, ctx) => {
        w1Ctx = ctx;
        await resume1.promise;
        return "from w1";
      }, { leaseMs: 2000 });
      await until(() => w1Ctx !== undefined, "w1 holds the job");
      const q2 = h.queue("fence");
      let w2Has = false;
      const w2 = q2.process(async () => {
        w2Has = true;
        await resume2.promise;
        return "from w2";
      }, { leaseMs: 60_000 });
      await h.run(2000, 500);
      await until(() => w2Has, "w2 claimed the expired job");
      await assert.rejects(w1Ctx.heartbeat(), LeaseLostError);
      await assert.rejects(w1Ctx.progress(1), LeaseLostError);
      resume1.open();
      await until(() => errors.some((e) => e instanceof LeaseLostError), "w1's complete refused");
      const mid = (await q2.getJob(job.id))!;
      assert.equal(mid.state, "active");
      assert.equal(mid.result, undefined);
      resume2.open();
      assert.equal(await q2.result(job.id), "from w2");
      await w1.close();
      await w2.close();
    });

    it("the healer is idempotent and safe in two processes at once", async (h) => {
      const q1 = h.queue("heal");
      const q2 = h.queue("heal", {}, new CountingKv(h.kv));
      const jobs = await q1.addBulk([1, 2, 3].map((data) => ({ data })));
      const g = gate();
      const w = q1.process(() => g.promise, { concurrency: 3, leaseMs: 1000, maintenance: false });
      await until(async () => (await q1.counts()).active === 3, "three active");
      await w.close({ timeout: 0 }).catch(() => {}); // releases them: attempt not counted
      // Claim again with a worker that dies (never heartbeats: its clock is frozen).
      const q3 = h.queue("heal", { clock: new FakeClock(h.clock.now()) });
      const w3 = q3.process(() => g.promise, { concurrency: 3, leaseMs: 1000, maintenance: false });
      await until(async () => (await q1.counts()).active === 3, "three active again");
      await h.clock.advance(1000);
      const [a, b] = await Promise.all([q1.heal(), q2.heal()]);
      assert.equal(a + b, 3, "each expired job recovered exactly once");
      assert.equal(await q1.heal(), 0);
      const c = await q1.counts();
      assert.equal(c.ready, 3);
      assert.equal(c.active, 0);
      for (const j of jobs) assert.equal((await q1.getJob(j.id))?.attempt, 1);
      g.open();
      await w3.close({ timeout: 0 });
    });
  });

  describe(`${o.name}: 7 scheduling`, () => {
    it("a cron schedule enqueues each tick exactly once with two schedulers running", async (h) => {
      const start = Date.UTC(2030, 0, 1, 0, 0, 0);
      const clock = new FakeClock(start);
      const q1 = h.queue("cron", { clock });
      const q2 = h.queue("cron", { clock }, new CountingKv(h.kv));
      const info = await q1.schedule("tick", { cron: "*/5 * * * *", data: { kind: "tick" } });
      assert.equal(info.next, start + 5 * 60_000);
      const ran: Job[] = [];
      const w1 = q1.process((j) => void ran.push(j));
      const w2 = q2.process((j) => void ran.push(j));
      for (let i = 0; i < 3; i++) {
        await clock.advance(5 * 60_000);
        await flush(2);
        await until(() => ran.length === i + 1, `tick ${i + 1}`);
      }
      await clock.advance(1000);
      await flush(10);
      assert.equal(ran.length, 3);
      assert.deepEqual(ran.map((j) => j.key), [1, 2, 3].map((k) => `tick@${start + k * 5 * 60_000}`));
      assert.equal(ran[0].schedule, "tick");
      assert.deepEqual(ran[0].data, { kind: "tick" });
      await w1.close();
      await w2.close();
    });

    it("cron in a named time zone, and an interval schedule, compute their next ticks", async (h) => {
      const start = Date.UTC(2030, 0, 1, 0, 0, 0);
      const clock = new FakeClock(start);
      const q = h.queue("tz", { clock });
      const s = await q.schedule("berlin", { cron: "0 2 * * *", timezone: "Europe/Berlin" });
      assert.equal(s.next, Date.UTC(2030, 0, 1, 1, 0, 0));
      const i = await q.schedule("every", { every: 60_000, data: 1 });
      assert.equal(i.next, start + 60_000);
      assert.deepEqual((await q.schedules()).map((x) => x.name).sort(), ["berlin", "every"]);
      const ran: number[] = [];
      const w = q.process(() => void ran.push(clock.now()));
      for (let k = 1; k <= 2; k++) {
        await clock.advance(60_000);
        await until(() => ran.length === k, `interval tick ${k}`);
      }
      assert.equal(await q.unschedule("every"), true);
      await q.unschedule("berlin");
      await w.close();
      await assert.rejects(q.schedule("bad", { cron: "* * *" }), TypeError);
    });
  });

  describe(`${o.name}: 8 cancel`, () => {
    it("cancel() ends scheduled and ready jobs at once", async (h) => {
      const q = h.queue("cancel");
      const a = await q.add(1, { delay: 1000 });
      const b = await q.add(2);
      const events = h.record(q, "canceled");
      assert.equal(await q.cancel(a.id), true);
      assert.equal(await q.cancel(b.id), true);
      assert.equal((await q.getJob(a.id))?.state, "canceled");
      assert.equal((await q.getJob(b.id))?.state, "canceled");
      assert.equal(events.length, 2);
      assert.equal(await q.cancel(a.id), false, "already ended");
      await assert.rejects(q.result(b.id), CanceledError);
      const c = await q.counts();
      assert.deepEqual([c.canceled, c.ready, c.scheduled], [2, 0, 0]);
    });

    it("cancel() of an active job aborts its signal and ends it canceled, not retried", async (h) => {
      const q = h.queue("cancel-active");
      const job = await q.add(1, { maxAttempts: 5 });
      let reason: unknown;
      const started = gate();
      const w = q.process((_j, ctx) =>
        new Promise((_, reject) => {
          started.open();
          ctx.signal.addEventListener("abort", () => {
            reason = ctx.signal.reason;
            reject(new Error("stopped"));
          });
        })
      );
      await started.promise;
      assert.equal(await q.cancel(job.id), true);
      await until(async () => (await q.getJob(job.id))?.state === "canceled", "canceled");
      assert.ok(reason instanceof CanceledError);
      const j = (await q.getJob(job.id))!;
      assert.equal(j.attempt, 1);
      assert.equal(j.reason, "canceled");
      await h.run(5000, 1000);
      assert.equal((await q.getJob(job.id))?.state, "canceled");
      await w.close();
    });
  });
}
