// deno-lint-ignore-file no-explicit-any
/**
 * Helpers of the engine suite: a per-test harness (store, fake clock, unique root, cleanup),
 * a commit-counting store wrapper, and a real-time `until` for conditions that depend on I/O.
 * Everything here uses kvq's public API only (`mod.ts`), so the suite runs unchanged whatever
 * the engine's internals look like.
 *
 * @module
 */
import { FakeClock, monotonicUlid, Queue, seededRandom } from "../../mod.ts";
import type {
  AtomicKv,
  AtomicOp,
  KvEntry,
  KvKey,
  KvListOptions,
  KvListSelector,
  QueueEvent,
  QueueOptions,
} from "../../mod.ts";
import type { ConformanceContext, EngineSuiteOptions } from "../types.ts";

/** Waits (in real time, 1 ms steps) until `cond` holds; throws after `ms`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what = "condition",
  ms = 5000,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Lets real I/O progress for a moment. */
export function flush(ms = 2): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A store wrapper (a different object, so no in-process wake-ups reach it) counting commits.
 * With `scope`, it declares another scope (so workers use `watch` when the store has it).
 */
export class CountingKv implements AtomicKv {
  readonly inner: AtomicKv;
  readonly info: AtomicKv["info"];
  commits = 0;
  constructor(inner: AtomicKv, scope?: AtomicKv["info"]["scope"]) {
    this.inner = inner;
    this.info = scope ? { ...inner.info, scope } : inner.info;
  }
  watch(prefix: KvKey, signal: AbortSignal): AsyncIterable<void> {
    return this.inner.watch!(prefix, signal);
  }
  get(key: KvKey): Promise<KvEntry | null> {
    return this.inner.get(key);
  }
  getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    return this.inner.getMany(keys);
  }
  list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    return this.inner.list(selector, options);
  }
  atomic(): AtomicOp {
    const op = this.inner.atomic();
    const commit = op.commit.bind(op);
    op.commit = () => {
      this.commits++;
      return commit();
    };
    return op;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

let seq = 0;

/** Everything one test owns. */
export class Harness {
  readonly kv: AtomicKv;
  readonly clock: FakeClock = new FakeClock(1_700_000_000_000);
  readonly root: string[];
  readonly queues: Queue<any, any>[] = [];
  constructor(kv: AtomicKv) {
    this.kv = kv;
    this.root = ["kvq-test", `${Date.now().toString(36)}-${++seq}`];
  }

  /** A queue on this test's store, root and clock. */
  queue<T = any, R = any>(name = "q", options: QueueOptions = {}, kv: AtomicKv = this.kv): Queue<T, R> {
    const q = new Queue<T, R>(kv, name, {
      clock: this.clock,
      root: this.root,
      pollInterval: 1000,
      ...options,
    });
    this.queues.push(q);
    return q;
  }

  /** Deterministic ids for a queue. */
  ids(seed = 1): QueueOptions["ids"] {
    return monotonicUlid(seededRandom(seed));
  }

  /** Moves the fake clock forward in steps, letting real I/O run between steps. */
  async run(ms: number, step = 100): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      await this.clock.advance(Math.min(step, ms - t));
      await flush(1);
    }
  }

  /**
   * Waits (in real time) until something armed a timer on the fake clock: with one worker and no
   * running job, that worker has finished its round and sleeps until its next due time.
   */
  async idle(): Promise<void> {
    await until(() => this.clock.pending > 0, "the worker to go idle");
  }

  /** Records events of the given types on a queue. */
  record(q: Queue<any, any>, ...types: string[]): { type: string; id?: string; event: QueueEvent }[] {
    const out: { type: string; id?: string; event: QueueEvent }[] = [];
    for (const t of types) {
      q.addEventListener(
        t,
        (e) => out.push({ type: t, id: (e as QueueEvent).job?.id, event: e as QueueEvent }),
      );
    }
    return out;
  }

  async close(): Promise<void> {
    for (const q of this.queues) await q.close({ timeout: 0 });
    await flush(1);
    await this.kv.close();
  }
}

const runToken = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0"))
  .join("");
let cases = 0;

/** A fresh context for one case: an id unique per case and per run. */
export function engineContext(): ConformanceContext {
  return { id: `kvq-engine-${runToken}-${String(++cases).padStart(3, "0")}` };
}

/** Runs `fn` with a fresh harness on a store of its own, always closing and destroying it. */
export async function withHarness(
  options: EngineSuiteOptions,
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const context = engineContext();
  const h = new Harness(await options.open(context));
  try {
    await fn(h);
  } finally {
    try {
      await h.close();
    } finally {
      await options.destroy?.(context);
    }
  }
}

/** A promise with its resolve function. */
export function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}

/** Hooks of {@linkcode hookedKv}. */
export interface StoreHooks {
  /** Runs before every get, getMany, list and commit reaches the store. */
  before?(operation: "get" | "getMany" | "list" | "commit"): Promise<void> | void;
  /** Runs after a list read its entries from the store, before it hands them out. */
  afterList?(selector: KvListSelector, options?: KvListOptions): Promise<void> | void;
}

/**
 * A store wrapper (a Proxy, so every other member is the store's own) that runs `hooks` around
 * the store's I/O and declares no watch: the test decides how long each operation takes.
 */
export function hookedKv(inner: AtomicKv, hooks: StoreHooks): AtomicKv {
  const info = { ...inner.info, watch: false };
  const before = async (op: "get" | "getMany" | "list" | "commit") => {
    await hooks.before?.(op);
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === "info") return info;
      if (prop === "watch") return undefined;
      if (prop === "get" || prop === "getMany") {
        return async (arg: any) => {
          await before(prop);
          return await (target as any)[prop](arg);
        };
      }
      if (prop === "list") {
        return (selector: KvListSelector, options?: KvListOptions) => ({
          async *[Symbol.asyncIterator]() {
            await before("list");
            const entries: KvEntry[] = [];
            for await (const e of target.list(selector, options)) entries.push(e);
            await hooks.afterList?.(selector, options);
            yield* entries;
          },
        });
      }
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = async () => {
            await before("commit");
            return await commit();
          };
          return op;
        };
      }
      const v = (target as any)[prop];
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/**
 * A store wrapper that delays every get, getMany, list and commit by `ms` of real time (as a disk
 * or a network would) and declares no watch.
 */
export function slowKv(inner: AtomicKv, ms = 1): AtomicKv {
  return hookedKv(inner, { before: () => new Promise<void>((r) => setTimeout(r, ms)) });
}
