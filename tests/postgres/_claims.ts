// Shared by claims_probe.ts and claims_test.ts: drains one PostgreSQL store of no-op jobs with N
// worker processes started together and counts, in each, the commits and the commits whose
// checks failed (nearly all of them lost claim races). This file is also the worker process
// (`<runtime> _claims.ts --child <table> <concurrency>`).
import { spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { AtomicKv, AtomicOp } from "../../src/kv.ts";
import { Queue } from "../../src/queue.ts";
import { PostgresKv } from "../../adapters/postgres/mod.ts";
import { command, type CrashRuntime } from "../crash/driver.ts";
import { dropStore, POSTGRES_URL, tableName } from "./_pg.ts";

const QUEUE = "probe";
const SELF = fileURLToPath(import.meta.url);

/** The store with every commit counted, and the failed ones. */
function counted(kv: AtomicKv, stats: { commits: number; failed: number }): AtomicKv {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop !== "atomic") {
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      }
      return (): AtomicOp => {
        const op = target.atomic();
        const commit = op.commit.bind(op);
        op.commit = async () => {
          const res = await commit();
          stats.commits++;
          if (!res.ok) stats.failed++;
          return res;
        };
        return op;
      };
    },
  });
}

/** A worker process: on "go", drains the queue, then prints its figures as JSON. */
async function child(table: string, concurrency: number): Promise<void> {
  const stats = { commits: 0, failed: 0 };
  const kv = await PostgresKv.open(POSTGRES_URL, { table });
  const queue = new Queue<number>(counted(kv, stats), QUEUE, { pollInterval: 100 });
  let ran = 0;
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  console.log("ready");
  await lines.next();
  const worker = queue.process(() => {
    ran++;
  }, { concurrency });
  for (;;) {
    const c = await queue.counts();
    if (c.ready + c.active === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await worker.close();
  console.log(JSON.stringify({ ran, ...stats }));
  await kv.close();
  process.exit(0);
}

/** The figures of one drain. */
export interface ClaimsRun {
  /** Worker processes. */
  procs: number;
  /** Jobs drained. */
  jobs: number;
  /** From "go" to the last process done. */
  seconds: number;
  /** Commits whose checks failed, per handler run. */
  failedPerJob: number;
  /** All commits, per handler run. */
  commitsPerJob: number;
  /** Handler runs per process. */
  ranPerProcess: number[];
}

/**
 * Fills a table of its own with `jobs` no-op jobs, drains it with `procs` worker processes started
 * together, drops the table, and returns the figures.
 */
export async function runClaims(
  procs: number,
  jobs: number,
  concurrency: number,
  runtime: CrashRuntime,
): Promise<ClaimsRun> {
  const table = tableName("claims");
  try {
    const kv = await PostgresKv.open(POSTGRES_URL, { table });
    const queue = new Queue<number>(kv, QUEUE);
    for (let i = 0; i < jobs; i += 1000) {
      await queue.addBulk(Array.from({ length: Math.min(1000, jobs - i) }, (_, j) => ({ data: i + j })));
    }
    await queue.close();
    await kv.close();
    const children = Array.from({ length: procs }, () => {
      const [cmd, argv] = command(runtime, ["--child", table, String(concurrency)], SELF);
      const p = spawn(cmd, argv, { stdio: ["pipe", "pipe", "inherit"] });
      const lines: string[] = [];
      let partial = "";
      let ready!: () => void;
      const isReady = new Promise<void>((r) => (ready = r));
      p.stdout!.setEncoding("utf8");
      p.stdout!.on("data", (d: string) => {
        const parts = (partial + d).split("\n");
        partial = parts.pop()!;
        for (const l of parts) l === "ready" ? ready() : lines.push(l);
      });
      const done = new Promise<{ ran: number; commits: number; failed: number }>((resolve, reject) =>
        p.on(
          "close",
          (code) => (code === 0 ? resolve(JSON.parse(lines.at(-1)!)) : reject(new Error(`exit ${code}`))),
        )
      );
      return { p, isReady, done };
    });
    await Promise.all(children.map((c) => c.isReady));
    const t0 = performance.now();
    for (const c of children) c.p.stdin!.write("go\n");
    const results = await Promise.all(children.map((c) => c.done));
    const seconds = (performance.now() - t0) / 1000;
    const sum = (f: (r: (typeof results)[number]) => number) => results.reduce((s, r) => s + f(r), 0);
    return {
      procs,
      jobs,
      seconds,
      failedPerJob: sum((r) => r.failed) / sum((r) => r.ran),
      commitsPerJob: sum((r) => r.commits) / sum((r) => r.ran),
      ranPerProcess: results.map((r) => r.ran),
    };
  } finally {
    await dropStore(table);
  }
}

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? process.argv.slice(2);
if (args[0] === "--child") {
  child(args[1], Number(args[2])).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
