/**
 * Deterministic simulation of the engine (issue #16 item 1).
 *
 * One seeded scheduler drives everything: several simulated processes (each a `Queue` and a
 * `Worker` on its own view of one shared memory store), producers, maintenance (the workers' own)
 * and the store. Every store call a process makes (get, getMany, list, commit) and every handler
 * step is a pending operation; a step of the simulation picks one (seeded) and completes it — the
 * commit is applied against the memory store at that moment — or fires the earliest timer on the
 * virtual clock, or injects a fault: a commit that fails, a commit that applied but is reported
 * failed (lost ack), storage full, a failed read, a crash of a process at whatever it is awaiting
 * (its objects are abandoned, its pending calls never resolve, a new process starts on the same
 * store), a clock jump. Between steps the runtime's microtasks drain (one macrotask turn), so the
 * engine runs as far as it can and the next step sees every operation it started.
 *
 * After every applied commit the invariants are checked on the store (see `checkStore`); handler
 * runs and completions are recorded to check fencing. At the end faults stop, the world runs until
 * every acknowledged add is in a final state, and the counts are compared with the records.
 *
 * Determinism: the engine's clock, ids and jitter are injected through `QueueOptions`; the few
 * places in `src/` that still read `Date.now()`, `Math.random()` or `crypto.getRandomValues()`
 * directly (the committer's delta timestamps and writer id, the claimer's spread offset) see seeded
 * stand-ins while a seed runs (restored afterwards).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { Queue } from "../../src/queue.ts";
import type { Worker } from "../../src/worker.ts";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { StorageError } from "../../src/errors.ts";
import {
  type AtomicBatch,
  type AtomicKv,
  type AtomicOp,
  BufferedAtomicOp,
  compareKeys,
  type KvCommitResult,
  type KvEntry,
  type KvInfo,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
} from "../../src/kv.ts";
import type { Clock, TimerHandle } from "../../src/clock.ts";
import { sleep } from "../../src/clock.ts";
import { monotonicUlid, seededRandom } from "../../src/ids.ts";
import { decodeRecord, decodeValue } from "../../src/payload.ts";
import { decodeLease, type LeaseFields, overlay, storedJob } from "../../src/lease_entry.ts";
import { Keyspace, STATE_INDEX } from "../../src/keys.ts";
import { type Counts, isTerminal, type JobRecord, type JobState, zeroCounts } from "../../src/job.ts";

/**
 * A commit whose outcome the store cannot tell: it may have been applied. The contract's
 * `CommitOutcomeUnknownError` is not in `src/errors.ts` on this branch; the simulation raises this
 * stand-in (a `StorageError`, as every store fault is) until it lands.
 */
export class CommitOutcomeUnknownError extends StorageError {
  /** Creates the error. */
  constructor() {
    super("sim", "commit", "the connection dropped before the outcome was known", {
      code: "OUTCOME_UNKNOWN",
    });
    this.name = "CommitOutcomeUnknownError";
  }
}

/** An invariant the simulation found broken. */
export class SimInvariantError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SimInvariantError";
  }
}

/** The kinds of fault the simulation injects (the keys of {@linkcode SimStats.faults}). */
export const FAULT_KINDS = [
  "commitFailed",
  "lostAck",
  "storageFull",
  "readFailed",
  "crash",
  "crashAppliedCommit",
  "clockJump",
  "clockSkew",
  "pause",
  "slowHandler",
  "handlerThrew",
  "leaseExpired",
] as const;

/** One kind of fault. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** What one seed did. */
export interface SimStats {
  /** Steps taken (fault phase and quiesce phase). */
  steps: number;
  /** Faults injected (and lease expiries observed), by kind. */
  faults: Record<FaultKind, number>;
  /** Invariant checks run (each covers every job of the store). */
  checks: number;
  /** Adds acknowledged. */
  acked: number;
  /** Commits applied. */
  commits: number;
  /** Handler runs started. */
  runs: number;
  /** Runs that ended after their lease was gone (their outcome must not be recorded). */
  fencingTests: number;
  /** Schedule fire times skipped because the queue was full (maxQueued). */
  ticksSkippedFull: number;
}

/** The result of one seed. */
export interface SimResult {
  /** The seed. */
  seed: number;
  /** Whether every invariant held. */
  ok: boolean;
  /** What broke (when not ok). */
  error?: string;
  /** The last steps before the failure. */
  trace?: string[];
  /** What the seed did. */
  stats: SimStats;
  /** A hash of the whole trace: equal for two runs of one seed on one runtime. */
  digest: number;
}

/** Options of {@linkcode runSeed}. */
export interface SimOptions {
  /** Steps of the fault phase. @default {@linkcode DEFAULT_STEPS} */
  steps?: number;
  /** Most steps of the quiesce phase (faults off, until every acknowledged add is final). @default 6000 */
  quiesceSteps?: number;
}

/** Steps of a seed's fault phase, in both tiers, so a seed means the same run in each. */
export const DEFAULT_STEPS = 200;

/** Trace lines kept for a failure report (`SIM_TRACE=<n>` keeps more). */
const TRACE_LINES = Number(
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env
    .SIM_TRACE ?? 40,
);

const QUEUE = "sim";

/** A job's data: its number, and padding for the ones stored in chunks. */
type Data = { n: number; pad?: string };
const T0 = 1_700_000_000_000;
const ks = new Keyspace(undefined, QUEUE);
const ROOT: KvKey = ["kvq"];
const INDEX_NAMES = new Set(Object.values(STATE_INDEX));
const SCHEDULE = "tick";

interface Proc {
  readonly n: number;
  dead: boolean;
  /** This process's wall clock minus the world's time (a clock stepped by NTP, a skewed machine). */
  skew: number;
  readonly clock: Clock;
  queue?: Queue<Data, { run: number }>;
  worker?: Worker<Data, { run: number }>;
}

interface Pending {
  readonly proc: Proc;
  readonly kind: "get" | "getMany" | "list" | "commit" | "handler";
  readonly run: () => Promise<unknown>;
  readonly batch?: AtomicBatch;
  /** What the call reads, for the trace. */
  readonly what?: string;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

interface Timer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
  readonly proc: Proc;
}

interface Run {
  readonly id: string;
  readonly token: string | undefined;
}

/** A process's view of the shared store: every call is a pending operation of the world. */
class SimKv implements AtomicKv {
  readonly info: KvInfo;
  readonly #w: World;
  readonly #p: Proc;

  constructor(w: World, p: Proc) {
    this.#w = w;
    this.#p = p;
    // Not "process" scope: another simulated process shares it; no watch, so processes learn of
    // each other's changes by polling, as over a store without watch.
    this.info = { ...w.mem.info, name: "sim", scope: "machine", watch: false, durable: true };
  }

  get(key: KvKey): Promise<KvEntry | null> {
    return this.#w.op(this.#p, "get", () => this.#w.mem.get(key), undefined, kinds([key])) as Promise<
      KvEntry | null
    >;
  }

  getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    return this.#w.op(this.#p, "getMany", () => this.#w.mem.getMany(keys), undefined, kinds(keys)) as Promise<
      (KvEntry | null)[]
    >;
  }

  list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    const w = this.#w, p = this.#p;
    return (async function* () {
      const from = "prefix" in selector ? selector.prefix : selector.start;
      const all = await w.op(
        p,
        "list",
        async () => {
          const out: KvEntry[] = [];
          for await (const e of w.mem.list(selector, options)) out.push(e);
          return out;
        },
        undefined,
        kinds([from]),
      ) as KvEntry[];
      yield* all;
    })();
  }

  atomic(): AtomicOp {
    return new BufferedAtomicOp(
      this.info,
      (batch) => this.#w.op(this.#p, "commit", () => this.#w.apply(batch), batch) as Promise<KvCommitResult>,
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const drain = () => new Promise<void>((r) => setImmediate(r));

/** One seed's world: the store, the clock, the processes, the scheduler and the records. */
class World {
  /** Small values, so larger payloads are stored in chunks (blob keys beside the record). */
  readonly mem = new MemoryKv({ maxValueBytes: 4096 });
  readonly rng: () => number;
  readonly seed: number;
  now = T0;
  readonly pending: Pending[] = [];
  readonly timers: Timer[] = [];
  readonly procs: Proc[] = [];
  readonly acked = new Set<string>();
  /** Jobs removed from the store (after they ended, by retention or removeOnComplete). */
  readonly removed = new Set<string>();
  /** Every schedule fire time a job was stored for, over the whole run (retention may remove it later). */
  readonly ticks = new Set<string>();
  readonly runs = new Map<number, Run>();
  /** The lease of each job's latest active record (recorded when a claim is applied). */
  readonly leases = new Map<string, { token: string; owner: string; attempt: number }>();
  readonly trace: string[] = [];
  readonly stats: SimStats;
  faultsOn = true;
  /** An invariant broken in a callback (checked after the step). */
  ackError: string | undefined;
  paused = false;
  readonly pauses: { proc: Proc; settled: boolean }[] = [];
  /** FNV-1a over every trace line: two runs of one seed agree on it when they are identical. */
  digest = 2166136261;
  #timerId = 0;
  #procs = 0;
  #runSeq = 0;
  scheduleStart: number | undefined;
  readonly cfg: {
    procs: number;
    concurrency: number;
    leaseMs: number;
    poll: number;
    adds: number;
    maxQueued: number | undefined;
    retention: number | undefined;
    pCommitFail: number;
    pLostAck: number;
    pFull: number;
    pReadFail: number;
    pCrash: number;
    pJump: number;
    pTimer: number;
  };

  constructor(seed: number) {
    this.seed = seed;
    this.rng = seededRandom(seed);
    const r = this.rng;
    this.stats = {
      steps: 0,
      faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
      checks: 0,
      acked: 0,
      commits: 0,
      runs: 0,
      fencingTests: 0,
      ticksSkippedFull: 0,
    };
    this.cfg = {
      procs: 2 + Math.floor(r() * 2),
      concurrency: 1 + Math.floor(r() * 3),
      leaseMs: 300 + Math.floor(r() * 2700),
      poll: 100 + Math.floor(r() * 900),
      adds: 8 + Math.floor(r() * 20),
      maxQueued: r() < 0.25 ? 4 + Math.floor(r() * 10) : undefined,
      retention: r() < 0.3 ? Math.floor(r() * 4) : undefined,
      pCommitFail: r() * 0.06,
      pLostAck: r() * 0.06,
      pFull: r() < 0.3 ? r() * 0.08 : 0,
      pReadFail: r() * 0.03,
      pCrash: r() * 0.015,
      pJump: r() * 0.01,
      pTimer: 0.1 + r() * 0.2,
    };
    if (r() < 0.1) {
      // A storm: one seed in ten fails commits and reads several times as often.
      const f = 3 + r() * 3;
      this.cfg.pCommitFail *= f;
      this.cfg.pLostAck *= f;
      this.cfg.pReadFail *= f;
    }
  }

  note(s: string): void {
    const line = `${this.stats.steps} t+${this.now - T0}: ${s}`;
    for (let i = 0; i < line.length; i++) {
      this.digest = Math.imul(this.digest ^ line.charCodeAt(i), 16777619) >>> 0;
    }
    this.trace.push(line);
    if (this.trace.length > TRACE_LINES) this.trace.shift();
  }

  fail(message: string): never {
    throw new SimInvariantError(message);
  }

  /** A store call or handler step of `proc`, completed when a step picks it. */
  op(
    proc: Proc,
    kind: Pending["kind"],
    run: () => Promise<unknown>,
    batch?: AtomicBatch,
    what?: string,
  ): Promise<unknown> {
    if (proc.dead) return new Promise(() => {});
    return new Promise((resolve, reject) =>
      this.pending.push({ proc, kind, run, batch, what, resolve, reject })
    );
  }

  clockOf(proc: Proc): Clock {
    return {
      now: () => this.now + proc.skew,
      setTimer: (fn: () => void, ms: number): TimerHandle => {
        if (typeof ms !== "number" || Number.isNaN(ms)) throw new RangeError(`bad delay ${ms}`);
        const id = ++this.#timerId;
        if (proc.dead || ms === Infinity) return id;
        const due = this.now + Math.max(0, ms);
        let i = this.timers.length;
        while (i > 0 && this.timers[i - 1]!.due > due) i--;
        this.timers.splice(i, 0, { id, due, fn, proc });
        return id;
      },
      clearTimer: (h: TimerHandle): void => {
        const i = this.timers.findIndex((t) => t.id === h);
        if (i >= 0) this.timers.splice(i, 1);
      },
    };
  }

  /** Starts a simulated process: a queue and a worker on a fresh view of the store. */
  startProc(withWorker = true): Proc {
    const n = ++this.#procs;
    const proc: Proc = { n, dead: false, skew: 0, clock: undefined as unknown as Clock };
    (proc as { clock: Clock }).clock = this.clockOf(proc);
    const kv = new SimKv(this, proc);
    const queue = new Queue<Data, { run: number }>(kv, QUEUE, {
      clock: proc.clock,
      ids: monotonicUlid(seededRandom(this.seed * 7919 + n)),
      random: seededRandom(this.seed * 104729 + n),
      pollInterval: this.cfg.poll,
      backoff: { type: "exponential", delay: 50, factor: 2, max: 2000 },
      maxQueued: this.cfg.maxQueued,
      retention: this.cfg.retention === undefined ? undefined : {
        completed: { count: this.cfg.retention },
        dead: { age: 5000 },
        canceled: { count: this.cfg.retention, age: 2000 },
      },
    });
    proc.queue = queue;
    queue.on("error", (e) => this.note(`p${n} error event: ${String(e.error).slice(0, 120)}`));
    if (withWorker && this.rng() < 0.25) void this.#consume(proc);
    if (withWorker) {
      proc.worker = queue.process((job, jctx) => this.#handle(proc, job, jctx.signal), {
        concurrency: this.cfg.concurrency,
        leaseMs: this.cfg.leaseMs,
        cleanInterval: 1000,
      });
    }
    this.procs.push(proc);
    this.note(`start p${n}`);
    return proc;
  }

  async #handle(
    proc: Proc,
    job: { id: string; attempt: number; lease?: { owner: string } },
    _signal: AbortSignal,
  ): Promise<{ run: number }> {
    const runId = ++this.#runSeq;
    const l = this.leases.get(job.id);
    const token = l && l.owner === job.lease?.owner && l.attempt === job.attempt ? l.token : undefined;
    this.runs.set(runId, { id: job.id, token });
    this.stats.runs++;
    this.note(`p${proc.n} run ${runId} of ${job.id.slice(-6)} attempt ${job.attempt}`);
    const r = this.rng();
    if (r < 0.15) {
      // A slow handler: up to three leases long, on the virtual clock (heartbeats keep the lease).
      this.stats.faults.slowHandler++;
      await sleep(proc.clock, Math.floor(this.rng() * 3 * this.cfg.leaseMs));
    }
    await this.op(proc, "handler", () => Promise.resolve());
    // A run that ends after its lease was taken over (or expired and was healed) puts fencing to
    // the test: its outcome must not be recorded.
    if (await this.#stale(job.id, token)) this.stats.fencingTests++;
    if (r > 0.8) {
      this.stats.faults.handlerThrew++;
      throw new Error(`sim run ${runId}`);
    }
    return { run: runId };
  }

  /**
   * An external consumer in the process: claims through the lease API (`Queue.claim`), works a
   * step, then completes or fails with the token it got, as a client of the sidecar would.
   */
  async #consume(proc: Proc): Promise<void> {
    const q = proc.queue!;
    for (;;) {
      let got: { job: { id: string; attempt: number }; token: string }[] = [];
      try {
        got = await q.claim({ limit: 1, leaseMs: this.cfg.leaseMs, owner: `consumer-p${proc.n}` });
      } catch {
        // A failed claim: try again after a poll interval.
      }
      for (const { job, token } of got) {
        const runId = ++this.#runSeq;
        this.runs.set(runId, { id: job.id, token });
        this.stats.runs++;
        this.note(`p${proc.n} consumer run ${runId} of ${job.id.slice(-6)} attempt ${job.attempt}`);
        const r = this.rng();
        if (r < 0.15) {
          this.stats.faults.slowHandler++;
          await sleep(proc.clock, Math.floor(this.rng() * 2 * this.cfg.leaseMs));
        }
        await this.op(proc, "handler", () => Promise.resolve());
        if (await this.#stale(job.id, token)) this.stats.fencingTests++;
        try {
          if (r > 0.8) await q.fail(job.id, token, new Error(`sim run ${runId}`));
          else await q.complete(job.id, token, { run: runId });
        } catch {
          // LeaseLostError, or a store fault: the lease runs out and the job runs again.
        }
      }
      if (!got.length) await sleep(proc.clock, this.cfg.poll);
    }
  }

  async #stale(id: string, token: string | undefined): Promise<boolean> {
    const [current] = await this.#jobs([id]);
    return token !== undefined && (current?.state !== "active" || current.lease?.token !== token);
  }

  /** The jobs `ids` as stored: each record with its lease entry over it while active. */
  async #jobs(ids: readonly string[]): Promise<(JobRecord | null)[]> {
    const got = await this.mem.getMany([...ids.map((id) => ks.job(id)), ...ids.map((id) => ks.lease(id))]);
    return ids.map((_, i) => {
      const job = got[i];
      return job ? storedJob(job.value, got[ids.length + i]?.value) : null;
    });
  }

  /** Applies a batch to the memory store, checking fencing on every job it changes. */
  async apply(batch: AtomicBatch): Promise<KvCommitResult> {
    const ids = [
      ...new Set(batch.mutations.filter((m) => jobIdOf(m.key) !== null).map((m) => jobIdOf(m.key)!)),
    ];
    const before = await this.#jobs(ids);
    const cron = batch.mutations.some((m) => compareKeys(m.key, ks.cron(SCHEDULE)) === 0)
      ? await this.mem.get(ks.cron(SCHEDULE))
      : undefined;
    const op = this.mem.atomic();
    for (const c of batch.checks) op.check(c.key, c.versionstamp);
    for (const m of batch.mutations) m.type === "set" ? op.set(m.key, m.value) : op.delete(m.key);
    const res = await op.commit();
    if (!res.ok) return res;
    this.stats.commits++;
    const after = await this.#jobs(ids);
    for (let i = 0; i < ids.length; i++) {
      const prev = before[i], next = after[i];
      if (next) this.#transition(prev, next, await this.#result(next));
      else if (prev) this.#removed(prev);
    }
    if (cron) await this.#checkTick(cron);
    await this.checkStore();
    return res;
  }

  /**
   * A commit that moved the schedule on from fire time `t` stored the job of `t` with it, unless
   * the queue was full (with maxQueued, a tick that finds the queue full is skipped, with a
   * QueueFullError event).
   */
  async #checkTick(before: KvEntry | null): Promise<void> {
    const after = await this.mem.get(ks.cron(SCHEDULE));
    if (!before || !after) return;
    const was = JSON.parse(new TextDecoder().decode(before.value)).next as number | null;
    const now = JSON.parse(new TextDecoder().decode(after.value)).next as number | null;
    if (was === null || now === was) return;
    if (now !== null && now < was) this.fail(`the schedule moved back from ${was} to ${now}`);
    const job = await this.mem.get(ks.unique(`${SCHEDULE}@${was}`));
    if (job) return;
    // With maxQueued, a tick is skipped when the counts the engine read said full; they may be a
    // little older than this commit (a completion racing with the tick), so any skip is accepted.
    if (this.cfg.maxQueued !== undefined) {
      this.stats.ticksSkippedFull++;
      return;
    }
    this.fail(`the schedule moved on from fire time ${was} without enqueueing its job`);
  }

  #removed(prev: JobRecord): void {
    // Only ended jobs are removed (retention), or a job completing with removeOnComplete.
    if (!isTerminal(prev.state) && !(prev.state === "active" && prev.removeOnComplete)) {
      this.fail(`job ${prev.id} was removed while ${prev.state}`);
    }
    this.removed.add(prev.id);
  }

  /** A record's result (read from its chunks when it is stored in chunks). */
  async #result(r: JobRecord): Promise<unknown> {
    if (!r.result) return undefined;
    const ref = r.result as { chunks?: number };
    if (ref.chunks === undefined) return decodeValue(r.result);
    const keys = Array.from({ length: ref.chunks }, (_, i) => ks.blob(r.id, "r", i));
    const got = await this.mem.getMany(keys);
    if (got.some((e) => !e)) this.fail(`job ${r.id}: a chunk of its result is missing`);
    return decodeValue(r.result, got.map((e) => e!.value));
  }

  #transition(prev: JobRecord | null, next: JobRecord, result: unknown): void {
    if (next.state === "active" && next.lease) {
      this.leases.set(next.id, { token: next.lease.token, owner: next.lease.owner, attempt: next.attempt });
    }
    if (prev?.state === "active" && next.state !== "active") {
      const last = next.history[next.history.length - 1];
      if (last?.outcome === "stalled" && next.history.length > prev.history.length) {
        this.stats.faults.leaseExpired++;
      }
    }
    if (this.removed.has(next.id)) this.fail(`job ${next.id} came back after it was removed`);
    if (!prev && next.key?.startsWith(`${SCHEDULE}@`)) {
      // Also across removals: the unique key goes with a removed job, the fire time must not recur.
      if (this.ticks.has(next.key)) this.fail(`schedule fire time ${next.key} ticked twice`);
      this.ticks.add(next.key);
    }
    if (prev && isTerminal(prev.state) && !(prev.state === next.state)) {
      // Only redrive moves a job out of a final state; the simulation never redrives.
      this.fail(`job ${next.id} left final state ${prev.state} for ${next.state}`);
    }
    // Fencing: an outcome a handler run produced is recorded only under that run's lease.
    let runId: number | undefined;
    if (next.state === "completed" && prev?.state !== "completed") {
      runId = (result as { run?: number } | undefined)?.run;
      if (prev?.state !== "active") this.fail(`job ${next.id} completed from ${prev?.state ?? "nothing"}`);
    } else if (prev && next.history.length > prev.history.length) {
      const m = /^sim run (\d+)$/.exec(next.history[next.history.length - 1]?.error?.message ?? "");
      if (m) runId = Number(m[1]);
    }
    if (runId !== undefined && prev) {
      const run = this.runs.get(runId);
      if (!run) this.fail(`job ${next.id}: outcome of unknown run ${runId}`);
      if (run.id !== next.id) this.fail(`job ${next.id}: outcome of run ${runId} of job ${run.id}`);
      if (run.token !== undefined && prev.lease?.token !== run.token) {
        this.fail(
          `fencing: run ${runId} (lease ${run.token}) recorded ${next.state} for job ${next.id} ` +
            `whose lease is ${prev.lease?.token ?? "none"} (state ${prev.state})`,
        );
      }
    }
  }

  /** The store's jobs and their index entries agree, acknowledged adds exist, schedules tick once. */
  async checkStore(): Promise<Map<string, JobRecord>> {
    this.stats.checks++;
    const records = new Map<string, JobRecord>();
    const leases = new Map<string, LeaseFields>();
    const indexed = new Map<string, KvKey[]>();
    const blobs: KvKey[] = [];
    const uniques = new Map<string, string>();
    for await (const e of this.mem.list({ prefix: ROOT })) {
      const k = e.key;
      if (k[1] === "job" && k[2] === QUEUE) records.set(k[3] as string, decodeRecord(e.value));
      else if (k[1] === "blob" && k[2] === QUEUE) blobs.push(k);
      else if (k[1] === "unique" && k[2] === QUEUE) {
        uniques.set(k[3] as string, new TextDecoder().decode(e.value));
      } else if (INDEX_NAMES.has(k[1] as string) && k[2] === QUEUE) {
        const id = Keyspace.idOf(k);
        if (k[1] === "lease") leases.set(id, decodeLease(e.value));
        const list = indexed.get(id) ?? [];
        list.push(k);
        indexed.set(id, list);
      }
    }
    for (const [id, fields] of leases) {
      const r = records.get(id);
      if (r && r.state !== "ready") this.fail(`job ${id} has a lease entry over a ${r.state} record`);
      if (r) records.set(id, overlay(r, fields));
    }
    const ticks = new Set<string>();
    const byKey = new Map<string, string>();
    let unfinished = 0;
    for (const [id, r] of records) {
      const keys = indexed.get(id) ?? [];
      if (keys.length !== 1) {
        this.fail(`job ${id} (${r.state}) has ${keys.length} index entries: ${JSON.stringify(keys)}`);
      }
      if (compareKeys(keys[0]!, ks.index(r)) !== 0) {
        this.fail(
          `job ${id} (${r.state}) is indexed at ${JSON.stringify(keys[0])}, not ${
            JSON.stringify(ks.index(r))
          }`,
        );
      }
      if (r.state === "active" && !r.lease) this.fail(`job ${id} is active without a lease`);
      if (!isTerminal(r.state)) unfinished++;
      if (r.key !== undefined) {
        if (byKey.has(r.key)) this.fail(`jobs ${byKey.get(r.key)} and ${id} share the key ${r.key}`);
        byKey.set(r.key, id);
        if (uniques.get(r.key) !== id) {
          this.fail(`job ${id} holds key ${r.key} but the key points to ${uniques.get(r.key) ?? "nothing"}`);
        }
      }
      if (r.key?.startsWith(`${SCHEDULE}@`)) {
        if (ticks.has(r.key)) this.fail(`schedule fire time ${r.key} ticked twice`);
        ticks.add(r.key);
        const t = Number(r.key.slice(SCHEDULE.length + 1));
        if (this.scheduleStart !== undefined && (t - this.scheduleStart) % SCHEDULE_EVERY !== 0) {
          this.fail(`schedule tick ${r.key} is not a fire time (start ${this.scheduleStart})`);
        }
      }
    }
    for (const [key, id] of uniques) {
      if (records.get(id)?.key !== key) this.fail(`key ${key} points to ${id}, which does not hold it`);
    }
    if (this.cfg.maxQueued !== undefined && unfinished > this.cfg.maxQueued) {
      this.fail(`${unfinished} unfinished jobs, maxQueued is ${this.cfg.maxQueued}`);
    }
    for (const [id, keys] of indexed) {
      if (!records.has(id)) this.fail(`index entry ${JSON.stringify(keys[0])} has no job`);
    }
    for (const id of this.acked) {
      if (!records.has(id) && !this.removed.has(id)) this.fail(`acknowledged job ${id} is gone`);
    }
    const owned = new Set<string>();
    for (const r of records.values()) {
      const p = r.payload as { chunks?: number };
      const res = r.result as { chunks?: number } | undefined;
      for (let i = 0; i < (p.chunks ?? 0); i++) owned.add(`${r.id}/p/${i}`);
      for (let i = 0; i < (res?.chunks ?? 0); i++) owned.add(`${r.id}/r/${i}`);
    }
    for (const k of blobs) {
      if (!owned.delete(`${k[3] as string}/${k[4] as string}/${k[5] as number}`)) {
        this.fail(`blob ${JSON.stringify(k)} belongs to no job`);
      }
    }
    if (owned.size) this.fail(`job chunks missing: ${[...owned].slice(0, 3).join(", ")}`);
    return records;
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rng() * xs.length)]!;
  }

  #alive(): Proc[] {
    return this.procs.filter((p) => !p.dead);
  }

  /** Completes one pending operation (maybe with a fault). */
  async #complete(i: number): Promise<void> {
    const p = this.pending.splice(i, 1)[0]!;
    const r = this.rng();
    const c = this.cfg;
    if (p.kind === "handler") {
      this.note(`p${p.proc.n} handler step`);
      p.resolve(undefined);
      return;
    }
    if (p.kind !== "commit") {
      if (this.faultsOn && r < c.pReadFail) {
        this.stats.faults.readFailed++;
        this.note(`p${p.proc.n} ${p.kind} fails`);
        p.reject(new StorageError("sim", p.kind, "injected read failure", { code: "EIO" }));
        return;
      }
      this.note(`p${p.proc.n} ${p.kind} ${p.what ?? ""}`);
      p.run().then(p.resolve, p.reject);
      return;
    }
    if (this.faultsOn && r < c.pCommitFail) {
      this.stats.faults.commitFailed++;
      this.note(`p${p.proc.n} commit fails (not applied)`);
      p.reject(new StorageError("sim", "commit", "injected commit failure", { code: "EIO" }));
      return;
    }
    if (this.faultsOn && r < c.pCommitFail + c.pFull) {
      this.stats.faults.storageFull++;
      this.note(`p${p.proc.n} commit refused: storage full`);
      p.reject(new StorageError("sim", "commit", "QuotaExceededError: storage is full", { code: "ENOSPC" }));
      return;
    }
    if (this.faultsOn && r < c.pCommitFail + c.pFull + c.pLostAck) {
      this.stats.faults.lostAck++;
      let res: KvCommitResult;
      try {
        res = await p.run() as KvCommitResult;
      } catch (e) {
        p.reject(e);
        throw e;
      }
      this.note(`p${p.proc.n} commit ${res.ok ? "applied" : "check failed"}, ack lost`);
      p.reject(new CommitOutcomeUnknownError());
      return;
    }
    let res: KvCommitResult;
    try {
      res = await p.run() as KvCommitResult;
    } catch (e) {
      if (e instanceof SimInvariantError) throw e;
      this.note(`p${p.proc.n} commit rejects ${(e as Error).name}`);
      p.reject(e);
      return;
    }
    this.note(
      `p${p.proc.n} commit ${res.ok ? "ok" : "check failed"} (${touched(p.batch)})`,
    );
    p.resolve(res);
  }

  #fireTimer(): boolean {
    const t = this.timers.shift();
    if (!t) return false;
    this.now = Math.max(this.now, t.due);
    try {
      t.fn();
    } catch (e) {
      this.fail(`a timer callback of p${t.proc.n} threw: ${String(e)}`);
    }
    return true;
  }

  async #crash(proc: Proc): Promise<void> {
    proc.dead = true;
    this.stats.faults.crash++;
    this.note(`crash p${proc.n}`);
    for (let i = this.timers.length - 1; i >= 0; i--) {
      if (this.timers[i]!.proc === proc) this.timers.splice(i, 1);
    }
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i]!;
      if (p.proc !== proc) continue;
      this.pending.splice(i, 1);
      // A commit in flight when the process died may have reached the store.
      if (p.kind === "commit" && this.rng() < 0.5) {
        this.stats.faults.crashAppliedCommit++;
        await p.run();
      }
    }
    this.startProc();
  }

  #add(proc: Proc, n: number): void {
    const r = this.rng;
    const options: Record<string, unknown> = {};
    if (r() < 0.2) options.delay = Math.floor(r() * 3000);
    if (r() < 0.3) options.priority = Math.floor(r() * 5);
    if (r() < 0.5) options.maxAttempts = 1 + Math.floor(r() * 4);
    if (r() < 0.15) options.timeout = 50 + Math.floor(r() * 2 * this.cfg.leaseMs);
    if (r() < 0.15) options.key = `k${Math.floor(r() * 4)}`;
    if (r() < 0.15) options.removeOnComplete = true;
    // Padding well under the store's value limit (stored inline), just under it (the record
    // outgrows the limit once claimed or failed: the engine moves the payload into chunks then; the
    // two bugs this band found are tests/engine/record_limit_test.ts), or over it (chunks at once).
    const band = r();
    const pad = r() < 0.15
      ? "x".repeat(
        band < 0.35
          ? Math.floor(r() * 2000)
          : band < 0.7
          ? 3300 + Math.floor(r() * 800)
          : 5000 + Math.floor(r() * 7000),
      )
      : undefined;
    this.note(`p${proc.n} add #${n} ${JSON.stringify(options)}`);
    proc.queue!.add(pad === undefined ? { n } : { n, pad }, options).then(
      async (job) => {
        const e = await this.mem.get(ks.job(job.id));
        const stored = e ? decodeRecord(e.value) : null;
        if (options.key !== undefined && stored?.key !== options.key) {
          this.ackError ??=
            `add #${n} with key ${options.key} returned job ${job.id}, which holds ${stored?.key}`;
        }
        this.acked.add(job.id);
        this.stats.acked++;
        this.note(`add #${n} acked ${job.id.slice(-6)}${job.created ? "" : " (deduplicated)"}`);
      },
      (e) => this.note(`add #${n} rejected ${(e as Error).name}`),
    );
  }

  /** Runs the seed. */
  async run(steps: number, quiesceSteps: number): Promise<void> {
    for (let i = 0; i < this.cfg.procs; i++) this.startProc();
    const first = this.procs[0]!;
    first.queue!.schedule(SCHEDULE, { every: SCHEDULE_EVERY, data: { n: -1 } }).then(
      (info) => {
        this.scheduleStart = info.next ?? 0;
        this.note(`schedule set, first at t+${(info.next ?? 0) - T0}`);
      },
      () => {},
    );
    // The first fire time is known before the commit lands: the grid starts a period after now.
    this.scheduleStart = this.now + SCHEDULE_EVERY;
    await drain();
    let added = 0;
    const c = this.cfg;
    for (let s = 0; s < steps; s++) {
      this.stats.steps++;
      // One draw picks the kind of step; each kind has its own band, so none takes another's share.
      const r = this.rng();
      const bands = [0.08, c.pCrash, c.pJump, 0.02, c.pJump, 0.004];
      const [add, crash, jump, cancel, skew, pause] = bands.map((_, i) =>
        bands.slice(0, i + 1).reduce((a, b) => a + b, 0)
      );
      if (r < add) {
        if (added < c.adds) this.#add(this.#pick(this.#alive()), ++added);
        else await this.#stepOnce();
      } else if (r < crash!) await this.#crash(this.#pick(this.#alive()));
      else if (r < jump!) {
        const ms = Math.floor(this.rng() * 3 * c.leaseMs);
        this.now += ms;
        this.stats.faults.clockJump++;
        this.note(`clock jumps ${ms} ms`);
      } else if (r < cancel! && this.acked.size) {
        const id = this.#pick([...this.acked].sort());
        const p = this.#pick(this.#alive());
        this.note(`p${p.n} cancel ${id.slice(-6)}`);
        p.queue!.cancel(id).catch(() => {});
      } else if (r < skew!) {
        // One machine's clock steps (NTP, a skewed host): its leases and due times shift, its
        // timers do not (they run on monotonic time).
        const p = this.#pick(this.#alive());
        p.skew += Math.floor((this.rng() * 2 - 1) * 2 * c.leaseMs);
        this.stats.faults.clockSkew++;
        this.note(`p${p.n} clock skew now ${p.skew} ms`);
      } else if (r < pause!) {
        const p = this.#pick(this.#alive());
        this.stats.faults.pause++;
        this.note(`p${p.n} pause`);
        const pause = { proc: p, settled: false };
        this.pauses.push(pause);
        p.queue!.pause().catch(() => {}).finally(() => (pause.settled = true));
        this.paused = true;
      } else await this.#stepOnce();
      if (this.ackError) this.fail(this.ackError);
      await drain();
    }
    // Quiesce: no more faults; the world runs until every acknowledged add is final.
    this.faultsOn = false;
    this.note("faults off");
    if (this.paused) await this.#resume();
    // The schedule must tick again once the faults stop: past the time they stopped.
    const quietAt = this.now;
    let done = false;
    for (let s = 0; s < quiesceSteps && !done; s++) {
      this.stats.steps++;
      await this.#stepOnce();
      await drain();
      if (s % 25 === 24) {
        const records = await this.checkStore();
        done = [...this.acked].every((id) => this.removed.has(id) || isTerminal(records.get(id)!.state)) &&
          await this.#scheduleBeyond(quietAt);
      }
    }
    const records = await this.checkStore();
    const open = [...this.acked].filter((id) => !this.removed.has(id) && !isTerminal(records.get(id)!.state));
    if (open.length) {
      this.fail(
        `${open.length} acknowledged jobs not final after ${quiesceSteps} quiet steps: ` +
          open.map((id) => `${id.slice(-6)}=${records.get(id)!.state}`).join(", ") +
          ` (paused flag ${(await this.mem.get(ks.paused)) ? "set" : "clear"}; clocks ` +
          this.#alive().map((p) => `p${p.n}${p.skew >= 0 ? "+" : ""}${p.skew}`).join(" ") +
          `; first: ${
            JSON.stringify({ ...records.get(open[0]!)!, history: undefined, payload: undefined })
          })`,
      );
    }
    if (!(await this.#scheduleBeyond(quietAt))) {
      this.fail(`the schedule did not tick past t+${quietAt - T0} in ${quiesceSteps} quiet steps`);
    }
    await this.#checkCounts();
  }

  /** The schedule ticked past `t` (world time; skewed process clocks lag): or it is gone. */
  async #scheduleBeyond(t: number): Promise<boolean> {
    const sched = await this.mem.get(ks.cron(SCHEDULE));
    const next = sched ? JSON.parse(new TextDecoder().decode(sched.value)).next as number | null : null;
    const slowest = Math.min(0, ...this.#alive().map((p) => p.skew));
    return next === null || next > t + slowest;
  }

  /** Resumes the queue (a pause may be in flight): keeps stepping until a resume has landed. */
  async #resume(): Promise<void> {
    // A pause still in flight would land after the resume: let every one settle first.
    for (let s = 0; s < 2000 && this.pauses.some((p) => !p.settled && !p.proc.dead); s++) {
      await this.#stepOnce();
      await drain();
    }
    for (let tries = 0; tries < 20; tries++) {
      const p = this.#pick(this.#alive());
      let done = false;
      p.queue!.resume().then(() => (done = true), () => {});
      await drain();
      for (let s = 0; s < 200 && !done; s++) {
        await this.#stepOnce();
        await drain();
      }
      if (done && !(await this.mem.get(ks.paused))) return;
    }
    this.fail("resume() never landed");
  }

  /** One scheduler step without faults of its own: complete an operation or fire a timer. */
  async #stepOnce(): Promise<void> {
    if (this.pending.length && (this.rng() >= this.cfg.pTimer || !this.timers.length)) {
      await this.#complete(Math.floor(this.rng() * this.pending.length));
    } else if (!this.#fireTimer()) this.fail("deadlock: nothing pending and no timer");
  }

  /** Counts exact when quiescent: a fresh process reads them while nothing else runs. */
  async #checkCounts(): Promise<void> {
    const checker = this.startProc(false);
    let counts: Counts | undefined;
    let error: unknown;
    checker.queue!.counts().then((c) => (counts = c), (e) => (error = e));
    await drain();
    for (let guard = 0; counts === undefined && error === undefined; guard++) {
      const i = this.pending.findIndex((p) => p.proc === checker);
      if (i < 0 || guard > 1000) this.fail("counts() did not finish");
      await this.#complete(i);
      await drain();
    }
    if (error) this.fail(`counts() failed: ${String(error)}`);
    const records = await this.checkStore();
    const want = zeroCounts();
    for (const r of records.values()) want[r.state]++;
    for (const state of Object.keys(want) as JobState[]) {
      if (counts![state] !== want[state]) {
        this.fail(`counts: ${JSON.stringify(counts)} but the records say ${JSON.stringify(want)}`);
      }
    }
  }
}

const SCHEDULE_EVERY = 700;

/** The kinds of keys (their second part: job, ready, cron, meta...) a read covers, for the trace. */
function kinds(keys: readonly KvKey[]): string {
  return [...new Set(keys.map((k) => String(k[1] ?? "")))].join(",");
}

/** What a batch writes, for the trace: "2 job, 1 lease, 1 meta". */
function touched(batch: AtomicBatch | undefined): string {
  const n = new Map<string, number>();
  for (const m of batch?.mutations ?? []) n.set(String(m.key[1]), (n.get(String(m.key[1])) ?? 0) + 1);
  return [...n].map(([k, v]) => `${v} ${k}`).join(", ");
}

/** The job a key belongs to when it is a job record or a lease entry of the queue, else null. */
function jobIdOf(key: KvKey): string | null {
  const own = key[0] === "kvq" && key[2] === QUEUE && key.length === 4;
  return own && (key[1] === "job" || key[1] === "lease") ? key[3] as string : null;
}

/** Seeded stand-ins for the ambient sources of time and randomness, while `fn` runs. */
async function withAmbient<T>(w: World, fn: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  const realRandom = Math.random;
  const c = globalThis.crypto;
  const realGrv = c.getRandomValues;
  const rnd = seededRandom(w.seed ^ 0x5bd1e995);
  Date.now = () => w.now;
  Math.random = rnd;
  Object.defineProperty(c, "getRandomValues", {
    configurable: true,
    writable: true,
    value: <A extends ArrayBufferView | null>(a: A): A => {
      if (a) {
        const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
        for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
      }
      return a;
    },
  });
  try {
    return await fn();
  } finally {
    Date.now = realNow;
    Math.random = realRandom;
    if (Object.prototype.hasOwnProperty.call(c, "getRandomValues")) {
      delete (c as { getRandomValues?: unknown }).getRandomValues;
    }
    if (c.getRandomValues !== realGrv) {
      Object.defineProperty(c, "getRandomValues", { configurable: true, writable: true, value: realGrv });
    }
  }
}

/**
 * Runs one seed of the simulation.
 *
 * @param seed The seed (any 32-bit number): the same seed replays the same run on one runtime.
 * @param options See {@linkcode SimOptions}.
 * @returns What happened, and what broke if anything did.
 *
 * @example Run seed 1
 * ```ts
 * import { runSeed } from "./sim.ts";
 * const r = await runSeed(1, { steps: 100 });
 * console.log(r.ok, r.stats.checks > 0);
 * ```
 */
export async function runSeed(seed: number, options: SimOptions = {}): Promise<SimResult> {
  const w = new World(seed);
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => void unhandled.push(e);
  const proc = (globalThis as {
    process?: {
      on(e: string, f: (x: unknown) => void): void;
      off(e: string, f: (x: unknown) => void): void;
    };
  }).process;
  proc?.on("unhandledRejection", onUnhandled);
  try {
    await withAmbient(w, () => w.run(options.steps ?? DEFAULT_STEPS, options.quiesceSteps ?? 6000));
    await drain();
    if (unhandled.length) w.fail(`unhandled rejection: ${String(unhandled[0])}`);
    return { seed, ok: true, stats: w.stats, digest: w.digest };
  } catch (e) {
    const error = e instanceof SimInvariantError ? e.message : `${(e as Error)?.stack ?? String(e)}`;
    return { seed, ok: false, error, trace: [...w.trace], stats: w.stats, digest: w.digest };
  } finally {
    proc?.off("unhandledRejection", onUnhandled);
    for (const p of w.procs) p.dead = true;
    w.pending.length = 0;
    w.timers.length = 0;
  }
}
