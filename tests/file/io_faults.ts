// I/O errors at every operation (SQLite's method) for the file store: a full workload (adds, claims,
// completions, a compaction, a close and reopen, more adds) runs on the simulated disk with the k-th
// call of one operation (write, fdatasync, rename, read, open, ...) failing with EIO, for every k
// the workload reaches; "once" fails that call only, "sticky" fails it and every later call of the
// same operation. Each run checks:
//
//   - every call that fails, fails with a StorageError (a typed error at the failing call);
//   - after the run the process dies; the store then opens both from what the OS holds (page
//     cache) and from what survives a power loss, and holds every acknowledged commit: each key has
//     the value of the last acknowledged write to it, or of a failed write issued after that (a
//     failed commit's fate is unknown), never anything else.
import { FileKv } from "../../adapters/file/mod.ts";
import { StorageError } from "../../src/errors.ts";
import { fsError, SimFs, type SimOp } from "./sim_fs.ts";

const PATH = "/data/store.kvq";
const OPTIONS = { reserveBytes: 4096, autoCompact: false } as const;

/** Every operation the simulated disk can fail. */
export const FAULT_OPS: readonly SimOp[] = [
  "open",
  "close",
  "read",
  "write",
  "fdatasync",
  "ftruncate",
  "size",
  "rename",
  "link",
  "unlink",
  "fsyncDir",
];

/** One fault: the k-th call (1-based) of `op` fails, once or from then on. */
export interface Fault {
  readonly op: SimOp;
  readonly k: number;
  readonly sticky: boolean;
}

/** Per key, the values it may hold: the last acknowledged one, then those of later failed writes. */
class Model {
  readonly #keys = new Map<string, (string | undefined)[]>();
  acked = 0;
  failed = 0;
  /** Records a commit's writes (`undefined`: a delete) as acknowledged or failed. */
  record(writes: [string, string | undefined][], ok: boolean): void {
    for (const [k, v] of writes) {
      if (ok) this.#keys.set(k, [v]);
      else (this.#keys.get(k) ?? this.#keys.set(k, [undefined]).get(k)!).push(v);
    }
    if (ok) this.acked++;
    else this.failed++;
  }
  /** Why `kv` does not hold a state this model allows, or null. */
  async mismatch(kv: FileKv): Promise<string | null> {
    const seen = new Set<string>();
    for await (const e of kv.list({ prefix: [] })) {
      const k = String(e.key[0]);
      seen.add(k);
      const v = new TextDecoder().decode(e.value);
      const allowed = this.#keys.get(k);
      if (!allowed?.includes(v)) return `${k} is ${v}, allowed ${JSON.stringify(allowed)}`;
    }
    for (const [k, allowed] of this.#keys) {
      if (!seen.has(k) && !allowed.includes(undefined)) {
        return `${k} is missing, allowed ${JSON.stringify(allowed)}`;
      }
    }
    return null;
  }
}

const PRELUDE: [string, string][] = [["pre0", "a"], ["pre1", "b"], ["pre0", "c"]];

/**
 * A disk holding a store of three commits whose log ends in a torn record (so that the first open
 * of the workload cuts it: ftruncate and fdatasync are in the workload too).
 */
async function tornStore(): Promise<SimFs> {
  const sim = new SimFs();
  const kv = await FileKv.open(PATH, { ...OPTIONS, fs: sim });
  for (const [k, v] of PRELUDE) await kv.atomic().set([k], new TextEncoder().encode(v)).commit();
  await kv.close();
  const log = sim.file(PATH);
  const torn = new Uint8Array(log.length + 30);
  torn.set(log);
  torn.set([40, 0, 0, 0, 1, 2, 3, 4, 9, 9], log.length); // a record of 40 bytes, cut after 30
  sim.setFile(PATH, torn);
  return sim;
}

/** What one run did. */
export interface FaultRun {
  /** Calls of each operation the run made. */
  readonly counts: Record<string, number>;
  /** Whether the fault was reached. */
  readonly hit: boolean;
  /** Commits acknowledged and failed. */
  readonly acked: number;
  readonly failed: number;
}

/**
 * Runs the workload with `fault` (or none) and checks the property; throws an Error naming the fault
 * when it does not hold.
 */
export async function runWithFault(fault: Fault | null): Promise<FaultRun> {
  const where = fault ? `${fault.op} #${fault.k}${fault.sticky ? " and after" : ""}` : "no fault";
  const sim = await tornStore();
  const counts: Record<string, number> = {};
  let hit = false;
  sim.hook = (op) => {
    const n = counts[op] = (counts[op] ?? 0) + 1;
    if (fault && op === fault.op && (n === fault.k || (fault.sticky && n > fault.k))) {
      hit = true;
      throw fsError("EIO", `injected: ${where}`);
    }
  };
  const model = new Model();
  for (const [k, v] of PRELUDE) model.record([[k, v]], true);
  const typed = (e: unknown, what: string) => {
    if (!(e instanceof StorageError)) {
      throw new Error(`${where}: ${what} failed with a non-StorageError`, { cause: e });
    }
  };
  const enc = (s: string) => new TextEncoder().encode(s);
  let kv: FileKv | null = null;
  const open = async () => {
    try {
      kv = await FileKv.open(PATH, { ...OPTIONS, fs: sim });
    } catch (e) {
      typed(e, "open");
      kv = null;
    }
  };
  const commit = async (writes: [string, string | undefined][]) => {
    if (!kv) return;
    const op = kv.atomic();
    for (const [k, v] of writes) v === undefined ? op.delete([k]) : op.set([k], enc(v));
    try {
      const r = await op.commit();
      if (!r.ok) throw new Error(`${where}: a commit without checks failed its checks`);
      model.record(writes, true);
    } catch (e) {
      typed(e, "commit");
      model.record(writes, false);
    }
  };
  await open();
  if (!kv) await open(); // a fault during the first open: the application tries again
  // Adds, some of them concurrent (one group write), then claims and completions.
  for (let i = 0; i < 12; i += 3) {
    await Promise.all([i, i + 1, i + 2].map((j) => commit([[`job${j}`, `ready${j}`], [`ready${j}`, "1"]])));
  }
  await Promise.all(
    [0, 1, 2, 3, 4, 5].map((i) =>
      commit([[`job${i}`, `active${i}`], [`ready${i}`, undefined], [`lease${i}`, "L"]])
    ),
  );
  await Promise.all([0, 1, 2].map((i) => commit([[`job${i}`, `done${i}`], [`lease${i}`, undefined]])));
  if (kv) await (kv as FileKv).compact().catch((e) => typed(e, "compact"));
  for (let i = 3; i < 6; i++) await commit([[`job${i}`, `done${i}`], [`lease${i}`, undefined]]);
  if (kv) await (kv as FileKv).close().catch((e) => typed(e, "close"));
  kv = null;
  await open();
  if (!kv) await open();
  for (let i = 12; i < 16; i++) await commit([[`job${i}`, `ready${i}`], [`ready${i}`, "1"]]);
  // The process dies (without closing); the store must open on what the OS kept, and after a
  // power loss on what was synced.
  for (
    const [how, disk] of [["power loss", sim.fork().crash()], ["process crash", sim.processCrash()]] as const
  ) {
    let again: FileKv;
    try {
      again = await FileKv.open(PATH, { ...OPTIONS, fs: disk });
    } catch (e) {
      throw new Error(`${where}: after a ${how} the store does not open`, { cause: e });
    }
    const bad = await model.mismatch(again);
    await again.close();
    if (bad) throw new Error(`${where}: after a ${how}: ${bad} (${model.acked} commits acknowledged)`);
  }
  return { counts, hit, acked: model.acked, failed: model.failed };
}

/** Totals of {@link runEveryFault}. */
export interface FaultTotals {
  /** op -> runs in which its fault was reached */
  runs: Record<string, number>;
  acked: number;
  failed: number;
}

/** Every fault the workload can reach: each op, each k, once and sticky. */
export async function runEveryFault(ops: readonly SimOp[] = FAULT_OPS): Promise<FaultTotals> {
  const clean = await runWithFault(null);
  const totals: FaultTotals = { runs: {}, acked: 0, failed: 0 };
  for (const op of ops) {
    for (let k = 1; k <= (clean.counts[op] ?? 0); k++) {
      for (const sticky of [false, true]) {
        const run = await runWithFault({ op, k, sticky });
        if (!run.hit) {
          throw new Error(`${op} #${k}: the fault was never reached (the workload is not deterministic)`);
        }
        totals.runs[op] = (totals.runs[op] ?? 0) + 1;
        totals.acked += run.acked;
        totals.failed += run.failed;
      }
    }
  }
  return totals;
}
