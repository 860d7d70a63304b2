/**
 * The executor: runs one held job — verifies its payload, calls the handler through the queue's
 * middleware with a lease it renews, enforces the job's timeout, aborts on cancel, lease loss or
 * shutdown — and records the outcome with a fenced write (complete or fail).
 *
 * @module
 */

import { canonicalBytes } from "./payload.ts";
import { blobSignedBytes, isBlobRef, loadBlob, valueStream } from "./blobs.ts";
import {
  CanceledError,
  CompletionNotCommittedError,
  IntegrityError,
  LeaseLostError,
  ShutdownError,
  TimeoutError,
} from "./errors.ts";
import type { QueueContext } from "./context.ts";
import { view } from "./job_store.ts";
import { complete, completeIn, fail, heartbeat, type Held, progress } from "./lease.ts";
import { signedBytes } from "./producer.ts";
import type { TimerWheel, WheelEntry } from "./timer_wheel.ts";
import type { Handler, JobContext } from "./types.ts";
import type { AtomicOp } from "./kv.ts";

/** Verifies a held job's payload signature; `null` when fine, else the error. */
export async function verify<T, R>(ctx: QueueContext<T, R>, held: Held<T>): Promise<IntegrityError | null> {
  if (held.corrupt) return held.corrupt;
  if (!ctx.signer) return null;
  const id = held.record.id;
  const sig = held.record.signature;
  if (!sig) return new IntegrityError(id, "the payload has no signature");
  let bytes: Uint8Array;
  try {
    const ref = held.record.payload;
    bytes = isBlobRef(ref) // blob hook: a blob payload is signed by its checksum (src/blobs.ts)
      ? blobSignedBytes(ref)
      : held.data instanceof Uint8Array
      ? held.data
      : canonicalBytes({ json: held.data });
  } catch (e) {
    return new IntegrityError(id, "the payload cannot be read", { cause: e });
  }
  const ok = await ctx.signer.verify(signedBytes(id, bytes), sig);
  return ok ? null : new IntegrityError(id, "the payload signature does not match");
}

/**
 * A run's abort (cancel, lease loss, timeout, shutdown): aborts the handler's signal and rejects the
 * race the executor waits on, once, with the same reason — no per-job event listener needed. The
 * `AbortController` is made only when the signal is first read or the run aborts (most handlers
 * never look at it).
 */
export class RunAbort {
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;
  #reject: ((reason: unknown) => void) | undefined;

  /** The signal the handler sees. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether the run was aborted. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why the run was aborted (`undefined` while it was not). */
  get reason(): unknown {
    return this.#reason;
  }

  /** Settles like `work`, or rejects with the abort reason once aborted (whichever comes first). */
  race<V>(work: Promise<V>): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      if (this.#aborted) return reject(this.#reason);
      this.#reject = reject;
      work.then(resolve, reject);
    });
  }

  /** Aborts with `reason` (a second call does nothing). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#reject?.(reason);
  }
}

/** How a worker runs its jobs. */
export interface ExecuteOptions<T, R> {
  /** The handler. */
  readonly handler: Handler<T, R>;
  /** The lease length, in ms. */
  readonly leaseMs: number;
  /** How often the lease is renewed, in ms. */
  readonly heartbeatMs: number;
  /** The worker's shared timer for heartbeats and timeouts. */
  readonly wheel: TimerWheel;
}

/**
 * Runs one held job to its outcome. `ac` aborts the handler (cancel, lease loss, shutdown);
 * `free` is called once the handler is done (its slot may take the next job while the outcome is
 * written). A `ShutdownError` abort writes nothing (the worker releases the job).
 */
export async function execute<T, R>(
  ctx: QueueContext<T, R>,
  held: Held<T>,
  ac: RunAbort,
  o: ExecuteOptions<T, R>,
  free: () => void,
): Promise<void> {
  const clock = ctx.clock;
  const wheel = o.wheel;
  const id = held.record.id;
  let settled = false;
  let hbTimer: WheelEntry | undefined;
  const beat = async () => {
    hbTimer = undefined;
    // The lease runs from this heartbeat's write, so the next one is due an interval after it
    // began, however long the store took to answer.
    const began = clock.now();
    try {
      await heartbeat(ctx, held, o.leaseMs);
    } catch (err) {
      if (err instanceof LeaseLostError) {
        ac.abort(err);
        return;
      }
      ctx.emit("error", view<T, R>(held.record, held.versionstamp, held.data), err);
    }
    if (!settled) hbTimer = wheel.add(beat, began + o.heartbeatMs - clock.now());
  };
  hbTimer = wheel.add(beat, o.heartbeatMs);
  const timeout = held.record.timeout;
  const toTimer = timeout === undefined ? undefined : wheel.add(() => {
    ac.abort(new TimeoutError(`Job ${id} timed out`, timeout));
  }, timeout);
  let outcome: { ok: true; value: R } | { ok: false; error: unknown };
  try {
    // Without a signing key there is nothing to wait for: no promise, no microtask turn.
    const bad = held.corrupt ?? (ctx.signer ? await verify(ctx, held) : null);
    if (bad) outcome = { ok: false, error: bad };
    else {
      const ref = held.record.payload; // blob hook: read and verify a blob payload (src/blobs.ts)
      const data = isBlobRef(ref) ? await loadBlob(ctx, id, ref) as T : held.data;
      const job = view<T, R>(held.record, held.versionstamp, data);
      const jc: JobContext = {
        get signal() {
          return ac.signal;
        },
        attempt: held.record.attempt,
        heartbeat: async () => void await heartbeat(ctx, held, o.leaseMs),
        progress: async (value: unknown) => void await progress(ctx, held, value, o.leaseMs),
        stream: () => valueStream(ctx, id, ref, data),
        complete: (result: unknown, options: { atomic: AtomicOp }) => {
          if (options === null || typeof options !== "object") {
            throw new TypeError(`Cannot complete job ${id}: expected options { atomic }`);
          }
          completeIn(ctx, held, result, options.atomic);
        },
      };
      const mws = ctx.middleware;
      const chain = (i: number): Promise<R> =>
        i < mws.length
          ? Promise.resolve().then(() => mws[i](job, () => chain(i + 1), jc))
          : Promise.resolve().then(() => o.handler(job, jc));
      const value = await ac.race(chain(0));
      outcome = { ok: true, value };
    }
  } catch (err) {
    outcome = { ok: false, error: err };
  } finally {
    settled = true;
    if (hbTimer !== undefined) wheel.cancel(hbTimer);
    if (toTimer !== undefined) wheel.cancel(toTimer);
    free();
  }
  const reason = ac.aborted ? ac.reason : undefined;
  const tx = held.tx;
  if (tx?.state === "committed") {
    // The handler's own op completed the job: nothing more to write, whatever came after.
    if (!outcome.ok) ctx.emit("error", view<T, R>(held.record, held.versionstamp, held.data), outcome.error);
    return;
  }
  if (reason instanceof ShutdownError) return; // close() gives the job back
  if (tx && outcome.ok) {
    // Staged in an op that did not commit: neither its writes nor the completion happened.
    const why = tx.why ?? "was not committed before the handler returned";
    outcome = { ok: false, error: new CompletionNotCommittedError(id, why, { cause: tx.cause }) };
  }
  try {
    if (reason instanceof LeaseLostError) throw reason;
    if (outcome.ok) await complete(ctx, held, outcome.value, "fail");
    else {
      await fail(
        ctx,
        held,
        reason instanceof TimeoutError || reason instanceof CanceledError ? reason : outcome.error,
      );
    }
  } catch (err) {
    // A stale worker (LeaseLostError) changed nothing; report it and move on.
    ctx.emit("error", view<T, R>(held.record, held.versionstamp, held.data), err);
  }
}
