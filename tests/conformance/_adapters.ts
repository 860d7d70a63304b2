// Test-only AtomicKv wrappers around MemoryKv: a forwarding base, a store that reopens by id (to
// exercise the durability cases in memory), and deliberately broken stores, each breaking one
// promise of the contract, which the conformance suite must catch.
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { StoreClosedError } from "../../src/errors.ts";
import {
  type AtomicKv,
  type AtomicOp,
  compareKeys,
  formatVersionstamp,
  type KvCommitResult,
  type KvEntry,
  type KvInfo,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
} from "../../src/kv.ts";

/** An AtomicOp that forwards to another; subclasses change one behaviour. */
export class ForwardingOp implements AtomicOp {
  readonly inner: AtomicOp;
  constructor(inner: AtomicOp) {
    this.inner = inner;
  }
  check(key: KvKey, versionstamp: string | null): this {
    this.inner.check(key, versionstamp);
    return this;
  }
  set(key: KvKey, value: Uint8Array): this {
    this.inner.set(key, value);
    return this;
  }
  delete(key: KvKey): this {
    this.inner.delete(key);
    return this;
  }
  commit(): Promise<KvCommitResult> {
    return this.inner.commit();
  }
}

/** An AtomicKv that forwards to another; subclasses change one behaviour. */
export class ForwardingKv implements AtomicKv {
  readonly info: KvInfo;
  readonly inner: AtomicKv;
  constructor(inner: AtomicKv, info: Partial<KvInfo> = {}) {
    this.inner = inner;
    this.info = { ...inner.info, ...info };
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
    return this.inner.atomic();
  }
  watch(prefix: KvKey, signal: AbortSignal): AsyncIterable<void> {
    return this.inner.watch!(prefix, signal);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

// ---------------------------------------------------------------------------------------------
// A correct store that declares `durable`: a handle over a MemoryKv kept per context id, so
// closing a handle and opening the same id again reaches the same data.

class Handle extends ForwardingKv {
  #closed = false;
  #guard(operation: string): void {
    if (this.#closed) throw new StoreClosedError(this.info.name, operation);
  }
  override async get(key: KvKey): Promise<KvEntry | null> {
    this.#guard("get");
    return await this.inner.get(key);
  }
  override async getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    this.#guard("getMany");
    return await this.inner.getMany(keys);
  }
  override async *list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    this.#guard("list");
    yield* this.inner.list(selector, options);
  }
  override atomic(): AtomicOp {
    const guard = (op: string) => this.#guard(op);
    return new (class extends ForwardingOp {
      override async commit(): Promise<KvCommitResult> {
        guard("commit");
        return await this.inner.commit();
      }
    })(this.inner.atomic());
  }
  override async *watch(prefix: KvKey, signal: AbortSignal): AsyncIterable<void> {
    this.#guard("watch");
    yield* this.inner.watch!(prefix, signal);
  }
  override close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

/** Opens handles over one MemoryKv per id; the store declares `durable` and survives "reopen". */
export function reopenableMemory(): {
  open: (ctx: { id: string }) => AtomicKv;
  destroy: (ctx: { id: string }) => Promise<void>;
  stores: Map<string, MemoryKv>;
} {
  const stores = new Map<string, MemoryKv>();
  return {
    stores,
    open(ctx) {
      let kv = stores.get(ctx.id);
      if (!kv) stores.set(ctx.id, kv = new MemoryKv());
      return new Handle(kv, { durable: true });
    },
    async destroy(ctx) {
      await stores.get(ctx.id)?.close();
      stores.delete(ctx.id);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Broken stores.

/** Ignores every check: every commit succeeds. */
export class IgnoresChecksKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-ignores-checks" });
  }
  override atomic(): AtomicOp {
    return new (class extends ForwardingOp {
      override check(): this {
        return this;
      }
    })(this.inner.atomic());
  }
}

/** When a check fails, still applies the first half of the operation's mutations. */
export class HalfCommitKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-half-commit" });
  }
  override atomic(): AtomicOp {
    const kv = this.inner;
    const mutations: ((op: AtomicOp) => void)[] = [];
    return new (class extends ForwardingOp {
      override set(key: KvKey, value: Uint8Array): this {
        mutations.push((op) => op.set(key, value));
        return super.set(key, value);
      }
      override delete(key: KvKey): this {
        mutations.push((op) => op.delete(key));
        return super.delete(key);
      }
      override async commit(): Promise<KvCommitResult> {
        const res = await super.commit();
        if (!res.ok && mutations.length > 0) {
          const half = kv.atomic();
          for (const m of mutations.slice(0, Math.ceil(mutations.length / 2))) m(half);
          await half.commit();
        }
        return res;
      }
    })(kv.atomic());
  }
}

/** Lists keys sorted by their text form (as a naive store might), not in Deno KV order. */
export class OutOfOrderKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-out-of-order" });
  }
  override async *list(selector: KvListSelector, options: KvListOptions = {}): AsyncIterable<KvEntry> {
    const all: KvEntry[] = [];
    for await (const e of this.inner.list(selector)) all.push(e);
    const text = (k: KvKey) =>
      k.map((p) => (p instanceof Uint8Array ? [...p].join(",") : String(p))).join("/");
    all.sort((a, b) => (text(a.key) < text(b.key) ? -1 : text(a.key) > text(b.key) ? 1 : 0));
    if (options.reverse) all.reverse();
    yield* all.slice(0, options.limit ?? Infinity);
  }
}

/** Evaluates checks, yields to the event loop, then writes: concurrent commits all "win". */
export class RacyKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-racy" });
  }
  override atomic(): AtomicOp {
    const kv = this.inner;
    const checks: [KvKey, string | null][] = [];
    return new (class extends ForwardingOp {
      override check(key: KvKey, versionstamp: string | null): this {
        checks.push([key, versionstamp]);
        return this;
      }
      override async commit(): Promise<KvCommitResult> {
        const current = await kv.getMany(checks.map(([k]) => k));
        if (current.some((e, i) => (e?.versionstamp ?? null) !== checks[i][1])) return { ok: false };
        await new Promise((r) => setTimeout(r, 0));
        return super.commit();
      }
    })(kv.atomic());
  }
}

/** Declares a 1024-byte value limit but silently accepts larger values. */
export class LaxLimitKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-lax-limit", maxValueBytes: 1024 });
  }
}

/** Hands out versionstamps that decrease with every commit. */
export class DecreasingVersionstampKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-decreasing-versionstamps" });
  }
  static flip(vs: string): string {
    return formatVersionstamp(0xffffffffffffn - BigInt("0x" + vs));
  }
  #entry(e: KvEntry | null): KvEntry | null {
    return e && { ...e, versionstamp: DecreasingVersionstampKv.flip(e.versionstamp) };
  }
  override async get(key: KvKey): Promise<KvEntry | null> {
    return this.#entry(await this.inner.get(key));
  }
  override async getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    return (await this.inner.getMany(keys)).map((e) => this.#entry(e));
  }
  override async *list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    for await (const e of this.inner.list(selector, options)) yield this.#entry(e)!;
  }
  override atomic(): AtomicOp {
    const flip = DecreasingVersionstampKv.flip;
    return new (class extends ForwardingOp {
      override check(key: KvKey, versionstamp: string | null): this {
        return super.check(key, versionstamp === null ? null : flip(versionstamp));
      }
      override async commit(): Promise<KvCommitResult> {
        const res = await super.commit();
        return res.ok ? { ok: true, versionstamp: flip(res.versionstamp) } : res;
      }
    })(this.inner.atomic());
  }
}

/** Keeps working after close(). */
export class NeverClosesKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-never-closes" });
  }
  override close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Declares `durable` but every open starts empty. */
export class ForgetfulKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-forgetful", durable: true });
  }
}

/** Declares `watch` but its watcher never wakes (it only ends on abort). */
export class DeafWatchKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-deaf-watch" });
  }
  // deno-lint-ignore require-yield
  override async *watch(_prefix: KvKey, signal: AbortSignal): AsyncIterable<void> {
    if (signal.aborted) return;
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  }
}

/** Lists keys under the prefix and also the prefix key itself. */
export class ListsPrefixKeyKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-lists-prefix-key" });
  }
  override async *list(selector: KvListSelector, options: KvListOptions = {}): AsyncIterable<KvEntry> {
    const own = "prefix" in selector && !selector.start && !options.reverse
      ? await this.inner.get(selector.prefix)
      : null;
    if (own) yield own;
    yield* this.inner.list(selector, options);
  }
}

/** Lists the prefix key itself when `start` is the prefix key (as every adapter once did). */
export class StartAtPrefixKeyKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-start-at-prefix-key" });
  }
  override async *list(selector: KvListSelector, options: KvListOptions = {}): AsyncIterable<KvEntry> {
    const own = "prefix" in selector && selector.start && !options.reverse &&
        compareKeys(selector.start, selector.prefix) === 0
      ? await this.inner.get(selector.prefix)
      : null;
    if (own) yield own;
    yield* this.inner.list(selector, options);
  }
}

/** Rounds a fractional limit up, treats a bad limit as none and any reverse as truthy. */
export class LaxListOptionsKv extends ForwardingKv {
  constructor() {
    super(new MemoryKv(), { name: "broken-lax-list-options" });
  }
  override list(selector: KvListSelector, options: KvListOptions = {}): AsyncIterable<KvEntry> {
    const limit: unknown = options.limit;
    return this.inner.list(selector, {
      limit: typeof limit === "number" && limit >= 0 && limit < Infinity ? Math.ceil(limit) : undefined,
      reverse: Boolean(options.reverse),
    });
  }
}
