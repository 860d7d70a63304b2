// The key codec's decoder (decodeKey, src/kv.ts) and the job-record decoder (decodeRecord,
// src/payload.ts) on random bytes and on mutated valid encodings. The property:
//
//   - decodeKey returns a key that encodes again (and, for an unmutated encoding, is the key that
//     was encoded), or throws TypeError, and nothing else;
//   - decodeRecord returns a record (for an unmutated encoding, the record that was encoded), or
//     throws CorruptionError, and nothing else.
//
// Each iteration draws from its own generator seeded from (seed, iteration): a failure names
// both, and `node tests/fuzz/run.ts --target keys|records --seed S --only I` replays it.
import { isDeepStrictEqual } from "node:util";
import { CorruptionError } from "../../src/errors.ts";
import { decodeKey, encodeKey, type KvKeyPart } from "../../src/kv.ts";
import { createJob, JOB_STATES } from "../../src/job.ts";
import { decodeRecord, encodeRecord } from "../../src/payload.ts";
import { iterationRng } from "./log_fuzz.ts";

type Rng = () => number;
const int = (r: Rng, n: number): number => Math.floor(r() * n);
const bytes = (r: Rng, n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(r, 256));

function keyPart(r: Rng): KvKeyPart {
  switch (int(r, 7)) {
    case 0:
      return bytes(r, int(r, 6)).map((b) => (r() < 0.3 ? (r() < 0.5 ? 0 : 0xff) : b));
    case 1:
      return String.fromCodePoint(
        ...Array.from({ length: int(r, 6) }, () => [0, 0x41, 0xe9, 0x1f600][int(r, 4)]),
      );
    case 2:
      return (BigInt(int(r, 0x100000000)) << BigInt(int(r, 300))) * (r() < 0.5 ? -1n : 1n);
    case 3:
      return [0, -0, 1.5, -2.25, NaN, Infinity, -Infinity, Number.MAX_VALUE, 5e-324][int(r, 9)];
    case 4:
      return (r() - 0.5) * 10 ** int(r, 30);
    case 5:
      return r() < 0.5;
    default:
      return "k" + int(r, 100);
  }
}

/** Damage to an encoding: flips, cuts, insertions, a byte set to a tag or to 0x00/0xff. */
function damage(r: Rng, b: Uint8Array): Uint8Array {
  let out = b.slice();
  for (let n = 1 + int(r, 3); n > 0; n--) {
    const at = int(r, out.length + 1);
    switch (int(r, 5)) {
      case 0:
        if (out.length) out[Math.min(at, out.length - 1)] ^= 1 << int(r, 8);
        break;
      case 1:
        out = out.slice(0, at);
        break;
      case 2: {
        const ins = bytes(r, 1 + int(r, 4));
        const next = new Uint8Array(out.length + ins.length);
        next.set(out.subarray(0, at));
        next.set(ins, at);
        next.set(out.subarray(at), at + ins.length);
        out = next;
        break;
      }
      default:
        if (out.length) {
          out[Math.min(at, out.length - 1)] = [0x00, 0xff, 0x01, 0x02, 0x0b, 0x14, 0x1d, 0x21][int(r, 8)];
        }
    }
  }
  return out;
}

/** Counts of one decoder's run. */
export interface CodecFuzzStats {
  iterations: number;
  decoded: number;
  refused: number;
}

/** decodeKey on iterations `[from, from + iterations)` of run `seed`. */
export function fuzzKeys(seed: number, iterations: number, from = 0): CodecFuzzStats {
  const stats: CodecFuzzStats = { iterations: 0, decoded: 0, refused: 0 };
  for (let i = from; i < from + iterations; i++) {
    const where = `key fuzz seed ${seed} iteration ${i}`;
    const r = iterationRng(seed ^ 0x4b455953, i);
    const key = Array.from({ length: int(r, 5) }, () => keyPart(r));
    const encoded = encodeKey(key);
    const kind = int(r, 3);
    const input = kind === 0 ? encoded : kind === 1 ? damage(r, encoded) : bytes(r, int(r, 40));
    let got: KvKeyPart[];
    try {
      got = decodeKey(input);
    } catch (e) {
      if (!(e instanceof TypeError)) {
        throw new Error(`${where}: decodeKey threw a non-TypeError`, { cause: e });
      }
      if (kind === 0) throw new Error(`${where}: decodeKey refused a valid encoding`, { cause: e });
      stats.refused++;
      stats.iterations++;
      continue;
    }
    if (kind === 0 && !isDeepStrictEqual(got, key)) throw new Error(`${where}: the key did not round-trip`);
    try {
      encodeKey(got);
    } catch (e) {
      throw new Error(`${where}: decodeKey returned a key that does not encode`, { cause: e });
    }
    stats.decoded++;
    stats.iterations++;
  }
  return stats;
}

const JSON_VALUES: unknown[] = [null, 0, -1, 1e308, "", "x", true, false, [], {}, [1, 2], { a: 1 }];

/** A job record in some state, with some of the optional fields. */
function record(r: Rng) {
  const job = createJob({
    id: "01J" + int(r, 1e9),
    queue: ["q", "emails", "a-b"][int(r, 3)],
    payload: r() < 0.5 ? { json: JSON_VALUES[int(r, JSON_VALUES.length)] } : { b64: "AAEC" },
    priority: int(r, 10),
  }, 1_700_000_000_000 + int(r, 1e6));
  return { ...job, state: JOB_STATES[int(r, JOB_STATES.length)], attempt: int(r, 5) };
}

/** A valid record's JSON changed at the value level: a field removed, retyped, or the root replaced. */
function reshape(r: Rng, rec: Record<string, unknown>): unknown {
  const fields = Object.keys(rec);
  const f = fields[int(r, fields.length)];
  switch (int(r, 3)) {
    case 0: {
      const { [f]: _, ...rest } = rec;
      return rest;
    }
    case 1:
      return { ...rec, [f]: JSON_VALUES[int(r, JSON_VALUES.length)] };
    default:
      return JSON_VALUES[int(r, JSON_VALUES.length)];
  }
}

/** decodeRecord on iterations `[from, from + iterations)` of run `seed`. */
export function fuzzRecords(seed: number, iterations: number, from = 0): CodecFuzzStats {
  const stats: CodecFuzzStats = { iterations: 0, decoded: 0, refused: 0 };
  const te = new TextEncoder();
  for (let i = from; i < from + iterations; i++) {
    const where = `record fuzz seed ${seed} iteration ${i}`;
    const r = iterationRng(seed ^ 0x52454353, i);
    const rec = record(r);
    const encoded = encodeRecord(rec);
    const kind = int(r, 4);
    const input = kind === 0
      ? encoded
      : kind === 1
      ? damage(r, encoded)
      : kind === 2
      ? te.encode(JSON.stringify(reshape(r, rec)))
      : bytes(r, int(r, 40));
    let got;
    try {
      got = decodeRecord(input);
    } catch (e) {
      if (!(e instanceof CorruptionError)) {
        throw new Error(`${where}: decodeRecord threw something other than CorruptionError`, { cause: e });
      }
      if (kind === 0) throw new Error(`${where}: decodeRecord refused a valid record`, { cause: e });
      stats.refused++;
      stats.iterations++;
      continue;
    }
    if (kind === 0 && !isDeepStrictEqual(got, JSON.parse(JSON.stringify(rec)))) {
      throw new Error(`${where}: the record did not round-trip`);
    }
    if (typeof got.id !== "string" || !JOB_STATES.includes(got.state) || !Array.isArray(got.history)) {
      throw new Error(`${where}: decodeRecord returned something that is not a job record`);
    }
    stats.decoded++;
    stats.iterations++;
  }
  return stats;
}
