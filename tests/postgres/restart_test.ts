// A drain on the PostgreSQL adapter across a restart of the server itself (immediate shutdown:
// every backend killed, no checkpoint, crash recovery on start) while workers and a producer keep
// running: no process restarts, and every job whose add was acknowledged completes.
// Runs on a throwaway server of its own (tests/postgres/_server.ts), never the shared one; skips,
// saying why, when the PostgreSQL server binaries are missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Queue } from "../../mod.ts";
import { PostgresKv } from "../../adapters/postgres/mod.ts";
import { startThrowaway, throwawayUnavailable } from "./_server.ts";

const skip = throwawayUnavailable();
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(
  "workers and a producer keep running across a PostgreSQL restart mid-drain; every acknowledged job completes",
  { skip, timeout: 240_000 },
  async () => {
    const server = await startThrowaway();
    let kv: PostgresKv | undefined;
    try {
      kv = await PostgresKv.open(server.url, { table: "restart" });
      const queue = new Queue<number>(kv, "restart", { pollInterval: 100 });
      const errors = new Map<string, number>();
      queue.addEventListener("error", (e) => {
        const err = (e as unknown as { error: { name?: string; code?: string } }).error;
        const k = `${err?.name}:${err?.code}`;
        errors.set(k, (errors.get(k) ?? 0) + 1);
      });
      const n = 1500;
      const acked = new Set<string>(
        (await queue.addBulk(Array.from({ length: n }, (_, i) => ({ data: i })))).map((j) => j.id),
      );
      const ran = new Set<string>();
      const worker = queue.process(async (job) => {
        ran.add(job.id);
        await wait(5);
      }, { concurrency: 16, leaseMs: 3000 }); // a completion lost in the restart runs again after 3 s
      // A producer adding throughout: an add acknowledged at any point must complete too.
      let producing = true, addFailures = 0, slowestAdd = 0;
      const producer = (async () => {
        for (let i = n; producing; i++) {
          const t0 = Date.now();
          try {
            acked.add((await queue.add(i)).id);
            slowestAdd = Math.max(slowestAdd, Date.now() - t0);
          } catch {
            addFailures++; // rejected: not acknowledged (the server was down)
          }
          await wait(10);
        }
      })();
      try {
        while (ran.size < 300) await wait(20);
        await server.crash();
        const atCrash = ran.size;
        await wait(1000); // the server stays down: every commit, read and poll meanwhile fails
        await server.start();
        assert.ok(atCrash < n, `the drain ended before the restart (${atCrash} ran); the test shows nothing`);
        await wait(500);
        producing = false;
        await producer;

        const deadline = Date.now() + 120_000;
        let missing: string[] = [];
        for (;;) {
          const jobs = await Promise.all([...acked].map((id) => queue.getJob(id).catch(() => undefined)));
          missing = [...acked].filter((_, i) => jobs[i]?.state !== "completed");
          if (missing.length === 0) break;
          if (Date.now() > deadline) {
            assert.fail(`${missing.length} acknowledged jobs not completed 120 s after the restart`);
          }
          await wait(200);
        }
        for (const id of acked) assert.ok(ran.has(id), `job ${id} completed without its handler running`);
        const counts = await queue.counts();
        assert.ok(counts.completed >= acked.size, JSON.stringify(counts));
        // The outage was met: an add made while the server was down failed, or waited it out (a
        // commit whose connection broke learns its outcome once the server is back).
        assert.ok(addFailures > 0 || slowestAdd >= 900, `no add met the outage (slowest ${slowestAdd} ms)`);
        // StorageError: a commit or read while the server was down; LeaseLostError: a lease that
        // expired meanwhile was healed, and its old holder's completion was refused (fencing).
        const others = [...errors.keys()].filter((k) => !/^(StorageError|LeaseLostError):/.test(k));
        assert.deepEqual(others, [], "errors other than StorageError and LeaseLostError");
        console.log(
          `restart mid-drain: ${acked.size} acknowledged jobs (${n} before, ${acked.size - n} during), ` +
            `${atCrash} had run at the crash, all completed; ${addFailures} adds rejected while down, ` +
            `slowest acknowledged add ${slowestAdd} ms; ` +
            `error events ${JSON.stringify(Object.fromEntries(errors))}`,
        );
      } finally {
        producing = false;
        await producer;
        await worker.close({ timeout: 5000 });
      }
    } catch (e) {
      (e as Error).message += `\n--- server log ---\n${server.log().slice(-3000)}`;
      throw e;
    } finally {
      await kv?.close().catch(() => {});
      await server.destroy();
    }
  },
);
