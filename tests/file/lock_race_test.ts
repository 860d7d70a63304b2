import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { FileKv } from "../../adapters/file/mod.ts";
import { childCommand, dec, tempDir } from "./helpers.ts";

const fixture = fileURLToPath(new URL("./fixtures/race_open.ts", import.meta.url));
const PROCESSES = 6;
const ROUNDS = 20;
/** How long each child's fs layer delays the write of a lock file's pid. */
const PID_WRITE_DELAY_MS = 40;

/** A child running race_open.ts: send it commands, await the next line that starts with a word. */
function startChild() {
  const [cmd, args] = childCommand(fixture, [String(PID_WRITE_DELAY_MS)]);
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
  let buffered = "";
  let err = "";
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => {
    buffered += d;
    let i;
    while ((i = buffered.indexOf("\n")) >= 0) {
      lines.push(buffered.slice(0, i));
      buffered = buffered.slice(i + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on("data", (d) => (err += d));
  let exited = false;
  const closed = new Promise<void>((resolve) =>
    child.on("close", () => {
      exited = true;
      for (const w of waiters.splice(0)) w();
      resolve();
    })
  );
  return {
    pid: child.pid!,
    send: (line: string) => child.stdin.write(line + "\n"),
    async next(): Promise<string> {
      while (lines.length === 0) {
        if (exited) throw new Error(`child ${child.pid} exited: ${err}`);
        await new Promise<void>((r) => waiters.push(r));
      }
      return lines.shift()!;
    },
    async stop(): Promise<void> {
      child.stdin.end();
      await closed;
    },
  };
}

test("FileKv single writer: of several processes opening one store at once (fresh, with a stale lock, or with a stale lock and a dead breaker's marker), exactly one wins every round, the others get StoreLockedError", async () => {
  const t = tempDir();
  const children = Array.from({ length: PROCESSES }, startChild);
  try {
    for (const c of children) assert.equal(await c.next(), "ready");
    const winners: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const path = `${t.dir}/round-${round}.kvq`;
      // Every other round the store has a stale lock (of a dead process) that all of them break at once.
      if (round % 2 === 1) writeFileSync(path + ".lock", `999999999\n00aa\n${round}\n`);
      // Every fourth round that lock has the break marker of a breaker that died too: they all break both.
      if (round % 4 === 3) writeFileSync(path + ".lock.break", `999999998\n00bb\n${round}\n`);
      // Every child opens at the same wall-clock moment, so the opens overlap.
      const at = Date.now() + 60;
      for (const c of children) c.send(`open ${path} ${at}`);
      const replies = await Promise.all(children.map((c) => c.next()));
      const opened = children.filter((_, i) => replies[i] === `opened ${path}`);
      assert.equal(opened.length, 1, `round ${round}: ${replies.join(" | ")}`);
      const winner = opened[0].pid;
      winners.push(winner);
      for (const r of replies) {
        if (r !== `opened ${path}`) assert.equal(r, `locked ${path} ${winner}`, `round ${round}`);
      }
      for (const c of children) c.send(`close ${path}`);
      for (const c of children) assert.equal(await c.next(), `closed ${path}`);
    }
    // No temporary lock file or marker is left behind.
    assert.deepEqual(readdirSync(t.dir).filter((f) => f.includes(".lock")), []);
    // The winner's acknowledged commit is in every store, and each store opens cleanly.
    for (let round = 0; round < ROUNDS; round++) {
      const kv = await FileKv.open(`${t.dir}/round-${round}.kvq`, { reserveBytes: 0 });
      assert.equal(dec((await kv.get(["owner"]))?.value), String(winners[round]), `round ${round}`);
      await kv.close();
    }
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    t.cleanup();
  }
});
