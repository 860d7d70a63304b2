// Small helpers shared by the benchmark harness: runtime facts, timing, statistics, memory and exit.
// Runs unchanged on Node, Bun and Deno (web APIs plus node:* modules all three provide).
import process from "node:process";
import { readFileSync } from "node:fs";

/** A JavaScript runtime the harness runs children on. */
export type RuntimeName = "node" | "bun" | "deno";

/** The job payload every scenario adds: a sequence number, and the enqueue time for latency runs. */
export interface Payload {
  /** Sequence number. */
  i: number;
  /** `performance.now()` when the job was added (latency scenario only). */
  t?: number;
}

/** A job handler as the scenarios pass it to a system: gets the decoded payload. */
export type JobHandler = (data: Payload) => void | Promise<void>;

/** What a system under test offers the scenarios. Every member works on a freshly opened, empty queue. */
export interface Instance {
  /** Adds one job; resolves when the system acknowledges it. */
  add(data: Payload): Promise<unknown>;
  /** Adds many jobs in one call (the scenarios pass at most `bulkChunk` at a time). */
  addBulk(items: Payload[]): Promise<unknown>;
  /** Starts consuming with `concurrency` handlers at once; resolves once the consumer runs. */
  work(handler: JobHandler, concurrency: number): Promise<void>;
  /** Stops consuming (gracefully: no job is left half-done). */
  stopWork(): Promise<void>;
  /** Jobs not yet finished (queued or running), when the system can tell. */
  pending?(): Promise<number>;
  /** Server-side memory in bytes (Redis `used_memory`), for the memory scenario. */
  serverBytes?(): Promise<number>;
  /**
   * Runs after a scenario's fill and before its measured drain (not timed): e.g. `ANALYZE` for a
   * PostgreSQL peer, since the benchmark server runs with autovacuum off.
   */
  afterFill?(): Promise<void>;
  /** Closes everything and removes what the run stored (schemas, keys, files). */
  close(): Promise<void>;
}

/** Facts about the system under test, recorded with every result. */
export interface SystemInfo {
  /** Package version (or runtime version for runtime built-ins). */
  version: string;
  /** The backend: "bun:sqlite", "Redis 7.0.15", "PostgreSQL 15.20", ... */
  backend: string;
  /** When an acknowledged add is durable, in words ("fsync per commit", "group commit", "none: ..."). */
  durability: string;
  /** Settings that differ from the system's defaults, and anything else a reader should know. */
  notes?: string;
  /** Largest addBulk call the system gets. @default 1000 */
  bulkChunk?: number;
}

/** An opened system: the instance and its facts. */
export interface Opened {
  /** The instance. */
  instance: Instance;
  /** Its facts. */
  info: SystemInfo;
}

/** What a system module gets when opening: a private directory and a unique name for this run. */
export interface OpenContext {
  /** A fresh directory for files, removed by the harness afterwards. */
  dir: string;
  /** A unique name for this run (queue names, schemas, key prefixes). */
  name: string;
  /** Variant options from the registry. */
  options: Record<string, unknown>;
  /**
   * True in a worker process of the multi-process scenarios (bench/worker.ts): `name` is the queue
   * another process opened, so create nothing it needs and remove nothing on close.
   */
  attach?: boolean;
}

/** A system module: `bench/systems/<name>.ts` exports `open`. */
export interface SystemModule {
  /** Opens a fresh, empty instance of the system. */
  open(ctx: OpenContext): Promise<Opened>;
}

/** The runtime this code runs on. */
export function runtimeName(): RuntimeName {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (typeof g.Deno !== "undefined") return "deno";
  if (typeof g.Bun !== "undefined") return "bun";
  return "node";
}

/** The runtime with its version, e.g. "node 24.21.0". */
export function runtimeVersion(): string {
  const g = globalThis as {
    Deno?: { version: { deno: string } };
    Bun?: { version: string };
  };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${process.versions.node}`;
}

/**
 * Milliseconds since the Unix epoch, sub-millisecond: comparable between processes on one machine
 * (each runtime's `performance.timeOrigin` is read from the same system clock).
 */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Milliseconds since an arbitrary origin, sub-millisecond. */
export function now(): number {
  return performance.now();
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The median of the values (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The p-th percentile (0..100) by nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1];
}

/** Runs a full garbage collection where the runtime exposes one (node/deno need --expose-gc). */
export function collectGarbage(): void {
  const g = globalThis as {
    gc?: () => void;
    Bun?: { gc(force: boolean): void };
  };
  if (g.Bun) g.Bun.gc(true);
  else if (typeof g.gc === "function") g.gc();
}

/** Resident set size of this process in bytes. */
export function rss(): number {
  return process.memoryUsage().rss;
}

/** Ends this process with a code (children must always end by themselves). */
export function exit(code: number): never {
  const g = globalThis as { Deno?: { exit(code: number): never } };
  if (g.Deno) g.Deno.exit(code);
  process.exit(code);
}

/** Polls `test` every `everyMs` until it is true; rejects after `timeoutMs` with `what` in the message. */
export async function waitFor(
  test: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 2,
): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!(await test())) {
    if (now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(everyMs);
  }
}

/**
 * Imports a package installed in bench/node_modules by name. The specifier is not a literal, so the
 * project's type check does not need the peers installed; each system module types what it uses.
 */
export function importPeer<T>(name: string): Promise<T> {
  return import(name) as Promise<T>;
}

/** The version in a package's package.json as installed in bench/node_modules, or "?". */
export function peerVersion(name: string): string {
  try {
    const url = new URL(`./node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(url, "utf8")) as { version: string })
      .version;
  } catch {
    return "?";
  }
}
