/**
 * The lease entry: while a job is active, what its attempt changes lives in one small entry keyed by
 * the job's id (`root + ["lease", queue, id]`), not in the job record. A claim writes the entry and
 * deletes the ready entry without rewriting the record; heartbeats, progress and a cancel request
 * rewrite only the entry; the attempt's end writes the record once and deletes the entry. The active
 * job is the stored record (as it was when claimed) with the entry's fields over it (`overlay`).
 *
 * So a job costs 5 mutations from ready to done (claim: 1 delete + 1 set; end: 1 delete + 2 sets)
 * and one record encode, where a claim that rewrote the record cost 6 and two.
 *
 * @module
 */

import type { JobRecord, Lease } from "./job_record.ts";
import type { AtomicKv } from "./kv.ts";
import { Keyspace } from "./keys.ts";
import { decodeRecord, parseStored } from "./payload.ts";
import { CorruptionError } from "./errors.ts";
import { encodeUtf8 } from "./utf8.ts";

/** The fields of an active record that its attempt changes: what a lease entry holds. */
export interface LeaseFields {
  /** The attempt number (the claim counted it). */
  readonly attempt: number;
  /** When the attempt started. */
  readonly startedAt: number;
  /** When the attempt last changed (claim, heartbeat, progress, cancel request). */
  readonly updatedAt: number;
  /** The lease. */
  readonly lease: Lease;
  /** The last reported progress (this attempt's, or an earlier one's kept by the record). */
  readonly progress?: unknown;
  /** A cancel was requested while the job ran. */
  readonly cancelRequested?: boolean;
}

/**
 * The lease entry of an active record.
 *
 * @example
 * ```ts
 * import { createJob, transition } from "./job.ts";
 * import { decodeLease, encodeLease } from "./lease_entry.ts";
 * const active = transition(createJob({ id: "a", queue: "q", payload: { json: 1 } }, 0), {
 *   type: "claim", token: "t", owner: "w", leaseMs: 10 }, 5);
 * console.log(decodeLease(encodeLease(active)).lease.expiresAt); // 15
 * ```
 */
export function encodeLease(active: JobRecord): Uint8Array {
  if (active.state !== "active" || !active.lease) {
    throw new TypeError(`Cannot encode the lease of job ${active.id}: it is ${active.state}, not active`);
  }
  const f: LeaseFields = {
    attempt: active.attempt,
    startedAt: active.startedAt ?? active.updatedAt,
    updatedAt: active.updatedAt,
    lease: active.lease,
  };
  if (active.progress !== undefined) (f as { progress?: unknown }).progress = active.progress;
  if (active.cancelRequested) (f as { cancelRequested?: boolean }).cancelRequested = true;
  return encodeUtf8(JSON.stringify(f));
}

/** Decodes a lease entry; a value that is not one is a `CorruptionError`. */
export function decodeLease(bytes: Uint8Array): LeaseFields {
  const o = parseStored(bytes, "a lease entry") as Partial<LeaseFields> | null;
  if (
    typeof o !== "object" || o === null || typeof o.attempt !== "number" ||
    typeof o.updatedAt !== "number" || typeof o.lease !== "object" || o.lease === null ||
    typeof o.lease.token !== "string" || typeof o.lease.expiresAt !== "number"
  ) {
    throw new CorruptionError("queue", "decode", "a stored value is not a lease entry");
  }
  return o as LeaseFields;
}

/** The active record: the stored record with its lease entry's fields over it. */
export function overlay(base: JobRecord, fields: LeaseFields): JobRecord {
  return { ...base, ...fields, state: "active" };
}

/** A job as stored: its record's value, with its lease entry's value (when active) laid over it. */
export function storedJob(record: Uint8Array, lease?: Uint8Array | null): JobRecord {
  const base = decodeRecord(record);
  return lease ? overlay(base, decodeLease(lease)) : base;
}

/**
 * Every job of one queue as stored, by id: each record, with its lease entry over it while active.
 * For checkers and tools that read a whole store (crash tests, dumps); the engine reads by id.
 */
export async function storedJobs(kv: AtomicKv, ks: Keyspace): Promise<Map<string, JobRecord>> {
  const leases = new Map<string, Uint8Array>();
  for await (const e of kv.list({ prefix: ks.indexPrefix("active") })) {
    leases.set(Keyspace.idOf(e.key), e.value);
  }
  const jobs = new Map<string, JobRecord>();
  for await (const e of kv.list({ prefix: [...ks.root, "job", ks.queue] })) {
    const id = Keyspace.idOf(e.key);
    jobs.set(id, storedJob(e.value, leases.get(id)));
  }
  return jobs;
}
