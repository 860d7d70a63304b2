/**
 * The job store: reads of job records and their values, the public views of them, and the only
 * place that turns (entry, next record) into a write unit for the committer (`moveUnit`,
 * `removeUnit`, `applyUnit`). Each unit checks the versionstamp of the job's fence (its record;
 * while active, its lease entry, src/lease_entry.ts; for a claim, its ready entry), so a job moved
 * by someone else in the meantime makes the unit fail, never a second change. A unit from `ready`
 * also checks that no lease entry exists: a claim does not rewrite the record, so the record's
 * versionstamp alone cannot tell a claimed job from a ready one.
 *
 * @module
 */

import { isBlobRef, loadBlob } from "./blobs.ts";
import type { KvEntry, KvKey } from "./kv.ts";
import {
  disposition,
  JOB_STATES,
  type JobEventType,
  type JobRecord,
  type JobState,
  type ValueRef,
} from "./job.ts";
import { Keyspace } from "./keys.ts";
import { type Counts, getMany, keyId, type WriteUnit } from "./committer.ts";
import { chunk, decodeValue, encodeRecord, valueBytes } from "./payload.ts";
import { decodeLease, encodeLease, storedJob } from "./lease_entry.ts";
import { IntegrityError, LimitError } from "./errors.ts";
import { checkNumber } from "./validate.ts";
import type { QueueContext } from "./context.ts";
import type { Job, JobPage, ListOptions } from "./types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);
const SCHEDULED = enc.encode("scheduled");
const FAILED = enc.encode("failed");

/** Jobs per page of `list` and of maintenance sweeps. */
export const PAGE = 100;

/** A record and the versionstamp of its fence as read or written. */
export interface Entry {
  /** The record (an active one with its lease entry over it). */
  record: JobRecord;
  /** The versionstamp of `fence`. */
  versionstamp: string;
  /**
   * The key whose versionstamp `versionstamp` is. Absent: the job's record, or while the job is
   * active its lease entry (see `fenceOf`). A claim fences on the ready entry it listed.
   */
  fence?: KvKey;
}

/** The key an entry's versionstamp belongs to (see {@linkcode Entry.fence}). */
export function fenceOf<T, R>(ctx: QueueContext<T, R>, e: Entry): KvKey {
  return e.fence ?? (e.record.state === "active" ? ctx.ks.lease(e.record.id) : ctx.ks.job(e.record.id));
}

/** The checks of a unit that changes `from`: its fence, and from `ready` that it is not claimed. */
function fenceChecks<T, R>(ctx: QueueContext<T, R>, from: Entry): (readonly [KvKey, string | null])[] {
  const checks: (readonly [KvKey, string | null])[] = [[fenceOf(ctx, from), from.versionstamp]];
  if (from.record.state === "ready" && !from.fence) checks.push([ctx.ks.lease(from.record.id), null]);
  return checks;
}

/** A record and the unit that commits it (when the unit is not the plain move to that record). */
export interface Staged {
  /** The record as committed (for a removal: as it ended). */
  record: JobRecord;
  /** The unit. */
  unit: WriteUnit;
}

/** A loaded payload and result (or why they could not be read). */
export interface Values {
  /** The payload. */
  data: unknown;
  /** The result. */
  result: unknown;
  /** Set when a chunk is missing or undecodable. */
  error?: IntegrityError;
}

/**
 * Merges extra checks and mutations into a unit (the counts deltas add up).
 *
 * @example
 * ```ts
 * import { mergeUnits } from "./job_store.ts";
 * const u = mergeUnits({ checks: [], sets: [], deletes: [] }, { deletes: [["x"]] });
 * console.log(u.deletes.length); // 1
 * ```
 */
export function mergeUnits(a: WriteUnit, b: Partial<WriteUnit>): WriteUnit {
  const delta: Partial<Counts> = { ...a.delta };
  if (b.delta) { for (const s of JOB_STATES) if (b.delta[s]) delta[s] = (delta[s] ?? 0) + b.delta[s]!; }
  const unit: WriteUnit = {
    checks: b.checks?.length ? [...a.checks, ...b.checks] : a.checks,
    sets: b.sets?.length ? [...a.sets, ...b.sets] : a.sets,
    deletes: b.deletes?.length ? [...a.deletes, ...b.deletes] : a.deletes,
    delta,
    room: a.room,
    overflow: a.overflow,
    growth: a.growth,
    relaxed: b.relaxed ?? a.relaxed,
  };
  if (a.conflicts && b.conflicts) return { ...unit, conflicts: [...a.conflicts, ...b.conflicts] };
  return a.conflicts && !b.sets?.length && !b.deletes?.length ? { ...unit, conflicts: a.conflicts } : unit;
}

/** Whether two keys are equal (parts compared with `Object.is`; byte parts by content). */
function sameKey(a: KvKey, b: KvKey): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (Object.is(x, y)) continue;
    if (!(x instanceof Uint8Array && y instanceof Uint8Array) || keyId([x]) !== keyId([y])) return false;
  }
  return true;
}

/** The stored form of a record, within the store's value limit. */
export function encode<T, R>(ctx: QueueContext<T, R>, record: JobRecord): Uint8Array {
  return encodeRecord(record, ctx.kv.info.maxValueBytes, ctx.kv.info.name);
}

/**
 * The value of a record's index entry: the delayed index tells scheduled from failed; an active
 * job's entry is its lease entry.
 */
export function indexValue(record: JobRecord): Uint8Array {
  if (record.state === "active") return encodeLease(record);
  return record.state === "scheduled" ? SCHEDULED : record.state === "failed" ? FAILED : EMPTY;
}

/** The keys of a record's payload and result chunks. */
export function blobKeys<T, R>(ctx: QueueContext<T, R>, record: JobRecord): KvKey[] {
  const keys: KvKey[] = [];
  if ("chunks" in record.payload) {
    for (let i = 0; i < record.payload.chunks; i++) keys.push(ctx.ks.blob(record.id, "p", i));
  }
  if (record.result && "chunks" in record.result) {
    for (let i = 0; i < record.result.chunks; i++) keys.push(ctx.ks.blob(record.id, "r", i));
  }
  return keys;
}

/**
 * The unit that moves a job from `from` to `next` (one commit, checked), with `extra` merged in
 * (its checks and mutations after the move's own; see `mergeUnits`). An active `next` writes its
 * lease entry only, not the record. Built in one go: this runs twice per job (claim, outcome), so
 * it makes no intermediate units.
 */
export function moveUnit<T, R>(
  ctx: QueueContext<T, R>,
  from: Entry,
  next: JobRecord,
  extra: Partial<WriteUnit> = {},
): WriteUnit {
  const oldIndex = ctx.ks.index(from.record);
  const newIndex = ctx.ks.index(next);
  const delta: Partial<Counts> = {};
  if (from.record.state !== next.state) {
    delta[from.record.state] = -1;
    delta[next.state] = 1;
  }
  if (extra.delta) {
    for (const s of JOB_STATES) if (extra.delta[s]) delta[s] = (delta[s] ?? 0) + extra.delta[s]!;
  }
  const jobKey = ctx.ks.job(next.id);
  const checks = fenceChecks(ctx, from);
  if (extra.checks) { for (const c of extra.checks) checks.push(c); }
  const sets: (readonly [KvKey, Uint8Array])[] = [[newIndex, indexValue(next)]];
  if (next.state !== "active") sets.push([jobKey, encode(ctx, next)]);
  if (extra.sets) { for (const x of extra.sets) sets.push(x); }
  const deletes: KvKey[] = sameKey(oldIndex, newIndex) ? [] : [oldIndex];
  if (extra.deletes) { for (const d of extra.deletes) deletes.push(d); }
  // Every key this unit writes is the job's own (record, index, chunks): the job key stands for
  // them, with whatever else `extra` says it touches.
  const conflicts = extra.conflicts?.length ? [jobKey, ...extra.conflicts] : [jobKey];
  return { checks, sets, deletes, delta, relaxed: extra.relaxed, conflicts };
}

/** The unit that deletes a job and everything it owns. */
export function removeUnit<T, R>(ctx: QueueContext<T, R>, from: Entry): WriteUnit {
  const r = from.record;
  const deletes = [ctx.ks.job(r.id), ctx.ks.index(r), ...blobKeys(ctx, r)];
  const conflicts = [ctx.ks.job(r.id)];
  if (r.key !== undefined) {
    deletes.push(ctx.ks.unique(r.key));
    conflicts.push(ctx.ks.unique(r.key));
  }
  return {
    checks: fenceChecks(ctx, from),
    sets: [],
    deletes,
    delta: { [r.state]: -1 },
    conflicts,
  };
}

/**
 * The unit that stores `next`, the record `transition` returned for `from`: a removal when its
 * disposition says so (see `disposition` in job.ts), else the move, with `extra` merged in.
 */
export function applyUnit<T, R>(
  ctx: QueueContext<T, R>,
  event: JobEventType,
  from: Entry,
  next: JobRecord,
  extra: Partial<WriteUnit> = {},
): Staged {
  if (disposition(event, next) === "remove") return { record: next, unit: removeUnit(ctx, from) };
  try {
    return { record: next, unit: moveUnit(ctx, from, next, extra) };
  } catch (e) {
    // The record outgrew the store's value limit (a longer history, on a payload that nearly filled
    // it when added): move an inline payload out into chunks, in the same commit. (An active record
    // is not written, only its lease entry: nothing to move.)
    if (!(e instanceof LimitError) || next.state === "active") throw e;
    if (!("json" in next.payload || "b64" in next.payload)) throw e;
    const { bytes, binary } = valueBytes(decodeValue(next.payload));
    const chunks = chunk(bytes, ctx.kv.info.maxValueBytes);
    const moved: JobRecord = { ...next, payload: { chunks: chunks.length, bytes: bytes.length, binary } };
    const sets = chunks.map((c, i) => [ctx.ks.blob(next.id, "p", i), c] as const);
    const unit = moveUnit(ctx, from, moved, { ...extra, sets: [...(extra.sets ?? []), ...sets] });
    return { record: moved, unit };
  }
}

/** Reads a job (an active one with its lease entry over its record); `null` when there is none. */
export async function read<T, R>(ctx: QueueContext<T, R>, id: string): Promise<Entry | null> {
  return (await readMany(ctx, [id], true))[0] ?? null;
}

/** The entry of a stored record and its lease entry (absent: not active). */
function entryOf(job: KvEntry, lease: KvEntry | null | undefined): Entry {
  return { record: storedJob(job.value, lease?.value), versionstamp: (lease ?? job).versionstamp };
}

/**
 * Reads the jobs `ids` (absent ones are left out). With `leases`, active jobs are read with their
 * lease entries; without, the records alone (for ids listed from another state's index: a job
 * claimed since reads as it was, and any unit built from it fails its checks).
 */
export async function readMany<T, R>(
  ctx: QueueContext<T, R>,
  ids: readonly string[],
  leases = false,
): Promise<Entry[]> {
  const keys = ids.map((id) => ctx.ks.job(id));
  if (leases) { for (const id of ids) keys.push(ctx.ks.lease(id)); }
  const got = await getMany(ctx.kv, keys);
  const out: Entry[] = [];
  for (let i = 0; i < ids.length; i++) {
    const e = got[i];
    if (e) out.push(entryOf(e, leases ? got[ids.length + i] : null));
  }
  return out;
}

/** Loads the payloads and results of `records` (chunks read in as few reads as the store allows). */
export async function loadValues<T, R>(
  ctx: QueueContext<T, R>,
  records: readonly JobRecord[],
): Promise<Map<string, Values>> {
  const keys: KvKey[] = [];
  for (const r of records) keys.push(...blobKeys(ctx, r));
  const blobs = new Map<string, Uint8Array>();
  if (keys.length) {
    const got = await getMany(ctx.kv, keys);
    got.forEach((e, i) => {
      if (e) blobs.set(keyId(keys[i]), e.value);
    });
  }
  const out = new Map<string, Values>();
  const load = (r: JobRecord, ref: ValueRef | undefined, kind: "p" | "r") => {
    if (!ref || !("chunks" in ref)) return decodeValue(ref);
    const what = kind === "p" ? "payload" : "result";
    const parts: Uint8Array[] = [];
    for (let i = 0; i < ref.chunks; i++) {
      const b = blobs.get(keyId(ctx.ks.blob(r.id, kind, i)));
      if (!b) throw new IntegrityError(r.id, `chunk ${i} of its ${what} is missing`);
      parts.push(b);
    }
    try {
      return decodeValue(ref, parts);
    } catch (e) {
      throw new IntegrityError(r.id, `its ${what} cannot be decoded`, { cause: e });
    }
  };
  for (const r of records) {
    try {
      // blob hook: a result in the blob store is read (verified) when small enough (src/blobs.ts).
      const result = isBlobRef(r.result) ? await loadBlob(ctx, r.id, r.result) : load(r, r.result, "r");
      out.set(r.id, { data: load(r, r.payload, "p"), result });
    } catch (e) {
      if (!(e instanceof IntegrityError)) throw e;
      out.set(r.id, { data: undefined, result: undefined, error: e });
    }
  }
  return out;
}

/** The public view of a record. */
export function view<T, R>(
  record: JobRecord,
  versionstamp: string | null,
  data: unknown,
  result?: unknown,
): Job<T, R> {
  const job: { -readonly [K in keyof Job<T, R>]: Job<T, R>[K] } = {
    id: record.id,
    queue: record.queue,
    state: record.state,
    data: data as T,
    priority: record.priority,
    attempt: record.attempt,
    maxAttempts: record.maxAttempts,
    runAt: record.runAt,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    history: record.history,
    versionstamp,
  };
  if (record.startedAt !== undefined) job.startedAt = record.startedAt;
  if (record.finishedAt !== undefined) job.finishedAt = record.finishedAt;
  if (record.progress !== undefined) job.progress = record.progress;
  const r = result ??
    (record.result && !("chunks" in record.result) ? decodeValue(record.result) : undefined);
  if (r !== undefined) job.result = r as R;
  if (record.error !== undefined) job.error = record.error;
  if (record.reason !== undefined) job.reason = record.reason;
  if (record.key !== undefined) job.key = record.key;
  if (record.timeout !== undefined) job.timeout = record.timeout;
  if (record.cancelRequested) job.cancelRequested = true;
  if (record.state === "active" && record.lease) {
    job.lease = { owner: record.lease.owner, expiresAt: record.lease.expiresAt };
  }
  if (record.schedule !== undefined) job.schedule = record.schedule;
  return job;
}

/** Public views with payloads loaded; a damaged payload throws, or with `tolerant` reads as undefined. */
export async function views<T, R>(
  ctx: QueueContext<T, R>,
  entries: readonly Entry[],
  tolerant = false,
): Promise<Job<T, R>[]> {
  const values = await loadValues(ctx, entries.map((e) => e.record));
  return entries.map((e) => {
    const v = values.get(e.record.id)!;
    if (v.error && !tolerant) throw v.error;
    return view<T, R>(e.record, e.versionstamp, v.data, v.result);
  });
}

/** `Queue.getJob()`. */
export async function getJob<T, R>(ctx: QueueContext<T, R>, id: string): Promise<Job<T, R> | null> {
  const e = await read(ctx, id);
  return e ? (await views(ctx, [e]))[0] : null;
}

/** The job holding idempotency key `key`, if any. */
export async function byKey<T, R>(ctx: QueueContext<T, R>, key: string): Promise<Job<T, R> | null> {
  const u = await ctx.kv.get(ctx.ks.unique(key));
  if (!u) return null;
  return await getJob(ctx, dec.decode(u.value));
}

/**
 * Reads up to `limit` entries of an index (optionally only up to time `until`: runAt, finishedAt;
 * for `active`, lease expiry) with their records.
 */
export async function indexed<T, R>(
  ctx: QueueContext<T, R>,
  state: JobState,
  until: number | undefined,
  limit: number,
): Promise<Entry[]> {
  const prefix = ctx.ks.indexPrefix(state);
  const ids: string[] = [];
  if (state === "active") {
    // Keyed by id, not by expiry: the entries are read and their expiry compared (active jobs are
    // as many as the workers' concurrency, not the backlog).
    for await (const e of ctx.kv.list({ prefix })) {
      if (until !== undefined && decodeLease(e.value).lease.expiresAt > until) continue;
      ids.push(Keyspace.idOf(e.key));
      if (ids.length >= limit) break;
    }
    return await readMany(ctx, ids, true);
  }
  const sel = until === undefined ? { prefix } : { prefix, end: [...prefix, until, true] };
  for await (const e of ctx.kv.list(sel, { limit })) ids.push(Keyspace.idOf(e.key));
  return await readMany(ctx, ids);
}

/**
 * The time part of the first entry of a time-ordered index (`null`: empty); for `active`, the
 * earliest lease expiry.
 */
export async function firstTime<T, R>(ctx: QueueContext<T, R>, state: JobState): Promise<number | null> {
  if (state === "active") {
    let first: number | null = null;
    for await (const e of ctx.kv.list({ prefix: ctx.ks.indexPrefix(state) })) {
      const at = decodeLease(e.value).lease.expiresAt;
      if (first === null || at < first) first = at;
    }
    return first;
  }
  for await (const e of ctx.kv.list({ prefix: ctx.ks.indexPrefix(state) }, { limit: 1 })) {
    return Keyspace.timeOf(e.key);
  }
  return null;
}

/** `Queue.list()`. */
export async function list<T, R>(
  ctx: QueueContext<T, R>,
  state: JobState,
  options: ListOptions = {},
): Promise<JobPage<T, R>> {
  if (!JOB_STATES.includes(state)) {
    throw new TypeError(
      `Cannot list jobs: unknown state ${JSON.stringify(state)}, expected one of ${JOB_STATES.join(", ")}`,
    );
  }
  const limit = options.limit ?? PAGE;
  checkNumber("list limit", limit, 1, true);
  const prefix = ctx.ks.indexPrefix(state);
  const reverse = options.reverse ?? false;
  if (typeof reverse !== "boolean") {
    throw new TypeError(`Cannot list jobs: reverse must be true or false, got ${JSON.stringify(reverse)}`);
  }
  let sel: { prefix: KvKey; start?: KvKey; end?: KvKey } = { prefix };
  if (options.cursor) {
    let suffix: unknown;
    try {
      suffix = JSON.parse(options.cursor);
    } catch { /* reported below */ }
    if (!Array.isArray(suffix)) {
      throw new TypeError(`Cannot list jobs: invalid cursor ${JSON.stringify(options.cursor)}`);
    }
    const at = [...prefix, ...(suffix as (string | number)[])];
    // Newest first: the next page ends (exclusive) where this one stopped.
    sel = reverse ? { prefix, end: at } : { prefix, start: Keyspace.after(at) };
  }
  const filter = state === "scheduled" || state === "failed";
  const ids: string[] = [];
  let last: KvKey | null = null;
  for await (const e of ctx.kv.list(sel, filter ? { reverse } : { limit, reverse })) {
    if (filter && dec.decode(e.value) !== state) continue;
    ids.push(Keyspace.idOf(e.key));
    last = e.key;
    if (ids.length >= limit) break;
  }
  const entries = await readMany(ctx, ids, state === "active");
  const cursor = ids.length >= limit && last ? JSON.stringify(last.slice(prefix.length)) : null;
  return { jobs: await views(ctx, entries, true), cursor };
}
