// pg-boss on the local PostgreSQL, in a fresh schema per run. API read from
// node_modules/pg-boss/dist/{index,types}.d.ts and worker.js (12.38.0).
// Settings beside the defaults, each needed to measure the engine rather than a sleep:
// - useListenNotify + queue `notify: true`: its documented low-latency mode (else a 2 s poll);
// - work() with batchSize 100 and burstWhenBatchFull: after a short fetch a worker sleeps its
//   polling interval, so batchSize 1 would drain 1 job per interval. Jobs of a batch run one after
//   another, so `concurrency` = localConcurrency = handlers running at once.
// Option `batchSize` (default 100): the best row fetches 500 per worker with 8 workers
// (localConcurrency 8; docs/api/workers.md: batchSize, localConcurrency, burstWhenBatchFull).
// Every run ANALYZEs the schema after the fill (autovacuum is off on the benchmark server).
import {
  importPeer,
  type JobHandler,
  type OpenContext,
  type Opened,
  type Payload,
  peerVersion,
} from "../lib.ts";
import { analyzeSchema, dropSchema, type PgClient, pgFacts, pgUrl, schemaBytes, withPg } from "./_pg.ts";

interface Boss {
  on(event: "error", fn: (e: unknown) => void): void;
  start(): Promise<unknown>;
  stop(o?: object): Promise<void>;
  createQueue(name: string, o?: object): Promise<void>;
  send(name: string, data: object): Promise<string | null>;
  insert(name: string, jobs: { data: object }[]): Promise<unknown>;
  work(
    name: string,
    o: object,
    fn: (jobs: { data: Payload }[]) => Promise<void>,
  ): Promise<string>;
  offWork(name: string, o?: object): Promise<void>;
}

/** Opens pg-boss in a fresh schema. */
export async function open(ctx: OpenContext): Promise<Opened> {
  const { PgBoss } = await importPeer<{ PgBoss: new (o: object) => Boss }>(
    "pg-boss",
  );
  const schema = ctx.name;
  const batchSize = Number(ctx.options.batchSize ?? 100);
  const facts = await pgFacts();
  const boss = new PgBoss({
    connectionString: pgUrl(),
    schema,
    useListenNotify: true,
  });
  boss.on("error", (e) => console.error("pg-boss error:", e));
  await boss.start();
  // A worker process of the multi-process scenarios finds the queue made (createQueue is a no-op then).
  if (!ctx.attach) await boss.createQueue(ctx.name, { notify: true });
  let working = false;
  const stopWork = async () => {
    if (working) await boss.offWork(ctx.name, { wait: true });
    working = false;
  };
  const count = (c: PgClient) =>
    c.query(
      `SELECT count(*)::int AS n FROM ${schema}.job WHERE name = $1 AND state IN ('created','retry','active')`,
      [
        ctx.name,
      ],
    );
  return {
    info: {
      version: peerVersion("pg-boss"),
      backend: facts.version,
      durability: facts.durability,
      notes: `useListenNotify + queue notify; work({ batchSize: ${batchSize}, burstWhenBatchFull: true, ` +
        "localConcurrency }); ANALYZE after fills; serverBytesPerJob = table+index size on disk",
    },
    instance: {
      add: (data: Payload) => boss.send(ctx.name, data),
      addBulk: (items: Payload[]) => boss.insert(ctx.name, items.map((data) => ({ data }))),
      async work(handler: JobHandler, concurrency: number) {
        working = true;
        await boss.work(ctx.name, {
          batchSize,
          burstWhenBatchFull: true,
          localConcurrency: concurrency,
        }, async (jobs) => {
          for (const job of jobs) await handler(job.data);
        });
      },
      stopWork,
      afterFill: () => analyzeSchema(schema),
      pending: () => withPg(async (c) => Number((await count(c)).rows[0].n)),
      serverBytes: () => schemaBytes(schema),
      async close() {
        await stopWork();
        await boss.stop({ graceful: true, timeout: 5000, close: true });
        if (!ctx.attach) await dropSchema(schema);
      },
    },
  };
}
