// The file store's log reader under structured mutation. A valid log is built through FileKv on the
// simulated disk (tests/file/sim_fs.ts), recording the store's content after every acknowledged
// commit; then each iteration damages a copy of the log and opens it. The property:
//
//   - a physical mutation (truncation, bit flips, overwritten or zeroed ranges, duplicated or
//     reordered records, huge or wrong lengths, garbage appended, a damaged header) opens to
//     exactly the content after some prefix of the acknowledged commits (never less than the
//     snapshot holds), or fails with a StorageError (CorruptionError, or code VERSION);
//   - a resealed mutation (a record's body changed and its CRC recomputed with the file's salt, so
//     that it passes the CRC: the decoder's own bounds checks are what stand) opens to some
//     content that can be read back in full, or fails with a StorageError;
//   - never any other exception, never a hang (each open is timed).
//
// Every iteration draws its damage from its own generator, seeded from (seed, iteration): a
// failure names both, and `node tests/fuzz/run.ts --target log --seed S --only I` replays it.
import { FileKv } from "../../adapters/file/mod.ts";
import { HEADER_BYTES, MAX_BODY, RECORD_PREFIX, recordCrc } from "../../adapters/file/format.ts";
import { StorageError } from "../../src/errors.ts";
import { mulberry } from "../file/random.ts";
import { SimFs } from "../file/sim_fs.ts";

const PATH = "/data/store.kvq";
/** Iterations that share one base log (building a log costs about as much as 50 opens). */
const LOG_EVERY = 200;
/** An open slower than this counts as a hang. */
const HANG_MS = 5000;

type Rng = () => number;
const int = (r: Rng, n: number): number => Math.floor(r() * n);

/** A valid log and what each prefix of its acknowledged commits leaves in the store. */
export interface BaseLog {
  readonly bytes: Uint8Array;
  /** Offsets of the records after the header, in order (the last ends at bytes.length). */
  readonly records: number[];
  /** Content fingerprint -> the largest commit count after which the store held it. */
  readonly states: Map<string, number>;
  /** Commits acknowledged before the last compaction: a successful open holds at least these. */
  readonly floor: number;
  readonly salt: number;
  /** How it was written (and is opened). */
  readonly durability: "fsync" | "none";
}

/** Content as one string: every key (["k", n]) and value, in key order. */
function contentOf(entries: Iterable<[number, Uint8Array]>): string {
  return [...entries].sort((a, b) => a[0] - b[0]).map(([n, v]) => `${n}=${v.join(",")};`).join("");
}

/** The store's content (every entry is read back, so a value that cannot be read fails here). */
async function fingerprint(kv: FileKv): Promise<string> {
  const out: [number, Uint8Array][] = [];
  for await (const e of kv.list({ start: [new Uint8Array(0)], end: [true, true] })) {
    if (e.key.length !== 2 || e.key[0] !== "k" || typeof e.key[1] !== "number") {
      return `odd key ${String(e.key)}`;
    }
    out.push([e.key[1], e.value]);
  }
  return contentOf(out);
}

/** Builds a log of 10-70 commits (sets and deletes, some grouped, maybe a compaction midway). */
export async function buildLog(seed: number): Promise<BaseLog> {
  const r = mulberry(seed ^ 0x5bd1e995);
  const sim = new SimFs();
  // A third of the logs are written with durability "none" (header flag FLAG_UNSYNCED: replay
  // keeps the prefix before the first bad record); the property is the same.
  const durability = r() < 0.33 ? "none" : "fsync";
  const kv = await FileKv.open(PATH, { fs: sim, reserveBytes: 0, autoCompact: false, durability });
  const states = new Map<string, number>();
  let acked = 0;
  let floor = 0;
  // The model: what each acknowledged prefix leaves (a group may be written as several records).
  const model = new Map<number, Uint8Array>();
  states.set(contentOf(model), 0);
  const commits = 10 + int(r, 60);
  const compactAt = r() < 0.4 ? int(r, commits) : -1;
  while (acked < commits) {
    if (acked === compactAt) {
      await kv.compact();
      floor = acked;
    }
    // Sometimes several commits at once: the pipeline writes them as one COMMITS record.
    const group = r() < 0.2 ? 2 + int(r, 3) : 1;
    let counted = acked;
    const ops = Array.from({ length: group }, () => {
      const op = kv.atomic();
      // Distinct keys within one operation (what several mutations of one key mean is the
      // contract's business, not the log reader's).
      const first = int(r, 12);
      const n = 1 + int(r, 3);
      for (let m = 0; m < n; m++) {
        const k = (first + m * 5) % 12;
        if (r() < 0.2) {
          op.delete(["k", k]);
          model.delete(k);
        } else {
          const v = Uint8Array.from({ length: int(r, 40) }, () => int(r, 256));
          op.set(["k", k], v);
          model.set(k, v);
        }
      }
      states.set(contentOf(model), ++counted);
      return op.commit();
    });
    for (const res of await Promise.all(ops)) if (!res.ok) throw new Error("unexpected check failure");
    acked += group;
    {
      const got = await fingerprint(kv);
      if (got !== contentOf(model)) {
        throw new Error(`log seed ${seed}: the model disagrees\n${got}\n${contentOf(model)}`);
      }
    }
  }
  await kv.close();
  const bytes = sim.file(PATH);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: number[] = [];
  for (let p = HEADER_BYTES; p < bytes.length; p += RECORD_PREFIX + dv.getUint32(p, true)) records.push(p);
  return { bytes, records, states, floor, salt: dv.getUint32(8, true), durability };
}

/** One damaged copy of a log: what was done, and whether its CRCs were recomputed. */
export interface Mutation {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly resealed: boolean;
}

function recordEnd(log: BaseLog, i: number): number {
  return i + 1 < log.records.length ? log.records[i + 1] : log.bytes.length;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const HUGE_LENGTHS = [0, 1, 8, 9, MAX_BODY, MAX_BODY + 1, 0x7fffffff, 0xffffffff];

/** Physical damage: the kind a disk, a crash or a stray write does. */
const PHYSICAL: Record<string, (log: BaseLog, r: Rng) => Uint8Array> = {
  // 1 byte or more: an empty (0-byte) file is not a damaged log but one made outside kvq, and opens
  // as a new, empty store by design (open.ts); kvq itself never leaves a log of 0 bytes.
  truncate: (log, r) => log.bytes.slice(0, 1 + int(r, log.bytes.length - 1)),
  "bit flips": (log, r) => {
    const b = log.bytes.slice();
    for (let n = 1 + int(r, 8); n > 0; n--) b[int(r, b.length)] ^= 1 << int(r, 8);
    return b;
  },
  "random range": (log, r) => {
    const b = log.bytes.slice();
    const at = int(r, b.length);
    const end = Math.min(b.length, at + 1 + int(r, 64));
    for (let i = at; i < end; i++) b[i] = int(r, 256);
    return b;
  },
  "zeroed sector": (log, r) => {
    const b = log.bytes.slice();
    const s = int(r, Math.ceil(b.length / 512)) * 512;
    b.fill(0, s, Math.min(b.length, s + 512));
    return b;
  },
  "duplicated record": (log, r) => {
    const i = int(r, log.records.length);
    const rec = log.bytes.subarray(log.records[i], recordEnd(log, i));
    const j = int(r, log.records.length + 1); // insert before record j (or at the end)
    const at = j < log.records.length ? log.records[j] : log.bytes.length;
    return concat(log.bytes.subarray(0, at), rec, log.bytes.subarray(at));
  },
  "swapped records": (log, r) => {
    if (log.records.length < 2) return log.bytes.slice();
    let i = int(r, log.records.length);
    let j = int(r, log.records.length - 1);
    if (j >= i) j++;
    if (j < i) [i, j] = [j, i];
    const b = log.bytes;
    const [a0, a1, b0, b1] = [log.records[i], recordEnd(log, i), log.records[j], recordEnd(log, j)];
    return concat(
      b.subarray(0, a0),
      b.subarray(b0, b1),
      b.subarray(a1, b0),
      b.subarray(a0, a1),
      b.subarray(b1),
    );
  },
  "huge length": (log, r) => {
    const b = log.bytes.slice();
    const i = int(r, log.records.length);
    const at = log.records[i];
    const left = b.length - at - RECORD_PREFIX;
    const choices = [...HUGE_LENGTHS, left, left + 1, left - 1, int(r, 0x100000000)];
    new DataView(b.buffer).setUint32(at, choices[int(r, choices.length)] >>> 0, true);
    return b;
  },
  "garbage appended": (log, r) =>
    concat(log.bytes, Uint8Array.from({ length: 1 + int(r, 200) }, () => (r() < 0.5 ? 0 : int(r, 256)))),
  "copy of a record appended": (log, r) => {
    const i = int(r, log.records.length);
    return concat(log.bytes, log.bytes.subarray(log.records[i], recordEnd(log, i)));
  },
  "damaged header": (log, r) => {
    const b = log.bytes.slice();
    b[int(r, HEADER_BYTES)] ^= 1 << int(r, 8);
    return b;
  },
};

/** Recomputes record `i`'s CRC over its (possibly changed) body. */
function reseal(log: BaseLog, b: Uint8Array, at: number): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const len = dv.getUint32(at, true);
  if (at + RECORD_PREFIX + len <= b.length) dv.setUint32(at + 4, recordCrc(log.salt, b, at, len), true);
}

/** Damage that passes the CRC: only the decoder's checks can catch it. */
const RESEALED: Record<string, (log: BaseLog, r: Rng) => Uint8Array> = {
  "body bytes changed": (log, r) => {
    const b = log.bytes.slice();
    const i = int(r, log.records.length);
    const [a0, a1] = [log.records[i] + RECORD_PREFIX, recordEnd(log, i)];
    for (let n = 1 + int(r, 4); n > 0; n--) b[a0 + int(r, a1 - a0)] = int(r, 256);
    reseal(log, b, log.records[i]);
    return b;
  },
  "inner length made huge": (log, r) => {
    // Any aligned-or-not u32 inside the body (counts, key and value lengths live there).
    const b = log.bytes.slice();
    const i = int(r, log.records.length);
    const [a0, a1] = [log.records[i] + RECORD_PREFIX + 9, recordEnd(log, i)];
    if (a1 - a0 < 4) return b;
    const at = a0 + int(r, a1 - a0 - 3);
    new DataView(b.buffer).setUint32(at, HUGE_LENGTHS[int(r, HUGE_LENGTHS.length)] >>> 0, true);
    reseal(log, b, log.records[i]);
    return b;
  },
  "seq or type changed": (log, r) => {
    const b = log.bytes.slice();
    const i = int(r, log.records.length);
    const at = log.records[i] + RECORD_PREFIX;
    if (r() < 0.5) b[at + 8] = int(r, 6);
    else new DataView(b.buffer).setBigUint64(at, BigInt(int(r, 100)) << BigInt(int(r, 50)), true);
    reseal(log, b, log.records[i]);
    return b;
  },
  "body truncated": (log, r) => {
    // A record cut short with its length and CRC made to match: a malformed payload.
    const i = int(r, log.records.length);
    const at = log.records[i];
    const len = new DataView(log.bytes.buffer, log.bytes.byteOffset).getUint32(at, true);
    const cut = 9 + int(r, Math.max(1, len - 9));
    const rec = log.bytes.slice(at, at + RECORD_PREFIX + cut);
    new DataView(rec.buffer).setUint32(0, cut, true);
    const b = concat(log.bytes.subarray(0, at), rec, log.bytes.subarray(recordEnd(log, i)));
    reseal(log, b, at);
    return b;
  },
};

const PHYSICAL_NAMES = Object.keys(PHYSICAL);
const RESEALED_NAMES = Object.keys(RESEALED);

/** The mutation of one iteration. */
export function mutate(log: BaseLog, r: Rng): Mutation {
  if (r() < 0.7) {
    const name = PHYSICAL_NAMES[int(r, PHYSICAL_NAMES.length)];
    return { name, bytes: PHYSICAL[name](log, r), resealed: false };
  }
  const name = RESEALED_NAMES[int(r, RESEALED_NAMES.length)];
  return { name, bytes: RESEALED[name](log, r), resealed: true };
}

/** How the opens of a run ended, per mutation. */
export interface LogFuzzStats {
  iterations: number;
  /** mutation name -> [opened, refused with a typed error] */
  byMutation: Record<string, [number, number]>;
  /** Opens that cut a torn tail. */
  tailsCut: number;
  logs: number;
}

/** The generator of iteration `i` of run `seed`. */
export function iterationRng(seed: number, i: number): Rng {
  return mulberry((seed * 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b));
}

/** Opens one mutated log and checks the property; throws (naming seed and iteration) when it fails. */
async function check(log: BaseLog, m: Mutation, stats: LogFuzzStats, where: string): Promise<void> {
  const sim = new SimFs();
  sim.setFile(PATH, m.bytes);
  const started = performance.now();
  let kv: FileKv;
  try {
    kv = await FileKv.open(PATH, {
      fs: sim,
      reserveBytes: 0,
      autoCompact: false,
      durability: log.durability,
    });
  } catch (e) {
    if (!(e instanceof StorageError)) {
      throw new Error(`${where}: ${m.name}: open threw a non-typed error`, { cause: e });
    }
    if (e.code !== "CORRUPT" && e.code !== "VERSION") {
      throw new Error(`${where}: ${m.name}: open failed with code ${e.code}`, { cause: e });
    }
    (stats.byMutation[m.name] ??= [0, 0])[1]++;
    return;
  }
  try {
    if (performance.now() - started > HANG_MS) {
      throw new Error(`${where}: ${m.name}: open took over ${HANG_MS} ms`);
    }
    const content = await fingerprint(kv).catch((e) => {
      throw new Error(`${where}: ${m.name}: reading the opened store failed`, { cause: e });
    });
    if (!m.resealed) {
      const at = log.states.get(content);
      if (at === undefined) throw new Error(`${where}: ${m.name}: opened to content no commit prefix had`);
      if (at < log.floor) {
        throw new Error(`${where}: ${m.name}: opened to ${at} commits, below the snapshot's ${log.floor}`);
      }
    }
    if (kv.recovery.truncatedBytes > 0) stats.tailsCut++;
    (stats.byMutation[m.name] ??= [0, 0])[0]++;
  } finally {
    await kv.close();
  }
}

/** Runs iterations `[from, from + iterations)` of run `seed`. */
export async function fuzzLog(
  seed: number,
  iterations: number,
  from = 0,
  progress?: (done: number) => void,
): Promise<LogFuzzStats> {
  const stats: LogFuzzStats = { iterations: 0, byMutation: {}, tailsCut: 0, logs: 0 };
  let log: BaseLog | null = null;
  let logNo = -1;
  for (let i = from; i < from + iterations; i++) {
    const want = Math.floor(i / LOG_EVERY);
    if (want !== logNo) {
      log = await buildLog((seed * 31 + want) >>> 0);
      logNo = want;
      stats.logs++;
    }
    const m = mutate(log!, iterationRng(seed, i));
    await check(log!, m, stats, `log fuzz seed ${seed} iteration ${i}`);
    stats.iterations++;
    if (progress && stats.iterations % 10000 === 0) progress(stats.iterations);
  }
  return stats;
}
