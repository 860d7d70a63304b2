// A process killed with SIGKILL between writing a payload's blob and committing its job: the blob
// is left in the blob store with no job, and the sweep collects it once the grace period has passed
// (not before). Each case is one child process (crash_child.ts) over the file store and unstorage's
// fs driver. KVQ_BLOB_CRASH_CYCLES (default 1) repeats every case; the figures go to docs/RELIABILITY.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import { FileKv } from "../../adapters/file/mod.ts";
import { UnstorageBlobStore } from "../../adapters/unstorage/mod.ts";
import { FakeClock, Queue } from "../../mod.ts";

const CHILD = fileURLToPath(new URL("./crash_child.ts", import.meta.url));
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const CYCLES = Number(env.KVQ_BLOB_CRASH_CYCLES ?? 1);

function command(args: string[]): [string, string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (deno) return [deno.execPath(), ["run", "-A", CHILD, ...args]];
  return [process.execPath, [CHILD, ...args]];
}

/** Runs the child to its stop point, kills it with SIGKILL, returns the id of the job it was adding. */
function crashChild(dir: string, kind: string): Promise<string> {
  const [cmd, argv] = command([dir, kind]);
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /ready (\S+)\n/.exec(out);
      if (m) {
        child.kill("SIGKILL");
        child.on("exit", (_code, signal) => {
          if (signal === "SIGKILL") resolve(m[1]!);
          else reject(new Error(`child ended by ${signal}`));
        });
      }
    });
    child.on("exit", (code, signal) => {
      if (!/ready/.test(out)) {
        reject(new Error(`child exited ${code ?? signal} before the crash point: ${err}`));
      }
    });
  });
}

for (const kind of ["bytes", "stream", "blob"]) {
  test(`SIGKILL between the blob write and the commit (${kind}): the blob is swept after the grace period`, async () => {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const dir = mkdtempSync(join(tmpdir(), "kvq-blob-crash-"));
      try {
        const id = await crashChild(dir, kind);
        const store = new UnstorageBlobStore(
          createStorage({ driver: fsDriver({ base: join(dir, "blobs") }) }),
        );
        const left = await store.keys("kvq:crash:");
        assert.ok(left.length > 0, "the killed process left its chunks");
        assert.ok(left.every((k) => k.includes(id)), "under the job id");
        const kv = await FileKv.open(join(dir, "jobs.kvq"));
        const clock = new FakeClock(Date.now());
        const queue = new Queue(kv, "crash", { clock, blobs: { store, grace: 60_000 } });
        assert.equal(await queue.getJob(id), null, "the job was never committed");
        assert.equal(await queue.sweepBlobs(), 0, "within the grace period the blob stays");
        assert.equal((await store.keys("kvq:crash:")).length, left.length);
        await clock.advance(60_000);
        assert.equal(await queue.sweepBlobs(), 1);
        assert.deepEqual(await store.keys("kvq:crash:"), []);
        await queue.close();
        await kv.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
}
