// One plainjob worker process (Bun), as plainjob's README runs them for high throughput ("Multi-process
// Workers": one process per core on the same database file). Started by systems/plainjob.ts:
//   bun bench/systems/plainjob_worker.ts <database path>
// It runs one worker on its own connection and reports each job's data (JSON, one per line) on stdout,
// in batches every 2 ms, so the parent can run the scenario's handler. SIGTERM stops it gracefully.
import process from "node:process";
import { importPeer } from "../lib.ts";
import { type BunDatabase, type Plainjob, TYPE } from "./plainjob.ts";

const path = process.argv[2];
if (!path) throw new TypeError("plainjob_worker.ts: missing database path");
const { Database } = await importPeer<
  { Database: new (path: string, o: object) => BunDatabase }
>(
  "bun:sqlite",
);
const pj = await importPeer<Plainjob>("plainjob");
const silent = { error() {}, warn() {}, info() {}, debug() {} };
const queue = pj.defineQueue({
  connection: pj.bun(new Database(path, { strict: true })),
  logger: silent,
});
let out: string[] = [];
const flush = () => {
  if (out.length === 0) return;
  process.stdout.write(out.join("\n") + "\n");
  out = [];
};
const timer = setInterval(flush, 2);
const worker = pj.defineWorker(TYPE, (job) => {
  out.push(job.data);
  if (out.length >= 100) flush();
  return Promise.resolve();
}, { queue, logger: silent });
const running = worker.start();
process.on("SIGTERM", async () => {
  await worker.stop();
  await running;
  clearInterval(timer);
  flush();
  queue.close();
  // End by itself once stdout has drained; exit anyway if something keeps the loop alive.
  setTimeout(() => process.exit(0), 2000).unref();
});
