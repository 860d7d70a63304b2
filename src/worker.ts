/**
 * The worker: claims jobs in checked batches, runs the handler (through the queue's middleware)
 * with a lease it renews automatically, and records the outcome with fenced writes. It also runs
 * maintenance: delayed promotion, the healer, the scheduler, delta folding and the cleaner.
 *
 * @module
 */

import { type Engine, engines, type Held } from "./engine.ts";
import {
  CanceledError,
  LeaseLostError,
  LimitError,
  PermanentError,
  ShutdownError,
  TimeoutError,
} from "./errors.ts";
import type { Handler, JobContext, WorkerOptions } from "./types.ts";
import type { QueueSignal } from "./notifier.ts";
import type { KvKey } from "./kv.ts";
import type { Queue } from "./queue.ts";

/** The earlier of two due times (`null`: none). */
function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

interface Run<T> {
  readonly held: Held<T>;
  readonly ac: AbortController;
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
  readonly #e: Engine<T, R>;
  readonly #handler: Handler<T, R>;
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

  /**
   * Starts a worker. Prefer `queue.process(handler, options)`.
   *
   * @param queue The queue to consume.
   * @param handler The job handler.
   * @param options See {@linkcode WorkerOptions}.
   */
  constructor(queue: Queue<T, R>, handler: Handler<T, R>, options: WorkerOptions = {}) {
    const e = engines.get(queue) as Engine<T, R> | undefined;
    if (!e) throw new TypeError("Cannot start worker: expected a Queue");
    if (typeof handler !== "function") {
      throw new TypeError("Cannot start worker: the handler must be a function");
    }
    this.#e = e;
    this.#handler = handler;
    const int = (what: string, v: number, min: number) => {
      if (
        !Number.isFinite(v) || v < min ||
        (what !== "leaseMs" && !Number.isInteger(v) && what !== "heartbeatInterval")
      ) {
        throw new RangeError(`Invalid worker option ${what}: expected a number >= ${min}, got ${v}`);
      }
      return v;
    };
    this.concurrency = int("concurrency", options.concurrency ?? 1, 1);
    this.#leaseMs = int("leaseMs", options.leaseMs ?? 30_000, 1);
    this.#heartbeatMs = int("heartbeatInterval", options.heartbeatInterval ?? this.#leaseMs / 3, 1);
    if (this.#heartbeatMs >= this.#leaseMs) {
      throw new RangeError(
        `Invalid worker option heartbeatInterval: ${this.#heartbeatMs} ms must be shorter than leaseMs (${this.#leaseMs} ms)`,
      );
    }
    this.#batch = int("batchSize", options.batchSize ?? Math.min(this.concurrency, 100), 1);
    this.#poll = int("pollInterval", options.pollInterval ?? e.pollInterval, 1);
    this.#maintenance = options.maintenance ?? true;
    this.#cleanEvery = int("cleanInterval", options.cleanInterval ?? 60_000, 1);
    this.id = `worker-${e.ids(e.clock.now())}`;
    this.#off = e.subscribe((s) => this.#onSignal(s));
    const info = e.kv.info;
    if (info.watch && info.scope !== "process" && typeof e.kv.watch === "function") this.#startWatch();
    e.workers.add(this);
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
        for await (const _ of this.#e.kv.watch!(prefix, ac.signal)) {
          if (delayed) this.#nextDelayed = -Infinity;
          this.#wake();
        }
      } catch (err) {
        if (!ac.signal.aborted) this.#e.emit("error", undefined, err);
      }
    };
    void follow(this.#e.ks.indexPrefix("ready"), false);
    void follow(this.#e.ks.indexPrefix("scheduled"), true);
  }

  #wake(): void {
    if (this.#wakeUp) {
      const r = this.#wakeUp;
      this.#wakeUp = null;
      if (this.#timer !== undefined) this.#e.clock.clearTimer(this.#timer);
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
    const now = this.#e.clock.now();
    let due = now + this.#poll;
    if (this.#maintenance) due = Math.min(due, this.#nextMaintenance);
    for (
      const t of [
        this.#nextDelayed,
        this.#maintenance ? this.#nextSchedule : null,
        this.#maintenance ? this.#nextExpiry : null,
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
      this.#timer = this.#e.clock.setTimer(() => {
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
        this.#e.emit("error", undefined, err);
        this.#more = false;
        this.#nextMaintenance = this.#e.clock.now() + this.#poll;
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
    const e = this.#e;
    const clock = e.clock;
    if (clock.now() >= this.#nextMaintenance) {
      if (this.#maintenance) {
        await e.heal();
        this.#nextSchedule = await this.#readDue(() => e.runSchedules());
        await e.committer.foldDeltas();
        if (e.retention && clock.now() >= this.#nextClean) {
          this.#nextClean = clock.now() + this.#cleanEvery;
          await e.applyRetention();
        }
        this.#nextExpiry = await e.nextExpiry();
      }
      this.#nextDelayed = -Infinity;
      const seq = this.#pauseSeq;
      this.#setPaused(await e.isPaused(), seq);
      // The next maintenance is a poll interval after this one ended, not after it began.
      this.#nextMaintenance = clock.now() + this.#poll;
      this.#progress = true;
    }
    if (this.#maintenance && this.#nextSchedule !== null && this.#nextSchedule <= clock.now()) {
      this.#nextSchedule = await this.#readDue(() => e.runSchedules());
      this.#progress = true;
    }
    if (this.#maintenance && this.#nextExpiry !== null && this.#nextExpiry <= clock.now()) {
      if (await e.heal()) this.#progress = true;
      this.#nextExpiry = await e.nextExpiry();
    }
    if (this.#nextDelayed !== null && this.#nextDelayed <= clock.now()) {
      if (await e.promote()) this.#progress = true;
      this.#nextDelayed = await this.#readDue(() => e.nextDelayed());
    }
    const free = this.concurrency - this.#busy;
    if (free > 0 && !this.#paused && !this.#closing) {
      const want = Math.min(free, this.#batch);
      const seq = this.#pauseSeq;
      const { held, paused, contended } = await e.claim(want, this.id, this.#leaseMs);
      this.#setPaused(paused, seq);
      for (const h of held) this.#start(h);
      if (held.length) this.#progress = true;
      // A full batch, or jobs lost to another worker: there may be more to claim right away.
      this.#more = (held.length === want || contended) && this.#busy < this.concurrency;
    }
  }

  #start(held: Held<T>): void {
    const ac = new AbortController();
    held.onCancel = () => {
      if (!ac.signal.aborted) ac.abort(new CanceledError(held.record.id));
    };
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
    run.done = this.#execute(run, free).finally(() => {
      free();
      this.#runs.delete(held.record.id);
    });
  }

  async #execute(run: Run<T>, free: () => void): Promise<void> {
    const e = this.#e;
    const { held, ac } = run;
    const clock = e.clock;
    const id = held.record.id;
    let settled = false;
    let hbTimer: unknown;
    const beat = (delay: number) => {
      hbTimer = clock.setTimer(async () => {
        hbTimer = undefined;
        // The lease runs from this heartbeat's write, so the next one is due an interval after it
        // began, however long the store took to answer.
        const began = clock.now();
        try {
          await e.heartbeat(held, this.#leaseMs);
        } catch (err) {
          if (err instanceof LeaseLostError) {
            if (!ac.signal.aborted) ac.abort(err);
            return;
          }
          e.emit("error", e.view(held.record, held.versionstamp, held.data), err);
        }
        if (!settled) beat(began + this.#heartbeatMs - clock.now());
      }, Math.max(0, delay));
    };
    beat(this.#heartbeatMs);
    const timeout = held.record.timeout;
    const toTimer = timeout === undefined ? undefined : clock.setTimer(() => {
      if (!ac.signal.aborted) ac.abort(new TimeoutError(`Job ${id} timed out`, timeout));
    }, timeout);
    const aborted = new Promise<never>((_, reject) => {
      ac.signal.addEventListener("abort", () => reject(ac.signal.reason), { once: true });
    });
    aborted.catch(() => {});
    let outcome: { ok: true; value: R } | { ok: false; error: unknown };
    try {
      const bad = await e.verify(held);
      if (bad) outcome = { ok: false, error: bad };
      else {
        const job = e.view(held.record, held.versionstamp, held.data);
        const ctx: JobContext = {
          signal: ac.signal,
          attempt: held.record.attempt,
          heartbeat: async () => void await e.heartbeat(held, this.#leaseMs),
          progress: async (value: unknown) => void await e.progress(held, value, this.#leaseMs),
        };
        const mws = e.middleware;
        const chain = (i: number): Promise<R> =>
          i < mws.length
            ? Promise.resolve().then(() => mws[i](job, () => chain(i + 1), ctx))
            : Promise.resolve().then(() => this.#handler(job, ctx));
        const value = await Promise.race([chain(0), aborted]);
        outcome = { ok: true, value };
      }
    } catch (err) {
      outcome = { ok: false, error: err };
    } finally {
      settled = true;
      if (hbTimer !== undefined) clock.clearTimer(hbTimer);
      if (toTimer !== undefined) clock.clearTimer(toTimer);
      // The handler is done: its slot can take the next job while the outcome is written.
      free();
    }
    const reason = ac.signal.aborted ? ac.signal.reason : undefined;
    if (reason instanceof ShutdownError) return; // close() gives the job back
    try {
      if (reason instanceof LeaseLostError) throw reason;
      if (outcome.ok) {
        try {
          await e.complete(held, outcome.value);
        } catch (err) {
          if (!(err instanceof LimitError || err instanceof TypeError)) throw err;
          await e.fail(
            held,
            new PermanentError(`Cannot store the result of job ${id}: ${err.message}`, { cause: err }),
          );
        }
      } else {
        await e.fail(
          held,
          reason instanceof TimeoutError || reason instanceof CanceledError ? reason : outcome.error,
        );
      }
    } catch (err) {
      // A stale worker (LeaseLostError) changed nothing; report it and move on.
      e.emit("error", e.view(held.record, held.versionstamp, held.data), err);
    }
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
    const clock = this.#e.clock;
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
      for (const r of left) if (!r.ac.signal.aborted) r.ac.abort(new ShutdownError());
      await Promise.all(left.map(async (r) => {
        try {
          await this.#e.release(r.held);
        } catch (err) {
          if (!(err instanceof LeaseLostError)) this.#e.emit("error", undefined, err);
        }
      }));
    }
    await all();
    this.#e.workers.delete(this);
  }
}
