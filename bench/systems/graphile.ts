// graphile-worker on the local PostgreSQL, in a fresh schema per run. API read from
// node_modules/graphile-worker/dist/{index,interfaces}.d.ts (0.18.0): makeWorkerUtils for adds
// (addJob / addJobs), run() for a worker pool (LISTEN/NOTIFY wake-ups by default). Completed jobs
// are deleted, so the jobs table holds only unfinished ones.
import {
  importPeer,
  type JobHandler,
  type OpenContext,
  type Opened,
  type Payload,
  peerVersion,
} from "../lib.ts";
import { dropSchema, pgFacts, pgUrl, schemaBytes, withPg } from "./_pg.ts";

interface Utils {
  migrate(): Promise<void>;
  addJob(task: string, payload: unknown): Promise<unknown>;
  addJobs(specs: { identifier: string; payload: unknown }[]): Promise<unknown>;
  release(): Promise<void>;
}
interface Runner {
  stop(): Promise<void>;
}
interface Graphile {
  makeWorkerUtils(o: object): Promise<Utils>;
  run(o: object): Promise<Runner>;
  Logger: new (factory: () => () => void) => unknown;
}

/** Opens graphile-worker in a fresh schema. */
export async function open(ctx: OpenContext): Promise<Opened> {
  const gw = await importPeer<Graphile>("graphile-worker");
  const schema = ctx.name;
  const facts = await pgFacts();
  const logger = new gw.Logger(() => () => {});
  const utils = await gw.makeWorkerUtils({
    connectionString: pgUrl(),
    schema,
    logger,
  });
  await utils.migrate();
  let runner: Runner | null = null;
  const stopWork = async () => {
    await runner?.stop();
    runner = null;
  };
  return {
    info: {
      version: peerVersion("graphile-worker"),
      backend: facts.version,
      durability: facts.durability,
      notes: "defaults (LISTEN/NOTIFY, pool of 10); serverBytesPerJob = table+index size on disk",
    },
    instance: {
      add: (data: Payload) => utils.addJob("bench", data),
      addBulk: (items: Payload[]) =>
        utils.addJobs(
          items.map((payload) => ({ identifier: "bench", payload })),
        ),
      async work(handler: JobHandler, concurrency: number) {
        runner = await gw.run({
          connectionString: pgUrl(),
          schema,
          concurrency,
          noHandleSignals: true,
          logger,
          taskList: {
            bench: async (payload: unknown) => await handler(payload as Payload),
          },
        });
      },
      stopWork,
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
        await dropSchema(schema);
      },
    },
  };
}
