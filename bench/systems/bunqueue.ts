// bunqueue in embedded mode (queue and worker in this process, persisted to one SQLite file).
// API read from node_modules/bunqueue/dist/client/{queue,worker}/*.d.ts (2.9.5). Its SQLite store
// runs WAL + synchronous=NORMAL (infrastructure/persistence/schema.js) and buffers added jobs in
// memory, flushing every 10 ms (writeBuffer.js); a job added with `durable: true` skips the buffer.
import { join } from "node:path";
import {
  importPeer,
  type JobHandler,
  type OpenContext,
  type Opened,
  type Payload,
  peerVersion,
} from "../lib.ts";

interface BqJob {
  data: Payload;
}
interface BqQueue {
  add(name: string, data: Payload, opts?: object): Promise<unknown>;
  addBulk(
    jobs: { name: string; data: Payload; opts?: object }[],
  ): Promise<unknown>;
  getJobCountsAsync(): Promise<Record<string, number>>;
  close(): void;
}
interface BqWorker {
  close(force?: boolean): Promise<void>;
  on(event: "error", fn: (e: unknown) => void): unknown;
}
interface Bunqueue {
  Queue: new (name: string, opts: object) => BqQueue;
  Worker: new (
    name: string,
    fn: (job: BqJob) => Promise<void>,
    opts: object,
  ) => BqWorker;
  shutdownManager(): void;
}

/**
 * Opens an embedded bunqueue on a fresh SQLite file. Options: `durable` (add jobs with durable: true),
 * `batchSize` (the worker's batch pull, default 10 in bunqueue; its docs' concurrency guide).
 */
export async function open(ctx: OpenContext): Promise<Opened> {
  const bq = await importPeer<Bunqueue>("bunqueue/client");
  const dataPath = join(ctx.dir, "bunqueue.db");
  const durable = ctx.options.durable === true;
  const opts = durable ? { durable: true } : undefined;
  const batchSize = ctx.options.batchSize as number | undefined;
  const queue = new bq.Queue(ctx.name, { embedded: true, dataPath });
  let worker: BqWorker | null = null;
  const stopWork = async () => {
    await worker?.close();
    worker = null;
  };
  return {
    info: {
      version: peerVersion("bunqueue"),
      backend: "embedded, bun:sqlite",
      durability: durable
        ? "none on power loss (written at add, WAL synchronous=NORMAL)"
        : "none (adds buffered in memory up to 10 ms, then WAL synchronous=NORMAL)",
      notes: durable
        ? "jobs added with { durable: true } (skips the write buffer)"
        : batchSize
        ? `worker batchSize ${batchSize} (default 10)`
        : undefined,
    },
    instance: {
      add: (data: Payload) => queue.add("bench", data, opts),
      addBulk: (items: Payload[]) => queue.addBulk(items.map((data) => ({ name: "bench", data, opts }))),
      work(handler: JobHandler, concurrency: number) {
        worker = new bq.Worker(ctx.name, async (job) => {
          await handler(job.data);
        }, {
          embedded: true,
          dataPath,
          concurrency,
          ...(batchSize ? { batchSize } : {}),
        });
        worker.on("error", (e) => console.error("bunqueue worker error:", e));
        return Promise.resolve();
      },
      stopWork,
      async pending() {
        const c = await queue.getJobCountsAsync();
        return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) +
          (c.prioritized ?? 0);
      },
      async close() {
        await stopWork();
        queue.close();
        bq.shutdownManager();
      },
    },
  };
}
