// The page's script (bundled by chromium_test.ts): the conformance and engine suites registered on
// the IndexedDB adapter over the browser's own IndexedDB, and a worker for the two-tab test, on
// `globalThis.kvq` for the test to call through playwright.
import { IndexedDbKv } from "../../../adapters/indexeddb/mod.ts";
import { testAdapter, testEngine } from "../../../conformance/mod.ts";
import { Queue } from "../../../mod.ts";
import { type Outcome, registeredNames, runRegistered } from "./node_test.ts";
import { deleteDatabase } from "../_idb.ts";

const open = (ctx: { id: string }) => IndexedDbKv.open({ dbName: ctx.id });
await testAdapter({
  name: "indexeddb (chromium)",
  open,
  destroy: (ctx) => deleteDatabase(ctx.id),
  capabilities: { durable: true, watch: true },
});
await testEngine({
  name: "indexeddb (chromium)",
  open,
  destroy: (ctx) => deleteDatabase(ctx.id),
  watch: true,
});

/** One run of a job's handler in this tab. */
interface Run {
  readonly id: string;
  readonly tab: string;
  readonly start: number;
  readonly end: number;
}

const runs: Run[] = [];
let stop: (() => Promise<void>) | undefined;
let woken: Promise<boolean> = Promise.resolve(false);

const kvq = {
  /** The names of the registered cases. */
  names(): string[] {
    return registeredNames();
  },
  /** Runs the registered case named `name`; its outcome. */
  async run(name: string): Promise<Outcome> {
    const [outcome] = await runRegistered((t) => t === name);
    return outcome;
  },
  /** Starts a worker on the shared database; each run of a job is recorded with this tab's name. */
  async work(dbName: string, tab: string): Promise<void> {
    const kv = await IndexedDbKv.open({ dbName });
    const q = new Queue<number>(kv, "tabs");
    const worker = q.process(async (job) => {
      const start = performance.timeOrigin + performance.now();
      await new Promise((r) => setTimeout(r, 5));
      runs.push({ id: job.id, tab, start, end: performance.timeOrigin + performance.now() });
    }, { concurrency: 2 });
    stop = async () => {
      await worker.close({ timeout: 5_000 });
      await kv.close();
    };
  },
  /** Adds `n` jobs to the shared database. */
  async add(dbName: string, n: number): Promise<void> {
    const kv = await IndexedDbKv.open({ dbName });
    const q = new Queue<number>(kv, "tabs");
    for (let i = 0; i < n; i++) await q.add(i);
    await kv.close();
  },
  /**
   * Starts watching `["w"]` on the shared database; `woken()` then resolves true once a commit
   * (of any tab) wakes the watcher, or false after `ms`.
   */
  async watch(dbName: string, ms: number): Promise<void> {
    const kv = await IndexedDbKv.open({ dbName });
    const stop = new AbortController();
    const it = kv.watch(["w"], stop.signal)[Symbol.asyncIterator]();
    const next = it.next();
    woken = Promise.race([
      next.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
    ]).finally(async () => {
      stop.abort();
      await kv.close();
    });
    await new Promise((r) => setTimeout(r, 50)); // the watcher subscribes
  },
  /** What the watcher started by `watch()` saw. */
  woken(): Promise<boolean> {
    return woken;
  },
  /** Commits one key under `["w"]` on the shared database. */
  async touch(dbName: string): Promise<void> {
    const kv = await IndexedDbKv.open({ dbName });
    await kv.atomic().set(["w", 1], new Uint8Array([1])).commit();
    await kv.close();
  },
  /** The runs of this tab so far. */
  runs(): Run[] {
    return runs;
  },
  /** Stops this tab's worker. */
  async stop(): Promise<void> {
    await stop?.();
  },
};

(globalThis as unknown as { kvq: typeof kvq }).kvq = kvq;
(globalThis as unknown as { document: { title: string } }).document.title = "ready";
