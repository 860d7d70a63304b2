// A process killed with SIGKILL in the middle of a commit, over the fs driver: before its
// write-ahead record is whole, after it, and halfway through applying it. Reopening the store
// leaves that commit all or nothing: nothing of it when the record was cut short, all of it
// otherwise, and the next commit gets a greater versionstamp. Also: a second process is refused the
// base while this one holds it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import { UnstorageKv } from "../../adapters/unstorage/mod.ts";
import { StoreLockedError } from "../../src/errors.ts";

import { killAtReady, runtimeCommand } from "../crash/_kill.ts";
const CHILD = fileURLToPath(new URL("./crash_child.ts", import.meta.url));

/** Runs the child until it reports that its second commit stopped, kills it, returns the first versionstamp. */
function crashChild(dir: string, mode: string): Promise<string> {
  return killAtReady(CHILD, [dir, mode]);
}

/** Opens the store again once the dead child's lease has run out. */
async function reopen(dir: string): Promise<UnstorageKv> {
  const storage = createStorage({ driver: fsDriver({ base: dir }) });
  for (let i = 0;; i++) {
    try {
      return await UnstorageKv.open(storage, { base: "crash" });
    } catch (e) {
      if (!(e instanceof StoreLockedError) || i > 100) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Runs the child in probe mode: what it printed. */
function probe(dir: string): Promise<string> {
  const [cmd, argv] = runtimeCommand(CHILD, [dir, "probe"]);
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.on(
      "exit",
      (code) => code === 0 ? resolve(out.trim()) : reject(new Error(`probe exited ${code}: ${err}`)),
    );
  });
}

test("unstorage: another process opening a base this process holds is refused with StoreLockedError", {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "kvq-unstorage-probe-"));
  try {
    const storage = createStorage({ driver: fsDriver({ base: dir }) });
    const kv = await UnstorageKv.open(storage, { base: "crash" });
    assert.equal(await probe(dir), "StoreLockedError");
    await kv.close();
    assert.equal(await probe(dir), "opened");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const text = (v: Uint8Array | undefined) => (v ? new TextDecoder().decode(v) : null);

describe("unstorage crash: a commit interrupted by SIGKILL is all or nothing after reopen", () => {
  for (
    const [mode, when, expected] of [
      ["torn-journal", "before its write-ahead record is whole", { a: "a1", b: "b1", c: "c1", d: null }],
      ["journaled", "after its write-ahead record, before applying", { a: "a2", b: "b2", c: null, d: "d2" }],
      ["half-applied", "halfway through applying", { a: "a2", b: "b2", c: null, d: "d2" }],
    ] as const
  ) {
    test(`a commit killed ${when}: the reopened store holds ${expected.d ? "all" : "none"} of the commit`, {
      timeout: 30_000,
    }, async () => {
      const dir = mkdtempSync(join(tmpdir(), "kvq-unstorage-crash-"));
      try {
        const first = await crashChild(dir, mode);
        const kv = await reopen(dir);
        try {
          const entries = await kv.getMany(["a", "b", "c", "d"].map((k) => ["k", k]));
          assert.deepEqual(
            Object.fromEntries(entries.map((e, i) => ["abcd"[i], text(e?.value)])),
            expected,
          );
          const stamps = new Set(entries.filter((e) => e).map((e) => e!.versionstamp));
          assert.equal(stamps.size, 1, "every key of the surviving commit carries its versionstamp");
          const [stamp] = stamps;
          assert.ok(expected.d ? stamp > first : stamp === first);
          const listed: string[] = [];
          for await (const e of kv.list({ prefix: ["k"] })) listed.push(String(e.key[1]));
          assert.deepEqual(listed, Object.keys(expected).filter((k) => expected[k as "a"] !== null));
          const next = await kv.atomic().set(["k", "e"], new Uint8Array([1])).commit();
          assert.ok(next.ok && next.versionstamp > stamp);
        } finally {
          await kv.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
