/**
 * The engine behind `Queue` and `Worker`: every store operation of one queue, built on the AtomicKv
 * contract only. Internal: the public API is `Queue` (src/queue.ts) and `Worker` (src/worker.ts).
 *
 * Each state change is one unit for the group committer: check the job record's versionstamp,
 * delete the old index entry, write the new one and the record, adjust the counts.
 *
 * @module
 */

import { type AtomicKv, type AtomicOp, encodeKey, type KvEntry, type KvKey } from "./kv.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type IdFactory, monotonicUlid } from "./ids.ts";
import { type Backoff, DEFAULT_BACKOFF, validateBackoff } from "./backoff.ts";
import { createSigner, type Signer } from "./signing.ts";
import {
  createJob,
  errorInfo,
  isTerminal,
  JOB_STATES,
  type JobEvent,
  type JobRecord,
  type JobState,
  transition,
  type ValueRef,
} from "./job.ts";
import { Keyspace } from "./keys.ts";
import {
  addCounts,
  Committer,
  type Counts,
  decodeCounts,
  encodeCounts,
  getMany,
  keyId,
  unfinished,
  type WriteUnit,
} from "./committer.ts";
import {
  canonicalBytes,
  chunk,
  decodeRecord,
  decodeValue,
  encodeRecord,
  inlineRef,
  valueBytes,
} from "./payload.ts";
import { channel, type QueueSignal } from "./notifier.ts";
import { QueueEvent, type QueueEventType } from "./events.ts";
import {
  CanceledError,
  IntegrityError,
  JobFailedError,
  JobNotFoundError,
  JobStateError,
  LeaseLostError,
  LimitError,
  PermanentError,
  QueueFullError,
  StorageError,
} from "./errors.ts";
import { nextTick, scheduleInfo, type ScheduleRecord, validateSchedule } from "./scheduler.ts";
import type {
  AddedJob,
  AddOptions,
  ClaimedJob,
  ClaimOptions,
  FailOptions,
  HeartbeatOptions,
  Job,
  JobPage,
  ListOptions,
  Middleware,
  QueueOptions,
  RetentionRule,
  ScheduleInfo,
  ScheduleOptions,
} from "./types.ts";

/** One id factory per process, so ids from every queue in the process are strictly increasing. */
const processIds: IdFactory = monotonicUlid();

const enc = new TextEncoder();
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);
const PAGE = 100;

/** A record and the versionstamp it was read or written at. */
export interface Entry {
  record: JobRecord;
  versionstamp: string;
}

/** A job a worker holds: its last written record and versionstamp (the fence), and its payload. */
export interface Held<T> {
  record: JobRecord;
  versionstamp: string;
  readonly token: string;
  readonly data: T;
  /** Set when the payload could not be read (missing or undecodable chunks): the job goes to dead. */
  readonly corrupt?: IntegrityError;
  /** Called when a cancel request is seen for this job. */
  onCancel?: () => void;
  /** Serializes this job's writes. */
  chain: Promise<unknown>;
}

/** A record and the unit that commits it (when the unit is not the plain move to that record). */
export interface Staged {
  record: JobRecord;
  unit: WriteUnit;
}

interface Prepared<T> {
  record: JobRecord;
  unit: WriteUnit;
  overflow: WriteUnit | undefined;
  overflowRecord: JobRecord | undefined;
  data: T;
}

function merge(a: WriteUnit, b: Partial<WriteUnit>): WriteUnit {
  const delta = { ...a.delta };
  if (b.delta) { for (const s of JOB_STATES) if (b.delta[s]) delta[s] = (delta[s] ?? 0) + b.delta[s]!; }
  const unit: WriteUnit = {
    checks: [...a.checks, ...(b.checks ?? [])],
    sets: [...a.sets, ...(b.sets ?? [])],
    deletes: [...a.deletes, ...(b.deletes ?? [])],
    delta,
    room: a.room,
    overflow: a.overflow,
    growth: a.growth,
    relaxed: b.relaxed ?? a.relaxed,
  };
  if (a.conflicts && b.conflicts) return { ...unit, conflicts: [...a.conflicts, ...b.conflicts] };
  return a.conflicts && !b.sets?.length && !b.deletes?.length ? { ...unit, conflicts: a.conflicts } : unit;
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

function checkNumber(what: string, v: unknown, min: number, integer = false): void {
  if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new TypeError(
      `Invalid ${what}: expected a finite ${integer ? "integer" : "number"}, got ${String(v)}`,
    );
  }
  if (v < min) throw new RangeError(`Invalid ${what}: must be >= ${min}, got ${v}`);
}

/** The engine of one queue. */
export class Engine<T, R> {
  readonly kv: AtomicKv;
  readonly name: string;
  readonly ks: Keyspace;
  readonly clock: Clock;
  readonly ids: IdFactory;
  readonly random: () => number;
  readonly committer: Committer;
  readonly target: EventTarget;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly timeout: number | undefined;
  readonly maxQueued: number;
  readonly overflow: "reject" | "dead";
  readonly maxPayloadBytes: number;
  readonly removeOnComplete: boolean;
  readonly pollInterval: number;
  readonly retention: QueueOptions["retention"];
  readonly signer: Signer | undefined;
  readonly middleware: Middleware<T, R>[] = [];
  readonly workers: Set<{ close(o?: { timeout?: number }): Promise<void> }> = new Set();
  readonly #channel: ReturnType<typeof channel>;
  readonly #wrapped = new WeakSet<AtomicOp>();

  constructor(kv: AtomicKv, name: string, options: QueueOptions, target: EventTarget) {
    if (!kv || typeof kv.atomic !== "function" || !kv.info) {
      throw new TypeError("Cannot open queue: the store is not an AtomicKv");
    }
    this.kv = kv;
    this.name = name;
    this.ks = new Keyspace(options.root, name);
    this.clock = options.clock ?? systemClock;
    this.ids = options.ids ?? processIds;
    this.random = options.random ?? Math.random;
    this.target = target;
    this.maxAttempts = options.maxAttempts ?? 3;
    checkNumber("maxAttempts", this.maxAttempts, 1, true);
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    validateBackoff(this.backoff);
    this.timeout = options.timeout;
    if (this.timeout !== undefined) checkNumber("timeout", this.timeout, 1);
    this.maxQueued = options.maxQueued ?? Infinity;
    if (this.maxQueued !== Infinity) checkNumber("maxQueued", this.maxQueued, 0, true);
    this.overflow = options.overflow ?? "reject";
    if (this.overflow !== "reject" && this.overflow !== "dead") {
      throw new TypeError(
        `Invalid overflow: expected "reject" or "dead", got ${JSON.stringify(this.overflow)}`,
      );
    }
    this.maxPayloadBytes = options.maxPayloadBytes ?? 4 * 1024 * 1024;
    checkNumber("maxPayloadBytes", this.maxPayloadBytes, 0, true);
    this.removeOnComplete = options.removeOnComplete ?? false;
    this.pollInterval = options.pollInterval ?? 1000;
    checkNumber("pollInterval", this.pollInterval, 1);
    this.retention = options.retention;
    this.signer = options.signingKey !== undefined ? createSigner(options.signingKey) : undefined;
    this.committer = new Committer(kv, this.ks.counts, this.ks.deltaPrefix, this.maxQueued);
    let hubName = "";
    for (const b of encodeKey([...this.ks.root, name])) hubName += String.fromCharCode(b);
    this.#channel = channel(kv, hubName);
  }

  // ------------------------------------------------------------------ signals and events

  /** Subscribes to this queue's in-process signals. */
  subscribe(fn: (s: QueueSignal) => void): () => void {
    return this.#channel.subscribe(fn);
  }

  /** Tells this process's workers and waiters. */
  signal(s: QueueSignal): void {
    this.#channel.emit(s);
  }

  /** Dispatches a queue event. */
  emit(type: QueueEventType, job?: Job<T, R>, error?: unknown): void {
    this.target.dispatchEvent(new QueueEvent<T, R>(type, { job, error }));
  }

  #announce(record: JobRecord): void {
    if (record.state === "ready") this.signal({ type: "ready" });
    else if (record.state === "scheduled" || record.state === "failed") {
      this.signal({ type: "delayed", at: record.runAt });
    } else if (isTerminal(record.state)) this.signal({ type: "ended", id: record.id });
  }

  // ------------------------------------------------------------------ encoding and units

  encode(record: JobRecord): Uint8Array {
    return encodeRecord(record, this.kv.info.maxValueBytes, this.kv.info.name);
  }

  #indexValue(record: JobRecord): Uint8Array {
    return record.state === "scheduled" || record.state === "failed" ? enc.encode(record.state) : EMPTY;
  }

  #blobKeys(record: JobRecord): KvKey[] {
    const keys: KvKey[] = [];
    if ("chunks" in record.payload) {
      for (let i = 0; i < record.payload.chunks; i++) keys.push(this.ks.blob(record.id, "p", i));
    }
    if (record.result && "chunks" in record.result) {
      for (let i = 0; i < record.result.chunks; i++) keys.push(this.ks.blob(record.id, "r", i));
    }
    return keys;
  }

  /** The unit that moves a job from `from` to `next` (one commit, checked). */
  moveUnit(from: Entry, next: JobRecord, extra: Partial<WriteUnit> = {}): WriteUnit {
    const oldIndex = this.ks.index(from.record);
    const newIndex = this.ks.index(next);
    const same = keyId(oldIndex) === keyId(newIndex);
    const delta: Partial<Counts> = {};
    if (from.record.state !== next.state) {
      delta[from.record.state] = -1;
      delta[next.state] = 1;
    }
    const jobKey = this.ks.job(next.id);
    // Every key this unit writes is the job's own (record, index, chunks): the job key stands for them.
    return merge({
      checks: [[jobKey, from.versionstamp]],
      deletes: same ? [] : [oldIndex],
      sets: [[newIndex, this.#indexValue(next)], [jobKey, this.encode(next)]],
      delta,
      conflicts: [jobKey],
    }, { ...extra, conflicts: extra.conflicts ?? [] });
  }

  /** The unit that deletes a job and everything it owns. */
  removeUnit(from: Entry): WriteUnit {
    const r = from.record;
    const deletes = [this.ks.job(r.id), this.ks.index(r), ...this.#blobKeys(r)];
    const conflicts = [this.ks.job(r.id)];
    if (r.key !== undefined) {
      deletes.push(this.ks.unique(r.key));
      conflicts.push(this.ks.unique(r.key));
    }
    return {
      checks: [[this.ks.job(r.id), from.versionstamp]],
      sets: [],
      deletes,
      delta: { [r.state]: -1 },
      conflicts,
    };
  }

  // ------------------------------------------------------------------ reads

  async read(id: string): Promise<Entry | null> {
    const e = await this.kv.get(this.ks.job(id));
    return e ? { record: decodeRecord(e.value), versionstamp: e.versionstamp } : null;
  }

  async #loadValues(
    records: JobRecord[],
  ): Promise<Map<string, { data: unknown; result: unknown; error?: IntegrityError }>> {
    const keys: KvKey[] = [];
    for (const r of records) keys.push(...this.#blobKeys(r));
    const blobs = new Map<string, Uint8Array>();
    if (keys.length) {
      const got = await getMany(this.kv, keys);
      got.forEach((e, i) => {
        if (e) blobs.set(keyId(keys[i]), e.value);
      });
    }
    const out = new Map<string, { data: unknown; result: unknown; error?: IntegrityError }>();
    const load = (r: JobRecord, ref: ValueRef | undefined, kind: "p" | "r") => {
      if (!ref || !("chunks" in ref)) return decodeValue(ref);
      const parts: Uint8Array[] = [];
      for (let i = 0; i < ref.chunks; i++) {
        const b = blobs.get(keyId(this.ks.blob(r.id, kind, i)));
        if (!b) {
          throw new IntegrityError(
            r.id,
            `chunk ${i} of its ${kind === "p" ? "payload" : "result"} is missing`,
          );
        }
        parts.push(b);
      }
      try {
        return decodeValue(ref, parts);
      } catch (e) {
        throw new IntegrityError(r.id, `its ${kind === "p" ? "payload" : "result"} cannot be decoded`, {
          cause: e,
        });
      }
    };
    for (const r of records) {
      try {
        out.set(r.id, { data: load(r, r.payload, "p"), result: load(r, r.result, "r") });
      } catch (e) {
        if (!(e instanceof IntegrityError)) throw e;
        out.set(r.id, { data: undefined, result: undefined, error: e });
      }
    }
    return out;
  }

  /** The public view of a record. */
  view(record: JobRecord, versionstamp: string | null, data: unknown, result?: unknown): Job<T, R> {
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
  async views(entries: Entry[], tolerant = false): Promise<Job<T, R>[]> {
    const values = await this.#loadValues(entries.map((e) => e.record));
    return entries.map((e) => {
      const v = values.get(e.record.id)!;
      if (v.error && !tolerant) throw v.error;
      return this.view(e.record, e.versionstamp, v.data, v.result);
    });
  }

  async getJob(id: string): Promise<Job<T, R> | null> {
    const e = await this.read(id);
    return e ? (await this.views([e]))[0] : null;
  }

  async counts(): Promise<Counts> {
    return await this.committer.readCounts();
  }

  async list(state: JobState, options: ListOptions = {}): Promise<JobPage<T, R>> {
    if (!JOB_STATES.includes(state)) {
      throw new TypeError(
        `Cannot list jobs: unknown state ${JSON.stringify(state)}, expected one of ${JOB_STATES.join(", ")}`,
      );
    }
    const limit = options.limit ?? PAGE;
    checkNumber("list limit", limit, 1, true);
    const prefix = this.ks.indexPrefix(state);
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
    for await (const e of this.kv.list(sel, filter ? { reverse } : { limit, reverse })) {
      if (filter && dec.decode(e.value) !== state) continue;
      ids.push(Keyspace.idOf(e.key));
      last = e.key;
      if (ids.length >= limit) break;
    }
    const got = await getMany(this.kv, ids.map((id) => this.ks.job(id)));
    const entries: Entry[] = [];
    for (const e of got) if (e) entries.push({ record: decodeRecord(e.value), versionstamp: e.versionstamp });
    const cursor = ids.length >= limit && last ? JSON.stringify(last.slice(prefix.length)) : null;
    return { jobs: await this.views(entries, true), cursor };
  }

  // ------------------------------------------------------------------ add

  #runAt(opts: AddOptions, now: number): number {
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

  #validate(opts: AddOptions): void {
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

  /** Builds the record and unit of a new job. */
  async prepare(data: T, opts: AddOptions, schedule?: string): Promise<Prepared<T>> {
    this.#validate(opts);
    const now = this.clock.now();
    const runAt = this.#runAt(opts, now);
    const id = this.ids(now);
    const { bytes, binary } = valueBytes(data);
    if (bytes.length > this.maxPayloadBytes) {
      throw new LimitError("queue", "payloadBytes", bytes.length, this.maxPayloadBytes);
    }
    const signature = this.signer ? await this.signer.sign(this.#signed(id, bytes)) : undefined;
    const init = {
      id,
      queue: this.name,
      payload: inlineRef(data),
      runAt,
      priority: opts.priority === undefined ? 0 : opts.priority + 0, // no -0
      maxAttempts: opts.maxAttempts ?? this.maxAttempts,
      backoff: opts.backoff,
      timeout: opts.timeout ?? this.timeout,
      key: opts.key,
      signature,
      removeOnComplete: opts.removeOnComplete ?? this.removeOnComplete,
      schedule,
    };
    let record = createJob(init, now);
    const info = this.kv.info;
    let chunks: Uint8Array[] = [];
    let encoded: Uint8Array = enc.encode(JSON.stringify(record));
    if (encoded.length > info.maxValueBytes) {
      chunks = chunk(bytes, info.maxValueBytes);
      record = createJob({ ...init, payload: { chunks: chunks.length, bytes: bytes.length, binary } }, now);
      encoded = this.encode(record);
      const room = info.maxMutations - 4;
      if (chunks.length > room) {
        throw new LimitError("queue", "payloadBytes", bytes.length, room * info.maxValueBytes);
      }
    }
    const blobSets = chunks.map((c, i): [KvKey, Uint8Array] => [this.ks.blob(id, "p", i), c]);
    const build = (r: JobRecord, bytes: Uint8Array): WriteUnit => {
      const checks: [KvKey, string | null][] = [[this.ks.job(id), null]];
      const sets: [KvKey, Uint8Array][] = [
        [this.ks.job(id), bytes],
        [this.ks.index(r), this.#indexValue(r)],
        ...blobSets,
      ];
      if (r.key !== undefined) {
        checks.push([this.ks.unique(r.key), null]);
        sets.push([this.ks.unique(r.key), enc.encode(id)]);
      }
      return {
        checks,
        sets,
        deletes: [],
        delta: { [r.state]: 1 },
        room: isTerminal(r.state) ? 0 : 1,
        growth: true,
        // A new id touches nothing another unit can; only its unique key can be shared.
        conflicts: r.key !== undefined ? [this.ks.job(id), this.ks.unique(r.key)] : [this.ks.job(id)],
      };
    };
    let overflowRecord: JobRecord | undefined;
    let overflow: WriteUnit | undefined;
    if (this.overflow === "dead") {
      overflowRecord = transition(record, { type: "overflow" }, now);
      overflow = { ...build(overflowRecord, this.encode(overflowRecord)), room: 0 };
    }
    const unit = { ...build(record, encoded), overflow };
    return { record, unit, overflow, overflowRecord, data };
  }

  #signed(id: string, bytes: Uint8Array): Uint8Array {
    const head = enc.encode(id + "\n");
    const out = new Uint8Array(head.length + bytes.length);
    out.set(head);
    out.set(bytes, head.length);
    return out;
  }

  async add(data: T, opts: AddOptions = {}): Promise<AddedJob<T, R>> {
    if (opts.atomic) return await this.#addAtomic(data, opts);
    for (let round = 0;; round++) {
      const p = await this.prepare(data, opts);
      const res = await this.committer.write(p.unit).catch((e) => Promise.reject(addError(e)));
      const added = await this.#settleAdd(p, res, round);
      if (added) return added;
    }
  }

  async #settleAdd(
    p: Prepared<T>,
    res: Awaited<ReturnType<Committer["write"]>>,
    round: number,
  ): Promise<AddedJob<T, R> | null> {
    if (res.ok) {
      const record = res.overflowed ? p.overflowRecord! : p.record;
      this.#announce(record);
      const job = this.view(record, res.versionstamp, p.data) as AddedJob<T, R> & { created: boolean };
      job.created = true;
      if (res.overflowed) this.emit("dead", job, new QueueFullError(this.name, this.maxQueued));
      return job;
    }
    if (res.full) throw new QueueFullError(this.name, this.maxQueued);
    if (p.record.key !== undefined) {
      const existing = await this.#byKey(p.record.key);
      if (existing) return { ...existing, created: false };
    }
    if (round >= 10) {
      throw new StorageError(this.kv.info.name, "commit", "cannot enqueue job: the commit kept conflicting");
    }
    return null;
  }

  async #byKey(key: string): Promise<Job<T, R> | null> {
    const u = await this.kv.get(this.ks.unique(key));
    if (!u) return null;
    return await this.getJob(dec.decode(u.value));
  }

  async addBulk(items: readonly { data: T; options?: AddOptions }[]): Promise<AddedJob<T, R>[]> {
    if (!Array.isArray(items)) throw new TypeError("Invalid addBulk items: expected an array");
    if (items.some((i) => i?.options?.atomic)) {
      throw new TypeError("Invalid addBulk items: atomic is not supported in addBulk; call add() per job");
    }
    const prepared: Prepared<T>[] = [];
    for (const item of items) prepared.push(await this.prepare(item.data, item.options ?? {}));
    const results = await this.committer.writeMany(prepared.map((p) => p.unit))
      .catch((e) => Promise.reject(addError(e)));
    const out: AddedJob<T, R>[] = [];
    for (let i = 0; i < prepared.length; i++) {
      const added = await this.#settleAdd(prepared[i], results[i], 0);
      out.push(added ?? await this.add(items[i].data, items[i].options));
    }
    return out;
  }

  async #addAtomic(data: T, opts: AddOptions): Promise<AddedJob<T, R>> {
    const op = opts.atomic!;
    if (opts.key !== undefined) {
      const existing = await this.#byKey(opts.key);
      if (existing) return { ...existing, created: false };
    }
    const p = await this.prepare(data, { ...opts, atomic: undefined });
    op.growth?.(); // a new job: a store low on space may refuse the caller's commit
    let unit = p.unit;
    let record = p.record;
    if (this.maxQueued !== Infinity) {
      const entry = await this.kv.get(this.ks.counts);
      const stored = decodeCounts(entry?.value);
      const all = await this.committer.readCounts();
      if (unfinished(all) + 1 > this.maxQueued) {
        if (!p.overflow) throw new QueueFullError(this.name, this.maxQueued);
        unit = p.overflow;
        record = p.overflowRecord!;
      }
      op.check(this.ks.counts, entry?.versionstamp ?? null).set(
        this.ks.counts,
        encodeCounts(addCounts(stored, unit.delta)),
      );
    } else {
      op.set(this.ks.delta(record.id), encodeCounts(addCounts(decodeCounts(undefined), unit.delta)));
    }
    for (const [k, v] of unit.checks) op.check(k, v);
    for (const [k, v] of unit.sets) op.set(k, v);
    if (!this.#wrapped.has(op)) {
      this.#wrapped.add(op);
      const commit = op.commit.bind(op);
      const announce: JobRecord[] = [];
      (op as { _kvqAnnounce?: JobRecord[] })._kvqAnnounce = announce;
      op.commit = async () => {
        const res = await commit();
        if (res.ok) { for (const r of announce) this.#announce(r); }
        return res;
      };
    }
    (op as { _kvqAnnounce?: JobRecord[] })._kvqAnnounce!.push(record);
    return { ...this.view(record, null, data), created: true };
  }

  // ------------------------------------------------------------------ caller-driven changes

  /** Applies `event` to job `id` with retries on conflicts; `null` when the job is absent. */
  async #change(
    id: string,
    event: JobEvent,
  ): Promise<{ before: Entry; after: JobRecord; versionstamp: string } | null> {
    for (let round = 0; round < 100; round++) {
      const entry = await this.read(id);
      if (!entry) return null;
      const next = transition(entry.record, event, this.clock.now());
      const res = await this.committer.write(this.moveUnit(entry, next));
      if (res.ok) return { before: entry, after: next, versionstamp: res.versionstamp };
    }
    throw new StorageError(
      this.kv.info.name,
      "commit",
      `cannot ${event.type} job ${id}: it kept changing under us`,
    );
  }

  async cancel(id: string): Promise<boolean> {
    let done;
    try {
      done = await this.#change(id, { type: "cancel" });
    } catch (e) {
      if (e instanceof JobStateError) return false;
      throw e;
    }
    if (!done) throw new JobNotFoundError(id, this.name);
    if (done.after.state === "active") {
      this.signal({ type: "cancel", id });
    } else {
      this.#announce(done.after);
      this.emit("canceled", (await this.views([{ record: done.after, versionstamp: done.versionstamp }]))[0]);
    }
    return true;
  }

  async redrive(id: string): Promise<Job<T, R>> {
    const done = await this.#change(id, { type: "redrive" });
    if (!done) throw new JobNotFoundError(id, this.name);
    this.#announce(done.after);
    return (await this.views([{ record: done.after, versionstamp: done.versionstamp }]))[0];
  }

  async redriveAll(): Promise<number> {
    let n = 0;
    for (;;) {
      const entries = await this.#indexed("dead", undefined, PAGE);
      if (!entries.length) return n;
      const now = this.clock.now();
      const units = entries.filter((e) => e.record.state === "dead").map((e) =>
        this.moveUnit(e, transition(e.record, { type: "redrive" }, now))
      );
      const res = await this.committer.writeMany(units);
      n += res.filter((r) => r.ok).length;
      this.signal({ type: "ready" });
    }
  }

  async remove(id: string): Promise<boolean> {
    for (let round = 0; round < 100; round++) {
      const entry = await this.read(id);
      if (!entry) return false;
      if (entry.record.state === "active") {
        throw new JobStateError(id, "active", "remove", "it is active; cancel it first");
      }
      const res = await this.committer.write(this.removeUnit(entry));
      if (res.ok) {
        this.signal({ type: "ended", id });
        return true;
      }
    }
    throw new StorageError(this.kv.info.name, "commit", `cannot remove job ${id}: it kept changing under us`);
  }

  async setPaused(paused: boolean): Promise<void> {
    const op = this.kv.atomic();
    if (paused) op.set(this.ks.paused, enc.encode("1"));
    else op.delete(this.ks.paused);
    await op.commit();
    this.signal({ type: "paused", paused });
  }

  async isPaused(): Promise<boolean> {
    return (await this.kv.get(this.ks.paused)) !== null;
  }

  // ------------------------------------------------------------------ worker side

  /** Reads up to `limit` entries of an index (optionally only up to time `until`) with their records. */
  async #indexed(state: JobState, until: number | undefined, limit: number): Promise<Entry[]> {
    const prefix = this.ks.indexPrefix(state);
    const sel = until === undefined ? { prefix } : { prefix, end: [...prefix, until, true] };
    const ids: string[] = [];
    for await (const e of this.kv.list(sel, { limit })) ids.push(Keyspace.idOf(e.key));
    const got = await getMany(this.kv, ids.map((id) => this.ks.job(id)));
    const out: Entry[] = [];
    for (const e of got) if (e) out.push({ record: decodeRecord(e.value), versionstamp: e.versionstamp });
    return out;
  }

  /**
   * Claims up to `n` ready jobs in one commit per batch (checked: each job's versionstamp and the
   * paused flag). Returns what this worker won; `paused` when the queue is paused.
   */
  async claim(
    n: number,
    owner: string,
    leaseMs: number,
    external = false,
  ): Promise<{ held: Held<T>[]; paused: boolean; contended: boolean }> {
    const prefix = this.ks.indexPrefix("ready");
    const ids: string[] = [];
    for await (const e of this.kv.list({ prefix }, { limit: n })) ids.push(Keyspace.idOf(e.key));
    if (!ids.length) return { held: [], paused: false, contended: false };
    const got = await getMany(this.kv, [this.ks.paused, ...ids.map((id) => this.ks.job(id))]);
    if (got[0]) return { held: [], paused: true, contended: false };
    const now = this.clock.now();
    const pending: { entry: Entry; next: JobRecord }[] = [];
    for (const e of got.slice(1)) {
      if (!e) continue;
      const record = decodeRecord(e.value);
      if (record.state !== "ready") continue;
      const next = transition(record, { type: "claim", token: this.ids(now), owner, leaseMs, external }, now);
      pending.push({ entry: { record, versionstamp: e.versionstamp }, next });
    }
    const results = await this.committer.writeMany(
      // A claim lost in a power loss only makes the job run again: its commit need not wait for a sync.
      pending.map((p) => this.moveUnit(p.entry, p.next, { checks: [[this.ks.paused, null]], relaxed: true })),
    );
    const won: Entry[] = [];
    results.forEach((r, i) => {
      if (r.ok) won.push({ record: pending[i].next, versionstamp: r.versionstamp });
    });
    const contended = won.length < ids.length;
    if (!won.length) return { held: [], paused: false, contended };
    const values = await this.#loadValues(won.map((w) => w.record));
    return {
      held: won.map((w) => ({
        record: w.record,
        versionstamp: w.versionstamp,
        token: w.record.lease!.token,
        data: values.get(w.record.id)!.data as T,
        corrupt: values.get(w.record.id)!.error,
        chain: Promise.resolve(),
      })),
      paused: false,
      contended,
    };
  }

  /**
   * A fenced write for a held job: the unit checks the versionstamp this worker last wrote. When it
   * fails, the record is re-read: still ours (a cancel request or similar changed it) → retry on the
   * new record; not ours → `LeaseLostError`, nothing changed.
   */
  fenced(
    held: Held<T>,
    operation: string,
    build: (current: Entry, now: number) => JobRecord | Staged,
  ): Promise<Entry> {
    const run = async (): Promise<Entry> => {
      for (let round = 0; round < 20; round++) {
        const now = this.clock.now();
        const current: Entry = { record: held.record, versionstamp: held.versionstamp };
        let staged: Staged;
        try {
          const built = build(current, now);
          staged = "unit" in built ? built : { record: built, unit: this.moveUnit(current, built) };
        } catch (e) {
          if (e instanceof JobStateError) throw new LeaseLostError(held.record.id, operation, { cause: e });
          throw e;
        }
        const res = await this.committer.write(staged.unit);
        if (res.ok) {
          // The record as committed (for a removal: as it ended), so events carry the job as stored.
          held.record = staged.record;
          held.versionstamp = res.versionstamp;
          return { record: staged.record, versionstamp: res.versionstamp };
        }
        const fresh = await this.read(held.record.id);
        if (!fresh || fresh.record.state !== "active" || fresh.record.lease?.token !== held.token) {
          throw new LeaseLostError(held.record.id, operation);
        }
        held.record = fresh.record;
        held.versionstamp = fresh.versionstamp;
        if (fresh.record.cancelRequested) held.onCancel?.();
      }
      throw new LeaseLostError(held.record.id, operation);
    };
    const p = held.chain.then(run, run);
    held.chain = p.catch(() => {});
    return p;
  }

  async heartbeat(held: Held<T>, leaseMs: number): Promise<Entry> {
    return await this.fenced(
      held,
      "heartbeat",
      (c, now) => {
        const next = transition(c.record, { type: "heartbeat", token: held.token, leaseMs }, now);
        // Like a claim, a heartbeat lost in a power loss only makes the job run again.
        return { record: next, unit: this.moveUnit(c, next, { relaxed: true }) };
      },
    );
  }

  async progress(held: Held<T>, value: unknown, leaseMs: number): Promise<Entry> {
    valueBytes(value);
    return await this.fenced(held, "progress", (c, now) => {
      const p = transition(c.record, { type: "progress", token: held.token, value }, now);
      return transition(p, { type: "heartbeat", token: held.token, leaseMs }, now);
    });
  }

  /** Completes a held job; returns the job as committed (and as the `completed` event carries it). */
  async complete(held: Held<T>, result: R): Promise<Job<T, R>> {
    let chunks: Uint8Array[] = [];
    let ref: ValueRef | undefined;
    if (result !== undefined) {
      const { bytes, binary } = valueBytes(result);
      if (bytes.length > this.maxPayloadBytes) {
        throw new LimitError("queue", "payloadBytes", bytes.length, this.maxPayloadBytes);
      }
      ref = inlineRef(result);
      const probe = { ...held.record, result: ref };
      if (enc.encode(JSON.stringify(probe)).length + 1024 > this.kv.info.maxValueBytes) {
        chunks = chunk(bytes, this.kv.info.maxValueBytes);
        ref = { chunks: chunks.length, bytes: bytes.length, binary };
      }
    }
    const removed = held.record.removeOnComplete;
    const out = await this.fenced(held, "complete", (c, now) => {
      const next = transition(c.record, { type: "complete", token: held.token, result: ref }, now);
      if (removed) return { record: next, unit: this.removeUnit(c) };
      return {
        record: next,
        unit: this.moveUnit(c, next, {
          sets: chunks.map((b, i) => [this.ks.blob(next.id, "r", i), b] as const),
        }),
      };
    });
    this.signal({ type: "ended", id: out.record.id });
    const job = this.view(out.record, removed ? null : out.versionstamp, held.data, result);
    this.emit("completed", job);
    return job;
  }

  /**
   * Fails a held job's attempt; returns the job as committed (failed, dead or canceled). With
   * `noRetry`, the failure is permanent whatever the error.
   */
  async fail(held: Held<T>, error: unknown, noRetry = false): Promise<Job<T, R>> {
    const integrity = error instanceof IntegrityError;
    const permanent = noRetry || integrity || error instanceof PermanentError ||
      (typeof error === "object" && error !== null && (error as { retry?: unknown }).retry === false);
    const out = await this.fenced(held, "fail", (c, now) =>
      transition(c.record, {
        type: "fail",
        token: held.token,
        error: errorInfo(error),
        permanent,
        reason: integrity ? "integrity" : undefined,
        backoff: this.backoff,
        cause: error,
        random: this.random,
      }, now));
    const job = this.view(out.record, out.versionstamp, held.data);
    this.#announce(out.record);
    this.emit("failed", job, error);
    if (out.record.state === "failed") this.emit("retrying", job, error);
    else if (out.record.state === "dead") this.emit("dead", job, error);
    else if (out.record.state === "canceled") this.emit("canceled", job, error);
    return job;
  }

  /** Gives a held job back (ready, attempt not counted; canceled if a cancel was requested). */
  async release(held: Held<T>): Promise<Job<T, R>> {
    const out = await this.fenced(
      held,
      "release",
      (c, now) => transition(c.record, { type: "release", token: held.token }, now),
    );
    this.#announce(out.record);
    const job = this.view(out.record, out.versionstamp, held.data);
    if (out.record.state === "canceled") this.emit("canceled", job);
    return job;
  }

  // ------------------------------------------------------------------ external leases (Queue.claim)

  #lastHeal = -Infinity;

  /**
   * Claims up to `limit` ready jobs under external leases (one checked commit per batch, through the
   * same path as a worker's claim), verifies each payload (a bad one goes to dead and is not
   * handed out) and, with `wait`, waits for work. Due delayed jobs are promoted first, and expired
   * leases healed at most once per poll interval, so no worker needs to run.
   */
  async claimExternal(options: ClaimOptions): Promise<ClaimedJob<T, R>[]> {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Invalid claim options: expected an object");
    }
    const owner = options.owner ?? "consumer";
    if (typeof owner !== "string" || owner === "") {
      throw new TypeError(`Invalid claim owner: expected a non-empty string, got ${JSON.stringify(owner)}`);
    }
    const leaseMs = options.leaseMs ?? 30_000;
    checkNumber("claim leaseMs", leaseMs, 1);
    const limit = options.limit ?? 1;
    checkNumber("claim limit", limit, 1, true);
    const wait = options.wait ?? 0;
    checkNumber("claim wait", wait, 0);
    const signal = options.signal;
    const deadline = this.clock.now() + wait;
    let dueNow = 0;
    for (;;) {
      // Listen before looking, so a job that becomes ready between the look and the wait wakes us.
      const waker: { woken: boolean; wake: (() => void) | null } = { woken: false, wake: null };
      const off = wait > 0
        ? this.subscribe((s) => {
          if (s.type !== "ready" && s.type !== "delayed") return;
          waker.woken = true;
          waker.wake?.();
        })
        : () => {};
      try {
        const got = await this.#claimOnce(limit, owner, leaseMs);
        if (got.length || signal?.aborted || this.clock.now() >= deadline) return got;
        if (waker.woken) continue;
        const next = await this.nextDelayed();
        const now = this.clock.now();
        if (next !== null && next <= now && dueNow++ < 3) continue; // came due meanwhile: look again
        dueNow = 0;
        let until = Math.min(deadline, now + this.pollInterval);
        if (next !== null && next > now) until = Math.min(until, next);
        if (until <= now) continue; // the deadline passed while we looked: the next round returns
        await new Promise<void>((resolve) => {
          const done = () => {
            this.clock.clearTimer(timer);
            signal?.removeEventListener("abort", done);
            waker.wake = null;
            resolve();
          };
          const timer = this.clock.setTimer(done, until - now);
          signal?.addEventListener("abort", done, { once: true });
          waker.wake = done;
          if (waker.woken || signal?.aborted) done();
        });
      } finally {
        off();
      }
    }
  }

  async #claimOnce(limit: number, owner: string, leaseMs: number): Promise<ClaimedJob<T, R>[]> {
    const now = this.clock.now();
    if (now >= this.#lastHeal + this.pollInterval) {
      this.#lastHeal = now;
      await this.heal();
    }
    await this.promote();
    const out: ClaimedJob<T, R>[] = [];
    for (let round = 0; out.length < limit && round < 100; round++) {
      const { held, paused, contended } = await this.claim(limit - out.length, owner, leaseMs, true);
      if (paused) break;
      let dropped = 0;
      for (const h of held) {
        const bad = await this.verify(h);
        if (!bad) {
          out.push({ job: this.view(h.record, h.versionstamp, h.data), token: h.token });
          continue;
        }
        dropped++;
        try {
          await this.fail(h, bad);
        } catch (err) {
          this.emit("error", this.view(h.record, h.versionstamp, h.data), err);
        }
      }
      // Jobs lost to another claimer, or damaged ones sent to dead: there may be more to take.
      if (!contended && dropped === 0) break;
    }
    return out;
  }

  /** The held form of a job under an external lease, when `token` is its lease token. */
  async #leased(id: string, token: string, operation: string): Promise<Held<T>> {
    if (typeof id !== "string" || id === "") {
      throw new TypeError(`Cannot ${operation} job: expected a job id, got ${JSON.stringify(id)}`);
    }
    if (typeof token !== "string" || token === "") {
      throw new TypeError(`Cannot ${operation} job ${id}: expected the lease token that claim() returned`);
    }
    const e = await this.read(id);
    const r = e?.record;
    if (!e || r!.state !== "active" || r!.lease?.token !== token) {
      throw new LeaseLostError(
        id,
        operation,
        r?.state === "canceled" ? { cause: new CanceledError(id) } : undefined,
      );
    }
    const v = (await this.#loadValues([e.record])).get(id)!;
    return {
      record: e.record,
      versionstamp: e.versionstamp,
      token,
      data: v.data as T,
      chain: Promise.resolve(),
    };
  }

  /** `Queue.heartbeat()`: renews an external lease (and stores progress). */
  async heartbeatExternal(id: string, token: string, options: HeartbeatOptions = {}): Promise<Job<T, R>> {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Invalid heartbeat options: expected an object");
    }
    const held = await this.#leased(id, token, "heartbeat");
    const leaseMs = options.leaseMs ?? held.record.lease?.ms ?? 30_000;
    checkNumber("heartbeat leaseMs", leaseMs, 1);
    if (held.record.cancelRequested) {
      // Canceled while held (by a worker's rules): the holder learns it now, the job ends canceled.
      const canceled = new CanceledError(id);
      await this.fail(held, canceled);
      throw new LeaseLostError(id, "heartbeat", { cause: canceled });
    }
    const out = options.progress !== undefined
      ? await this.progress(held, options.progress, leaseMs)
      : await this.heartbeat(held, leaseMs);
    return this.view(out.record, out.versionstamp, held.data);
  }

  /** `Queue.complete()`. */
  async completeExternal(id: string, token: string, result: R): Promise<Job<T, R>> {
    return await this.complete(await this.#leased(id, token, "complete"), result);
  }

  /** `Queue.fail()`. */
  async failExternal(
    id: string,
    token: string,
    error: unknown,
    options: FailOptions = {},
  ): Promise<Job<T, R>> {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Invalid fail options: expected an object");
    }
    if (options.retry !== undefined && typeof options.retry !== "boolean") {
      throw new TypeError(
        `Invalid fail option retry: expected true or false, got ${JSON.stringify(options.retry)}`,
      );
    }
    return await this.fail(await this.#leased(id, token, "fail"), error, options.retry === false);
  }

  /** `Queue.release()`. */
  async releaseExternal(id: string, token: string): Promise<Job<T, R>> {
    return await this.release(await this.#leased(id, token, "release"));
  }

  /** Verifies a held job's payload signature; `null` when fine, else the error. */
  async verify(held: Held<T>): Promise<IntegrityError | null> {
    if (held.corrupt) return held.corrupt;
    if (!this.signer) return null;
    const sig = held.record.signature;
    if (!sig) return new IntegrityError(held.record.id, "the payload has no signature");
    let bytes: Uint8Array;
    try {
      bytes = held.data instanceof Uint8Array ? held.data : canonicalBytes({ json: held.data });
    } catch (e) {
      return new IntegrityError(held.record.id, "the payload cannot be read", { cause: e });
    }
    const ok = await this.signer.verify(this.#signed(held.record.id, bytes), sig);
    return ok ? null : new IntegrityError(held.record.id, "the payload signature does not match");
  }

  // ------------------------------------------------------------------ maintenance

  /** Moves due scheduled and failed jobs to ready. Returns how many moved. */
  async promote(limit = 256): Promise<number> {
    const now = this.clock.now();
    const entries = await this.#indexed("scheduled", now, limit);
    const units = [];
    for (const e of entries) {
      if ((e.record.state === "scheduled" || e.record.state === "failed") && e.record.runAt <= now) {
        units.push(this.moveUnit(e, transition(e.record, { type: "promote" }, now)));
      }
    }
    if (!units.length) return 0;
    const n = (await this.committer.writeMany(units)).filter((r) => r.ok).length;
    if (n) this.signal({ type: "ready" });
    return n;
  }

  /** The earliest runAt among scheduled and failed jobs, or `null`. */
  async nextDelayed(): Promise<number | null> {
    for await (const e of this.kv.list({ prefix: this.ks.indexPrefix("scheduled") }, { limit: 1 })) {
      return Keyspace.timeOf(e.key);
    }
    return null;
  }

  /**
   * The healer: every active job whose lease expired becomes ready again (attempt counted) or dead
   * when no attempt remains. Idempotent, safe in several processes at once (each move is checked).
   */
  async heal(limit = 100): Promise<number> {
    const now = this.clock.now();
    let total = 0;
    for (;;) {
      const entries = await this.#indexed("active", now, limit);
      const moves: { entry: Entry; next: JobRecord }[] = [];
      for (const e of entries) {
        if (e.record.state === "active" && (e.record.lease?.expiresAt ?? 0) <= now) {
          moves.push({ entry: e, next: transition(e.record, { type: "expire" }, now) });
        }
      }
      if (!moves.length) return total;
      const res = await this.committer.writeMany(moves.map((m) => this.moveUnit(m.entry, m.next)));
      const won: Entry[] = [];
      res.forEach((r, i) => {
        if (r.ok) won.push({ record: moves[i].next, versionstamp: r.versionstamp });
      });
      total += won.length;
      const views = await this.views(won);
      for (const job of views) {
        this.signal(job.state === "ready" ? { type: "ready" } : { type: "ended", id: job.id });
        this.emit("stalled", job);
        if (job.state === "dead") this.emit("dead", job);
        if (job.state === "canceled") this.emit("canceled", job);
      }
      if (entries.length < limit || won.length === 0) return total;
    }
  }

  /** The earliest lease expiry among active jobs, or `null`. */
  async nextExpiry(): Promise<number | null> {
    for await (const e of this.kv.list({ prefix: this.ks.indexPrefix("active") }, { limit: 1 })) {
      return Keyspace.timeOf(e.key);
    }
    return null;
  }

  /** The cleaner: removes ended jobs of `state` older than `rule.age` or beyond the newest `rule.count`. */
  async clean(state: "completed" | "dead" | "canceled", rule: RetentionRule): Promise<number> {
    if (!isTerminal(state)) {
      throw new TypeError(`Cannot clean ${state} jobs: only completed, dead and canceled`);
    }
    if (rule.age !== undefined) checkNumber("retention age", rule.age, 0);
    if (rule.count !== undefined) checkNumber("retention count", rule.count, 0, true);
    let removed = 0;
    const sweep = async (entries: Entry[]) => {
      const res = await this.committer.writeMany(
        entries.filter((e) => e.record.state === state).map((e) => this.removeUnit(e)),
      );
      const n = res.filter((r) => r.ok).length;
      removed += n;
      return n;
    };
    if (rule.age !== undefined) {
      const until = this.clock.now() - rule.age;
      for (;;) {
        const entries = await this.#indexed(state, until, PAGE);
        if (!entries.length || (await sweep(entries)) === 0) break;
      }
    }
    if (rule.count !== undefined) {
      for (;;) {
        const excess = (await this.counts())[state] - rule.count;
        if (excess <= 0) break;
        const entries = await this.#indexed(state, undefined, Math.min(excess, PAGE));
        if (!entries.length || (await sweep(entries)) === 0) break;
      }
    }
    return removed;
  }

  /** Applies the queue's retention rules. */
  async applyRetention(): Promise<number> {
    let n = 0;
    const r = this.retention;
    if (!r) return 0;
    for (const s of ["completed", "dead", "canceled"] as const) if (r[s]) n += await this.clean(s, r[s]!);
    return n;
  }

  async schedule(name: string, options: ScheduleOptions<T>): Promise<ScheduleInfo> {
    validateSchedule(name, options);
    if (options.job) this.#validate(options.job);
    const now = this.clock.now();
    const every = options.every;
    const startAt = every !== undefined ? options.startAt ?? now + every : undefined;
    const base = { cron: options.cron, timezone: options.timezone, every, startAt };
    const next = every !== undefined && startAt! > now ? startAt! : nextTick(base, now);
    const record: ScheduleRecord = {
      name,
      ...JSON.parse(JSON.stringify(base)),
      data: inlineRef(options.data),
      job: options.job ?? {},
      next,
    };
    await this.kv.atomic().set(this.ks.cron(name), enc.encode(JSON.stringify(record))).commit();
    if (next !== null) this.signal({ type: "delayed", at: next });
    return scheduleInfo(record);
  }

  async unschedule(name: string): Promise<boolean> {
    const e = await this.kv.get(this.ks.cron(name));
    if (!e) return false;
    await this.kv.atomic().delete(this.ks.cron(name)).commit();
    return true;
  }

  async schedules(): Promise<ScheduleInfo[]> {
    const out: ScheduleInfo[] = [];
    for await (const e of this.kv.list({ prefix: this.ks.cronPrefix })) {
      out.push(scheduleInfo(JSON.parse(dec.decode(e.value)) as ScheduleRecord));
    }
    return out;
  }

  /**
   * Enqueues every due tick of every schedule, each exactly once: one commit per tick checks the
   * schedule record's versionstamp and the tick's unique key. Returns the earliest next tick.
   */
  async runSchedules(): Promise<number | null> {
    let earliest: number | null = null;
    const entries: KvEntry[] = [];
    for await (const e of this.kv.list({ prefix: this.ks.cronPrefix })) entries.push(e);
    for (const e of entries) {
      const s = JSON.parse(dec.decode(e.value)) as ScheduleRecord;
      const now = this.clock.now();
      if (s.next === null) continue;
      if (s.next > now) {
        earliest = earliest === null ? s.next : Math.min(earliest, s.next);
        continue;
      }
      const tick = s.next;
      const following = nextTick(s, now);
      const advance = {
        checks: [[this.ks.cron(s.name), e.versionstamp] as const],
        sets: [[this.ks.cron(s.name), enc.encode(JSON.stringify({ ...s, next: following }))] as const],
        conflicts: [this.ks.cron(s.name)],
      };
      const p = await this.prepare(decodeValue(s.data) as T, { ...s.job, key: `${s.name}@${tick}` }, s.name);
      const unit = merge({ ...p.unit, overflow: undefined }, advance);
      const over = p.overflow ? merge(p.overflow, advance) : { ...advance, deletes: [] };
      const res = await this.committer.write({ ...unit, overflow: over });
      if (res.ok) {
        if (res.overflowed) {
          if (p.overflowRecord) this.emit("dead", this.view(p.overflowRecord, res.versionstamp, p.data));
          else this.emit("error", undefined, new QueueFullError(this.name, this.maxQueued));
        } else this.#announce(p.record);
      }
      if (following !== null) earliest = earliest === null ? following : Math.min(earliest, following);
    }
    return earliest;
  }

  // ------------------------------------------------------------------ results

  /** Waits for job `id` to end; resolves with its result, rejects when dead, canceled or missing. */
  result(id: string, signal?: AbortSignal): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let timer: unknown;
      let done = false;
      let checking = false;
      let again = false;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        off();
        if (timer !== undefined) this.clock.clearTimer(timer);
        signal?.removeEventListener("abort", onAbort);
        f();
      };
      const onAbort = () => finish(() => reject(signal!.reason));
      const check = async () => {
        if (done) return;
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        try {
          let began: number;
          do {
            again = false;
            began = this.clock.now();
            const e = await this.read(id);
            if (!e) return finish(() => reject(new JobNotFoundError(id, this.name)));
            const r = e.record;
            if (r.state === "completed") {
              const job = (await this.views([e]))[0];
              return finish(() => resolve(job.result as R));
            }
            if (r.state === "dead") {
              return finish(() => reject(new JobFailedError(id, r.reason ?? "exhausted", r.error)));
            }
            if (r.state === "canceled") return finish(() => reject(new CanceledError(id)));
            // A read that took a poll interval or more: read again now, not after another one.
          } while (again || this.clock.now() - began >= this.pollInterval);
          if (timer !== undefined) this.clock.clearTimer(timer);
          timer = this.clock.setTimer(() => {
            timer = undefined;
            void check();
          }, began + this.pollInterval - this.clock.now());
        } catch (err) {
          finish(() => reject(err));
        } finally {
          checking = false;
        }
      };
      // Subscribe before the first read, so an ending between the two is not missed.
      const off = this.subscribe((s) => {
        if (s.type === "ended" && s.id === id) void check();
      });
      if (signal?.aborted) return finish(() => reject(signal.reason));
      signal?.addEventListener("abort", onAbort, { once: true });
      void check();
    });
  }
}

/** Maps a queue to its engine (internal). */
export const engines: WeakMap<object, Engine<unknown, unknown>> = new WeakMap();
