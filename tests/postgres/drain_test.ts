// A drain on the PostgreSQL adapter while the store's server connections are terminated again and
// again (pg_terminate_backend, as a server restart or a network cut does to a client): the worker
// keeps running, no process restarts, and every job added completes.
// Skips only when the server is unreachable (see _pg.ts for KVQ_POSTGRES_URL).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { Queue } from "../../mod.ts";
import { PostgresKv } from "../../adapters/postgres/mod.ts";
import { dropStore, POSTGRES_URL, tableName, unreachable, withClient } from "./_pg.ts";

const skip = await unreachable();
const table = tableName("drain");
after(() => (skip ? undefined : dropStore(table)));

test(
  "a drain whose connections are terminated 5 times completes every job, no restart",
  { skip },
  async () => {
    const app = `kvq-test-${table.slice(-8)}`;
    const kv = await PostgresKv.open(POSTGRES_URL, {
      table,
      clientOptions: { max: 4, onnotice: false, connection: { application_name: app } },
    });
    const queue = new Queue<number>(kv, "drain", { pollInterval: 50 });
    const errors: unknown[] = [];
    queue.addEventListener("error", (e) => errors.push((e as unknown as { error: unknown }).error));
    const n = 1000;
    await queue.addBulk(Array.from({ length: n }, (_, i) => ({ data: i })));
    const ran = new Set<number>();
    const worker = queue.process(async (job) => {
      ran.add(job.data);
      await new Promise((r) => setTimeout(r, 5));
    }, { concurrency: 16, leaseMs: 2000 }); // a completion lost with its connection runs again after 2 s
    let terminated = 0;
    try {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const rows = await withClient((sql) =>
          sql.unsafe(
            "SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE application_name = $1",
            [app],
          )
        );
        terminated += rows.filter((r) => r.t === true).length;
      }
      assert.ok(ran.size < n, "the drain ended before the last termination; the test shows nothing");
      const deadline = Date.now() + 60_000;
      for (;;) {
        const counts = await queue.counts().catch(() => null);
        if (counts?.completed === n) break;
        if (Date.now() > deadline) assert.fail(`not drained after 60 s: ${JSON.stringify(counts)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const counts = await queue.counts();
      assert.equal(counts.completed, n);
      assert.equal(ran.size, n, "every job's handler ran");
      assert.ok(terminated > 0, "no connection was terminated");
      const kinds = new Map<string, number>();
      for (const e of errors) {
        const k = `${(e as Error)?.name}:${(e as { code?: string })?.code}`;
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
      assert.ok(
        errors.every((e) => (e as Error)?.name === "StorageError"),
        `errors other than StorageError: ${errors.filter((e) => (e as Error)?.name !== "StorageError")}`,
      );
      console.log(
        `drained ${n} jobs through ${terminated} terminated connections; error events: ${
          JSON.stringify(Object.fromEntries(kinds))
        }`,
      );
    } finally {
      await worker.close({ timeout: 5000 });
      await kv.close();
    }
  },
);
