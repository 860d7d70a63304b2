// The PostgreSQL adapter across processes on one table: check(null)+set from three processes (one
// on each runtime) gives each key exactly one winner, and a job added in this process starts in a
// worker process (on this test's runtime) that never polls (LISTEN/NOTIFY).
// Skips only when the server is unreachable (see _pg.ts for KVQ_POSTGRES_URL).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { Queue } from "../../mod.ts";
import { PostgresKv } from "../../adapters/postgres/mod.ts";
import { dropStore, POSTGRES_URL, tableName, unreachable } from "./_pg.ts";

const skip = await unreachable();
const CHILD = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "child.ts");
const tables: string[] = [];
after(() => Promise.all(tables.map((t) => dropStore(t))));

type Runtime = "node" | "bun" | "deno";

const ROOT = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "..");

/** This test's runtime. */
function current(): Runtime {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  return g.Deno ? "deno" : g.Bun ? "bun" : "node";
}

/** The command that runs the child on a runtime (this test's by default; others from node_modules/.bin). */
function command(args: string[], runtime: Runtime = current()): [string, string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  const exec = runtime === current()
    ? (deno ? deno.execPath() : process.execPath)
    : join(ROOT, "node_modules", ".bin", runtime);
  return runtime === "deno" ? [exec, ["run", "-A", CHILD, ...args]] : [exec, [CHILD, ...args]];
}

interface Child {
  /** Writes a line to the child's stdin. */
  send(line: string): void;
  /** Resolves with the first line printed that starts with `start` (from now or earlier). */
  printed(start: string): Promise<string>;
  /** Resolves with everything printed once the child exits with status 0. */
  done: Promise<string[]>;
}

function start(args: string[], runtime?: Runtime): Child {
  const [cmd, argv] = command([POSTGRES_URL, ...args], runtime);
  const child = spawn(cmd, argv, { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters: { start: string; resolve: (l: string) => void }[] = [];
  let out = "", err = "";
  child.stdout.on("data", (d) => {
    out += d;
    const parts = out.split("\n");
    out = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      for (const w of waiters) if (l.startsWith(w.start)) w.resolve(l);
    }
  });
  child.stderr.on("data", (d) => (err += d));
  const done = new Promise<string[]>((resolve, reject) => {
    child.on(
      "close",
      (code) => code === 0 ? resolve(lines) : reject(new Error(`child exited ${code}: ${err}`)),
    );
  });
  return {
    send: (line) => child.stdin.write(line + "\n"),
    printed: (s) => {
      const l = lines.find((l) => l.startsWith(s));
      return l !== undefined
        ? Promise.resolve(l)
        : new Promise((resolve) => waiters.push({ start: s, resolve }));
    },
    done,
  };
}

describe("PostgresKv across processes", { skip }, () => {
  test("3 processes on Node, Bun and Deno claiming the same keys with check(null)+set: exactly one wins each key", async () => {
    const table = tableName("mp_claim");
    tables.push(table);
    await (await PostgresKv.open(POSTGRES_URL, { table })).close(); // the schema, once
    const keys = 200;
    const runtimes: Runtime[] = ["node", "bun", "deno"];
    const children = runtimes.map((rt, i) => start([table, "claim", String(i + 1), String(keys)], rt));
    await Promise.all(children.map((c) => c.printed("ready")));
    for (const c of children) c.send("go");
    const results = (await Promise.all(children.map((c) => c.done))).map((l) =>
      JSON.parse(l[l.length - 1])
    ) as {
      id: number;
      wins: number[];
      lost: number;
    }[];
    const winners = new Map<number, number[]>();
    for (const r of results) for (const k of r.wins) winners.set(k, [...(winners.get(k) ?? []), r.id]);
    for (let k = 0; k < keys; k++) {
      assert.equal(winners.get(k)?.length, 1, `key ${k} was won by ${JSON.stringify(winners.get(k) ?? [])}`);
    }
    const kv = await PostgresKv.open(POSTGRES_URL, { table });
    try {
      for (let k = 0; k < keys; k++) {
        assert.deepEqual((await kv.get(["claim", k]))?.value, Uint8Array.of(winners.get(k)![0]), `key ${k}`);
      }
    } finally {
      await kv.close();
    }
    console.log(
      `claims won per process (node, bun, deno): ${results.map((r) => r.wins.length).join(", ")}; ` +
        `races lost after reading the key free: ${results.map((r) => r.lost).join(", ")}`,
    );
  });

  test("a job added in this process starts in a worker process that polls once a minute", async () => {
    const table = tableName("mp_wake");
    tables.push(table);
    const kv = await PostgresKv.open(POSTGRES_URL, { table });
    const worker = start([table, "worker"]);
    try {
      await worker.printed("ready");
      // Give the worker's first round (and its LISTEN) time to settle, so the wake-up is the NOTIFY's.
      await new Promise((r) => setTimeout(r, 500));
      const queue = new Queue<string>(kv, "mp");
      const latencies: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        await queue.add(`job-${i}`);
        const done = worker.printed(`done job-${i}`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`job-${i} did not start within 10 s (no wake-up)`)),
            10_000,
          );
        });
        await Promise.race([done, timeout]).finally(() => clearTimeout(timer));
        latencies.push(performance.now() - started);
      }
      console.log(`add -> done in another process: ${latencies.map((l) => l.toFixed(1)).join(", ")} ms`);
    } finally {
      worker.send("stop");
      await worker.done;
      await kv.close();
    }
  });
});
