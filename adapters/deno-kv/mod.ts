/**
 * The Deno KV adapter: kvq's atomic operations map one to one onto Deno KV's own
 * (`check` / `set` / `delete` / `commit`), values are stored as raw bytes and versionstamps are
 * Deno KV's own. On Deno it uses `Deno.openKv` (run with `--unstable-kv`, or `"unstable": ["kv"]`
 * in deno.json); on Node and Bun, and on Deno without the flag, it uses the `@deno/kv` npm
 * package, loaded lazily (install it: `npm install @deno/kv`).
 *
 * What to open:
 * - a file path: a local SQLite-backed database (machine scope, durable);
 * - `":memory:"`: a transient in-process database;
 * - a KV Connect URL: a remote database (cluster scope). For Deno Deploy, use
 *   `https://api.deno.com/databases/<database-id>/connect` and set `DENO_KV_ACCESS_TOKEN` (or pass
 *   `accessToken` on Node/Bun). For a self-hosted server, run the `denokv` binary
 *   (`denokv --sqlite-path /data/kv.sqlite3 serve --access-token <token>`, listening on
 *   `http://localhost:4512` by default) and open `http://<host>:4512` with that token.
 *
 * Limits, measured against the engines (Deno 2.9 `Deno.openKv`, `@deno/kv` 0.14): values up to
 * 65536 bytes, encoded keys up to 2048 bytes, 1000 mutations per commit, 100 checks per commit with
 * `Deno.openKv` but only 10 with `@deno/kv` (and for remote databases, whose server may be older),
 * at most 819200 bytes of keys plus values per commit and (Deno.openKv) 81920 bytes of keys per
 * commit; `getMany` reads at most 10 keys per engine call. Exceeding a limit rejects with
 * `LimitError`.
 *
 * Known differences from the reference adapter: the empty key `[]` cannot be written (TypeError);
 * with `@deno/kv`, the key part `-0` is stored as `0` (Deno.openKv keeps them apart).
 *
 * @example Open a transient Deno KV store
 * ```ts
 * import { DenoKv } from "@kvq/kvq/deno-kv";
 * const kv = await DenoKv.open(":memory:");
 * await kv.atomic().set(["greeting"], new TextEncoder().encode("hi")).commit();
 * console.log(kv.implementation, (await kv.get(["greeting"]))?.versionstamp);
 * await kv.close();
 * ```
 *
 * @module
 */

import { LimitError, StorageError, StoreClosedError } from "../../src/errors.ts";
import {
  type AtomicBatch,
  type AtomicKv,
  type AtomicOp,
  BufferedAtomicOp,
  encodeKey,
  type KvCommitResult,
  type KvEntry,
  type KvInfo,
  type KvKey,
  type KvKeyPart,
  type KvListOptions,
  type KvListSelector,
  type KvScope,
  selectorRange,
} from "../../src/kv.ts";

/** An entry as a Deno KV handle returns it. */
export interface DenoKvHandleEntry {
  /** The key. */
  readonly key: readonly unknown[];
  /** The value (`null` when absent). */
  readonly value: unknown;
  /** The versionstamp (`null` when absent). */
  readonly versionstamp: string | null;
}

/** The atomic operation of a Deno KV handle (the subset kvq uses). */
export interface DenoKvHandleAtomic {
  /** Adds checks. */
  check(...checks: { key: KvKey; versionstamp: string | null }[]): DenoKvHandleAtomic;
  /** Adds a set. */
  set(key: KvKey, value: unknown): DenoKvHandleAtomic;
  /** Adds a delete. */
  delete(key: KvKey): DenoKvHandleAtomic;
  /** Commits. */
  commit(): Promise<{ ok: boolean; versionstamp?: string }>;
}

/**
 * The subset of `Deno.Kv` (and of `@deno/kv`'s `Kv`) this adapter uses. Declared here so that
 * type checkers without Deno's types accept the module.
 */
export interface DenoKvHandle {
  /** Reads one key. */
  get(key: KvKey): Promise<DenoKvHandleEntry>;
  /** Reads up to 10 keys at one point. */
  getMany(keys: KvKey[]): Promise<DenoKvHandleEntry[]>;
  /** Lists entries. */
  list(
    selector: KvListSelector,
    options?: { limit?: number; reverse?: boolean; batchSize?: number },
  ): AsyncIterable<DenoKvHandleEntry>;
  /** Starts an atomic operation. */
  atomic(): DenoKvHandleAtomic;
  /** Closes the handle. */
  close(): void;
}

/** Which implementation runs a {@link DenoKv}. */
export type DenoKvImplementation = "Deno.openKv" | "@deno/kv" | "custom";

/** Options of {@link DenoKv.open}. */
export interface DenoKvOptions {
  /**
   * `"auto"`: `Deno.openKv` when available, else `@deno/kv`. `"deno"` or `"npm"` force one.
   * @default "auto"
   */
  implementation?: "auto" | "deno" | "npm";
  /**
   * Access token of a KV Connect server, for `@deno/kv` (Node, Bun). `Deno.openKv` reads the
   * `DENO_KV_ACCESS_TOKEN` environment variable instead.
   */
  accessToken?: string;
}

/** Declared facts about a handle passed to {@link DenoKv.fromHandle}. */
export interface DenoKvHandleOptions {
  /** Who sees the data. @default "machine" */
  scope?: KvScope;
  /** Whether resolved commits are durable. @default true */
  durable?: boolean;
  /** Most checks the engine accepts per commit. @default 10 */
  maxChecks?: number;
  /** Whether `close()` closes the handle. @default false */
  closeHandle?: boolean;
}

const NAME = "deno-kv";
const MAX_TOTAL_MUTATION_BYTES = 819200;
const MAX_TOTAL_KEY_BYTES = 81920;
const GET_MANY_CHUNK = 10;
const VERSIONSTAMP = /^[0-9a-f]{20}$/;

interface DenoGlobal {
  openKv?: (path?: string) => Promise<DenoKvHandle>;
}

function denoGlobal(): DenoGlobal | undefined {
  return (globalThis as { Deno?: DenoGlobal }).Deno;
}

type NpmOpenKv = (path: string, options?: Record<string, unknown>) => Promise<DenoKvHandle>;

async function loadNpm(): Promise<NpmOpenKv> {
  // Non-literal specifiers: loaded only when used; Deno without node_modules needs "npm:".
  const specifiers = denoGlobal() ? ["@deno/kv", "npm:@deno/kv"] : ["@deno/kv"];
  let last: unknown;
  for (const specifier of specifiers) {
    try {
      const mod = await import(specifier) as { openKv: NpmOpenKv };
      return mod.openKv;
    } catch (e) {
      last = e;
    }
  }
  throw new StorageError(NAME, "open", "the @deno/kv package is not installed (npm install @deno/kv)", {
    cause: last,
  });
}

function scopeOf(path: string): KvScope {
  if (/^https?:\/\//i.test(path)) return "cluster";
  return path === ":memory:" ? "process" : "machine";
}

function plainBytes(v: Uint8Array): Uint8Array {
  return v.constructor === Uint8Array ? v : new Uint8Array(v);
}

function plainKey(key: readonly unknown[]): KvKeyPart[] {
  return key.map((p) => (p instanceof Uint8Array ? plainBytes(p) : p)) as KvKeyPart[];
}

/** Deno KV stores bigints of at most 255 bytes (`@deno/kv` silently writes a broken key beyond). */
function checkKeyParts(key: KvKey): void {
  for (const p of key) {
    if (typeof p === "bigint" && (p < 0n ? -p : p).toString(16).length > 510) {
      throw new TypeError("Invalid key part: Deno KV cannot store a bigint wider than 255 bytes");
    }
  }
}

/** Validates a key as every adapter does (TypeError), plus Deno KV's own bigint limit. */
function validKey(key: KvKey): Uint8Array {
  const bytes = encodeKey(key);
  checkKeyParts(key);
  return bytes;
}

function message(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0];
}

function batchSizes(batch: AtomicBatch): { total: number; keys: number } {
  let total = 0, keys = 0;
  for (const c of batch.checks) {
    total += c.keyBytes.length;
    keys += c.keyBytes.length;
  }
  for (const m of batch.mutations) {
    total += m.keyBytes.length + (m.type === "set" ? m.value.length : 0);
    keys += m.keyBytes.length;
  }
  return { total, keys };
}

/**
 * An AtomicKv store over a Deno KV database (local file, memory, or KV Connect).
 *
 * @example Exactly one of two racing claims wins
 * ```ts
 * import { DenoKv } from "@kvq/kvq/deno-kv";
 * const kv = await DenoKv.open(":memory:");
 * const claim = () => kv.atomic().check(["lock"], null).set(["lock"], new Uint8Array([1])).commit();
 * const [a, b] = await Promise.all([claim(), claim()]);
 * console.log(a.ok !== b.ok); // true
 * await kv.close();
 * ```
 */
export class DenoKv implements AtomicKv {
  /** {@inheritDoc AtomicKv.info} */
  readonly info: KvInfo;
  /** Which implementation runs the database. */
  readonly implementation: DenoKvImplementation;
  readonly #kv: DenoKvHandle;
  readonly #closeHandle: boolean;
  readonly #inflight = new Set<Promise<unknown>>();
  #closed = false;

  /**
   * Opens a Deno KV database.
   *
   * @param path A file path, `":memory:"`, or a KV Connect URL (`https://...`).
   * @param options Implementation choice and KV Connect access token.
   *
   * @example
   * ```ts
   * import { DenoKv } from "@kvq/kvq/deno-kv";
   * const kv = await DenoKv.open(":memory:");
   * console.log(kv.info.maxValueBytes); // 65536
   * await kv.close();
   * ```
   */
  static async open(path: string, options: DenoKvOptions = {}): Promise<DenoKv> {
    if (typeof path !== "string" || path === "") {
      throw new TypeError(
        'Cannot open deno-kv store: path must be a file path, ":memory:" or a KV Connect URL',
      );
    }
    const want = options.implementation ?? "auto";
    const deno = denoGlobal();
    const native = want !== "npm" && typeof deno?.openKv === "function";
    if (want === "deno" && !native) {
      throw new TypeError(
        'Cannot open deno-kv store with implementation "deno": Deno.openKv is not available ' +
          "(not Deno, or run without --unstable-kv)",
      );
    }
    let handle: DenoKvHandle;
    try {
      if (native) {
        handle = await deno!.openKv!(path);
      } else {
        const openKv = await loadNpm();
        const bun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
        const noV8 = (): never => {
          throw new TypeError("kvq stores only Uint8Array values; found a V8-serialized value");
        };
        handle = await openKv(path, {
          ...(options.accessToken ? { accessToken: options.accessToken } : {}),
          // Bun's v8 serializer is not V8's; kvq never stores V8-encoded values anyway.
          ...(bun ? { encodeV8: noV8, decodeV8: noV8 } : {}),
        });
      }
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError(NAME, "open", `cannot open ${path}: ${message(e)}`, { cause: e });
    }
    return new DenoKv(handle, {
      implementation: native ? "Deno.openKv" : "@deno/kv",
      scope: scopeOf(path),
      durable: path !== ":memory:",
      maxChecks: native && scopeOf(path) !== "cluster" ? 100 : 10,
      closeHandle: true,
    });
  }

  /**
   * Wraps a Deno KV handle opened by the caller (`await Deno.openKv(...)` or `@deno/kv`'s
   * `openKv`). Only `Uint8Array` values may be stored under the keys kvq uses.
   *
   * @param handle The open handle.
   * @param options What the handle offers.
   *
   * @example
   * ```ts
   * import { DenoKv } from "@kvq/kvq/deno-kv";
   * const handle = await Deno.openKv(":memory:");
   * const kv = DenoKv.fromHandle(handle, { scope: "process", durable: false, maxChecks: 100 });
   * await kv.close();
   * handle.close();
   * ```
   */
  static fromHandle(handle: DenoKvHandle, options: DenoKvHandleOptions = {}): DenoKv {
    return new DenoKv(handle, { ...options, implementation: "custom" });
  }

  /** Use {@link DenoKv.open} or {@link DenoKv.fromHandle}. */
  private constructor(
    handle: DenoKvHandle,
    options: DenoKvHandleOptions & { implementation: DenoKvImplementation },
  ) {
    this.#kv = handle;
    this.implementation = options.implementation;
    this.#closeHandle = options.closeHandle ?? false;
    this.info = {
      name: NAME,
      maxValueBytes: 65536,
      maxKeyBytes: 2048,
      maxMutations: 1000,
      maxChecks: options.maxChecks ?? 10,
      scope: options.scope ?? "machine",
      durable: options.durable ?? true,
      watch: false,
    };
  }

  #open(operation: string): void {
    if (this.#closed) throw new StoreClosedError(NAME, operation);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    const done = () => this.#inflight.delete(p);
    p.then(done, done);
    return p;
  }

  #error(operation: string, e: unknown): Error {
    if (e instanceof StorageError || e instanceof LimitError) return e;
    if (this.#closed) return new StoreClosedError(NAME, operation);
    return new StorageError(NAME, operation, message(e), { cause: e });
  }

  #entry(key: KvKey, e: DenoKvHandleEntry): KvEntry | null {
    if (e.versionstamp === null) return null;
    if (!(e.value instanceof Uint8Array)) {
      throw new StorageError(NAME, "read", `the value at this key is not bytes (${typeof e.value})`);
    }
    return { key, value: plainBytes(e.value), versionstamp: e.versionstamp };
  }

  /** {@inheritDoc AtomicKv.get} */
  get(key: KvKey): Promise<KvEntry | null> {
    try {
      this.#open("get");
      validKey(key);
      if (key.length === 0) return Promise.resolve(null); // Deno KV cannot store the empty key
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#track(
      this.#kv.get(key).then(
        (e) => this.#entry([...key], e),
        (e) => {
          throw this.#error("get", e);
        },
      ),
    );
  }

  /**
   * {@inheritDoc AtomicKv.getMany}
   *
   * Deno KV reads at most 10 keys at one point. Longer lists are read in chunks of 10 twice; the
   * result is returned when both passes agree on every versionstamp (so every present key was
   * unchanged across the moment the first pass ended), else it retries. A key created and
   * deleted again between the passes reads as absent.
   */
  getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    try {
      this.#open("getMany");
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#track(this.#getMany(keys));
  }

  async #readChunks(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    const out: (KvEntry | null)[] = [];
    for (let i = 0; i < keys.length; i += GET_MANY_CHUNK) {
      const chunk = keys.slice(i, i + GET_MANY_CHUNK);
      const live = chunk.filter((k) => k.length > 0);
      let res: DenoKvHandleEntry[];
      try {
        res = live.length ? await this.#kv.getMany(live as KvKey[]) : [];
      } catch (e) {
        throw this.#error("getMany", e);
      }
      let j = 0;
      for (const k of chunk) out.push(k.length === 0 ? null : this.#entry([...k], res[j++]));
    }
    return out;
  }

  async #getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    for (const k of keys) {
      if (!Array.isArray(k)) throw new TypeError("Invalid key: expected an array of key parts");
    }
    if (keys.length <= GET_MANY_CHUNK) return this.#readChunks(keys);
    for (let attempt = 0;; attempt++) {
      const first = await this.#readChunks(keys);
      const second = await this.#readChunks(keys);
      if (first.every((e, i) => (e?.versionstamp ?? null) === (second[i]?.versionstamp ?? null))) {
        return first;
      }
      if (attempt >= 20) {
        throw new StorageError(
          NAME,
          "getMany",
          `could not read ${keys.length} keys at one point: too many writes`,
        );
      }
    }
  }

  /** {@inheritDoc AtomicKv.list} */
  list(selector: KvListSelector, options: KvListOptions = {}): AsyncIterable<KvEntry> {
    this.#open("list");
    return this.#list(selector, options);
  }

  async *#list(selector: KvListSelector, options: KvListOptions): AsyncGenerator<KvEntry> {
    const limit = options.limit;
    if (limit !== undefined && !(limit >= 0)) throw new RangeError(`Invalid list limit: ${limit}`);
    if (limit === 0) return;
    selectorRange(selector); // validates the selector the way every adapter does (TypeError)
    const sel = selector as { prefix?: KvKey; start?: KvKey; end?: KvKey };
    for (const k of [sel.prefix, sel.start, sel.end]) if (k) checkKeyParts(k);
    const clean: KvListSelector = sel.prefix === undefined
      ? { start: sel.start!, end: sel.end! }
      : sel.start !== undefined && sel.end !== undefined
      ? { start: sel.start, end: sel.end }
      : sel.start !== undefined
      ? { prefix: sel.prefix, start: sel.start }
      : sel.end !== undefined
      ? { prefix: sel.prefix, end: sel.end }
      : { prefix: sel.prefix };
    // The limit is counted here: @deno/kv lists the prefix key itself in reverse prefix scans,
    // and that entry is dropped below.
    const iter = this.#kv.list(clean, {
      reverse: options.reverse ?? false,
      batchSize: Math.min((limit ?? 500) + 1, 500),
    });
    const prefixLength = "prefix" in clean ? clean.prefix.length : -1;
    let remaining = limit ?? Infinity;
    try {
      for await (const e of iter) {
        this.#open("list");
        if (e.key.length === prefixLength) continue;
        const entry = this.#entry(plainKey(e.key), e);
        if (!entry) continue;
        yield entry;
        if (--remaining <= 0) return;
      }
    } catch (e) {
      if (e instanceof TypeError || e instanceof RangeError) throw e;
      throw this.#error("list", e);
    }
  }

  /** {@inheritDoc AtomicKv.atomic} */
  atomic(): AtomicOp {
    return new BufferedAtomicOp(this.info, (batch) => {
      this.#open("commit");
      return this.#track(this.#commit(batch));
    });
  }

  async #commit(batch: AtomicBatch): Promise<KvCommitResult> {
    // A versionstamp Deno KV could never have written: the check fails, nothing is applied.
    if (batch.checks.some((c) => c.versionstamp !== null && !VERSIONSTAMP.test(c.versionstamp))) {
      return { ok: false };
    }
    const sizes = batchSizes(batch);
    if (sizes.total > MAX_TOTAL_MUTATION_BYTES) {
      throw new LimitError(NAME, "payloadBytes", sizes.total, MAX_TOTAL_MUTATION_BYTES);
    }
    if (this.implementation === "Deno.openKv" && sizes.keys > MAX_TOTAL_KEY_BYTES) {
      throw new LimitError(NAME, "keyBytes", sizes.keys, MAX_TOTAL_KEY_BYTES);
    }
    for (const m of batch.mutations) {
      if (m.key.length === 0) throw new TypeError("Invalid key: Deno KV cannot store the empty key []");
      checkKeyParts(m.key);
    }
    for (const c of batch.checks) checkKeyParts(c.key);
    let res: { ok: boolean; versionstamp?: string };
    try {
      const op = this.#kv.atomic();
      for (const c of batch.checks) {
        if (c.key.length === 0) {
          if (c.versionstamp === null) continue; // the empty key never exists
          return { ok: false };
        }
        op.check({ key: c.key, versionstamp: c.versionstamp });
      }
      for (const m of batch.mutations) {
        if (m.type === "set") op.set(m.key, m.value);
        else op.delete(m.key);
      }
      res = await op.commit();
    } catch (e) {
      throw this.#commitError(batch, e);
    }
    return res.ok ? { ok: true, versionstamp: String(res.versionstamp) } : { ok: false };
  }

  #commitError(batch: AtomicBatch, e: unknown): Error {
    const text = message(e);
    const sizes = batchSizes(batch);
    const longest = (pick: (bytes: number, value: number) => number) =>
      batch.mutations.reduce(
        (n, m) => Math.max(n, pick(m.keyBytes.length, m.type === "set" ? m.value.length : 0)),
        0,
      );
    if (/requires more than 255 bytes/i.test(text)) {
      return new TypeError("Invalid key part: Deno KV cannot store a bigint wider than 255 bytes", {
        cause: e,
      });
    }
    if (/value too large|ValueTooLong/i.test(text)) {
      return new LimitError(NAME, "valueBytes", longest((_, v) => v), 65536, { cause: e });
    }
    if (/key too large|KeyTooLong/i.test(text)) {
      return new LimitError(NAME, "keyBytes", longest((k) => k), 2048, { cause: e });
    }
    if (/too many mutations|TooManyMutations/i.test(text)) {
      return new LimitError(NAME, "mutations", batch.mutations.length, 1000, { cause: e });
    }
    if (/too many checks|TooManyChecks/i.test(text)) {
      return new LimitError(NAME, "checks", batch.checks.length, this.info.maxChecks, { cause: e });
    }
    if (/total key size too large/i.test(text)) {
      return new LimitError(NAME, "keyBytes", sizes.keys, MAX_TOTAL_KEY_BYTES, { cause: e });
    }
    if (/total mutation size too large|AtomicWriteTooLarge/i.test(text)) {
      return new LimitError(NAME, "payloadBytes", sizes.total, MAX_TOTAL_MUTATION_BYTES, { cause: e });
    }
    return this.#error("commit", e);
  }

  /** {@inheritDoc AtomicKv.close} */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inflight]);
    if (!this.#closeHandle) return;
    try {
      this.#kv.close();
    } catch (e) {
      throw new StorageError(NAME, "close", message(e), { cause: e });
    }
  }
}

/**
 * Opens a Deno KV store: shorthand for {@link DenoKv.open}.
 *
 * @param path A file path, `":memory:"`, or a KV Connect URL.
 * @param options Implementation choice and access token.
 *
 * @example
 * ```ts
 * import { openDenoKv } from "@kvq/kvq/deno-kv";
 * const kv = await openDenoKv(":memory:");
 * console.log(kv.info.name); // "deno-kv"
 * await kv.close();
 * ```
 */
export function openDenoKv(path: string, options?: DenoKvOptions): Promise<DenoKv> {
  return DenoKv.open(path, options);
}
