// graphile-worker on the local PostgreSQL, in a fresh schema per run. API read from
// node_modules/graphile-worker/dist/{index,interfaces}.d.ts (0.18.0): makeWorkerUtils for adds
// (addJob / addJobs), run() for a worker pool (LISTEN/NOTIFY wake-ups by default). Completed jobs
// are deleted, so the jobs table holds only unfinished ones.
// Option `fast`: the settings of its performance page (https://worker.graphile.org/docs/performance):
// maxPoolSize 25, preset.worker.localQueue { size: 500 }, completeJobBatchDelay 0, failJobBatchDelay 0
// (concurrency 24 comes from the variant's best concurrency). Every run ANALYZEs the schema after the
// fill: this PostgreSQL runs with autovacuum off, which would otherwise gather the statistics.
import {
  importPeer,
  type JobHandler,
  type OpenContext,
  type Opened,
  type Payload,
  peerVersion,
} from "../lib.ts";
import { analyzeSchema, dropSchema, pgFacts, pgUrl, schemaBytes, withPg } from "./_pg.ts";

/** The performance page's settings beside concurrency. */
const FAST = {
  maxPoolSize: 25,
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
  let failure: unknown = null;
  const stopWork = async () => {
    const r = runner;
    runner = null;
    if (failure) throw failure;
    await r?.stop();
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
        const r = await gw.run({
          connectionString: pgUrl(),
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
