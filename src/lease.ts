/**
 * Leases: the claim (ready → active, in checked batches) and every fenced write of a held job —
 * heartbeat, progress, complete, fail, release. A fenced write checks the versionstamp its holder
 * last wrote; when that fails and the job is still held under the same token (a cancel request
 * changed it), it goes again on the fresh record, else it is a `LeaseLostError` and nothing changed.
 *
 * @module
 */

import {
  disposition,
  type ErrorInfo,
  errorInfo,
  type JobEvent,
  type JobRecord,
  transition,
  type ValueRef,
} from "./job.ts";
import { Keyspace } from "./keys.ts";
import { addCounts, encodeCounts, getMany, type WriteUnit, zeroCounts } from "./committer.ts";
import type { AtomicOp, KvCommitResult, KvEntry } from "./kv.ts";
import { giveBack, takeTokens } from "./rate_limit.ts";
import { chunk, decodeRecord, inlineRef, valueBytes } from "./payload.ts";
import { dropBlobs, isByteSource, placeResult } from "./blobs.ts";
import { type IntegrityError, JobStateError, LeaseLostError, LimitError, PermanentError } from "./errors.ts";
import { publish, type QueueContext } from "./context.ts";
import { applyUnit, type Entry, loadValues, read, type Staged, view } from "./job_store.ts";
import type { Job } from "./types.ts";

const enc = new TextEncoder();

/** A job a holder (worker or external caller) has: its last written record and versionstamp (the fence). */
export interface Held<T> {
  /** The record as last written. */
  record: JobRecord;
  /** Its versionstamp. */
  versionstamp: string;
  /** The lease token. */
  readonly token: string;
  /** The payload. */
  readonly data: T;
  /** Set when the payload could not be read (missing or undecodable chunks): the job goes to dead. */
  readonly corrupt?: IntegrityError;
  /** Called when a cancel request is seen for this job. */
  onCancel?: () => void;
  /** Serializes this job's writes: the last one queued. */
  chain: Promise<unknown>;
  /** This job's writes queued or running (absent: none). */
  writes?: number;
  /** A completion staged in the caller's atomic op (`completeIn`), and how it went. */
  tx?: { state: "staged" | "committed" | "failed"; why?: string; cause?: unknown };
}

/** What one claim got. */
export interface ClaimResult<T> {
  /** The jobs won. */
  held: Held<T>[];
  /** The queue is paused (nothing was claimed). */
  paused: boolean;
  /** Some listed jobs were lost to another claimer: there may be more to take. */
  contended: boolean;
  /** The rate limit's bucket was empty: when its next token is due (absent: not limited). */
  retryAt?: number;
}

/** How far past its batch a claim that lost jobs last time looks, at most (see `claim`). */
const SPREAD = 1024;

/**
 * Claims up to `n` ready jobs in one commit per batch (checked: each job's ready entry, which the
 * claim deletes, and the paused flag). A claim writes each job's lease entry and leaves its record
 * as it is (src/lease_entry.ts). After a claim that lost jobs to another claimer (other processes draining the same
 * queue), the next one lists a few batches' worth and takes `n` from a random offset, so claimers
 * do not all race for the same head entries; without contention it takes the head, in order.
 */
export async function claim<T, R>(
  ctx: QueueContext<T, R>,
  n: number,
  owner: string,
  leaseMs: number,
  external = false,
): Promise<ClaimResult<T>> {
  const limit = ctx.settings.rateLimit;
  if (limit) {
    // Tokens first (a checked commit of their own), then at most that many jobs.
    const t = await takeTokens(ctx, limit, n);
    if (!t.got) return { held: [], paused: false, contended: false, retryAt: t.retryAt ?? undefined };
    const out = await claimSome(ctx, t.got, owner, leaseMs, external);
    if (out.held.length < t.got) await giveBack(ctx, limit, t.got - out.held.length);
    return out;
  }
  return await claimSome(ctx, n, owner, leaseMs, external);
}

/** The claim itself: up to `n` ready jobs, as `claim` says. */
async function claimSome<T, R>(
  ctx: QueueContext<T, R>,
  n: number,
  owner: string,
  leaseMs: number,
  external: boolean,
): Promise<ClaimResult<T>> {
  const prefix = ctx.ks.indexPrefix("ready");
  const extra = ctx.contended ? Math.min(8 * n, SPREAD) : 0;
  let listed: KvEntry[] = [];
  for await (const e of ctx.kv.list({ prefix }, { limit: n + extra })) listed.push(e);
  if (listed.length > n) {
    const start = Math.floor(ctx.random() * (listed.length - n + 1));
    listed = listed.slice(start, start + n);
  }
  if (!listed.length) return { held: [], paused: false, contended: false };
  const ids = listed.map((e) => Keyspace.idOf(e.key));
  const got = await getMany(ctx.kv, [ctx.ks.paused, ...ids.map((id) => ctx.ks.job(id))]);
  if (got[0]) return { held: [], paused: true, contended: false };
  const now = ctx.clock.now();
  // One fresh id per claim batch, and the job's place in the batch after it: every lease token is
  // still unique (ids never repeat), without drawing a random id per job. No "." in it: the
  // sidecar's tokens are `<queue>.<token>`, split at the last dot.
  const batchId = ctx.ids(now);
  const pending: { entry: Entry; next: JobRecord }[] = [];
  for (let i = 1; i < got.length; i++) {
    const e = got[i];
    if (!e) continue;
    const record = decodeRecord(e.value);
    if (record.state !== "ready") continue;
    const token = batchId + "-" + i.toString(36);
    const next = transition(record, { type: "claim", token, owner, leaseMs, external }, now);
    const ready = listed[i - 1];
    pending.push({ entry: { record, versionstamp: ready.versionstamp, fence: ready.key }, next });
  }
  const paused = [[ctx.ks.paused, null] as const];
  // A claim lost in a power loss only makes the job run again: its commit need not wait for a sync.
  const staged = pending.map((p) =>
    applyUnit(ctx, "claim", p.entry, p.next, { checks: paused, relaxed: true })
  );
  const results = await ctx.committer.writeMany(staged.map((s) => s.unit));
  const won: Entry[] = [];
  results.forEach((r, i) => {
    if (r.ok) won.push({ record: staged[i].record, versionstamp: r.versionstamp });
  });
  const contended = won.length < ids.length;
  ctx.contended = contended;
  if (!won.length) return { held: [], paused: false, contended };
  const values = await loadValues(ctx, won.map((w) => w.record));
  const resolved = Promise.resolve();
  return {
    held: won.map((w) => {
      const v = values.get(w.record.id)!;
      return {
        record: w.record,
        versionstamp: w.versionstamp,
        token: w.record.lease!.token,
        data: v.data as T,
        corrupt: v.error,
        chain: resolved,
      };
    }),
    paused: false,
    contended,
  };
}

/**
 * A fenced write for a held job: `event` applied to the record the holder last wrote, checked by
 * its versionstamp. When the check fails, the record is re-read: still held under this token → go
 * again on the fresh record (and tell the holder of a cancel request); not → `LeaseLostError`.
 */
export function fenced<T, R>(
  ctx: QueueContext<T, R>,
  held: Held<T>,
  operation: string,
  build: (current: Entry, now: number) => Staged,
): Promise<Entry> {
  const run = async (): Promise<Entry> => {
    try {
      for (let round = 0; round < 20; round++) {
        const now = ctx.clock.now();
        const current: Entry = { record: held.record, versionstamp: held.versionstamp };
        let staged: Staged;
        try {
          staged = build(current, now);
        } catch (e) {
          if (e instanceof JobStateError) throw new LeaseLostError(held.record.id, operation, { cause: e });
          throw e;
        }
        const res = await ctx.committer.write(staged.unit);
        if (res.ok) {
          // The record as committed (for a removal: as it ended), so events carry the job as stored.
          held.record = staged.record;
          held.versionstamp = res.versionstamp;
          return { record: staged.record, versionstamp: res.versionstamp };
        }
        const fresh = await read(ctx, held.record.id);
        if (!fresh || fresh.record.state !== "active" || fresh.record.lease?.token !== held.token) {
          throw new LeaseLostError(held.record.id, operation);
        }
        held.record = fresh.record;
        held.versionstamp = fresh.versionstamp;
        if (fresh.record.cancelRequested) held.onCancel?.();
      }
      throw new LeaseLostError(held.record.id, operation);
    } finally {
      held.writes!--;
    }
  };
  return chained(held, run);
}

/**
 * Runs `run` as the next of this job's writes, after the ones queued before it (`run` counts
 * itself out of `held.writes` when it ends).
 */
function chained<T, V>(held: Held<T>, run: () => Promise<V>): Promise<V> {
  // Nothing of this job's in flight (the common case: one outcome per run): write at once, not a
  // microtask later behind a settled chain.
  held.writes = (held.writes ?? 0) + 1;
  const p = held.writes > 1 ? held.chain.then(run, run) : run();
  // The caller handles p's rejection; the next write only waits for it to settle.
  held.chain = p;
  return p;
}

/** A fenced write of one event, published (signals and events) once committed. */
async function settle<T, R>(
  ctx: QueueContext<T, R>,
  held: Held<T>,
  e: JobEvent,
  extra: (next: JobRecord) => Partial<WriteUnit>,
  error?: unknown,
  result?: unknown,
): Promise<Job<T, R>> {
  const out = await fenced(ctx, held, e.type, (c, now) => {
    const next = transition(c.record, e, now);
    return applyUnit(ctx, e.type, c, next, extra(next));
  });
  const removed = disposition(e.type, out.record) === "remove";
  if (removed && ctx.blobs) await dropBlobs(ctx, out.record); // blob hook (src/blobs.ts)
  const job = view<T, R>(out.record, removed ? null : out.versionstamp, held.data, result);
  publish(ctx, e.type, "active", out.record, job, error);
  return job;
}

const none = () => ({});

/**
 * Renews a held job's lease. `canceled` (an external holder's): a requested cancel ends the job
 * with it instead (see `transition`).
 */
export async function heartbeat<T, R>(
  ctx: QueueContext<T, R>,
  held: Held<T>,
  leaseMs: number,
  canceled?: { error: unknown; info: ErrorInfo },
): Promise<Job<T, R>> {
  return await settle(
    ctx,
    held,
    { type: "heartbeat", token: held.token, leaseMs, canceled: canceled?.info },
    // Like a claim, a heartbeat lost in a power loss only makes the job run again.
    (next) => ({ relaxed: next.state === "active" }),
    canceled?.error,
  );
}

/** Stores progress for a held job and renews its lease. */
export async function progress<T, R>(
  ctx: QueueContext<T, R>,
  held: Held<T>,
  value: unknown,
  leaseMs: number,
): Promise<Entry> {
  valueBytes(value);
  return await fenced(ctx, held, "progress", (c, now) => {
    const p = transition(c.record, { type: "progress", token: held.token, value }, now);
    return applyUnit(
      ctx,
      "progress",
      c,
      transition(p, { type: "heartbeat", token: held.token, leaseMs }, now),
    );
  });
}

/**
 * Completes a held job; returns the job as committed (and as the `completed` event carries it). A
 * result that cannot be stored (over `maxPayloadBytes`, not serializable) throws, or with
 * `unstorable: "fail"` (a worker's handler returned it) fails the job permanently (`transition`).
 */
export async function complete<T, R>(
  ctx: QueueContext<T, R>,
  held: Held<T>,
  result: R,
  unstorable: "throw" | "fail" = "throw",
): Promise<Job<T, R>> {
  const id = held.record.id;
  const write = (refused?: PermanentError, blob?: ValueRef): Promise<Job<T, R>> => {
    let chunks: Uint8Array[] = [];
    let ref: ValueRef | undefined = refused ? undefined : blob;
    if (result !== undefined && !refused && !blob) {
      const { bytes, binary } = valueBytes(result);
      const max = ctx.settings.maxPayloadBytes;
      if (bytes.length > max) throw new LimitError("queue", "payloadBytes", bytes.length, max);
      ref = inlineRef(result);
      const probe = { ...held.record, result: ref };
      if (enc.encode(JSON.stringify(probe)).length + 1024 > ctx.kv.info.maxValueBytes) {
        chunks = chunk(bytes, ctx.kv.info.maxValueBytes);
        ref = { chunks: chunks.length, bytes: bytes.length, binary };
      }
    }
    const sets = chunks.map((b, i) => [ctx.ks.blob(id, "r", i), b] as const);
    return settle(
      ctx,
      held,
      { type: "complete", token: held.token, result: ref, unstorable: refused && errorInfo(refused) },
      () => ({ sets }),
      refused,
      refused ? undefined : result,
    );
  };
  try {
    // blob hook (src/blobs.ts): a large result, a stream or a Blob goes to the blob store first.
    const blob = ctx.blobs || isByteSource(result) ? await placeResult(ctx, id, result) : undefined;
    return await write(undefined, blob);
  } catch (err) {
    if (unstorable === "throw" || !(err instanceof LimitError || err instanceof TypeError)) throw err;
    return await write(
      new PermanentError(`Cannot store the result of job ${id}: ${err.message}`, { cause: err }),
    );
  }
}

/**
 * Fails a held job's attempt; returns the job as committed (failed, dead or canceled). With
 * `noRetry`, the failure is permanent whatever the error (else `isPermanent` in job.ts decides).
 */
export async function fail<T, R>(
  ctx: QueueContext<T, R>,
  held: Held<T>,
  error: unknown,
  noRetry = false,
): Promise<Job<T, R>> {
  return await settle(
    ctx,
    held,
    {
      type: "fail",
      token: held.token,
      error: errorInfo(error),
      retry: noRetry ? false : undefined,
      backoff: ctx.settings.backoff,
      cause: error,
      random: ctx.random,
    },
    none,
    error,
  );
}

/** Gives a held job back (ready, attempt not counted; canceled if a cancel was requested). */
export async function release<T, R>(ctx: QueueContext<T, R>, held: Held<T>): Promise<Job<T, R>> {
  return await settle(ctx, held, { type: "release", token: held.token }, none);
}

/**
 * Transactional completion (`ctx.complete(result, { atomic })`): stages the completion of a held job
 * in the caller's atomic op. When the caller commits the op, the completion's checks and mutations
 * join it (as this job's next write: after any heartbeat in flight, checked by the lease entry as
 * it then is), with its count change in a delta key of its own (folded by maintenance, as a
 * transactional add's). Once the op commits the job is completed and its events are published;
 * `held.tx` tells the executor how it went.
 */
export function completeIn<T, R>(
  ctx: QueueContext<T, R>,
  held: Held<T>,
  result: unknown,
  op: AtomicOp,
): void {
  const id = held.record.id;
  if (held.tx) throw new TypeError(`Cannot complete job ${id} in an atomic op: it was staged once already`);
  if (
    op === null || typeof op !== "object" || typeof op.commit !== "function" || typeof op.check !== "function"
  ) {
    throw new TypeError(
      `Cannot complete job ${id}: options.atomic must be an atomic op of the queue's store`,
    );
  }
  if (result !== undefined) {
    const { bytes } = valueBytes(result);
    const max = ctx.settings.maxPayloadBytes;
    if (bytes.length > max) throw new LimitError("queue", "payloadBytes", bytes.length, max);
  }
  const ref = result === undefined ? undefined : inlineRef(result);
  const tx: NonNullable<Held<T>["tx"]> = held.tx = { state: "staged" };
  const commit = op.commit.bind(op);
  op.commit = () =>
    chained(held, async (): Promise<KvCommitResult> => {
      try {
        return await commitIn();
      } finally {
        held.writes!--;
      }
    });
  const commitIn = async (): Promise<KvCommitResult> => {
    let staged: Staged;
    try {
      const next = transition(
        held.record,
        { type: "complete", token: held.token, result: ref },
        ctx.clock.now(),
      );
      staged = applyUnit(ctx, "complete", { record: held.record, versionstamp: held.versionstamp }, next);
    } catch (e) {
      if (!(e instanceof JobStateError)) {
        Object.assign(tx, { state: "failed", why: "could not take the completion", cause: e });
        throw e;
      }
      // The attempt already ended (canceled, timed out, lost): like a failed check, nothing commits.
      Object.assign(tx, { state: "failed", why: "was committed after the attempt had ended", cause: e });
      return { ok: false };
    }
    const u = staged.unit;
    for (const [k, v] of u.checks) op.check(k, v);
    for (const [k, v] of u.sets) op.set(k, v);
    for (const k of u.deletes) op.delete(k);
    op.set(ctx.ks.delta(`${id}~${held.record.attempt}`), encodeCounts(addCounts(zeroCounts(), u.delta)));
    let res: KvCommitResult;
    try {
      res = await commit();
    } catch (e) {
      Object.assign(tx, { state: "failed", why: "threw on commit", cause: e });
      throw e;
    }
    if (!res.ok) {
      Object.assign(tx, { state: "failed", why: "failed a check (the handler's, or the lease moved on)" });
      return res;
    }
    tx.state = "committed";
    held.record = staged.record;
    held.versionstamp = res.versionstamp;
    const removed = disposition("complete", staged.record) === "remove";
    if (removed && ctx.blobs) await dropBlobs(ctx, staged.record); // blob hook (src/blobs.ts)
    const job = view<T, R>(staged.record, removed ? null : res.versionstamp, held.data, result);
    publish(ctx, "complete", "active", staged.record, job);
    return res;
  };
}
