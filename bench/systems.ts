// The systems the harness measures, as data: which module, which runtime, which services, which
// options. Nothing here imports a peer; each child imports only its own system's module.
// Every peer has a row at its defaults and one at its best documented settings (bench/NOTES.md cites
// where each is documented); the headline "kvq / peer" ratio is against the best row.
import { cpus } from "node:os";
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
  /**
   * "default": the system's own defaults (the harness picks only the concurrency of the drain and
   * backlog runs); "best": its documented fast settings, the row the headline ratios compare with.
   */
  readonly tuning: "default" | "best";
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
  /**
   * True when several processes can share its store (a server): it runs the multi-process scenarios
   * (`Scenario.processes`), each worker process opening the same queue.
   */
  readonly processes?: boolean;
  /** Redis settings to apply (CONFIG SET) while its children run; restored afterwards. */
  readonly redisConfig?: Readonly<Record<string, string>>;
  /** Part of the default selection (`--systems all` adds the rest). */
  readonly byDefault: boolean;
  /**
   * Set on the "before" rows of `run.ts --baseline <rev>`: variant `of` run with the library of the
   * checkout at `root` (commit `rev`). Made by bench/baseline.ts; never in {@link variants}.
   */
  readonly baseline?: {
    readonly of: string;
    readonly rev: string;
    readonly root: string;
  };
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
  // kvq's concurrency is tuned (256 handlers) in every row.
  tuning: "best",
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

/**
 * What a peer's best row runs: the scenarios its fast settings change (consuming). Adds go through the
 * same calls at either setting, so the default row's add figures stand for both.
 */
const BEST_SCENARIOS = [
  "d-drain-best",
  "d-drain-busy",
  "e-latency",
  "f-backlog-1k",
  "f-backlog-1m",
  // Run only by systems with `processes` (the PostgreSQL ones).
  "d-drain-p1",
  "d-drain-p4",
  "e-latency-xproc",
];

/** Every known variant. */
export const variants: readonly Variant[] = [
  {
    id: "fsync",
    system: "machine",
    group: "baseline",
    config: "4 KiB write + fdatasync loop",
    tuning: "default",
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
  {
    ...kvq(
      "postgres",
      "node",
      "postgres (PostgresKv, postgres.js), schema per run",
      true,
    ),
    id: "kvq-pg-node",
    needs: ["postgres"],
    // Measured (d-drain-p1/p4, scale 0.05, 2 runs each, --concurrency 16/32/64/128/256): 64 handlers per
    // process drains fastest; 256 (the SQLite stores' best) loses ~30% with 4 processes (more claim races).
    best: 64,
    processes: true,
  },
  {
    ...kvq(
      "postgres",
      "bun",
      "postgres (PostgresKv, postgres.js), schema per run",
      true,
    ),
    id: "kvq-pg-bun",
    needs: ["postgres"],
    // Measured (d-drain-p1/p4, scale 0.05, 2 runs each, --concurrency 16/32/64/128/256): 64 handlers per
    // process drains fastest; 256 (the SQLite stores' best) loses ~30% with 4 processes (more claim races).
    best: 64,
    processes: true,
  },
  kvq("memory", "node", "memory (transient)", true),
  kvq("memory", "bun", "memory (transient)", false),
  kvq("memory", "deno", "memory (transient)", false),
  {
    id: "plainjob",
    system: "plainjob",
    group: "peer",
    tuning: "default",
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
    id: "plainjob-best",
    system: "plainjob",
    group: "peer",
    tuning: "best",
    scenarios: BEST_SCENARIOS,
    config: "one worker process per core (its README's multi-process setup), WAL, synchronous=NORMAL",
    runtime: "bun",
    module: "plainjob.ts",
    options: { synchronous: "NORMAL", processes: true },
    needs: [],
    packages: ["plainjob"],
    // One worker process per core, as plainjob's README spawns them (os.cpus().length).
    best: cpus().length,
    byDefault: true,
  },
  {
    id: "plainjob-full",
    system: "plainjob",
    group: "peer",
    tuning: "default",
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
    tuning: "default",
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
    id: "bunqueue-best",
    system: "bunqueue",
    group: "peer",
    tuning: "best",
    scenarios: BEST_SCENARIOS,
    config: "embedded SQLite, worker batchSize 100 (batch pulling), best concurrency",
    runtime: "bun",
    module: "bunqueue.ts",
    options: { durable: false, batchSize: 100 },
    needs: [],
    packages: ["bunqueue"],
    best: 100,
    byDefault: true,
  },
  {
    id: "bunqueue-durable",
    system: "bunqueue",
    group: "peer",
    tuning: "default",
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
    tuning: "default",
    config: "Redis as configured (default here: appendonly no), concurrency 32",
    runtime: "node",
    module: "bullmq.ts",
    options: {},
    needs: ["redis"],
    packages: ["bullmq", "ioredis"],
    best: 32,
    byDefault: true,
  },
  {
    id: "bullmq-best",
    system: "BullMQ",
    group: "peer",
    tuning: "best",
    scenarios: BEST_SCENARIOS,
    config: "Redis as configured (appendonly no), best concurrency by measurement",
    runtime: "node",
    module: "bullmq.ts",
    options: {},
    needs: ["redis"],
    packages: ["bullmq", "ioredis"],
    best: 100,
    byDefault: true,
  },
  {
    id: "bullmq-aof",
    system: "BullMQ",
    group: "peer",
    tuning: "default",
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
    tuning: "default",
    config:
      "4 workers × batchSize 100 (its default, 1 job per 2 s poll, cannot drain), ANALYZE after the fill",
    runtime: "node",
    module: "pgboss.ts",
    options: {},
    needs: ["postgres"],
    packages: ["pg-boss", "pg"],
    processes: true,
    best: 4,
    byDefault: true,
  },
  {
    id: "pg-boss-best",
    system: "pg-boss",
    group: "peer",
    tuning: "best",
    scenarios: BEST_SCENARIOS,
    config: "8 workers × batchSize 500, burstWhenBatchFull, ANALYZE after the fill",
    runtime: "node",
    module: "pgboss.ts",
    options: { batchSize: 500 },
    needs: ["postgres"],
    packages: ["pg-boss", "pg"],
    processes: true,
    best: 8,
    byDefault: true,
  },
  {
    id: "graphile-worker",
    system: "graphile-worker",
    group: "peer",
    tuning: "default",
    config:
      "defaults (pool of 10, no local queue, no batched completion), concurrency 10, ANALYZE after the fill",
    runtime: "node",
    module: "graphile.ts",
    options: {},
    needs: ["postgres"],
    packages: ["graphile-worker", "pg"],
    processes: true,
    best: 10,
    byDefault: true,
  },
  {
    id: "graphile-worker-best",
    system: "graphile-worker",
    group: "peer",
    tuning: "best",
    scenarios: BEST_SCENARIOS,
    config: "its performance page's settings: concurrency 24, maxPoolSize 25, localQueue 500, " +
      "completeJobBatchDelay 0, failJobBatchDelay 0; ANALYZE after the fill",
    runtime: "node",
    module: "graphile.ts",
    options: { fast: true },
    needs: ["postgres"],
    packages: ["graphile-worker", "pg"],
    processes: true,
    best: 24,
    byDefault: true,
  },
  {
    id: "deno-kv-queue",
    system: "Deno KV queue",
    group: "peer",
    tuning: "default",
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
