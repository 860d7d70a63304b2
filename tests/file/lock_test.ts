import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { FileKv } from "../../adapters/file/mod.ts";
import { StoreLockedError } from "../../src/errors.ts";
import { childCommand, dec, enc, tempDir } from "./helpers.ts";
import { SimFs } from "./sim_fs.ts";

const fixture = fileURLToPath(new URL("./fixtures/hold_store.ts", import.meta.url));

test("FileKv single writer: a second open in the same process fails with StoreLockedError", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path);
    await assert.rejects(FileKv.open(t.path), (e) => {
      assert.ok(e instanceof StoreLockedError);
      assert.equal(e.code, "LOCKED");
      assert.equal(e.path, t.path);
      assert.match(e.message, /already open/);
      return true;
    });
    // The first store is unaffected, and after it closes the store opens again.
    assert.ok((await kv.atomic().set(["a"], enc("1")).commit()).ok);
    await kv.close();
    assert.equal(existsSync(t.path + ".lock"), false);
    const again = await FileKv.open(t.path);
    assert.equal(dec((await again.get(["a"]))?.value), "1");
    await again.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv single writer: of two concurrent opens in one process exactly one succeeds", async () => {
  const t = tempDir();
  try {
    const results = await Promise.allSettled([FileKv.open(t.path), FileKv.open(t.path), FileKv.open(t.path)]);
    const opened = results.filter((r) => r.status === "fulfilled");
    assert.equal(opened.length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(r.reason instanceof StoreLockedError, String(r.reason));
    }
    await (opened[0] as PromiseFulfilledResult<FileKv>).value.close();
  } finally {
    t.cleanup();
  }
});

function runChild(path: string, mode: "hold" | "try") {
  const [cmd, args] = childCommand(fixture, [path, mode]);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const line = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", () => out.includes("\n") && resolve(out.trim()));
    child.on(
      "close",
      () => (out.includes("\n") ? resolve(out.trim()) : reject(new Error(`child failed: ${err}`))),
    );
  });
  return { child, line, exited };
}

test("FileKv single writer: another process cannot open a store this process holds", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path);
    const c = runChild(t.path, "try");
    assert.equal(await c.line, `StoreLockedError LOCKED ${process.pid}`);
    await c.exited;
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv single writer: this process cannot open a store another process holds; a killed holder's lock is stale", async () => {
  const t = tempDir();
  try {
    const c = runChild(t.path, "hold");
    assert.equal(await c.line, "ready");
    await assert.rejects(FileKv.open(t.path), (e) => {
      assert.ok(e instanceof StoreLockedError, String(e));
      assert.equal(e.pid, c.child.pid);
      return true;
    });
    c.child.kill("SIGKILL");
    await c.exited;
    // The lock file is still there, but its process is gone: the next open takes it over.
    assert.equal(existsSync(t.path + ".lock"), true);
    const kv = await FileKv.open(t.path);
    assert.equal(dec((await kv.get(["child"]))?.value), String(c.child.pid));
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv single writer: a lock file naming a dead process, or left empty, is taken over", async () => {
  const t = tempDir();
  try {
    writeFileSync(t.path + ".lock", "999999999\n");
    const kv = await FileKv.open(t.path);
    await kv.close();
    writeFileSync(t.path + ".lock", "");
    const again = await FileKv.open(t.path);
    await again.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv single writer: two spellings of one path are one store", async () => {
  const t = tempDir();
  try {
    const kv = await FileKv.open(t.path);
    const other = t.dir + "/./sub/../store.kvq";
    await assert.rejects(FileKv.open(other), StoreLockedError);
    await kv.close();
  } finally {
    t.cleanup();
  }
});

test("FileKv single writer: a lock with this pid but another process's token is stale; with ours it is held", async () => {
  const t = tempDir();
  try {
    // Left by an earlier process that had the same pid (containers restart with the same pids).
    writeFileSync(t.path + ".lock", `${process.pid}\n0123456789abcdef\n`);
    const kv = await FileKv.open(t.path);
    const token = /^\d+\n([0-9a-f]+)\n/.exec(readFileSync(t.path + ".lock", "utf8"))![1];
    await kv.close();
    // Held by this process through a path the registry does not know (here: written by hand).
    writeFileSync(t.path + ".lock", `${process.pid}\n${token}\n`);
    await assert.rejects(FileKv.open(t.path), StoreLockedError);
  } finally {
    t.cleanup();
  }
});

test("FileKv single writer: the lock file is never seen without its owner, and no temporary file stays", async () => {
  const sim = new SimFs();
  const owner = new RegExp(`^${sim.pid}\n[0-9a-f]{16}\n[0-9a-f]{16}\n$`);
  const seen: string[] = [];
  // Before every file operation of the open, look at the lock file as another opener would.
  sim.hook = () => {
    if (sim.exists("/data/store.kvq.lock")) seen.push(dec(sim.file("/data/store.kvq.lock"))!);
  };
  const kv = await FileKv.open("/data/store.kvq", { fs: sim, reserveBytes: 0 });
  sim.hook = null;
  assert.ok(seen.length > 0);
  for (const content of seen) assert.match(content, owner);
  assert.deepEqual(sim.names().filter((n) => n.includes(".lock")), ["/data/store.kvq.lock"]);
  await kv.close();
  assert.deepEqual(sim.names().filter((n) => n.includes(".lock")), []);
});
