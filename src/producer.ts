/**
 * The producer: `add`, `addBulk` and the transactional add (a job added inside the caller's own
 * atomic commit). Builds each new job's record and write unit once (the payload is encoded once,
 * and inline payloads are not encoded a second time for the record).
 *
 * @module
 */

import type { AtomicOp, KvKey } from "./kv.ts";
import { admits, createJob, isTerminal, type JobRecord, transition } from "./job.ts";
import {
  addCounts,
  decodeCounts,
  encodeCounts,
  unfinished,
  type WriteResult,
  type WriteUnit,
} from "./committer.ts";
import { chunk, encodeNewRecord, inlineRef } from "./payload.ts";
import { LimitError, QueueFullError, StorageError } from "./errors.ts";
import { validateBackoff } from "./backoff.ts";
import { blobSignedBytes, isByteSource, place, placeInline } from "./blobs.ts";
import { checkNumber } from "./validate.ts";
import { announce, publish, type QueueContext } from "./context.ts";
import { byKey, encode, indexValue, view } from "./job_store.ts";
import type { AddedJob, AddOptions } from "./types.ts";

const enc = new TextEncoder();
const NO_INLINE = { bytes: new Uint8Array(0), binary: true, text: undefined };

/** A new job's record and unit, and what is stored instead when the queue is full. */
export interface Prepared<T> {
  /** The record. */
  record: JobRecord;
  /** Its unit (with `overflow` when the queue's overflow is `"dead"`). */
  unit: WriteUnit;
  /** The unit of the overflow record. */
  overflow: WriteUnit | undefined;
  /** The record stored `dead` when the queue is full (overflow `"dead"`). */
  overflowRecord: JobRecord | undefined;
  /** The payload. */
  data: T;
}

/** An add refused for lack of space, said as such; other errors pass through. */
function addError(e: unknown): unknown {
  if (!(e instanceof StorageError) || e.code !== "ENOSPC") return e;
  return new StorageError(
    e.adapter,
    "add",
    `Cannot add job: the store is low on disk space (${e.message}). Jobs already stored still run; ` +
      "adds work again once space is freed",
    { cause: e, code: "ENOSPC" },
  );
}

function runAtOf(opts: AddOptions, now: number): number {
  if (opts.runAt !== undefined) {
    const t = opts.runAt instanceof Date ? opts.runAt.getTime() : opts.runAt;
    checkNumber("runAt", t, -Infinity);
    return t;
  }
  if (opts.delay !== undefined) {
    checkNumber("delay", opts.delay, 0);
    return now + opts.delay;
  }
  return now;
}

/** Checks add options. */
export function validateAddOptions(opts: AddOptions): void {
  if (opts === null || typeof opts !== "object") {
    throw new TypeError("Invalid add options: expected an object");
  }
  if (opts.priority !== undefined) checkNumber("priority", opts.priority, -Number.MAX_VALUE);
  if (opts.maxAttempts !== undefined) checkNumber("maxAttempts", opts.maxAttempts, 1, true);
  if (opts.timeout !== undefined) checkNumber("timeout", opts.timeout, 1);
  if (opts.backoff !== undefined) {
    if (typeof opts.backoff === "function") {
      throw new TypeError(
        "Invalid backoff: a per-job backoff must be a number or options (it is stored with the job); " +
          "set a backoff function as the queue's backoff option",
      );
    }
    validateBackoff(opts.backoff);
  }
  if (opts.key !== undefined && (typeof opts.key !== "string" || opts.key === "")) {
    throw new TypeError(`Invalid key: expected a non-empty string, got ${JSON.stringify(opts.key)}`);
  }
}

/** The bytes a payload signature covers: the job id, a newline, the payload's canonical bytes. */
export function signedBytes(id: string, bytes: Uint8Array): Uint8Array {
  const head = enc.encode(id + "\n");
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head);
  out.set(bytes, head.length);
  return out;
}

/** Builds the record and unit of a new job. */
export async function prepare<T, R>(
  ctx: QueueContext<T, R>,
  data: T,
  opts: AddOptions,
  schedule?: string,
): Promise<Prepared<T>> {
  validateAddOptions(opts);
  const s = ctx.settings;
  const now = ctx.clock.now();
  const runAt = runAtOf(opts, now);
  const id = ctx.ids(now);
  // Large values, streams and Blobs go to the blob store first (src/blobs.ts); the record refers to them.
  const placed = ctx.blobs || isByteSource(data) ? await place(ctx, id, "p", data) : placeInline(data);
  const blob = placed.ref;
  const { bytes, binary, text } = placed.inline ?? NO_INLINE;
  if (!blob && bytes.length > s.maxPayloadBytes) {
    throw new LimitError("queue", "payloadBytes", bytes.length, s.maxPayloadBytes);
  }
  const signed = blob ? blobSignedBytes(blob) : bytes;
  const signature = ctx.signer ? await ctx.signer.sign(signedBytes(id, signed)) : undefined;
  const init = {
    id,
    queue: ctx.name,
    payload: blob ?? inlineRef(placed.value),
    runAt,
    priority: opts.priority === undefined ? 0 : opts.priority + 0, // no -0
    maxAttempts: opts.maxAttempts ?? s.maxAttempts,
    backoff: opts.backoff,
    timeout: opts.timeout ?? s.timeout,
    key: opts.key,
    signature,
    removeOnComplete: opts.removeOnComplete ?? s.removeOnComplete,
    schedule,
  };
  let record = createJob(init, now);
  const info = ctx.kv.info;
  let chunks: Uint8Array[] = [];
  // The payload was JSON-encoded once above (to size and sign it); the record embeds that text.
  let encoded: Uint8Array = blob
    ? encode(ctx, record)
    : text !== undefined
    ? encodeNewRecord(record, text)
    : enc.encode(JSON.stringify(record));
  if (encoded.length > info.maxValueBytes) {
    chunks = chunk(bytes, info.maxValueBytes);
    record = createJob({ ...init, payload: { chunks: chunks.length, bytes: bytes.length, binary } }, now);
    encoded = encode(ctx, record);
    const room = info.maxMutations - 4;
    if (chunks.length > room) {
      throw new LimitError("queue", "payloadBytes", bytes.length, room * info.maxValueBytes);
    }
  }
  const blobSets = chunks.map((c, i): [KvKey, Uint8Array] => [ctx.ks.blob(id, "p", i), c]);
  const build = (r: JobRecord, bytes: Uint8Array): WriteUnit => {
    const checks: [KvKey, string | null][] = [[ctx.ks.job(id), null]];
    const sets: [KvKey, Uint8Array][] = [
      [ctx.ks.job(id), bytes],
      [ctx.ks.index(r), indexValue(r)],
      ...blobSets,
    ];
    if (r.key !== undefined) {
      checks.push([ctx.ks.unique(r.key), null]);
      sets.push([ctx.ks.unique(r.key), enc.encode(id)]);
    }
    return {
      checks,
      sets,
      deletes: [],
      delta: { [r.state]: 1 },
      room: isTerminal(r.state) ? 0 : 1,
      growth: true,
      // A new id touches nothing another unit can; only its unique key can be shared.
      conflicts: r.key !== undefined ? [ctx.ks.job(id), ctx.ks.unique(r.key)] : [ctx.ks.job(id)],
    };
  };
  let overflowRecord: JobRecord | undefined;
  let overflow: WriteUnit | undefined;
  if (s.overflow === "dead") {
    overflowRecord = transition(record, { type: "overflow" }, now);
    overflow = { ...build(overflowRecord, encode(ctx, overflowRecord)), room: 0 };
  }
  const unit = { ...build(record, encoded), overflow };
  return { record, unit, overflow, overflowRecord, data: placed.value as T };
}

/** Reports a committed new job (signals, and `dead` for an overflowed one). */
export function published<T, R>(
  ctx: QueueContext<T, R>,
  p: Prepared<T>,
  overflowed: boolean,
  versionstamp: string | null,
): AddedJob<T, R> {
  const record = overflowed ? p.overflowRecord! : p.record;
  const job = { ...view<T, R>(record, versionstamp, p.data), created: true };
  if (!overflowed) announce(ctx, record);
  else {publish(
      ctx,
      "overflow",
      p.record.state,
      record,
      job,
      new QueueFullError(ctx.name, ctx.settings.maxQueued),
    );}
  return job;
}

async function settle<T, R>(
  ctx: QueueContext<T, R>,
  p: Prepared<T>,
  res: WriteResult,
  round: number,
): Promise<AddedJob<T, R> | null> {
  if (res.ok) return published(ctx, p, res.overflowed, res.versionstamp);
  if (res.full) throw new QueueFullError(ctx.name, ctx.settings.maxQueued);
  if (p.record.key !== undefined) {
    const existing = await byKey<T, R>(ctx, p.record.key);
    if (existing) return { ...existing, created: false };
  }
  if (round >= 10) {
    throw new StorageError(ctx.kv.info.name, "commit", "cannot enqueue job: the commit kept conflicting");
  }
  return null;
}

/** `Queue.add()`. */
export async function add<T, R>(
  ctx: QueueContext<T, R>,
  data: T,
  opts: AddOptions = {},
): Promise<AddedJob<T, R>> {
  if (opts.atomic) return await addAtomic(ctx, data, opts);
  for (let round = 0;; round++) {
    const p = await prepare(ctx, data, opts);
    const res = await ctx.committer.write(p.unit).catch((e) => Promise.reject(addError(e)));
    const added = await settle(ctx, p, res, round);
    if (added) return added;
  }
}

/** `Queue.addBulk()`. */
export async function addBulk<T, R>(
  ctx: QueueContext<T, R>,
  items: readonly { data: T; options?: AddOptions }[],
): Promise<AddedJob<T, R>[]> {
  if (!Array.isArray(items)) throw new TypeError("Invalid addBulk items: expected an array");
  if (items.some((i) => i?.options?.atomic)) {
    throw new TypeError("Invalid addBulk items: atomic is not supported in addBulk; call add() per job");
  }
  const prepared: Prepared<T>[] = [];
  for (const item of items) prepared.push(await prepare(ctx, item.data, item.options ?? {}));
  const results = await ctx.committer.writeMany(prepared.map((p) => p.unit))
    .catch((e) => Promise.reject(addError(e)));
  const out: AddedJob<T, R>[] = [];
  for (let i = 0; i < prepared.length; i++) {
    const added = await settle(ctx, prepared[i], results[i], 0);
    out.push(added ?? await add(ctx, items[i].data, items[i].options));
  }
  return out;
}

/** Jobs added to a caller's op, announced once it commits (kept on the op itself, not in a registry). */
const PENDING = Symbol("kvq.pendingAdds");
type Announcing = AtomicOp & { [PENDING]?: { ctx: QueueContext<unknown, unknown>; record: JobRecord }[] };

/**
 * Adds a job inside the caller's atomic op (`options.atomic`): the job exists once, and only if,
 * that op commits. Its count change goes to a delta of its own (folded by maintenance); with
 * `maxQueued`, the capacity is checked against the counts as read now.
 */
async function addAtomic<T, R>(ctx: QueueContext<T, R>, data: T, opts: AddOptions): Promise<AddedJob<T, R>> {
  const op = opts.atomic! as Announcing;
  if (opts.key !== undefined) {
    const existing = await byKey<T, R>(ctx, opts.key);
    if (existing) return { ...existing, created: false };
  }
  const p = await prepare(ctx, data, { ...opts, atomic: undefined });
  op.growth?.(); // a new job: a store low on space may refuse the caller's commit
  let unit = p.unit;
  let record = p.record;
  const max = ctx.settings.maxQueued;
  if (max !== Infinity) {
    // As the committer does: read the admission key before the counts, check it in the op.
    const admit = await ctx.kv.get(ctx.ks.admit);
    if (!admits(unfinished(await ctx.committer.readCounts()), 1, max)) {
      if (!p.overflow) throw new QueueFullError(ctx.name, max);
      unit = p.overflow;
      record = p.overflowRecord!;
    }
    op.check(ctx.ks.admit, admit?.versionstamp ?? null).set(ctx.ks.admit, new Uint8Array(0));
  }
  op.set(ctx.ks.delta(record.id), encodeCounts(addCounts(decodeCounts(undefined), unit.delta)));
  for (const [k, v] of unit.checks) op.check(k, v);
  for (const [k, v] of unit.sets) op.set(k, v);
  let pending = op[PENDING];
  if (!pending) {
    const list: NonNullable<Announcing[typeof PENDING]> = pending = op[PENDING] = [];
    const commit = op.commit.bind(op);
    op.commit = async () => {
      const res = await commit();
      if (res.ok) { for (const a of list) announce(a.ctx, a.record); }
      return res;
    };
  }
  pending.push({ ctx: ctx as QueueContext<unknown, unknown>, record });
  return { ...view<T, R>(record, null, data), created: true };
}
