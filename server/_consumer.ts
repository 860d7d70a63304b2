/**
 * Consumers in other processes and languages: `claim` leases jobs and returns each with a lease
 * token; `heartbeat`, `complete`, `fail` and `release` act on a job with that token.
 *
 * A thin layer over the queue's stateless lease API (`Queue.claim`, `heartbeat`, `complete`,
 * `fail`, `release`): the lease lives in the store, not in this process, so a consumer may report
 * to any sidecar on the same store, leases survive a sidecar restart, and a claim can take several
 * jobs in one commit (`limit`). The engine's fencing, payload verification, cancellation and events
 * apply unchanged. The token handed out names the job's queue (so `/jobs/:id/...` needs no lookup),
 * then the engine's lease token, then a 128-bit HMAC tag that makes it unguessable (see
 * `_lease.ts`); it is opaque to consumers.
 *
 * A lease that runs out without a heartbeat is recovered by the healer: claims run it, and so does
 * this server every second for the queues it has handed jobs out of (workers anywhere do too). The
 * attempt counts, the job is claimable again at once (or dead when no attempt remains), and the
 * old token is refused.
 *
 * @module
 */

import { CanceledError, type Job, LeaseLostError, PermanentError, type Queue } from "../mod.ts";
import { HttpError } from "./_errors.ts";
import type { LeaseTags } from "./_lease.ts";

/** How often the healer runs for queues this server hands jobs out of, in ms. */
const HEAL_EVERY_MS = 1000;
/** The lease owner recorded for jobs claimed through the HTTP API. */
const OWNER = "http-consumer";

/** Options of a claim. */
export interface ClaimOptions {
  /** Lease length in ms. */
  leaseMs: number;
  /** How long to wait for a job when none is ready, in ms (0: answer at once). */
  wait: number;
  /** Most jobs to claim. @default 1 */
  limit?: number;
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

function toBase64Url(text: string): string {
  let s = "";
  for (const b of new TextEncoder().encode(text)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): string | null {
  try {
    const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(s, (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
}

/** The leases of remote consumers, served by one server (kept in the store, not here). */
export class Consumers {
  readonly #queue: (name: string) => Queue;
  readonly #tags: LeaseTags;
  readonly #healers = new Map<string, ReturnType<typeof setInterval>>();
  readonly #waiting = new Set<AbortController>();
  #closed = false;

  /**
   * @param queue Resolves a queue name to the server's queue (throws an HTTP error when not served).
   * @param tags Signs and verifies the tags of the tokens handed out.
   */
  constructor(queue: (name: string) => Queue, tags: LeaseTags) {
    this.#queue = queue;
    this.#tags = tags;
  }

  /** Runs the healer of `queue` every second from now on (until `close()`). */
  #heal(queue: Queue): void {
    if (this.#healers.has(queue.name)) return;
    this.#healers.set(
      queue.name,
      setInterval(() => void queue.heal().catch(() => {}), HEAL_EVERY_MS),
    );
  }

  /** Leases up to `limit` jobs of `queue` (none when none came within the wait). */
  async claim(queue: Queue, options: ClaimOptions): Promise<Claimed[]> {
    if (this.#closed) throw new HttpError(503, "ShutdownError", "The server is shutting down");
    this.#heal(queue);
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) ac.abort();
    this.#waiting.add(ac);
    try {
      const got = await queue.claim({
        owner: OWNER,
        leaseMs: options.leaseMs,
        limit: options.limit ?? 1,
        wait: options.wait,
        signal: ac.signal,
      });
      return await Promise.all(got.map(async ({ job, token }) => ({
        job: job as Job,
        token: `${toBase64Url(queue.name)}.${token}.${await this.#tags.tag(queue.name, job.id, token)}`,
        leaseMs: options.leaseMs,
        expiresAt: job.lease!.expiresAt,
      })));
    } finally {
      this.#waiting.delete(ac);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The queue a token names and the engine's lease token in it; a token whose tag does not verify
   * is refused as a lost lease (409) before the engine sees it.
   */
  async #lease(id: string, token: unknown, operation: string): Promise<{ queue: Queue; token: string }> {
    if (typeof token !== "string" || token === "") {
      throw new TypeError(`Cannot ${operation} job ${id}: the body needs the lease "token" from the claim`);
    }
    const parts = token.length <= 1024 ? token.split(".") : [];
    const name = parts.length === 3 && parts[1] !== "" ? fromBase64Url(parts[0]) : null;
    if (name === null || !(await this.#tags.verify(name, id, parts[1], parts[2]))) {
      throw new HttpError(
        409,
        "LeaseLostError",
        `Cannot ${operation} job ${id}: the token is not a lease of this job`,
      );
    }
    return { queue: this.#queue(name), token: parts[1] };
  }

  /**
   * Runs a lease operation; a refused one becomes a 409 that says why the lease ended (the job's
   * state and its last attempt), named `CanceledError` when the job was canceled.
   */
  async #act<X>(id: string, token: unknown, operation: string, act: (q: Queue, t: string) => Promise<X>) {
    const lease = await this.#lease(id, token, operation);
    try {
      return await act(lease.queue, lease.token);
    } catch (err) {
      if (!(err instanceof LeaseLostError)) throw err;
      const job = await lease.queue.getJob(id).catch(() => null);
      const canceled = err.cause instanceof CanceledError || job?.state === "canceled";
      const last = job?.history.at(-1);
      const why = !job
        ? "the job no longer exists"
        : `the job is now ${job.state}${
          last
            ? `; attempt ${last.attempt} ended ${last.outcome}${
              last.error ? ` (${last.error.name}: ${last.error.message})` : ""
            }`
            : ""
        }`;
      throw new HttpError(
        409,
        canceled ? "CanceledError" : "LeaseLostError",
        `Cannot ${operation} job ${id}: its lease ended (${why})`,
      );
    }
  }

  /** Renews a lease (and stores `progress` when given). */
  async heartbeat(id: string, token: unknown, progress?: unknown): Promise<{ expiresAt: number }> {
    const job = await this.#act(
      id,
      token,
      "heartbeat",
      (q, t) => q.heartbeat(id, t, progress === undefined ? {} : { progress }),
    );
    return { expiresAt: job.lease!.expiresAt };
  }

  /** Completes a leased job with `result`. */
  async complete(id: string, token: unknown, result: unknown): Promise<Job> {
    return await this.#act(id, token, "complete", (q, t) => q.complete(id, t, result));
  }

  /** Fails a leased job's attempt (retried unless `retry: false`). */
  async fail(id: string, token: unknown, report: FailureReport): Promise<Job> {
    const message = typeof report.message === "string" && report.message !== ""
      ? report.message
      : "The consumer reported a failure";
    const err = report.retry === false ? new PermanentError(message) : new Error(message);
    if (typeof report.name === "string" && report.name !== "") err.name = report.name;
    err.stack = typeof report.stack === "string" ? report.stack : `${err.name}: ${message}`;
    return await this.#act(
      id,
      token,
      "fail",
      (q, t) => q.fail(id, t, err, { retry: report.retry !== false }),
    );
  }

  /** Gives a leased job back to `ready` without counting the attempt. */
  async release(id: string, token: unknown): Promise<Job> {
    return await this.#act(id, token, "release", (q, t) => q.release(id, t));
  }

  /**
   * Stops: claims waiting for work answer with nothing, later claims are refused, healers stop.
   * Leases stay in the store: their consumers may report to another (or a restarted) server.
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const ac of this.#waiting) ac.abort();
    for (const timer of this.#healers.values()) clearInterval(timer);
    this.#healers.clear();
    return Promise.resolve();
  }
}
