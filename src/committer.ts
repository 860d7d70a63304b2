/**
 * The group committer: every write the engine makes for one queue goes through it. Writes that
 * arrive while a commit is in flight (or in the same tick) are packed into one atomic commit,
 * within the store's declared limits, so `add`, claim and complete cost one commit per batch, not
 * per job.
 *
 * It also keeps the queue's per-state counts exact without a hot key. The counts are a base record
 * (`["meta", queue, "counts"]`) plus deltas under `["meta", queue, "delta"]`: each committer (one
 * per `Queue` object, so one per process or machine) owns one delta key, `["delta", "w", writer]`,
 * and adds each commit's count changes to it in that same commit, checked by its own versionstamp
 * (no other writer touches it, so the check fails only after a fold took it). Transactional adds
 * leave one delta per job. `readCounts()` folds base and deltas on read (consistently: it reads
 * the base before and after listing the deltas, and reads again if a fold moved it); `foldDeltas()`
 * (maintenance) moves deltas into the base in one checked commit that deletes what it read, so two
 * concurrent folds can never count a delta twice.
 *
 * `maxQueued`: a batch that adds unfinished jobs reads the counts first. Within one committer the
 * batches are serialized, so it is exact; across committers (other processes) it can be exceeded by
 * at most the adds the others have in flight (read but not yet committed) at that moment.
 *
 * A unit whose own checks fail (a job moved under us) resolves `{ ok: false }` without holding the
 * others back: on a failed commit the committer finds the culprits by reading their checked keys,
 * and retries the rest.
 *
 * @module
 */

import type { AtomicKv, KvEntry, KvKey } from "./kv.ts";
import { admits, type Counts, JOB_STATES, unfinished, zeroCounts } from "./job.ts";
import { LimitError, StorageError } from "./errors.ts";
import { encodeUtf8 } from "./utf8.ts";

export { type Counts, unfinished, zeroCounts } from "./job.ts";

/** One logical write: checks, mutations and how it changes the counts. */
export interface WriteUnit {
  /** Keys that must still have these versionstamps (`null`: absent). */
  readonly checks: ReadonlyArray<readonly [KvKey, string | null]>;
  /** Keys to write. */
  readonly sets: ReadonlyArray<readonly [KvKey, Uint8Array]>;
  /** Keys to delete. */
  readonly deletes: readonly KvKey[];
  /** Change of the per-state counts. */
  readonly delta?: Partial<Counts>;
  /** Unfinished jobs this unit adds; checked against `maxQueued`. */
  readonly room?: number;
  /**
   * New data (a new job), not a change of stored data: its commit is marked with
   * `AtomicOp.growth`, so a store low on disk space may refuse it (`StorageError` code `"ENOSPC"`)
   * while it still takes the others. When such a refusal hits a commit that packed growth with
   * other units, the growth units fail with it and the others are committed again on their own.
   */
  readonly growth?: boolean;
  /**
   * Losing this unit in a power loss only makes a job run again (a claim, a heartbeat): a commit
   * made only of such units is marked with `AtomicOp.relaxed`, so a store may skip its fsync.
   */
  readonly relaxed?: boolean;
  /** Written instead when the queue is full; without it a full queue refuses the unit. */
  readonly overflow?: WriteUnit;
  /**
   * The keys another unit could also touch (for a job: its record key, its unique key). Two units
   * sharing one never go into the same commit. Absent: every key of the unit counts.
   */
  readonly conflicts?: readonly KvKey[];
}

/** The outcome of one unit. */
export type WriteResult =
  | { readonly ok: true; readonly versionstamp: string; readonly overflowed: boolean }
  | { readonly ok: false; readonly full: boolean };

const dec = new TextDecoder();

/** Decodes a counts record or delta (absent: zeros; fields other than states are ignored). */
export function decodeCounts(value: Uint8Array | undefined): Counts {
  const c = zeroCounts();
  if (!value) return c;
  const raw = JSON.parse(dec.decode(value)) as Partial<Counts>;
  for (const s of JOB_STATES) c[s] = raw[s] ?? 0;
  return c;
}

/** Encodes counts (with `at`, the wall time of a writer's delta, which the fold reads). */
export function encodeCounts(c: Counts, at?: number): Uint8Array {
  return encodeUtf8(JSON.stringify(at === undefined ? c : { ...c, at }));
}

/** Adds `delta` to `c` in place. */
export function addCounts(c: Counts, delta: Partial<Counts> | undefined): Counts {
  if (delta) {
    // Only the states the delta names (a state change names two).
    for (const s in delta) if (s in c) c[s as keyof Counts] += delta[s as keyof Counts] ?? 0;
  }
  return c;
}

const EMPTY = new Uint8Array(0);

/**
 * The admission key of a queue whose counts live at `countsKey`: written by every add commit of a
 * queue with `maxQueued` (and only by those), so concurrent adds from any writer serialize on it.
 */
export function admitKey(countsKey: KvKey): KvKey {
  return [...countsKey, "admit"];
}

/** A writer's delta not written for this long (wall time, ms) is folded by any maintenance pass. */
export const STALE_DELTA_MS = 60_000;

function deltaAt(value: Uint8Array): number | undefined {
  const at = (JSON.parse(dec.decode(value)) as { at?: unknown }).at;
  return typeof at === "number" ? at : undefined;
}

/** Most value+key bytes packed into one commit (Deno KV allows 800 KiB per atomic operation). */
const BATCH_BYTES = 256 * 1024;
/** Most rounds for one batch before giving up on a store that keeps refusing. */
const MAX_ROUNDS = 1000;

interface Pending {
  unit: WriteUnit;
  /** Commit alone (a packed batch broke a limit the store does not declare). */
  solo?: boolean;
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
}

/**
 * An injective string form of a key (equal keys, equal strings), much cheaper than `encodeKey`;
 * only used to find two units touching the same key.
 */
export function keyId(key: KvKey): string {
  let s = "";
  for (const p of key) {
    if (typeof p === "string") s += "s" + p.length + ":" + p;
    else if (typeof p === "number") s += "n" + (Object.is(p, -0) ? "-0" : String(p)) + ";";
    else if (typeof p === "bigint") s += "b" + p + ";";
    else if (typeof p === "boolean") s += p ? "T" : "F";
    else s += "u" + p.length + ":" + String.fromCharCode(...p);
  }
  return s;
}

const hex = keyId;

function unitSize(u: WriteUnit): number {
  let n = 0;
  for (const [k, v] of u.sets) n += v.length + k.length * 16;
  n += (u.deletes.length + u.checks.length) * 64;
  return n;
}

function hasDelta(u: WriteUnit): boolean {
  if (u.room) return true;
  if (!u.delta) return false;
  for (const s in u.delta) if (u.delta[s as keyof Counts]) return true;
  return false;
}

/**
 * Packs writes for one queue into as few atomic commits as the store's limits allow.
 *
 * @example Two writes, one commit
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { Committer } from "./committer.ts";
 * const kv = new MemoryKv();
 * const c = new Committer(kv, ["counts"], ["delta"]);
 * const unit = (k: string) => ({ checks: [], sets: [[[k], new Uint8Array(1)] as const], deletes: [] });
 * const [a, b] = await Promise.all([c.write(unit("a")), c.write(unit("b"))]);
 * console.log(a.ok && b.ok && a.versionstamp === b.versionstamp); // true
 * ```
 */
export class Committer {
  readonly #kv: AtomicKv;
  readonly #countsKey: KvKey;
  readonly #deltaPrefix: KvKey;
  readonly #mineKey: KvKey;
  readonly #admitKey: KvKey;
  #maxQueued: number;
  #queue: Pending[] = [];
  #running = false;
  /** This writer's delta as last committed (`versionstamp` null: absent). */
  #mine: { counts: Counts; versionstamp: string | null } = { counts: zeroCounts(), versionstamp: null };
  /** Commits made (for tests and metrics). */
  commits = 0;
  /** Commits whose checks failed (for tests and metrics). */
  failedCommits = 0;

  /**
   * @param kv The store.
   * @param countsKey Where the folded base of the per-state counts lives.
   * @param deltaPrefix Where count deltas live (this writer's, and transactional adds').
   * @param maxQueued Most unfinished jobs. @default Infinity
   * @param writer This writer's id, unique among the store's writers. @default a random id
   */
  constructor(
    kv: AtomicKv,
    countsKey: KvKey,
    deltaPrefix: KvKey,
    maxQueued: number = Infinity,
    writer: string = randomId(),
  ) {
    this.#kv = kv;
    this.#countsKey = countsKey;
    this.#deltaPrefix = deltaPrefix;
    this.#mineKey = [...deltaPrefix, "w", writer];
    this.#admitKey = admitKey(countsKey);
    this.#maxQueued = maxQueued;
  }

  /** Queues one unit; resolves once its commit resolved. */
  write(unit: WriteUnit): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => {
      this.#queue.push({ unit, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Queues several units (packed together as limits allow); resolves once all of them resolved,
   * with one result per unit, in order. One promise for the whole batch, not one per unit; a unit
   * whose commit throws rejects it (the others still commit or fail on their own).
   */
  writeMany(units: readonly WriteUnit[]): Promise<WriteResult[]> {
    if (units.length === 0) return Promise.resolve([]);
    return new Promise<WriteResult[]>((resolve, reject) => {
      const results: WriteResult[] = new Array(units.length);
      let left = units.length;
      let failed = false;
      const fail = (e: unknown) => {
        if (!failed) {
          failed = true;
          reject(e);
        }
      };
      for (let i = 0; i < units.length; i++) {
        this.#queue.push({
          unit: units[i],
          resolve: (r) => {
            results[i] = r;
            if (--left === 0 && !failed) resolve(results);
          },
          reject: fail,
        });
      }
      this.#schedule();
    });
  }

  #schedule(): void {
    if (!this.#running) {
      this.#running = true;
      queueMicrotask(() => void this.#run());
    }
  }

  /**
   * Reads the counts: the base plus every delta. The base is read before and after the deltas; if
   * a fold moved it meanwhile, the read starts again, so a delta is never counted twice or missed.
   */
  async readCounts(): Promise<Counts> {
    for (let round = 0;; round++) {
      const before = await this.#kv.get(this.#countsKey);
      const c = decodeCounts(before?.value);
      for await (const d of this.#kv.list({ prefix: this.#deltaPrefix })) addCounts(c, decodeCounts(d.value));
      if (round >= 20) return c;
      const after = await this.#kv.get(this.#countsKey);
      if ((after?.versionstamp ?? null) === (before?.versionstamp ?? null)) return c;
    }
  }

  /**
   * Folds deltas into the base record: transactional adds' deltas and writers' deltas not written
   * for {@linkcode STALE_DELTA_MS} (a writer that stopped), in one commit that checks the base and
   * every delta it read and deletes them. Idempotent and safe concurrently. Returns how many it folded.
   */
  async foldDeltas(limit = 200): Promise<number> {
    const deltas = [];
    const now = Date.now();
    for await (const d of this.#kv.list({ prefix: this.#deltaPrefix }, { limit })) {
      const at = deltaAt(d.value);
      if (at === undefined || now - at >= STALE_DELTA_MS) deltas.push(d);
    }
    if (deltas.length === 0) return 0;
    const maxN = Math.max(
      1,
      Math.min(deltas.length, this.#kv.info.maxMutations - 1, this.#kv.info.maxChecks - 2),
    );
    const batch = deltas.slice(0, maxN);
    for (let round = 0; round < 10; round++) {
      const entry = await this.#kv.get(this.#countsKey);
      const c = decodeCounts(entry?.value);
      const op = this.#kv.atomic().check(this.#countsKey, entry?.versionstamp ?? null);
      for (const d of batch) {
        op.check(d.key, d.versionstamp).delete(d.key);
        addCounts(c, decodeCounts(d.value));
      }
      op.set(this.#countsKey, encodeCounts(c));
      const res = await op.commit();
      if (res.ok) return batch.length;
      const still = await getMany(this.#kv, batch.map((d) => d.key));
      if (still.some((e, i) => e?.versionstamp !== batch[i].versionstamp)) return 0; // folded elsewhere
    }
    return 0;
  }

  /** Takes the next batch off the queue, within limits, with no key touched by two units. */
  #take(): Pending[] {
    const info = this.#kv.info;
    // Room for this writer's delta, and with maxQueued the admission key.
    const reserve = this.#maxQueued === Infinity ? 1 : 2;
    const maxMut = info.maxMutations - reserve;
    const maxChecks = info.maxChecks - reserve;
    const batch: Pending[] = [];
    const deferred: Pending[] = [];
    const mutated = new Set<string>();
    const checked = new Map<string, string | null>();
    let muts = 0, checks = 0, bytes = 0;
    let i = 0;
    for (; i < this.#queue.length; i++) {
      const p = this.#queue[i];
      if (p.solo) {
        if (batch.length === 0) {
          batch.push(p);
          i++;
        }
        break;
      }
      const u = p.unit;
      const um = u.sets.length + u.deletes.length;
      const uc = u.checks.length;
      const ub = unitSize(u);
      if (batch.length > 0 && (muts + um > maxMut || checks + uc > maxChecks || bytes + ub > BATCH_BYTES)) {
        break;
      }
      let keys: string[];
      let ck: (readonly [string, string | null])[];
      if (u.conflicts) {
        keys = u.conflicts.map(hex);
        ck = [];
      } else {
        keys = [...u.sets.map((s) => hex(s[0])), ...u.deletes.map(hex)];
        ck = u.checks.map(([k, v]) => [hex(k), v] as const);
      }
      const clash = keys.some((k) => mutated.has(k) || checked.has(k)) ||
        ck.some(([k, v]) => mutated.has(k) || (checked.has(k) && checked.get(k) !== v));
      if (clash) {
        deferred.push(p);
        continue;
      }
      for (const k of keys) mutated.add(k);
      for (const [k, v] of ck) checked.set(k, v);
      muts += um;
      checks += uc;
      bytes += ub;
      batch.push(p);
    }
    this.#queue = [...deferred, ...this.#queue.slice(i)];
    return batch;
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length) {
        const batch = this.#take();
        try {
          await this.#commitBatch(batch);
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.#running = false;
      if (this.#queue.length) {
        this.#running = true;
        queueMicrotask(() => void this.#run());
      }
    }
  }

  async #commitBatch(batch: Pending[]): Promise<void> {
    let live = batch.map((p) => ({ p, unit: p.unit, overflowed: false }));
    for (let round = 0; live.length && round < MAX_ROUNDS; round++) {
      const counting = live.some((l) => hasDelta(l.p.unit) || l.p.unit.overflow);
      let admit: KvEntry | null | undefined;
      if (live.some((l) => l.p.unit.room) && this.#maxQueued !== Infinity) {
        // The capacity rule (`admits`, job.ts) against the counts as stored now, plus this batch.
        // Adds serialize on the admission key (read before the counts, checked at commit), so two
        // writers never both take the last room; claims and completions never touch it.
        admit = await this.#kv.get(this.#admitKey);
        let used = unfinished(await this.readCounts());
        const kept = [];
        for (const l of live) {
          const room = l.p.unit.room ?? 0;
          if (!admits(used, room, this.#maxQueued)) {
            if (l.p.unit.overflow) kept.push({ p: l.p, unit: l.p.unit.overflow, overflowed: true });
            else l.p.resolve({ ok: false, full: true });
            continue;
          }
          used += room;
          kept.push({ p: l.p, unit: l.p.unit, overflowed: false });
        }
        live = kept;
        if (!live.length) return;
      } else if (round > 0) {
        live = live.map((l) => ({ ...l, unit: l.p.unit, overflowed: false }));
      }
      const mine = this.#mine;
      let next: Counts | undefined;
      if (counting) {
        next = { ...mine.counts };
        for (const l of live) addCounts(next, l.unit.delta);
      }
      const op = this.#kv.atomic();
      const growth = live.some((l) => l.unit.growth);
      if (growth) op.growth?.();
      if (live.every((l) => l.unit.relaxed)) op.relaxed?.();
      if (next) op.check(this.#mineKey, mine.versionstamp);
      if (admit !== undefined && live.some((l) => l.unit.room)) {
        op.check(this.#admitKey, admit?.versionstamp ?? null).set(this.#admitKey, EMPTY);
      }
      // Units sharing a read-only check (the paused flag) pass the same key object: check it once.
      const seen = new Set<KvKey>();
      for (const l of live) {
        for (const [k, v] of l.unit.checks) {
          if (seen.has(k)) continue;
          seen.add(k);
          op.check(k, v);
        }
      }
      for (const l of live) {
        for (const k of l.unit.deletes) op.delete(k);
        for (const [k, v] of l.unit.sets) op.set(k, v);
      }
      if (next) op.set(this.#mineKey, encodeCounts(next, Date.now()));
      let res;
      try {
        res = await op.commit();
      } catch (e) {
        if (live.length > 1 && e instanceof LimitError) {
          // The batch as a whole broke a limit the store does not declare: write one by one.
          this.#queue.unshift(...live.map((l) => ({ ...l.p, solo: true })));
          return;
        }
        if (growth && e instanceof StorageError && e.code === "ENOSPC" && live.some((l) => !l.unit.growth)) {
          // Low on space: the store refused the new data packed in this commit. Fail the growth
          // units; the others (claims, completions, ...) go again without them.
          for (const l of live) if (l.unit.growth) l.p.reject(e);
          this.#queue.unshift(...live.filter((l) => !l.unit.growth).map((l) => l.p));
          return;
        }
        throw e;
      }
      this.commits++;
      if (res.ok) {
        if (next) this.#mine = { counts: next, versionstamp: res.versionstamp };
        for (const l of live) {
          l.p.resolve({ ok: true, versionstamp: res.versionstamp, overflowed: l.overflowed });
        }
        return;
      }
      this.failedCommits++;
      // Some unit's own check failed, or a fold took this writer's delta. Find out which.
      const keys = live.flatMap((l) => l.unit.checks.map(([k]) => k));
      const current = await getMany(this.#kv, next ? [...keys, this.#mineKey] : keys);
      if (next) {
        const e = current[keys.length];
        if ((e?.versionstamp ?? null) !== mine.versionstamp) {
          this.#mine = { counts: decodeCounts(e?.value), versionstamp: e?.versionstamp ?? null };
        }
      }
      let j = 0;
      const survivors = [];
      for (const l of live) {
        let holds = true;
        for (const [, v] of l.unit.checks) if ((current[j++]?.versionstamp ?? null) !== v) holds = false;
        if (holds) survivors.push(l);
        else l.p.resolve({ ok: false, full: false });
      }
      live = survivors;
    }
    for (const l of live) {
      l.p.reject(
        new StorageError(this.#kv.info.name, "commit", `the commit kept conflicting (${MAX_ROUNDS} rounds)`),
      );
    }
  }

  /** Changes `maxQueued`. */
  set maxQueued(n: number) {
    this.#maxQueued = n;
  }
}

/** A random id for a writer (its delta key), unique among the store's writers. */
function randomId(): string {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/**
 * `getMany` for reads that need no single consistent point (each result is checked by its
 * versionstamp when it is written back): one call, or, on a store that declares `info.readKeys`
 * (Deno KV: 10), slices of that size read concurrently, so such a store never pays for a
 * consistent read of a long list.
 *
 * @example
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { getMany } from "./committer.ts";
 * console.log((await getMany(new MemoryKv(), [["a"], ["b"]])).length); // 2
 * ```
 */
export async function getMany(kv: AtomicKv, keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
  const slice = kv.info.readKeys ?? Infinity;
  if (keys.length <= slice) return keys.length ? await kv.getMany(keys) : [];
  const parts: Promise<(KvEntry | null)[]>[] = [];
  for (let i = 0; i < keys.length; i += slice) parts.push(kv.getMany(keys.slice(i, i + slice)));
  return (await Promise.all(parts)).flat();
}
