// plainjob (SQLite job queue) on bun:sqlite, at its default synchronous=NORMAL or at FULL.
// API read from node_modules/plainjob/dist/plainjob.d.ts and src/{queue,worker}.ts (0.0.14):
// defineQueue sets journal_mode=WAL and synchronous=1 (NORMAL); add/addMany are synchronous;
// a worker runs one job at a time and polls every `pollIntervall` ms (default 1000) when idle.
import { join } from "node:path";
import {
  importPeer,
  type JobHandler,
  type OpenContext,
  type Opened,
  type Payload,
  peerVersion,
} from "../lib.ts";

interface BunDatabase {
  exec(sql: string): void;
  query(sql: string): { get(): Record<string, unknown> | null };
}
interface PlainQueue {
  add(type: string, data: unknown): { id: number };
  addMany(type: string, data: unknown[]): { ids: number[] };
  countJobs(opts?: { type?: string; status?: number }): number;
  close(): void;
}
interface PlainWorker {
  start(): Promise<void>;
  stop(): Promise<void>;
}
interface Plainjob {
  bun(db: BunDatabase): unknown;
  defineQueue(opts: { connection: unknown; logger?: unknown }): PlainQueue;
  defineWorker(
    type: string,
    fn: (job: { id: number; data: string }) => Promise<void>,
    opts: { queue: PlainQueue; logger?: unknown; pollIntervall?: number },
  ): PlainWorker;
}

const silent = { error() {}, warn() {}, info() {}, debug() {} };
const TYPE = "bench";

/** Opens plainjob on a fresh database file. Options: `synchronous` ("NORMAL" | "FULL"). */
export async function open(ctx: OpenContext): Promise<Opened> {
  const { Database } = await importPeer<
    { Database: new (path: string, o: object) => BunDatabase }
  >("bun:sqlite");
  const pj = await importPeer<Plainjob>("plainjob");
  const db = new Database(join(ctx.dir, "plainjob.db"), {
    strict: true,
    create: true,
  });
  const queue = pj.defineQueue({ connection: pj.bun(db), logger: silent });
  const full = ctx.options.synchronous === "FULL";
  if (full) db.exec("PRAGMA synchronous = FULL");
  const sync = Number(db.query("PRAGMA synchronous").get()?.synchronous);
  if (sync !== (full ? 2 : 1)) {
    throw new Error(
      `plainjob: PRAGMA synchronous is ${sync}, expected ${full ? 2 : 1}`,
    );
  }
  let workers: { worker: PlainWorker; running: Promise<void> }[] = [];
  const stopWork = async () => {
    await Promise.all(workers.map((w) => w.worker.stop()));
    await Promise.all(workers.map((w) => w.running));
    workers = [];
  };
  return {
    info: {
      version: peerVersion("plainjob"),
      backend: "bun:sqlite",
      durability: full
        ? "fsync per commit (WAL, synchronous=FULL)"
        : "none on power loss (WAL, synchronous=NORMAL; survives a process crash)",
      notes: "worker polls every 1000 ms when idle (default); best concurrency = 4 workers in one process",
    },
    instance: {
      add: (data: Payload) => Promise.resolve(queue.add(TYPE, data)),
      addBulk: (items: Payload[]) => Promise.resolve(queue.addMany(TYPE, items)),
      work(handler: JobHandler, concurrency: number) {
        for (let i = 0; i < concurrency; i++) {
          const worker = pj.defineWorker(TYPE, async (job) => {
            await handler(JSON.parse(job.data) as Payload);
          }, { queue, logger: silent });
          workers.push({ worker, running: worker.start() });
        }
        return Promise.resolve();
      },
      stopWork,
      pending: () =>
        Promise.resolve(
          queue.countJobs({ status: 0 }) + queue.countJobs({ status: 1 }),
        ),
      async close() {
        await stopWork();
        queue.close();
      },
    },
  };
}
