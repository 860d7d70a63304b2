/**
 * Consumers in other processes and languages: `claim` leases one job and returns it with a lease
 * token; `heartbeat`, `complete`, `fail` and `release` act on it with that token.
 *
 * Built on the public API only: each claim starts a worker of concurrency 1 (no maintenance) whose
 * handler parks the job until the remote consumer reports back, and which is closed as soon as it
 * holds its job, so it never claims a second one. So the engine's fencing, timeouts, cancellation,
 * payload verification and events all apply to remote consumers unchanged. The lease token lives in
 * this process's memory: a consumer must report to the server it claimed from; if the server stops,
 * its leases are released (graceful) or expire (crash) and the jobs run again (at-least-once).
 *
 * The consumer's deadline is kept here: when `leaseMs` passes without a heartbeat, result or
 * failure from the consumer, the attempt fails with a `LeaseExpiredError` and is retried by the
 * job's retry policy. (The worker keeps renewing the stored lease meanwhile, so the store's lease
 * only runs out when this process stops, and then the healer of any worker recovers the job.)
 *
 * @module
 */

import {
  type Job,
  type JobContext,
  LeaseLostError,
  PermanentError,
  type Queue,
  type QueueEvent,
  type Worker,
} from "../mod.ts";
import { timingSafeEqualText } from "./_auth.ts";
import { HttpError } from "./_errors.ts";

/** How long a claim without `wait` gives the worker to take a job it saw as ready. */
const CLAIM_GRACE_MS = 2000;
/** How many ended leases are remembered to explain a late heartbeat or result. */
const REMEMBER = 1000;
/** Healer runs from claims, at most this often per queue. */
const HEAL_EVERY_MS = 1000;

/** Options of a claim. */
export interface ClaimOptions {
  /** Lease length in ms. */
  leaseMs: number;
  /** How long to wait for a job when none is ready, in ms (0: answer at once). */
  wait: number;
  /** Aborts the wait (the client went away). */
  signal?: AbortSignal;
}

/** A claimed job. */
export interface Claimed {
  /** The job (state `active`). */
  job: Job;
  /** The lease token: pass it to heartbeat, complete, fail and release. */
  token: string;
  /** The lease length in ms. */
  leaseMs: number;
  /** When the lease expires unless renewed (ms since the epoch). */
  expiresAt: number;
}

/** What a remote consumer reports for a failed attempt. */
export interface FailureReport {
  /** The error's name. @default "Error" */
  name?: string;
  /** The error's message. */
  message: string;
  /** A stack trace or traceback. */
  stack?: string;
  /** `false`: do not retry, the job goes straight to `dead`. @default true */
  retry?: boolean;
}

interface Lease {
  readonly id: string;
  readonly queue: Queue;
  readonly token: string;
  readonly leaseMs: number;
  readonly worker: Worker;
  readonly ctx: JobContext;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  expiresAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  ended: boolean;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_");
}

/** The leases of remote consumers held by one server. */
export class Consumers {
  readonly #leases = new Map<string, Lease>();
  readonly #ended = new Map<string, Error>();
  readonly #workers = new Set<Worker>();
  readonly #healed = new Map<string, number>();
  #closed = false;

  /** Leases currently held. */
  get held(): number {
    return this.#leases.size;
  }

  async #heal(queue: Queue): Promise<void> {
    const now = Date.now();
    if ((this.#healed.get(queue.name) ?? -Infinity) + HEAL_EVERY_MS > now) return;
    this.#healed.set(queue.name, now);
    await queue.heal();
  }

  /** True when a job is ready, or a scheduled or failed one is due. */
  async #maybeAvailable(queue: Queue): Promise<boolean> {
    if (await queue.isPaused()) return false;
    if ((await queue.counts()).ready > 0) return true;
    const now = Date.now();
    for (const state of ["scheduled", "failed"] as const) {
      const first = (await queue.list(state, { limit: 1 })).jobs[0];
      if (first && first.runAt <= now) return true;
    }
    return false;
  }

  /** Leases one job of `queue`, or resolves to `null` when none came within the wait. */
  async claim(queue: Queue, options: ClaimOptions): Promise<Claimed | null> {
    if (this.#closed) throw new HttpError(503, "ShutdownError", "The server is shutting down");
    await this.#heal(queue);
    if (options.signal?.aborted) return null;
    if (options.wait <= 0 && !(await this.#maybeAvailable(queue))) return null;
    const waitMs = Math.max(options.wait, CLAIM_GRACE_MS);
    const { leaseMs } = options;

    return await new Promise<Claimed | null>((settle, fail) => {
      let done = false;
      let recheckTimer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => giveUp();
      const finish = () => {
        done = true;
        clearTimeout(timer);
        clearTimeout(recheckTimer);
        options.signal?.removeEventListener("abort", onAbort);
      };
      // Nothing came (or the client left): stop the worker; a job it claims meanwhile is released
      // without counting the attempt (close with timeout 0 gives running jobs back).
      const giveUp = () => {
        if (done) return;
        finish();
        settle(null);
        void this.#stop(worker, 0);
      };
      const handler = (job: Job, ctx: JobContext): Promise<unknown> =>
        new Promise((resolve, reject) => {
          if (done || this.#closed) {
            // Too late for this claim: wait for the release that close({ timeout: 0 }) makes.
            if (ctx.signal.aborted) reject(ctx.signal.reason);
            else ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
            return;
          }
          finish();
          const lease: Lease = {
            id: job.id,
            queue,
            token: randomToken(),
            leaseMs,
            worker,
            ctx,
            resolve,
            reject,
            expiresAt: Date.now() + leaseMs,
            timer: undefined,
            ended: false,
          };
          this.#leases.set(job.id, lease);
          this.#ended.delete(job.id);
          ctx.signal.addEventListener("abort", () => {
            this.#end(lease, ctx.signal.reason);
            reject(ctx.signal.reason);
          }, { once: true });
          this.#arm(lease);
          settle({ job, token: lease.token, leaseMs, expiresAt: lease.expiresAt });
        });
      let worker: Worker;
      try {
        worker = queue.process(handler, {
          concurrency: 1,
          batchSize: 1,
          leaseMs,
          maintenance: false,
        });
      } catch (err) {
        done = true;
        fail(err);
        return;
      }
      this.#workers.add(worker);
      // The handler runs at the earliest after the worker's first claim commit, so after this line.
      const timer = setTimeout(giveUp, waitMs);
      if (options.wait <= 0) {
        // No wait asked: answer early once nothing is claimable any more (others took the jobs).
        const recheck = async () => {
          if (done) return;
          const more = await this.#maybeAvailable(queue).catch(() => true);
          if (!more) giveUp();
          else if (!done) recheckTimer = setTimeout(recheck, 50);
        };
        recheckTimer = setTimeout(recheck, 50);
      }
      options.signal?.addEventListener("abort", onAbort, { once: true });
      if (options.signal?.aborted) giveUp();
    });
  }

  async #stop(worker: Worker, timeout?: number): Promise<void> {
    try {
      await worker.close(timeout === undefined ? {} : { timeout });
    } finally {
      this.#workers.delete(worker);
    }
  }

  #arm(lease: Lease): void {
    if (lease.timer !== undefined) clearTimeout(lease.timer);
    lease.timer = setTimeout(() => {
      lease.timer = undefined;
      if (lease.ended) return;
      const err = new Error(
        `Lease expired: the consumer sent no heartbeat, result or failure within ${lease.leaseMs} ms`,
      );
      err.name = "LeaseExpiredError";
      this.#end(lease, err);
      lease.reject(err);
    }, Math.max(0, lease.expiresAt - Date.now()));
  }

  /** Forgets a lease (it ended for `why`) and lets its worker finish. */
  #end(lease: Lease, why: unknown): void {
    if (lease.ended) return;
    lease.ended = true;
    if (lease.timer !== undefined) clearTimeout(lease.timer);
    lease.timer = undefined;
    if (this.#leases.get(lease.id) === lease) this.#leases.delete(lease.id);
    const reason = why instanceof Error ? why : new Error(String(why));
    this.#ended.set(lease.id, reason);
    if (this.#ended.size > REMEMBER) this.#ended.delete(this.#ended.keys().next().value!);
    void this.#stop(lease.worker).catch(() => {});
  }

  /** The lease of `id` if `token` matches; else the reason it is gone, as a 409 or 404 error. */
  #lease(id: string, token: unknown, operation: string): Lease {
    if (typeof token !== "string" || token === "") {
      throw new TypeError(`Cannot ${operation} job ${id}: the body needs the lease "token" from the claim`);
    }
    const lease = this.#leases.get(id);
    if (lease && timingSafeEqualText(lease.token, token)) return lease;
    const why = this.#ended.get(id);
    if (!lease && why && why.name !== "ShutdownError" && why.name !== "LeaseLostError") {
      throw new HttpError(
        409,
        why.name === "CanceledError" ? "CanceledError" : "LeaseLostError",
        `Cannot ${operation} job ${id}: its lease ended (${
          why.name === "Error" ? why.message : `${why.name}: ${why.message}`
        })`,
      );
    }
    throw new LeaseLostError(id, operation);
  }

  /** Waits for the worker holding `lease` to record the outcome; rethrows its error (e.g. a lost lease). */
  async #settle(lease: Lease, act: () => void): Promise<Job | null> {
    let failure: unknown;
    const onError = (e: Event) => {
      const ev = e as QueueEvent;
      if (ev.job?.id === lease.id) failure = ev.error;
    };
    lease.queue.addEventListener("error", onError);
    try {
      act();
      await this.#stop(lease.worker);
    } finally {
      lease.queue.removeEventListener("error", onError);
    }
    if (failure !== undefined) throw failure;
    return await lease.queue.getJob(lease.id);
  }

  /** Renews a lease (and stores `progress` when given). */
  async heartbeat(id: string, token: unknown, progress?: unknown): Promise<{ expiresAt: number }> {
    const lease = this.#lease(id, token, "heartbeat");
    try {
      if (progress !== undefined) await lease.ctx.progress(progress);
      else await lease.ctx.heartbeat();
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.#end(lease, err);
        lease.reject(err);
      }
      throw err;
    }
    lease.expiresAt = Date.now() + lease.leaseMs;
    this.#arm(lease);
    return { expiresAt: lease.expiresAt };
  }

  /** Completes a leased job with `result`. */
  async complete(id: string, token: unknown, result: unknown): Promise<Job | null> {
    const lease = this.#lease(id, token, "complete");
    return await this.#settle(lease, () => {
      this.#end(lease, new Error("the consumer already completed it"));
      lease.resolve(result);
    });
  }

  /** Fails a leased job's attempt (retried unless `retry: false`). */
  async fail(id: string, token: unknown, report: FailureReport): Promise<Job | null> {
    const lease = this.#lease(id, token, "fail");
    const message = typeof report.message === "string" && report.message !== ""
      ? report.message
      : "The consumer reported a failure";
    const err = report.retry === false ? new PermanentError(message) : new Error(message);
    if (typeof report.name === "string" && report.name !== "") err.name = report.name;
    err.stack = typeof report.stack === "string" ? report.stack : `${err.name}: ${message}`;
    if (report.retry === false) (err as Error & { retry?: boolean }).retry = false;
    return await this.#settle(lease, () => {
      this.#end(lease, new Error("the consumer already reported a failure"));
      lease.reject(err);
    });
  }

  /** Gives a leased job back to `ready` without counting the attempt. */
  async release(id: string, token: unknown): Promise<Job | null> {
    const lease = this.#lease(id, token, "release");
    lease.ended = true;
    if (lease.timer !== undefined) clearTimeout(lease.timer);
    this.#leases.delete(id);
    // close({ timeout: 0 }) aborts the parked handler with a ShutdownError and releases the job.
    await this.#stop(lease.worker, 0);
    return await lease.queue.getJob(id);
  }

  /** Releases every lease and stops every claim (jobs go back to `ready`, attempts not counted). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const lease of this.#leases.values()) {
      lease.ended = true;
      if (lease.timer !== undefined) clearTimeout(lease.timer);
    }
    this.#leases.clear();
    await Promise.all([...this.#workers].map((w) => this.#stop(w, 0).catch(() => {})));
  }
}
