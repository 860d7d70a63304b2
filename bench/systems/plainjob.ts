// plainjob (SQLite job queue) on bun:sqlite, at its default synchronous=NORMAL or at FULL.
// API read from node_modules/plainjob/dist/plainjob.d.ts and src/{queue,worker}.ts (0.0.14):
// defineQueue sets journal_mode=WAL and synchronous=1 (NORMAL); add/addMany are synchronous;
// a worker runs one job at a time and polls every `pollIntervall` ms (default 1000) when idle.
// Option `processes`: its README's high-throughput setup ("Multi-process Workers"): `concurrency`
// worker processes (one per core) on the same database file, each one worker (plainjob_worker.ts).
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  importPeer,
  type JobHandler,
  type OpenContext,
  type Opened,
  type Payload,
  peerVersion,
} from "../lib.ts";

/** bun:sqlite's Database, as far as plainjob's benchmark uses it. */
export interface BunDatabase {
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
/** The plainjob API the benchmark uses. */
export interface Plainjob {
  bun(db: BunDatabase): unknown;
  defineQueue(opts: { connection: unknown; logger?: unknown }): PlainQueue;
  defineWorker(
    type: string,
    fn: (job: { id: number; data: string }) => Promise<void>,
    opts: { queue: PlainQueue; logger?: unknown; pollIntervall?: number },
  ): PlainWorker;
}

const silent = { error() {}, warn() {}, info() {}, debug() {} };
/** The task type every plainjob job of the benchmark has (its worker processes use it too). */
export const TYPE = "bench";

/** Opens plainjob on a fresh database file. Options: `synchronous` ("NORMAL" | "FULL"). */
export async function open(ctx: OpenContext): Promise<Opened> {
  const { Database } = await importPeer<
    { Database: new (path: string, o: object) => BunDatabase }
  >("bun:sqlite");
  const pj = await importPeer<Plainjob>("plainjob");
  const dbPath = join(ctx.dir, "plainjob.db");
  const db = new Database(dbPath, {
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
  let children: { child: ChildProcess; exited: Promise<void> }[] = [];
  const stopWork = async () => {
    await Promise.all(workers.map((w) => w.worker.stop()));
    await Promise.all(workers.map((w) => w.running));
    workers = [];
    for (const c of children) c.child.kill("SIGTERM");
    await Promise.all(children.map((c) => c.exited));
    children = [];
  };
  const workerScript = fileURLToPath(
    new URL("./plainjob_worker.ts", import.meta.url),
  );
  /** Starts one worker process; every job it reports runs `handler` here. */
  const startProcess = (handler: JobHandler) => {
    const child = spawn(process.execPath, [workerScript, dbPath], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let rest = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        if (line) void handler(JSON.parse(line) as Payload);
      }
    });
    const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
    children.push({ child, exited });
  };
  const processes = ctx.options.processes === true;
  return {
    info: {
      version: peerVersion("plainjob"),
      backend: "bun:sqlite",
      durability: full
        ? "fsync per commit (WAL, synchronous=FULL)"
        : "none on power loss (WAL, synchronous=NORMAL; survives a process crash)",
      notes: processes
        ? "worker polls every 1000 ms when idle (default); one worker process per core on the same file"
        : "worker polls every 1000 ms when idle (default); best concurrency = 4 workers in one process",
    },
    instance: {
      add: (data: Payload) => Promise.resolve(queue.add(TYPE, data)),
      addBulk: (items: Payload[]) => Promise.resolve(queue.addMany(TYPE, items)),
      work(handler: JobHandler, concurrency: number) {
        if (processes) {
          for (let i = 0; i < concurrency; i++) startProcess(handler);
          return Promise.resolve();
        }
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
