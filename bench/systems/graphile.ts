// graphile-worker on the local PostgreSQL, in a fresh schema per run. API read from
// node_modules/graphile-worker/dist/{index,interfaces}.d.ts (0.18.0): makeWorkerUtils for adds
// (addJob / addJobs), run() for a worker pool (LISTEN/NOTIFY wake-ups by default). Completed jobs
// are deleted, so the jobs table holds only unfinished ones.
// Option `fast`: the settings of its performance page (https://worker.graphile.org/docs/performance):
// maxPoolSize 25, preset.worker.localQueue { size: 500 }, completeJobBatchDelay 0, failJobBatchDelay 0
// (concurrency 24 comes from the variant's best concurrency). Every run ANALYZEs the schema after the
// fill: this PostgreSQL runs with autovacuum off, which would otherwise gather the statistics.
// The runner's pool drops "worker:migrate" notifications: graphile-worker sends one on a channel shared
// by every schema of the database whenever it runs a breaking migration, which a fresh schema always
// does, and every runner that hears it shuts itself down. So another process migrating its own fresh
// schema on the same server (another system's run, another engineer's) stopped this run's runner in
// the middle of a drain: "Runner is already stopped" at stopWork, or, when the shutdown's own queries
// ran after close() had dropped the schema, a crash with "relation ... does not exist". Nothing
// migrates this run's schema once its runner starts, so none of those notifications is about it.
import {
  importPeer,
  type JobHandler,
  type OpenContext,
  type Opened,
  type Payload,
  peerVersion,
} from "../lib.ts";
import { analyzeSchema, dropSchema, pgFacts, pgUrl, schemaBytes, withPg } from "./_pg.ts";

/** The performance page's pool size (`maxPoolSize`), and graphile-worker's default one. */
const POOL = { fast: 25, default: 10 };
/** The performance page's other settings beside concurrency. */
const FAST = {
  preset: {
    worker: {
      localQueue: { size: 500 },
      completeJobBatchDelay: 0,
      failJobBatchDelay: 0,
    },
  },
};

interface Utils {
  migrate(): Promise<void>;
  addJob(task: string, payload: unknown): Promise<unknown>;
  addJobs(specs: { identifier: string; payload: unknown }[]): Promise<unknown>;
  release(): Promise<void>;
}
interface PgPool {
  on(event: "error" | "connect", fn: (x: unknown) => void): void;
  end(): Promise<void>;
}
interface Pg {
  Pool: new (o: object) => PgPool;
  Client: new (o: object) => { emit(event: string, ...args: unknown[]): boolean };
}
interface Runner {
  stop(): Promise<void>;
  promise: Promise<void>;
}
interface Graphile {
  makeWorkerUtils(o: object): Promise<Utils>;
  run(o: object): Promise<Runner>;
  Logger: new (
    factory: () => (level: string, message: string) => void,
  ) => unknown;
}

/**
 * A node-postgres pool (graphile-worker's `pgPool`) of `max` connections whose clients never deliver
 * a "worker:migrate" notification (see the top of this file).
 */
async function runnerPool(max: number, onError: (e: unknown) => void): Promise<PgPool> {
  const pg = (await importPeer<{ default: Pg }>("pg")).default;
  class DeafToMigrations extends pg.Client {
    override emit(event: string, ...args: unknown[]): boolean {
      if (event === "notification" && (args[0] as { channel?: string })?.channel === "worker:migrate") {
        return false;
      }
      return super.emit(event, ...args);
    }
  }
  const pool = new pg.Pool({ connectionString: pgUrl(), max, Client: DeafToMigrations });
  pool.on("error", onError);
  pool.on("connect", (c) => (c as PgPool).on("error", onError));
  return pool;
}

/** Opens graphile-worker in a fresh schema. Options: `fast` (its documented fast settings). */
export async function open(ctx: OpenContext): Promise<Opened> {
  const gw = await importPeer<Graphile>("graphile-worker");
  const schema = ctx.name;
  const fast = ctx.options.fast === true;
  const facts = await pgFacts();
  // Quiet, except errors: a runner that stops itself says why on stderr (the harness shows its tail).
  const logger = new gw.Logger(() => (level, message) => {
    if (level === "error" || level === "warning") {
      console.error(`graphile-worker ${level}: ${message}`);
    }
  });
  const utils = await gw.makeWorkerUtils({
    connectionString: pgUrl(),
    schema,
    logger,
  });
  // A worker process of the multi-process scenarios finds the schema migrated by the process that made it.
  if (!ctx.attach) await utils.migrate();
  let runner: Runner | null = null;
  let pool: PgPool | null = null;
  let failure: unknown = null;
  const stopWork = async () => {
    const r = runner, p = pool;
    runner = pool = null;
    try {
      if (failure) throw failure;
      await r?.stop();
    } finally {
      await p?.end();
    }
  };
  return {
    info: {
      version: peerVersion("graphile-worker"),
      backend: facts.version,
      durability: facts.durability,
      notes:
        (fast
          ? "maxPoolSize 25, localQueue { size: 500 }, completeJobBatchDelay 0, failJobBatchDelay 0"
          : "defaults (LISTEN/NOTIFY, pool of 10)") +
        "; ANALYZE after fills; serverBytesPerJob = table+index size on disk",
    },
    instance: {
      add: (data: Payload) => utils.addJob("bench", data),
      addBulk: (items: Payload[]) =>
        utils.addJobs(
          items.map((payload) => ({ identifier: "bench", payload })),
        ),
      async work(handler: JobHandler, concurrency: number) {
        // Its own pool instead of connectionString (so maxPoolSize is the pool's max).
        pool = await runnerPool(fast ? POOL.fast : POOL.default, (e) => {
          console.error(`graphile-worker pool error: ${(e as Error)?.message ?? e}`);
        });
        const r = await gw.run({
          pgPool: pool,
          schema,
          concurrency,
          noHandleSignals: true,
          logger,
          ...(fast ? FAST : {}),
          taskList: {
            bench: async (payload: unknown) => await handler(payload as Payload),
          },
        });
        r.promise.catch((e) => (failure = e));
        runner = r;
      },
      stopWork,
      afterFill: () => analyzeSchema(schema),
      pending: () =>
        withPg(async (c) =>
          Number(
            (await c.query(
              `SELECT count(*)::int AS n FROM ${schema}._private_jobs`,
            )).rows[0].n,
          )
        ),
      serverBytes: () => schemaBytes(schema),
      async close() {
        await stopWork();
        await utils.release();
        if (!ctx.attach) await dropSchema(schema);
      },
    },
  };
}
