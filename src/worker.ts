/**
 * The worker: the loop only. It claims jobs in checked batches (lease.ts), runs each through the
 * executor (executor.ts), and decides when maintenance is due, which it runs through `runDue`
 * (maintenance/run_due.ts): delayed promotion, the healer, the schedule enqueuer, the delta fold
 * and the cleaner.
 *
 * @module
 */

import { CanceledError, LeaseLostError, ShutdownError } from "./errors.ts";
import { contextOf, type QueueContext } from "./context.ts";
import { isPaused } from "./admin.ts";
import { claim, type Held, release } from "./lease.ts";
import { execute, type ExecuteOptions, RunAbort } from "./executor.ts";
import { nextDelayed } from "./maintenance/promoter.ts";
import { nextExpiry } from "./maintenance/healer.ts";
import { runDue } from "./maintenance/run_due.ts";
import { TimerWheel } from "./timer_wheel.ts";
import type { BatchHandler, Handler, WorkerOptions } from "./types.ts";
import { batching, batchOptions } from "./batch.ts";
import type { QueueSignal } from "./notifier.ts";
import type { KvKey } from "./kv.ts";
import type { Queue } from "./queue.ts";

/** The earlier of two due times (`null`: none). */
function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

interface Run<T> {
  readonly held: Held<T>;
  readonly ac: RunAbort;
  done: Promise<void>;
}

/**
 * A running consumer of one queue, created by `queue.process(handler, options)`.
 *
 * @typeParam T The payload type.
 * @typeParam R The handler's result type.
 *
 * @example Process jobs, then shut down gracefully
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { Queue } from "./queue.ts";
 * const queue = new Queue<{ to: string }>(new MemoryKv(), "mail");
 * const worker = queue.process(async (job) => `sent to ${job.data.to}`, { concurrency: 4 });
 * const job = await queue.add({ to: "a@example.com" });
 * console.log(await queue.result(job.id)); // "sent to a@example.com"
 * await worker.close({ timeout: 5_000 });
 * ```
 */
export class Worker<T = unknown, R = unknown> {
  /** This worker's id (the lease owner recorded in jobs). */
  readonly id: string;
  /** Jobs run at once. */
  readonly concurrency: number;
  readonly #ctx: QueueContext<T, R>;
  readonly #exec: ExecuteOptions<T, R>;
  readonly #leaseMs: number;
  readonly #heartbeatMs: number;
  readonly #batch: number;
  readonly #poll: number;
  readonly #maintenance: boolean;
  readonly #cleanEvery: number;
  readonly #runs = new Map<string, Run<T>>();
  /** Handlers running now (a run's outcome write may still be in flight after its handler ended). */
  #busy = 0;
  #closing = false;
  #closePromise: Promise<void> | null = null;
  #loop: Promise<void>;
  #wakeUp: (() => void) | null = null;
  #dirty = false;
  /** Rounds in a row that found something due but moved nothing (see `#idle`). */
  #stuck = 0;
  /** The earliest due time seen by the last `#idle` (a due time that moves is not stuck). */
  #lastDue = NaN;
  /** Whether the last round changed anything (ran maintenance, promoted, healed, claimed). */
  #progress = false;
  /** Reads of due times in flight: a `delayed` signal during one is merged into its result. */
  readonly #reads = new Set<{ at: number | null }>();
  /** Bumped by every `paused` signal, so a pause flag read before the signal does not win. */
  #pauseSeq = 0;
  #timer: unknown = undefined;
  #off: () => void;
  #watch: AbortController | null = null;
  #paused = false;
  #more = false;
  #nextMaintenance = -Infinity;
  #nextClean = -Infinity;
  #nextDelayed: number | null = -Infinity;
  #nextSchedule: number | null = null;
  #nextExpiry: number | null = null;
  /** When the rate limit's next token is due (after a claim found the bucket empty). */
  #nextToken: number | null = null;

  /**
   * Starts a worker. Prefer `queue.process(handler, options)`.
   *
   * @param queue The queue to consume.
   * @param handler The job handler.
   * @param options See {@linkcode WorkerOptions}.
   */
  constructor(queue: Queue<T, R>, handler: Handler<T, R>, options: WorkerOptions = {}) {
    const e = contextOf<T, R>(queue);
    if (!e) throw new TypeError("Cannot start worker: expected a Queue");
    if (typeof handler !== "function") {
      throw new TypeError("Cannot start worker: the handler must be a function");
    }
    this.#ctx = e;
    const int = (what: string, v: number, min: number) => {
      if (
        !Number.isFinite(v) || v < min ||
        (what !== "leaseMs" && !Number.isInteger(v) && what !== "heartbeatInterval")
      ) {
        throw new RangeError(`Invalid worker option ${what}: expected a number >= ${min}, got ${v}`);
      }
      return v;
    };
    const batch = options.batch === undefined ? undefined : batchOptions(options.batch);
    this.concurrency = int("concurrency", options.concurrency ?? batch?.size ?? 1, 1);
    this.#leaseMs = int("leaseMs", options.leaseMs ?? 30_000, 1);
    this.#heartbeatMs = int("heartbeatInterval", options.heartbeatInterval ?? this.#leaseMs / 3, 1);
    if (this.#heartbeatMs >= this.#leaseMs) {
      throw new RangeError(
        `Invalid worker option heartbeatInterval: ${this.#heartbeatMs} ms must be shorter than leaseMs (${this.#leaseMs} ms)`,
      );
    }
    this.#batch = int("batchSize", options.batchSize ?? Math.min(this.concurrency, 256), 1);
    this.#poll = int("pollInterval", options.pollInterval ?? e.settings.pollInterval, 1);
    this.#maintenance = options.maintenance ?? true;
    this.#cleanEvery = int("cleanInterval", options.cleanInterval ?? 60_000, 1);
    this.id = `worker-${e.ids(e.clock.now())}`;
    this.#off = e.subscribe((s) => this.#onSignal(s));
    const info = e.kv.info;
    if (info.watch && info.scope !== "process" && typeof e.kv.watch === "function") this.#startWatch();
    e.workers.add(this);
    // One timer for every running job's heartbeats and timeout, not two system timers per job.
    const wheel = new TimerWheel(e.clock);
    // A batch handler runs behind a collector: each job still runs, and ends, on its own.
    const run = batch ? batching(handler as unknown as BatchHandler<T, R>, batch, e.clock) : handler;
    this.#exec = { handler: run, leaseMs: this.#leaseMs, heartbeatMs: this.#heartbeatMs, wheel };
    this.#loop = this.#run();
  }

  /** Handlers running now. */
  get running(): number {
    return this.#busy;
  }

  /** True once `close()` was called. */
  get closing(): boolean {
    return this.#closing;
  }

  #onSignal(s: QueueSignal): void {
    switch (s.type) {
      case "ready":
        if (this.#busy < this.concurrency) this.#wake();
        break;
      case "delayed":
        this.#nextDelayed = earliest(this.#nextDelayed, s.at);
        this.#nextSchedule = earliest(this.#nextSchedule, s.at);
        for (const r of this.#reads) r.at = earliest(r.at, s.at);
        this.#wake();
        break;
      case "cancel":
        this.#runs.get(s.id)?.held.onCancel?.();
        break;
      case "paused":
        this.#pauseSeq++;
        this.#paused = s.paused;
        if (!s.paused) this.#wake();
        break;
    }
  }

  #startWatch(): void {
    const ac = this.#watch = new AbortController();
    const follow = async (prefix: KvKey, delayed: boolean) => {
      try {
        for await (const _ of this.#ctx.kv.watch!(prefix, ac.signal)) {
          if (delayed) this.#nextDelayed = -Infinity;
          this.#wake();
        }
      } catch (err) {
        if (!ac.signal.aborted) this.#ctx.emit("error", undefined, err);
      }
    };
    void follow(this.#ctx.ks.indexPrefix("ready"), false);
    void follow(this.#ctx.ks.indexPrefix("scheduled"), true);
  }

  #wake(): void {
    if (this.#wakeUp) {
      const r = this.#wakeUp;
      this.#wakeUp = null;
      if (this.#timer !== undefined) this.#ctx.clock.clearTimer(this.#timer);
      this.#timer = undefined;
      r();
    } else this.#dirty = true;
  }

  /**
   * Waits until the next due time (maintenance, a delayed job, a schedule tick, a lease expiry) or a
   * wake-up. When something is already due (time moved on while the last round's I/O ran), it goes
   * round again at once, never through a timer: a round that took longer than the time to the next
   * due item must not sleep a poll interval. Only a due item that stays due while rounds move
   * nothing (a commit that keeps failing) falls back to the poll interval after a few rounds, so
   * the loop cannot spin.
   */
  #idle(): Promise<void> {
    if (this.#dirty) {
      this.#dirty = false;
      return Promise.resolve();
    }
    const now = this.#ctx.clock.now();
    let due = now + this.#poll;
    if (this.#maintenance) due = Math.min(due, this.#nextMaintenance);
    for (
      const t of [
        this.#nextDelayed,
        this.#maintenance ? this.#nextSchedule : null,
        this.#maintenance ? this.#nextExpiry : null,
        // A token matters only to a worker with a free slot to claim for.
        this.#busy < this.concurrency ? this.#nextToken : null,
      ]
    ) {
      if (t !== null) due = Math.min(due, t);
    }
    let wait = due - now;
    const moved = this.#progress || due !== this.#lastDue;
    this.#progress = false;
    this.#lastDue = due;
    if (wait <= 0) {
      if (moved) this.#stuck = 0;
      if (this.#stuck++ < 3) return Promise.resolve();
      wait = this.#poll;
    }
    this.#stuck = 0;
    return new Promise<void>((resolve) => {
      this.#wakeUp = resolve;
      this.#timer = this.#ctx.clock.setTimer(() => {
        this.#timer = undefined;
        this.#wake();
      }, wait);
    });
  }

  async #run(): Promise<void> {
    await Promise.resolve();
    while (!this.#closing) {
      try {
        await this.#tick();
      } catch (err) {
        if (this.#closing) break;
        this.#ctx.emit("error", undefined, err);
        this.#more = false;
        this.#nextMaintenance = this.#ctx.clock.now() + this.#poll;
        // A failing store: wait a poll interval before the next round (unless woken).
        this.#progress = false;
        this.#stuck = 3;
      }
      if (this.#closing) break;
      if (this.#more) {
        this.#more = false;
        continue;
      }
      await this.#idle();
    }
  }

  /**
   * Reads a due time. A `delayed` signal that arrives while the read is in flight (a job failed or
   * was scheduled meanwhile, and the read may have missed its commit) is merged in, not lost.
   */
  async #readDue(read: () => Promise<number | null>): Promise<number | null> {
    const pending = { at: null as number | null };
    this.#reads.add(pending);
    try {
      return earliest(await read(), pending.at);
    } finally {
      this.#reads.delete(pending);
    }
  }

  /** Sets the pause flag from a read, unless a `paused` signal came while it was in flight. */
  #setPaused(paused: boolean, seq: number): void {
    if (seq === this.#pauseSeq) this.#paused = paused;
  }

  /** One round. Each decision reads the clock afresh: time moves while the store answers. */
  async #tick(): Promise<void> {
    const ctx = this.#ctx;
    const clock = ctx.clock;
    const schedules = async (work: Parameters<typeof runDue>[2]) =>
      (await runDue(ctx, clock.now(), work)).nextSchedule;
    if (clock.now() >= this.#nextMaintenance) {
      if (this.#maintenance) {
        await runDue(ctx, clock.now(), { heal: true });
        const clean = ctx.settings.retention !== undefined && clock.now() >= this.#nextClean;
        if (clean) this.#nextClean = clock.now() + this.#cleanEvery;
        this.#nextSchedule = await this.#readDue(() =>
          schedules({ schedules: true, fold: true, retention: clean })
        );
        this.#nextExpiry = await nextExpiry(ctx);
      }
      this.#nextDelayed = -Infinity;
      const seq = this.#pauseSeq;
      this.#setPaused(await isPaused(ctx), seq);
      // The next maintenance is a poll interval after this one ended, not after it began.
      this.#nextMaintenance = clock.now() + this.#poll;
      this.#progress = true;
    }
    if (this.#maintenance && this.#nextSchedule !== null && this.#nextSchedule <= clock.now()) {
      this.#nextSchedule = await this.#readDue(() => schedules({ schedules: true }));
      this.#progress = true;
    }
    if (this.#maintenance && this.#nextExpiry !== null && this.#nextExpiry <= clock.now()) {
      if ((await runDue(ctx, clock.now(), { heal: true })).healed) this.#progress = true;
      this.#nextExpiry = await nextExpiry(ctx);
    }
    if (this.#nextDelayed !== null && this.#nextDelayed <= clock.now()) {
      if ((await runDue(ctx, clock.now(), { promote: true })).promoted) this.#progress = true;
      this.#nextDelayed = await this.#readDue(() => nextDelayed(ctx));
    }
    const free = this.concurrency - this.#busy;
    if (free > 0 && !this.#paused && !this.#closing) {
      const want = Math.min(free, this.#batch);
      const seq = this.#pauseSeq;
      const { held, paused, contended, retryAt } = await claim(ctx, want, this.id, this.#leaseMs);
      this.#setPaused(paused, seq);
      this.#nextToken = retryAt ?? null;
      for (const h of held) this.#start(h);
      if (held.length) this.#progress = true;
      // A full batch, or jobs lost to another worker: there may be more to claim right away.
      this.#more = (held.length === want || contended) && this.#busy < this.concurrency;
    }
  }

  #start(held: Held<T>): void {
    const ac = new RunAbort();
    held.onCancel = () => ac.abort(new CanceledError(held.record.id));
    const run: Run<T> = { held, ac, done: Promise.resolve() };
    this.#runs.set(held.record.id, run);
    this.#busy++;
    let freed = false;
    const free = () => {
      if (freed) return;
      freed = true;
      this.#busy--;
      this.#wake();
    };
    run.done = execute(this.#ctx, held, ac, this.#exec, free).finally(() => {
      free();
      this.#runs.delete(held.record.id);
    });
  }

  /**
   * Stops the worker: stops claiming, waits for running jobs; after `timeout` ms, aborts the rest
   * (their signal's reason is a `ShutdownError`) and returns them to `ready` without counting the
   * attempt. Resolves once every job is settled. Calling it again returns the same promise.
   *
   * @param options `timeout`: how long to wait for running jobs, in ms. @default Infinity
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    this.#closePromise ??= this.#close(options.timeout ?? Infinity);
    return this.#closePromise;
  }

  async #close(timeout: number): Promise<void> {
    this.#closing = true;
    const clock = this.#ctx.clock;
    // The timeout runs from the call, not from when the loop's last round (its I/O) finished.
    let t: unknown;
    const expired = timeout > 0 && timeout !== Infinity
      ? new Promise<boolean>((r) => (t = clock.setTimer(() => r(true), timeout)))
      : null;
    this.#wake();
    await this.#loop;
    this.#off();
    this.#watch?.abort();
    if (this.#timer !== undefined) clock.clearTimer(this.#timer);
    const all = () => Promise.all([...this.#runs.values()].map((r) => r.done)).then(() => false);
    let timedOut = false;
    if (this.#runs.size && timeout <= 0) timedOut = true;
    else if (this.#runs.size && expired) timedOut = await Promise.race([all(), expired]);
    if (t !== undefined) clock.clearTimer(t);
    if (timedOut) {
      const left = [...this.#runs.values()];
      for (const r of left) r.ac.abort(new ShutdownError());
      await Promise.all(left.map(async (r) => {
        try {
          await release(this.#ctx, r.held);
        } catch (err) {
          if (!(err instanceof LeaseLostError)) this.#ctx.emit("error", undefined, err);
        }
      }));
    }
    await all();
    this.#ctx.workers.delete(this);
  }
}
