// kvq itself, through its public API (Queue, add, addBulk, process, worker.close), on one store:
// "memory" (transient), "file" (FileKv), "sqlite" (SqliteKv), "deno-kv" (DenoKv), "postgres"
// (PostgresKv on the benchmark server, in a fresh schema per run, ANALYZEd after fills like the
// PostgreSQL peers) or "store" (the runtime's default, openStore). Each store's driver is imported
// only when chosen. With `attach` (a worker process of the multi-process scenarios) the postgres
// store opens the schema another process made and leaves it in place on close.
// The library comes from the checkout at option `root` (an absolute directory: `run.ts --baseline`
// measures an older commit this way), else from this one; only types come from this checkout.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { AtomicKv } from "../../src/kv.ts";
import type { Queue } from "../../src/queue.ts";
import type { Worker } from "../../src/worker.ts";
import type { JobHandler, OpenContext, Opened, Payload } from "../lib.ts";
import { analyzeSchema, dropSchema, pgFacts, pgUrl, schemaBytes } from "./_pg.ts";

/** The store kvq runs on in one variant. */
export type KvqStore =
  | "memory"
  | "file"
  | "sqlite"
  | "deno-kv"
  | "postgres"
  | "store";

/** The kvq checkout the library is imported from, as a directory URL ending in "/". */
function rootUrl(root: unknown): URL {
  if (root === undefined) return new URL("../../", import.meta.url);
  if (typeof root !== "string" || root === "") {
    throw new TypeError(
      `kvq: option root must be a directory path, got ${String(root)}`,
    );
  }
  return pathToFileURL(root.endsWith("/") ? root : `${root}/`);
}

/** Imports one module of the kvq checkout at `root` (path relative to its top directory). */
function lib<T>(root: URL, path: string): Promise<T> {
  return import(new URL(path, root).href) as Promise<T>;
}

/** BENCH_PG_QUERIES=1 (bench/pg_profile.ts): count the postgres store's statements, by kind. */
const counting = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env
  .BENCH_PG_QUERIES === "1";
const queryCounts = new Map<string, number>();
function countQuery(text: string): void {
  const kind = text.startsWith("SELECT pg_advisory_xact_lock")
    ? "commit transactions"
    : text.replace(/"kvqbench_[a-z0-9_]+"\./g, "").slice(0, 48);
  queryCounts.set(kind, (queryCounts.get(kind) ?? 0) + 1);
}

async function openKv(
  root: URL,
  store: KvqStore,
  dir: string,
  name: string,
  attach: boolean,
): Promise<{ kv: AtomicKv; backend: string }> {
  type Adapters = typeof import("../../adapters/memory/mod.ts");
  if (store === "memory") {
    const { MemoryKv } = await lib<Adapters>(root, "adapters/memory/mod.ts");
    return { kv: new MemoryKv(), backend: "memory" };
  }
  if (store === "file") {
    const { FileKv } = await lib<typeof import("../../adapters/file/mod.ts")>(
      root,
      "adapters/file/mod.ts",
    );
    return {
      kv: await FileKv.open(join(dir, "jobs.kvq")),
      backend: "file (node:fs)",
    };
  }
  if (store === "sqlite") {
    const { SqliteKv } = await lib<
      typeof import("../../adapters/sqlite/mod.ts")
    >(
      root,
      "adapters/sqlite/mod.ts",
    );
    const kv = await SqliteKv.open(join(dir, "jobs.db"));
    return { kv, backend: `sqlite (${kv.driver})` };
  }
  if (store === "deno-kv") {
    const { DenoKv } = await lib<
      typeof import("../../adapters/deno-kv/mod.ts")
    >(
      root,
      "adapters/deno-kv/mod.ts",
    );
    const kv = await DenoKv.open(join(dir, "jobs.denokv"));
    return { kv, backend: `deno-kv (${kv.implementation})` };
  }
  if (store === "postgres") {
    const { PostgresKv } = await lib<
      typeof import("../../adapters/postgres/mod.ts")
    >(root, "adapters/postgres/mod.ts");
    // application_name tells the worker processes' backends from the filler's (bench/pg_profile.ts).
    const kv = await PostgresKv.open(pgUrl(), {
      schema: name,
      table: "kvq",
      clientOptions: {
        connection: { application_name: attach ? "kvqbench_worker" : "kvqbench_main" },
        ...(counting ? { debug: (_c: unknown, text: string) => countQuery(text) } : {}),
      },
    });
    return { kv, backend: (await pgFacts()).version };
  }
  const { openStore } = await lib<typeof import("../../adapters/store/mod.ts")>(
    root,
    "adapters/store/mod.ts",
  );
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

function kvqVersion(root: URL): string {
  try {
    const url = new URL("package.json", root);
    return (JSON.parse(readFileSync(url, "utf8")) as { version: string })
      .version;
  } catch {
    return "?";
  }
}

/**
 * Opens kvq on a fresh store. Options: `store` (see {@link KvqStore}), `root` (the kvq checkout to
 * import the library from; default: this one).
 */
export async function open(ctx: OpenContext): Promise<Opened> {
  const store = (ctx.options.store ?? "store") as KvqStore;
  const root = rootUrl(ctx.options.root);
  const { Queue: QueueClass } = await lib<{ Queue: typeof Queue }>(
    root,
    "src/queue.ts",
  );
  const { kv, backend } = await openKv(root, store, ctx.dir, ctx.name, ctx.attach === true);
  const pg = store === "postgres";
  const queue = new QueueClass<Payload>(kv, "bench");
  let worker: Worker<Payload> | null = null;
  const stopWork = async () => {
    await worker?.close({ timeout: 30_000 });
    worker = null;
  };
  return {
    info: {
      version: kvqVersion(root),
      backend,
      durability: pg ? (await pgFacts()).durability : durability(kv),
      bulkChunk: 1000,
      ...(pg
        ? {
          notes:
            "PostgresKv defaults (pool of 4, LISTEN/NOTIFY wake-ups), schema per run; ANALYZE after fills",
        }
        : {}),
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
      ...(pg
        ? {
          afterFill: () => analyzeSchema(ctx.name),
          serverBytes: () => schemaBytes(ctx.name),
        }
        : {}),
      async close() {
        await stopWork();
        await queue.close();
        await kv.close();
        if (pg && !ctx.attach) await dropSchema(ctx.name);
        if (counting) console.log(`statements sent: ${JSON.stringify(Object.fromEntries(queryCounts))}`);
      },
    },
  };
}
