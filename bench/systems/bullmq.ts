// BullMQ on the local Redis (127.0.0.1:6379) through ioredis. API read from
// node_modules/bullmq/dist/esm/classes/{queue,worker}.d.ts (6.7.0). Durability is whatever the Redis
// server is set to; the harness sets appendonly/appendfsync for the `bullmq-aof` variant.
import {
  importPeer,
  type JobHandler,
  type OpenContext,
  type Opened,
  type Payload,
  peerVersion,
} from "../lib.ts";
import { info, Redis, unlinkMatching } from "../resp.ts";

interface BJob {
  data: Payload;
}
interface BQueue {
  add(name: string, data: Payload): Promise<unknown>;
  addBulk(jobs: { name: string; data: Payload }[]): Promise<unknown>;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
  close(): Promise<void>;
}
interface BWorker {
  waitUntilReady(): Promise<unknown>;
  close(force?: boolean): Promise<void>;
  on(event: "error", fn: (e: unknown) => void): unknown;
}
interface BullMQ {
  Queue: new (name: string, opts: object) => BQueue;
  Worker: new (
    name: string,
    fn: (job: BJob) => Promise<void>,
    opts: object,
  ) => BWorker;
}

const PREFIX = "kvqbench";

/** Opens a BullMQ queue under a fresh name (keys prefixed "kvqbench:"). */
export async function open(ctx: OpenContext): Promise<Opened> {
  const bull = await importPeer<BullMQ>("bullmq");
  const connection = {
    host: "127.0.0.1",
    port: 6379,
    maxRetriesPerRequest: null,
  };
  const admin = await Redis.open();
  const version = await info(admin, "server", "redis_version");
  const get = async (key: string) => ((await admin.command("CONFIG", "GET", key)) as string[])[1];
  const aof = await get("appendonly");
  const fsync = await get("appendfsync");
  const save = await get("save");
  const queue = new bull.Queue(ctx.name, { connection, prefix: PREFIX });
  let worker: BWorker | null = null;
  const stopWork = async () => {
    await worker?.close();
    worker = null;
  };
  return {
    info: {
      version: peerVersion("bullmq"),
      backend: `Redis ${version} (ioredis ${peerVersion("ioredis")})`,
      durability: aof === "yes" && fsync === "always"
        ? "fsync before reply (appendonly yes, appendfsync always)"
        : aof === "yes"
        ? `none on power loss (appendonly yes, appendfsync ${fsync})`
        : `none (appendonly no, save "${save}")`,
      notes: "serverBytesPerJob = Redis used_memory growth",
    },
    instance: {
      add: (data: Payload) => queue.add("bench", data),
      addBulk: (items: Payload[]) => queue.addBulk(items.map((data) => ({ name: "bench", data }))),
      async work(handler: JobHandler, concurrency: number) {
        worker = new bull.Worker(ctx.name, async (job) => {
          await handler(job.data);
        }, { connection, prefix: PREFIX, concurrency });
        worker.on("error", (e) => console.error("bullmq worker error:", e));
        await worker.waitUntilReady();
      },
      stopWork,
      async pending() {
        const c = await queue.getJobCounts(
          "waiting",
          "active",
          "delayed",
          "prioritized",
          "paused",
        );
        return Object.values(c).reduce((a, b) => a + b, 0);
      },
      async serverBytes() {
        return Number(await info(admin, "memory", "used_memory"));
      },
      async close() {
        await stopWork();
        await queue.close();
        await unlinkMatching(admin, `${PREFIX}:${ctx.name}:*`);
        admin.close();
      },
    },
  };
}
