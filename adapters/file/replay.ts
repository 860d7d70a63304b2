/**
 * Replays a log file into a {@link KvState} over a {@link FileIndex} on open (the index records
 * where each value lives in the log; values are not copied into memory), and decides what a bad record means:
 * a torn tail (truncated and reported) or corruption ({@link CorruptionError}).
 *
 * The rule: a record is bad when its length is out of bounds, it runs past the end of the file,
 * or its CRC does not match. A bad record is a torn tail only when (1) it comes after the
 * snapshot section's SNAPSHOT_END (the snapshot is fsynced before it is renamed into place, so it
 * is never torn), and (2) no valid record (good length, this file's salt, matching CRC, a COMMITS
 * record with a later sequence number) starts at any byte offset after it. Anything else is
 * corruption. A record that passes its CRC but does not decode is corruption too. A log whose header
 * has FLAG_UNSYNCED (written with `durability: "none"`) may have lost any unsynced record, so there
 * the first bad record (bad length, past the end, CRC mismatch) after the snapshot section ends the
 * prefix that is kept. A record that passes its CRC in the wrong order is corruption in both.
 *
 * @module
 */

import { CorruptionError, StorageError } from "../../src/errors.ts";
import type { KvState } from "../_kit/state.ts";
import { bytesToBinary } from "../_kit/bytes.ts";
import { decodeKey } from "../../src/kv.ts";
import type { FsLayer } from "./fs.ts";
import type { FileIndex } from "./index.ts";
import {
  COMMITS,
  decodeHeader,
  FLAG_UNSYNCED,
  FormatError,
  HEADER_BYTES,
  MAX_BODY,
  MAX_KEY_BYTES,
  MIN_BODY,
  PayloadReader,
  RECORD_PREFIX,
  recordCrc,
  SNAPSHOT,
  SNAPSHOT_END,
} from "./format.ts";

const WINDOW = 1 << 20;
/** A later record's sequence number may skip at most this many (failed writes burn numbers). */
const MAX_SEQ_SKIP = 1n << 40n;

/** Reads a file through a sliding window. */
class WindowReader {
  readonly #fs: FsLayer;
  readonly #fd: number;
  readonly size: number;
  #buf = new Uint8Array(0);
  #start = 0;
  constructor(fs: FsLayer, fd: number, size: number) {
    this.#fs = fs;
    this.#fd = fd;
    this.size = size;
  }
  /** The bytes `[pos, pos+n)` if they are in the window, else null. */
  view(pos: number, n: number): Uint8Array | null {
    const off = pos - this.#start;
    if (off < 0 || off + n > this.#buf.length) return null;
    return this.#buf.subarray(off, off + n);
  }
  /** The bytes `[pos, pos+n)`; the caller checked `pos + n <= size`. */
  async get(pos: number, n: number): Promise<Uint8Array> {
    const v = this.view(pos, n);
    if (v) return v;
    const len = Math.min(Math.max(n, WINDOW), this.size - pos);
    const buf = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const r = await this.#fs.read(this.#fd, buf, got, len - got, pos + got);
      if (r === 0) throw Object.assign(new Error("file shrank while being read"), { code: "EIO" });
      got += r;
    }
    this.#buf = buf;
    this.#start = pos;
    return buf.subarray(0, n);
  }
}

/** What {@link replayLog} found. */
export interface ReplayResult {
  /** The file's salt. */
  salt: number;
  /** File length before any truncation. */
  fileBytes: number;
  /** Length of the valid prefix (the file is truncated to this when a torn tail was found). */
  validBytes: number;
  /** Records replayed (snapshot records included). */
  records: number;
  /** Commits replayed from COMMITS records. */
  commits: number;
  /** Why the tail was cut, when it was. */
  tornReason: string | null;
  /** The header's flags (see FLAG_UNSYNCED). */
  flags: number;
}

function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function u64(b: Uint8Array, at: number): bigint {
  return BigInt(u32(b, at)) | (BigInt(u32(b, at + 4)) << 32n);
}

/**
 * Checks the record at `pos`: returns its total length when it is complete and its CRC matches,
 * else a reason string.
 */
async function checkRecord(r: WindowReader, salt: number, pos: number): Promise<number | string> {
  if (r.size - pos < RECORD_PREFIX + MIN_BODY) return `only ${r.size - pos} bytes left, less than a record`;
  const head = r.view(pos, RECORD_PREFIX) ?? await r.get(pos, RECORD_PREFIX);
  const len = u32(head, 0);
  if (len < MIN_BODY || len > MAX_BODY) return `body length ${len} is out of bounds`;
  if (pos + RECORD_PREFIX + len > r.size) {
    return `record of ${RECORD_PREFIX + len} bytes runs past the end of the file`;
  }
  const rec = await r.get(pos, RECORD_PREFIX + len);
  if (recordCrc(salt, rec, 0, len) !== u32(rec, 4)) return "CRC mismatch";
  return RECORD_PREFIX + len;
}

/** Looks for any valid COMMITS record with a sequence number above `seq` starting after `pos`. */
async function validRecordAfter(r: WindowReader, salt: number, pos: number, seq: bigint): Promise<number> {
  const last = r.size - RECORD_PREFIX - MIN_BODY;
  for (let y = pos + 1; y <= last; y++) {
    const h = r.view(y, RECORD_PREFIX + MIN_BODY) ?? await r.get(y, RECORD_PREFIX + MIN_BODY);
    const len = u32(h, 0);
    if (len < MIN_BODY || len > MAX_BODY || y + RECORD_PREFIX + len > r.size) continue;
    if (h[16] !== COMMITS) continue;
    const s = u64(h, 8);
    if (s <= seq || s > seq + MAX_SEQ_SKIP) continue;
    if (typeof (await checkRecord(r, salt, y)) === "number") return y;
  }
  return -1;
}

/**
 * Replays the log open at `fd` (of `size` bytes) into `state`. Throws {@link CorruptionError}
 * for damage that is not a torn tail; returns the valid length (the caller truncates).
 */
export async function replayLog(
  fs: FsLayer,
  fd: number,
  size: number,
  state: KvState<FileIndex>,
  adapter: string,
  path: string,
): Promise<ReplayResult> {
  const corrupt = (offset: number, reason: string, cause?: unknown) =>
    new CorruptionError(adapter, "open", `${path} is corrupt at byte ${offset}: ${reason}`, {
      offset,
      cause,
    });
  const r = new WindowReader(fs, fd, size);
  if (size < HEADER_BYTES) {
    throw corrupt(0, `file is ${size} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  }
  const header = decodeHeader(await r.get(0, HEADER_BYTES));
  if (!header.ok) {
    if (header.version !== undefined) {
      throw new StorageError(adapter, "open", `${path}: ${header.reason} (this kvq reads version 1)`, {
        code: "VERSION",
      });
    }
    throw corrupt(0, header.reason);
  }
  const salt = header.salt;
  const result: ReplayResult = {
    salt,
    fileBytes: size,
    validBytes: size,
    records: 0,
    commits: 0,
    tornReason: null,
    flags: header.flags,
  };
  // Written without fsync: any unsynced record may be lost, so a bad one ends the usable prefix.
  const unsynced = (header.flags & FLAG_UNSYNCED) !== 0;
  const cut = (at: number, reason: string) => {
    result.validBytes = at;
    result.tornReason = reason;
  };
  let pos = HEADER_BYTES;
  let inSnapshot = true;
  let snapshotSeq = -1n;
  let snapshotEntries = 0;
  let snapshotRecords = 0;
  const order = { last: null as string | null };
  while (pos < size) {
    const checked = await checkRecord(r, salt, pos);
    if (typeof checked === "string") {
      if (inSnapshot) throw corrupt(pos, `bad record in the snapshot section: ${checked}`);
      const next = unsynced ? -1 : await validRecordAfter(r, salt, pos, state.seq);
      if (next >= 0) {
        throw corrupt(pos, `bad record (${checked}) followed by a valid record at byte ${next}`);
      }
      cut(pos, checked);
      break;
    }
    const rec = await r.get(pos, checked);
    const p = new PayloadReader(rec, RECORD_PREFIX);
    try {
      const seq = p.u64("seq");
      const type = p.u8("type");
      if (inSnapshot) {
        if (snapshotSeq < 0n) snapshotSeq = seq;
        if (seq !== snapshotSeq) throw new FormatError(`snapshot record seq ${seq}, expected ${snapshotSeq}`);
        if (type === SNAPSHOT) {
          snapshotEntries += replaySnapshot(p, state.map, pos, seq, order);
          snapshotRecords++;
        } else if (type === SNAPSHOT_END) {
          const entries = p.u64("entry count");
          const records = p.u32("record count");
          if (entries !== BigInt(snapshotEntries) || records !== snapshotRecords) {
            throw new FormatError(
              `snapshot end says ${entries} entries in ${records} records, found ${snapshotEntries} in ${snapshotRecords}`,
            );
          }
          state.seq = seq;
          inSnapshot = false;
        } else {
          throw new FormatError(`record type ${type} inside the snapshot section`);
        }
      } else {
        if (type !== COMMITS) throw new FormatError(`record type ${type} after the snapshot section`);
        if (seq <= state.seq) throw new FormatError(`sequence number ${seq} is not above ${state.seq}`);
        result.commits += replayCommits(p, state, pos, seq);
      }
      if (p.left !== 0) throw new FormatError(`${p.left} unexpected bytes at the end of the record`);
    } catch (e) {
      if (e instanceof FormatError) {
        throw corrupt(pos, `record passed its CRC but is malformed: ${e.message}`, e);
      }
      throw e;
    }
    result.records++;
    pos += checked;
  }
  if (inSnapshot) throw corrupt(pos, "the snapshot section has no end record");
  return result;
}

function readKey(p: PayloadReader): string {
  const n = p.u32("key length");
  if (n === 0 || n > MAX_KEY_BYTES) throw new FormatError(`key length ${n} is out of bounds`);
  const bytes = p.view(n, "key");
  // Keys are decoded lazily (by list, watch): one that does not decode is damage found now, not a
  // TypeError from a read later.
  try {
    decodeKey(bytes);
  } catch (e) {
    throw new FormatError(`a key does not decode (${(e as Error).message})`);
  }
  return bytesToBinary(bytes);
}

/** Skips a value, returning its offset in the file (`base` is the record's offset). */
function skipValue(p: PayloadReader, base: number): [at: number, len: number] {
  const len = p.u32("value length");
  const at = base + p.pos;
  p.view(len, "value");
  return [at, len];
}

function replaySnapshot(
  p: PayloadReader,
  index: FileIndex,
  base: number,
  snapshotSeq: bigint,
  order: { last: string | null },
): number {
  const count = p.u32("entry count");
  for (let i = 0; i < count; i++) {
    const seq = p.u64("entry seq");
    if (seq > snapshotSeq) throw new FormatError(`entry seq ${seq} above the snapshot's ${snapshotSeq}`);
    const key = readKey(p);
    // Compaction writes entries in key order, so a repeated or out-of-order key is damage.
    if (order.last !== null && key <= order.last) throw new FormatError("snapshot keys are out of order");
    order.last = key;
    const [at, len] = skipValue(p, base);
    index.set(key, Number(seq), at, len);
  }
  return count;
}

function replayCommits(p: PayloadReader, state: KvState<FileIndex>, base: number, firstSeq: bigint): number {
  const count = p.u32("commit count");
  if (count === 0) throw new FormatError("a group of zero commits");
  const index = state.map;
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + BigInt(i);
    const n = p.u32("mutation count");
    for (let j = 0; j < n; j++) {
      const op = p.u8("op");
      const key = readKey(p);
      if (op === 1) {
        const [at, len] = skipValue(p, base);
        index.set(key, Number(seq), at, len);
      } else if (op === 2) {
        index.delete(key);
      } else {
        throw new FormatError(`unknown mutation op ${op}`);
      }
    }
    state.seq = seq;
  }
  return count;
}
