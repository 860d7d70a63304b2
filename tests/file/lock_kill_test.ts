// Real SIGKILLs in the lock protocol (issue #16): a child process opening a store with a stale lock (of a
// dead process) SIGKILLs itself just before its k-th file operation on a lock file, for every k its open,
// commit and close reach (writing its candidate, meeting the stale lock, taking the break marker, removing
// the stale lock, taking the lock, releasing it). Where a kill left a break marker, a second child is
// killed at every step of breaking that too. Then a fresh process must open the store on its own, with
// every acknowledged commit, and leave no lock or first-level marker behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, readdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { FileKv } from "../../adapters/file/mod.ts";
import { childCommand, enc, tempDir } from "./helpers.ts";

const fixture = fileURLToPath(new URL("./fixtures/kill_at_lock_op.ts", import.meta.url));

interface Run {
  readonly killed: boolean;
  readonly acked: number | null;
  readonly keys: Record<string, string> | null;
  readonly out: string;
}

/** Runs the fixture on `path`, SIGKILLed at its k-th lock-file operation (0: never). */
function run(path: string, k: number): Promise<Run> {
  const [cmd, args] = childCommand(fixture, [path, String(k)]);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  return new Promise((resolve) =>
    child.on("close", (_code, signal) => {
      const acked = /^acked (\d+)$/m.exec(out);
      const keys = /^keys (.*)$/m.exec(out);
      resolve({
        killed: signal === "SIGKILL",
        acked: acked ? Number(acked[1]) : null,
        keys: keys ? JSON.parse(keys[1]) : null,
        out,
      });
    })
  );
}

/** A store with three acknowledged commits, and the lock of a dead process (its writer, killed). */
async function staleStore(path: string): Promise<void> {
  const kv = await FileKv.open(path, { reserveBytes: 0 });
  for (const k of ["a", "b", "c"]) assert.ok((await kv.atomic().set([k], enc(k)).commit()).ok);
  await kv.close();
  writeFileSync(path + ".lock", "999999999\n00aa\n01\n");
}

const lockFiles = (dir: string, name: string) =>
  readdirSync(dir).filter((f) => f.startsWith(name + ".lock") && !f.endsWith(".tmp"));

/** A store's files after some kills, and the commits acknowledged so far. */
interface State {
  readonly name: string;
  readonly acked: ReadonlySet<string>;
  readonly killed: boolean;
  readonly left: string[];
}

/** A directory of stores; each history gets a store of its own. */
function stores() {
  const t = tempDir();
  let kills = 0;
  let n = 0;
  /**
   * Runs one child per step in `at` in turn (each SIGKILLed at that lock operation, if it gets there), on a
   * fresh store with a stale lock, or on a copy of the files of `from`.
   */
  const kill = async (at: number[], from?: State): Promise<State> => {
    const name = `s${n++}.kvq`;
    const path = `${t.dir}/${name}`;
    if (from) {
      for (const f of readdirSync(t.dir).filter((f) => f.startsWith(from.name))) {
        copyFileSync(`${t.dir}/${f}`, `${t.dir}/${name}${f.slice(from.name.length)}`);
      }
    } else await staleStore(path);
    const acked = new Set(from ? from.acked : ["a", "b", "c"]);
    let killed = from?.killed ?? false;
    for (const k of at) {
      const r = await run(path, k);
      killed = r.killed;
      if (killed) kills++;
      else assert.equal(r.keys !== null, true, `kills at ${at}: a child that lived failed: ${r.out}`);
      if (r.acked !== null) acked.add(`k/${r.acked}`);
    }
    return { name, acked, killed, left: lockFiles(t.dir, name) };
  };
  /** This process (alive, and not any of the killed ones) opens the store on its own: all there? */
  const verify = async (state: State, where: string): Promise<void> => {
    where += ` (left ${state.left.join(", ") || "nothing"})`;
    const kv = await FileKv.open(`${t.dir}/${state.name}`, { reserveBytes: 0 }).catch((e) => {
      throw new Error(`${where}: the store does not open`, { cause: e });
    });
    const keys = new Set<string>();
    for await (const e of kv.list({ prefix: [] })) keys.add(e.key.join("/"));
    await kv.close();
    for (const key of state.acked) assert.ok(keys.has(key), `${where}: ${key} lost`);
    // No lock and no first marker; a marker further up (two kills deep) may stay, naming a dead pid.
    for (const f of lockFiles(t.dir, state.name)) {
      assert.match(f, /\.lock\.break\.break(\.break)*$/, `${where}: ${f} left`);
    }
  };
  return { kill, verify, kills: () => kills, cleanup: t.cleanup };
}

/** The first k at which a kill leaves a break marker. */
const MARKER_STEP = 10;

test("FileKv lock: a process SIGKILLed at any lock-file operation (its candidate, meeting a stale lock, its marker, taking, releasing) leaves a store the next process opens", async () => {
  const s = stores();
  try {
    let markers = 0;
    for (let k = 1;; k++) {
      const state = await s.kill([k]);
      await s.verify(state, `kill at ${k}`);
      if (!state.killed) break; // the child ended before its k-th lock operation: every step was tried
      const marked = state.left.some((f) => f.endsWith(".break"));
      if (marked) markers++;
      if (k === MARKER_STEP) assert.ok(marked, `the kill at ${k} left ${state.left}`);
    }
    assert.ok(markers > 0, "no kill left a break marker");
    assert.ok(s.kills() > 10, `only ${s.kills()} kills`);
  } finally {
    s.cleanup();
  }
});

test("FileKv lock: after a kill that left a break marker, a second process SIGKILLed at any step of breaking it leaves a store the next process opens", async () => {
  const s = stores();
  try {
    // One real kill leaves the marker; each second kill starts from a copy of the files it left.
    const marked = await s.kill([MARKER_STEP]);
    assert.ok(
      marked.left.some((f) => f.endsWith(".break")),
      `the kill at ${MARKER_STEP} left ${marked.left}`,
    );
    for (let j = 1;; j++) {
      const state = await s.kill([j], marked);
      await s.verify(state, `kills at ${MARKER_STEP}, ${j}`);
      if (!state.killed) break;
    }
    assert.ok(s.kills() > 10, `only ${s.kills()} kills`);
  } finally {
    s.cleanup();
  }
});
