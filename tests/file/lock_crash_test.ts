// A crash at any step of taking, breaking or releasing the single-writer lock (issue #16): on the simulated
// disk, several processes (each an fs view with its own pid over one SimFs) live one after another; each
// opens the store, commits one key and closes, and is killed at its k-th file operation (every k the
// life reaches). A kill keeps what was written (the OS page cache), stops every later operation of that
// process, and makes its pid dead. When a kill leaves a break marker behind, the next process is killed
// at every step too, up to four crashes deep. After every history a fresh process must open the store,
// with every acknowledged commit, and leave no lock or first-level marker once closed.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { FsLayer } from "../../adapters/file/fs.ts";
import { FileKv } from "../../adapters/file/mod.ts";
import { dec, enc } from "./helpers.ts";
import { fsError, SimFs, type SimOp } from "./sim_fs.ts";
import { FAULT_OPS } from "./io_faults.ts";

const PATH = "/data/store.kvq";
const LOCK = PATH + ".lock";
const OPTIONS = { reserveBytes: 0, autoCompact: false } as const;
/** Every operation a kill can land on: the simulated disk's operations. */
const OPS: readonly SimOp[] = FAULT_OPS;
/** Crashes per history at most (each one after the first only where the one before left a marker). */
const DEPTH = 4;

/** Processes sharing one simulated disk; a pid is alive until its process is killed or exits. */
class World {
  readonly sim = new SimFs();
  readonly live = new Set<number>();
  /** Every acknowledged commit: key to value. */
  readonly acked = new Map<string, string>();
  #nextPid = 100;

  /** A process that dies at its `crashAt`-th file operation (1-based; 0: never). */
  spawn(crashAt: number): Proc {
    const pid = this.#nextPid++;
    this.live.add(pid);
    return new Proc(this, pid, crashAt);
  }
}

class Proc {
  readonly fs: FsLayer;
  readonly world: World;
  readonly pid: number;
  ops = 0;
  dead = false;
  constructor(world: World, pid: number, crashAt: number) {
    this.world = world;
    this.pid = pid;
    const sim = world.sim;
    const gate = () => {
      if (this.dead) throw fsError("ECRASHED", `process ${pid} was killed`);
      if (++this.ops === crashAt) throw this.kill();
    };
    const fs: Record<string, unknown> = {
      pid,
      processAlive: (other: number) => world.live.has(other),
      readSync: (...a: Parameters<FsLayer["readSync"]>) => {
        if (this.dead) throw fsError("ECRASHED", `process ${pid} was killed`);
        return sim.readSync(...a);
      },
    };
    for (const op of OPS) {
      const f = (sim[op] as (...a: unknown[]) => Promise<unknown>).bind(sim);
      fs[op] = (...a: unknown[]) => {
        try {
          gate();
        } catch (e) {
          return Promise.reject(e);
        }
        return f(...a);
      };
    }
    this.fs = fs as unknown as FsLayer;
  }

  /** SIGKILL: no further operation runs, and the pid is gone. */
  kill(): Error {
    this.dead = true;
    this.world.live.delete(this.pid);
    return fsError("ECRASHED", `process ${this.pid} was killed`);
  }
}

/**
 * One process's life: open, commit `k<pid>`, close. Returns whether it was killed (an error while
 * alive fails the test).
 */
async function life(world: World, crashAt: number): Promise<boolean> {
  const p = world.spawn(crashAt);
  const where = `process ${p.pid} killed at op ${crashAt}`;
  let kv: FileKv;
  try {
    kv = await FileKv.open(PATH, { ...OPTIONS, fs: p.fs });
  } catch (e) {
    if (!p.dead) throw new Error(`${where}: open failed while alive`, { cause: e });
    return true;
  }
  try {
    const key = `k${p.pid}`;
    if ((await kv.atomic().set([key], enc(String(p.pid))).commit()).ok) world.acked.set(key, String(p.pid));
    await kv.close();
  } catch (e) {
    if (!p.dead) throw new Error(`${where}: commit or close failed while alive`, { cause: e });
    await kv.close().catch(() => {});
  }
  world.live.delete(p.pid); // exited (or killed)
  return p.dead;
}

/** A disk whose store holds three acknowledged commits and the lock of their writer, killed. */
async function prelude(): Promise<World> {
  const world = new World();
  const p = world.spawn(0);
  const kv = await FileKv.open(PATH, { ...OPTIONS, fs: p.fs });
  for (const k of ["a", "b", "c"]) {
    assert.ok((await kv.atomic().set([k], enc(k)).commit()).ok);
    world.acked.set(k, k);
  }
  p.kill();
  await kv.close().catch(() => {});
  return world;
}

const lockFiles = (sim: SimFs) => sim.names().filter((n) => n.startsWith(LOCK) && !n.endsWith(".tmp"));

/** Replays `crashes` (one process killed at each step, in turn) and checks that the store recovers. */
async function history(crashes: number[]): Promise<{ killed: boolean; left: string[] }> {
  const world = await prelude();
  let killed = true;
  for (const k of crashes) killed = await life(world, k);
  const left = lockFiles(world.sim);
  // A fresh process opens the store on its own, and holds every acknowledged commit.
  const where = `kills at ${crashes.join(", ")} (left ${left.join(", ") || "nothing"})`;
  const fresh = world.spawn(0);
  const kv = await FileKv.open(PATH, { ...OPTIONS, fs: fresh.fs }).catch((e) => {
    throw new Error(`${where}: the store does not open`, { cause: e });
  });
  for (const [key, value] of world.acked) {
    assert.equal(dec((await kv.get([key]))?.value), value, `${where}: ${key}`);
  }
  await kv.close();
  world.live.delete(fresh.pid);
  // Closed: no lock, no first-level marker; a marker further up may stay, naming a dead process.
  for (const n of lockFiles(world.sim)) {
    assert.match(n, /\.lock\.break\.break(\.break)*$/, `${where}: ${n} left after a clean close`);
    const pid = Number(/^(\d+)\n/.exec(dec(world.sim.file(n))!)![1]);
    assert.ok(!world.live.has(pid), `${where}: ${n} names a live process`);
  }
  // And the next process opens it again.
  assert.equal(await life(world, 0), false, `${where}: the open after it`);
  return { killed, left };
}

test("FileKv lock: a kill at any step of taking, breaking or releasing the lock, up to four kills in a row, leaves a store the next process opens on its own", async () => {
  let histories = 0;
  // The lock files a kill left (their contents differ only in dead pids), explored once each per depth.
  const explored = new Set<string>();
  const explore = async (before: number[]): Promise<void> => {
    for (let k = 1;; k++) {
      const crashes = [...before, k];
      const { killed, left } = await history(crashes);
      histories++;
      if (!killed) break; // the life ended before its k-th operation: every step was tried
      const state = `${crashes.length}: ${left.join(" ")}`;
      if (left.some((n) => n.endsWith(".break")) && crashes.length < DEPTH && !explored.has(state)) {
        explored.add(state);
        await explore(crashes);
      }
    }
  };
  await explore([]);
  // Every level was reached: some kills left a marker, and some of those a marker above it.
  // Every level was reached: kills left markers three levels up (608 histories when written).
  assert.ok([...explored].some((s) => s.includes(".break.break.break")), [...explored].join("\n"));
  assert.ok(histories > 100, `only ${histories} histories`);
});

test("FileKv lock: a stale lock whose breaker died mid-way (its marker names a dead pid) is broken on the next open; a live breaker is waited for", async () => {
  const world = await prelude();
  // Killed while breaking: it holds the marker (its own temporary file's content), the stale lock still there.
  world.sim.setFile(LOCK + ".break", enc("999999998\n00bb\n02\n"));
  // A tombstone of an older kvq, ignored.
  world.sim.setFile(LOCK + ".0a0b0c0d.stale", enc(dec(world.sim.file(LOCK))!));
  assert.equal(await life(world, 0), false);
  assert.deepEqual(lockFiles(world.sim), [LOCK + ".0a0b0c0d.stale"]);
  for (const [key, value] of world.acked) {
    const kv = await FileKv.open(PATH, { ...OPTIONS, fs: world.spawn(0).fs });
    assert.equal(dec((await kv.get([key]))?.value), value);
    await kv.close();
  }

  // A live breaker holds the marker of a stale lock: the opener waits, and once the breaker is done
  // (here: it removes the stale lock and its marker) takes the lock.
  const breaker = world.spawn(0);
  world.sim.setFile(LOCK, enc("999999997\n00cc\n03\n"));
  world.sim.setFile(LOCK + ".break", enc(`${breaker.pid}\n00dd\n04\n`));
  const opening = life(world, 0);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(world.sim.exists(LOCK + ".break"), true, "the live breaker's marker was taken from it");
  await world.sim.unlink(LOCK);
  await world.sim.unlink(LOCK + ".break");
  assert.equal(await opening, false);
});
