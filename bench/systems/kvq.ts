// kvq itself, through its public API (Queue, add, addBulk, process, worker.close), on one store:
// "memory" (transient), "file" (FileKv), "sqlite" (SqliteKv), "deno-kv" (DenoKv) or "store" (the
// runtime's default, openStore). Each store's driver is imported only when chosen.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AtomicKv } from "../../src/kv.ts";
import { Queue } from "../../src/queue.ts";
import type { Worker } from "../../src/worker.ts";
import type { JobHandler, OpenContext, Opened, Payload } from "../lib.ts";

/** The store kvq runs on in one variant. */
export type KvqStore = "memory" | "file" | "sqlite" | "deno-kv" | "store";

async function openKv(
  store: KvqStore,
  dir: string,
): Promise<{ kv: AtomicKv; backend: string }> {
  if (store === "memory") {
    const { MemoryKv } = await import("../../adapters/memory/mod.ts");
    return { kv: new MemoryKv(), backend: "memory" };
  }
  if (store === "file") {
    const { FileKv } = await import("../../adapters/file/mod.ts");
    return {
      kv: await FileKv.open(join(dir, "jobs.kvq")),
      backend: "file (node:fs)",
    };
  }
  if (store === "sqlite") {
    const { SqliteKv } = await import("../../adapters/sqlite/mod.ts");
    const kv = await SqliteKv.open(join(dir, "jobs.db"));
    return { kv, backend: `sqlite (${kv.driver})` };
  }
  if (store === "deno-kv") {
    const { DenoKv } = await import("../../adapters/deno-kv/mod.ts");
    const kv = await DenoKv.open(join(dir, "jobs.denokv"));
    return { kv, backend: `deno-kv (${kv.implementation})` };
  }
  const { openStore } = await import("../../adapters/store/mod.ts");
  const kv = await openStore(join(dir, "jobs.db"));
  return {
    kv,
    backend: `${kv.choice.adapter} (${kv.choice.driver}), chosen by openStore`,
  };
}

function durability(kv: AtomicKv): string {
  if (!kv.info.durable) return "none (transient memory store)";
  if (kv.info.name === "deno-kv") {
    return "Deno KV commit before ack (engine's durability)";
  }
  if (kv.info.name === "sqlite") {
    return "fsync before ack, group commit (SQLite WAL, synchronous=FULL)";
  }
  return "fdatasync before ack, group commit";
}

function kvqVersion(): string {
  try {
    const url = new URL("../../package.json", import.meta.url);
    return (JSON.parse(readFileSync(url, "utf8")) as { version: string })
      .version;
  } catch {
    return "?";
  }
}

/** Opens kvq on a fresh store. Options: `store` (see {@link KvqStore}). */
export async function open(ctx: OpenContext): Promise<Opened> {
  const store = (ctx.options.store ?? "store") as KvqStore;
  const { kv, backend } = await openKv(store, ctx.dir);
  const queue = new Queue<Payload>(kv, "bench");
  let worker: Worker<Payload> | null = null;
  const stopWork = async () => {
    await worker?.close({ timeout: 30_000 });
    worker = null;
  };
  return {
    info: {
      version: kvqVersion(),
      backend,
      durability: durability(kv),
      bulkChunk: 1000,
    },
    instance: {
      add: (data: Payload) => queue.add(data),
      addBulk: (items: Payload[]) => queue.addBulk(items.map((data) => ({ data }))),
      work(handler: JobHandler, concurrency: number) {
        worker = queue.process(async (job) => {
          await handler(job.data);
        }, { concurrency });
        return Promise.resolve();
      },
      stopWork,
      async pending() {
        const c = await queue.counts();
        return c.scheduled + c.ready + c.active + c.failed;
      },
      async close() {
        await stopWork();
        await queue.close();
        await kv.close();
      },
    },
  };
}
