// Disk full with the engine on top of the file store: while the disk is full, add() rejects with
// StorageError ENOSPC, and every job already queued or running still completes (the store's space
// reserve pays for their claims and completions); once space returns, add() works again, on the
// same open store. Once with an injected full disk (SimFs: every write that would grow the disk past
// its capacity fails with ENOSPC, as a real disk does), once on a real tmpfs filled by a filler file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { join } from "node:path";
import { FileKv } from "../../adapters/file/mod.ts";
import { StorageError } from "../../src/errors.ts";
import { Committer, type WriteUnit, zeroCounts } from "../../src/committer.ts";
import { Queue } from "../../src/queue.ts";
import { SimFs } from "./sim_fs.ts";

const RETRY_MS = 50;

function isLowSpaceAdd(e: unknown): boolean {
  assert.ok(e instanceof StorageError, `expected StorageError, got ${e}`);
  assert.equal(e.code, "ENOSPC");
  assert.match(e.message, /Cannot add job: the store is low on disk space/);
  return true;
}

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await f())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A handler that holds every job until `open()`; counts the jobs that started. */
function gate(): {
  started: () => number;
  open: () => void;
  handler: (job: { data: number }) => Promise<number>;
} {
  let started = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return {
    started: () => started,
    open,
    handler: async (job) => {
      started++;
      await opened;
      return job.data * 2;
    },
  };
}

test("disk full (injected ENOSPC): add() rejects, queued and in-flight jobs complete, add() works again once space returns", async () => {
  const sim = new SimFs();
  const kv = await FileKv.open("/data/jobs.kvq", {
    fs: sim,
    reserveBytes: 256 * 1024,
    reserveRetryMs: RETRY_MS,
  });
  const queue = new Queue<number, number>(kv, "jobs");
  const N = 40;
  for (let i = 0; i < N; i++) await queue.add(i);
  const g = gate();
  const worker = queue.process(g.handler, { concurrency: 4, pollInterval: 20 });
  try {
    await until("4 jobs in flight", () => g.started() === 4);
    // The disk is full: every write that would take more space fails with ENOSPC.
    sim.capacity = sim.usedBytes();
    await assert.rejects(queue.add(1000), isLowSpaceAdd);
    assert.equal(kv.spaceReserve().low, true, "the store is in low-space mode");
    assert.equal(kv.spaceReserve().releases, 1);
    // Refused at once now, and the refused adds stored nothing.
    await assert.rejects(queue.addBulk([{ data: 1001 }, { data: 1002 }]), isLowSpaceAdd);
    // Queued and in-flight jobs still complete, on the room the reserve gave back.
    const lowAt = kv.stats().fileBytes;
    g.open();
    await until("every queued job completed", async () => (await queue.counts()).completed === N);
    if (process.env.KVQ_FIGURES) {
      const used = kv.stats().fileBytes - lowAt;
      console.log(
        `injected: ${N} jobs finished in low-space mode on ${used} bytes of the reserve (${used / N}/job)`,
      );
    }
    const c = await queue.counts();
    assert.deepEqual(c, { scheduled: 0, ready: 0, active: 0, completed: N, failed: 0, dead: 0, canceled: 0 });
    const { jobs } = await queue.list("completed", { limit: N + 10 });
    assert.deepEqual(jobs.map((j) => j.data).sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i));
    assert.ok(sim.usedBytes() <= sim.capacity, "the disk never held more than its capacity");
    // Still full: still refused.
    await assert.rejects(queue.add(1003), isLowSpaceAdd);
    // Space returns: the same open store and queue take adds again (after the retry interval).
    sim.capacity = Infinity;
    await sleep(RETRY_MS);
    const job = await queue.add(21);
    assert.equal(kv.spaceReserve().low, false, "low-space mode ended");
    assert.equal(kv.spaceReserve().restores, 1);
    assert.equal(await queue.result(job.id), 42);
    assert.equal((await queue.counts()).completed, N + 1);
  } finally {
    g.open();
    await worker.close();
    await queue.close();
    await kv.close();
  }
  // Nothing acknowledged was lost: a power loss now, and the reopened store has every job.
  const again = await FileKv.open("/data/jobs.kvq", { fs: sim.crash() });
  const q2 = new Queue<number, number>(again, "jobs");
  assert.equal((await q2.counts()).completed, N + 1);
  await q2.close();
  await again.close();
});

test("disk full (injected ENOSPC), no reserve: the same story fails, which is why the reserve exists", async () => {
  const sim = new SimFs();
  const kv = await FileKv.open("/data/jobs.kvq", { fs: sim, reserveBytes: 0 });
  const queue = new Queue<number, number>(kv, "jobs");
  await queue.add(1);
  sim.capacity = sim.usedBytes();
  const g = gate();
  const errors: unknown[] = [];
  queue.addEventListener("error", (e) => errors.push((e as { error?: unknown }).error ?? e));
  const worker = queue.process(g.handler, { pollInterval: 20 });
  try {
    g.open();
    await sleep(200);
    // Without a reserve not even the claim can be written: the job cannot run.
    assert.equal((await queue.counts()).completed, 0);
  } finally {
    await worker.close();
    await queue.close();
    await kv.close();
  }
});

test("committer on a store low on space: a commit packing an add with a completion is split; the completion goes through", async () => {
  const sim = new SimFs();
  const kv = await FileKv.open("/data/c.kvq", { fs: sim, reserveBytes: 64 * 1024, reserveRetryMs: 60_000 });
  try {
    const c = new Committer(kv, ["counts"], ["delta"]);
    const unit = (k: string, growth: boolean): WriteUnit => ({
      checks: [],
      sets: [[[k], new Uint8Array(100)]],
      deletes: [],
      delta: { ready: growth ? 1 : 0, completed: growth ? 0 : 1 },
      growth,
    });
    assert.ok((await c.write(unit("stored", false))).ok);
    sim.capacity = sim.usedBytes();
    // Both units are packed into one commit, marked growth: the store frees its reserve and
    // refuses it; the committer fails the add alone and commits the other on its own.
    const [add, done] = await Promise.allSettled([
      c.write(unit("new", true)),
      c.write(unit("progress", false)),
    ]);
    assert.equal(add.status, "rejected");
    assert.ok(
      add.status === "rejected" && add.reason instanceof StorageError && add.reason.code === "ENOSPC",
    );
    assert.equal(done.status, "fulfilled");
    assert.ok(done.status === "fulfilled" && done.value.ok);
    assert.equal(await kv.get(["new"]), null);
    assert.ok(await kv.get(["progress"]));
    assert.equal(kv.spaceReserve().low, true);
    assert.deepEqual(await c.readCounts(), { ...zeroCounts(), completed: 2 });
  } finally {
    await kv.close();
  }
});

/** Mounts a small tmpfs, or returns why it cannot (not root, no mount, sandboxed). */
function mountTmpfs(size: string): { dir: string; unmount: () => void } | string {
  const dir = mkdtempSync(join(tmpdir(), "kvq-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here (needs root and mount(8): ${
      String((e as Error).message).split("\n")[0]
    })`;
  }
  return {
    dir,
    unmount: () => {
      execFileSync("umount", [dir], { stdio: "pipe" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fills the disk holding `path` with one file, to the last byte it takes. */
function fill(path: string): number {
  const fd = openSync(path, "w");
  let total = 0;
  try {
    for (const size of [64 * 1024, 4096, 512, 1]) {
      const chunk = new Uint8Array(size).fill(0x5a);
      for (;;) {
        try {
          total += writeSync(fd, chunk);
        } catch (e) {
          if ((e as { code?: string }).code !== "ENOSPC") throw e;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

const probe = mountTmpfs("2m");
if (typeof probe !== "string") probe.unmount();

test(
  "disk full on a real 2 MiB tmpfs: add() rejects, queued and in-flight jobs complete, add() works again once the filler is deleted",
  { skip: typeof probe === "string" ? probe : false },
  async () => {
    const m = mountTmpfs("2m");
    if (typeof m === "string") throw new Error(m);
    try {
      const path = join(m.dir, "jobs.kvq");
      const filler = join(m.dir, "filler.bin");
      const kv = await FileKv.open(path, { reserveBytes: 256 * 1024, reserveRetryMs: RETRY_MS });
      const queue = new Queue<number, number>(kv, "jobs");
      let added = 0;
      for (; added < 30; added++) await queue.add(added);
      const g = gate();
      const worker = queue.process(g.handler, { concurrency: 4, pollInterval: 20 });
      try {
        await until("4 jobs in flight", () => g.started() === 4);
        assert.ok(fill(filler) > 0);
        // tmpfs allocates whole pages: a small write may still fit in the log's last page. Add
        // until an add is refused; the ones that fit are stored jobs like the others.
        let refused: unknown = null;
        for (let i = 0; i < 100 && !refused; i++) {
          try {
            await queue.add(1000 + i);
            added++;
          } catch (e) {
            refused = e;
          }
        }
        assert.ok(refused, "no add was refused on a full disk");
        isLowSpaceAdd(refused);
        assert.equal(kv.spaceReserve().low, true);
        assert.equal(kv.spaceReserve().releases, 1, "the log hit ENOSPC and the reserve was released");
        const lowAt = kv.stats().fileBytes;
        g.open();
        await until("every queued job completed", async () => (await queue.counts()).completed === added);
        if (process.env.KVQ_FIGURES) {
          const used = kv.stats().fileBytes - lowAt;
          console.log(
            `tmpfs: ${added} jobs (${added - 30} added after the filler) finished on ${used} bytes`,
          );
        }
        const c = await queue.counts();
        assert.deepEqual(c, {
          scheduled: 0,
          ready: 0,
          active: 0,
          completed: added,
          failed: 0,
          dead: 0,
          canceled: 0,
        });
        await assert.rejects(queue.add(-1), isLowSpaceAdd);
        // Space returns: delete the filler; the same store takes adds again.
        rmSync(filler);
        await sleep(RETRY_MS);
        const job = await queue.add(21);
        assert.equal(kv.spaceReserve().low, false);
        assert.equal(await queue.result(job.id), 42);
      } finally {
        g.open();
        await worker.close();
        await queue.close();
        await kv.close();
      }
      const again = await FileKv.open(path);
      assert.equal(again.recovery.truncatedBytes, 0);
      const q2 = new Queue<number, number>(again, "jobs");
      assert.equal((await q2.counts()).completed, added + 1);
      await q2.close();
      await again.close();
    } finally {
      m.unmount();
    }
  },
);
