// The systems the harness measures, as data: which module, which runtime, which services, which
// options. Nothing here imports a peer; each child imports only its own system's module.
import type { RuntimeName } from "./lib.ts";

/** A local service a system needs. */
export type Service = "redis" | "postgres";

/** One system under test, in one configuration, on one runtime. */
export interface Variant {
  /** Identifier on the command line and in results. */
  readonly id: string;
  /** The product ("kvq", "BullMQ", ...). */
  readonly system: string;
  /** "kvq", "peer" or "baseline": `--systems kvq|peers|baseline` select by it. */
  readonly group: "kvq" | "peer" | "baseline";
  /** The configuration, in a few words ("default", "synchronous=FULL", "file store", ...). */
  readonly config: string;
  /** The runtime its child runs on. */
  readonly runtime: RuntimeName;
  /** Module under bench/systems/ that exports `open`. */
  readonly module: string;
  /** Options passed to `open`. */
  readonly options: Record<string, unknown>;
  /** Services that must answer on localhost. */
  readonly needs: readonly Service[];
  /** npm packages in bench/ it needs. */
  readonly packages: readonly string[];
  /** Concurrency of the "best concurrency" runs (drain, backlog). */
  readonly best: number;
  /** Scenarios it runs (default: every scenario except `fsync`). */
  readonly scenarios?: readonly string[];
  /** Redis settings to apply (CONFIG SET) while its children run; restored afterwards. */
  readonly redisConfig?: Readonly<Record<string, string>>;
  /** Part of the default selection (`--systems all` adds the rest). */
  readonly byDefault: boolean;
}

const kvq = (
  store: string,
  runtime: RuntimeName,
  config: string,
  byDefault: boolean,
  options: Record<string, unknown> = {},
): Variant => ({
  id: `kvq-${store}-${runtime}`,
  system: "kvq",
  group: "kvq",
  config,
  runtime,
  module: "kvq.ts",
  options: { store, ...options },
  needs: [],
  packages: [],
  // Measured on this machine: 256 handlers (claims of 100, completions batched alike) drains
  // ~30% faster than 32 on the SQLite stores, whose commits then carry ~100 jobs each.
  best: 256,
  byDefault,
});

/** Every known variant. */
export const variants: readonly Variant[] = [
  {
    id: "fsync",
    system: "machine",
    group: "baseline",
    config: "4 KiB write + fdatasync loop",
    runtime: "node",
    module: "fsync.ts",
    options: {},
    needs: [],
    packages: [],
    best: 1,
    scenarios: ["fsync"],
    byDefault: true,
  },
  // kvq on the default store of each runtime, and on each adapter.
  kvq("store", "node", "default store (openStore)", true),
  kvq("store", "bun", "default store (openStore)", true),
  kvq("store", "deno", "default store (openStore)", true),
  kvq("file", "node", "file store", true),
  kvq("file", "bun", "file store", false),
  kvq("file", "deno", "file store", false),
  kvq("sqlite", "node", "sqlite (node:sqlite)", false),
  kvq("sqlite", "bun", "sqlite (bun:sqlite)", false),
  kvq("sqlite", "deno", "sqlite (node:sqlite)", false),
  kvq("deno-kv", "deno", "deno-kv (Deno.openKv)", false),
  kvq("memory", "node", "memory (transient)", true),
  kvq("memory", "bun", "memory (transient)", false),
  kvq("memory", "deno", "memory (transient)", false),
  {
    id: "plainjob",
    system: "plainjob",
    group: "peer",
    config: "default (WAL, synchronous=NORMAL)",
    runtime: "bun",
    module: "plainjob.ts",
    options: { synchronous: "NORMAL" },
    needs: [],
    packages: ["plainjob"],
    best: 4,
    byDefault: true,
  },
  {
    id: "plainjob-full",
    system: "plainjob",
    group: "peer",
    config: "WAL, synchronous=FULL",
    runtime: "bun",
    module: "plainjob.ts",
    options: { synchronous: "FULL" },
    needs: [],
    packages: ["plainjob"],
    best: 4,
    byDefault: true,
  },
  {
    id: "bunqueue",
    system: "bunqueue",
    group: "peer",
    config: "embedded SQLite, default",
    runtime: "bun",
    module: "bunqueue.ts",
    options: { durable: false },
    needs: [],
    packages: ["bunqueue"],
    best: 32,
    byDefault: true,
  },
  {
    id: "bunqueue-durable",
    system: "bunqueue",
    group: "peer",
    config: "embedded SQLite, jobs added with durable: true",
    runtime: "bun",
    module: "bunqueue.ts",
    options: { durable: true },
    needs: [],
    packages: ["bunqueue"],
    best: 32,
    byDefault: true,
  },
  {
    id: "bullmq",
    system: "BullMQ",
    group: "peer",
    config: "Redis as configured (default here: appendonly no)",
    runtime: "node",
    module: "bullmq.ts",
    options: {},
    needs: ["redis"],
    packages: ["bullmq", "ioredis"],
    best: 32,
    byDefault: true,
  },
  {
    id: "bullmq-aof",
    system: "BullMQ",
    group: "peer",
    config: "Redis appendonly yes, appendfsync always",
    runtime: "node",
    module: "bullmq.ts",
    options: {},
    needs: ["redis"],
    packages: ["bullmq", "ioredis"],
    best: 32,
    redisConfig: { appendonly: "yes", appendfsync: "always" },
    byDefault: true,
  },
  {
    id: "pg-boss",
    system: "pg-boss",
    group: "peer",
    config: "PostgreSQL defaults (synchronous_commit=on)",
    runtime: "node",
    module: "pgboss.ts",
    options: {},
    needs: ["postgres"],
    packages: ["pg-boss", "pg"],
    best: 4,
    byDefault: true,
  },
  {
    id: "graphile-worker",
    system: "graphile-worker",
    group: "peer",
    config: "PostgreSQL defaults (synchronous_commit=on)",
    runtime: "node",
    module: "graphile.ts",
    options: {},
    needs: ["postgres"],
    packages: ["graphile-worker", "pg"],
    best: 10,
    byDefault: true,
  },
  {
    id: "deno-kv-queue",
    system: "Deno KV queue",
    group: "peer",
    config: "Deno.openKv(file), enqueue/listenQueue",
    runtime: "deno",
    module: "denokv.ts",
    options: {},
    needs: [],
    packages: [],
    best: 1,
    byDefault: true,
  },
];

/** The variant with this id. */
export function variant(id: string): Variant {
  const v = variants.find((x) => x.id === id);
  if (!v) {
    throw new RangeError(
      `Unknown system "${id}" (known: ${variants.map((x) => x.id).join(", ")})`,
    );
  }
  return v;
}
