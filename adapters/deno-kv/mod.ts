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
 * How keys are stored: every kvq key is stored as a Deno KV key of ONE `Uint8Array` part that
 * holds kvq's own encoding of the key (`encodeKey`). Deno KV orders a single bytes part bytewise,
 * so the stored order is exactly kvq's key order, and every key the contract allows round-trips:
 * bigints of any width (native Deno KV keys take at most 255 bytes per bigint), `-0` apart from
 * `0` (`@deno/kv` writes a native `-0` as `0`), and the empty key `[]`. The price: data written
 * by this adapter is read back by this adapter only. A kvq key such as `["kvq", "job", ...]` is not
 * visible as that tuple in other Deno KV tools (they see one opaque bytes part), and keys other
 * programs write in the same database are not visible to kvq (`list` skips every key that is not
 * a single bytes part).
 *
 * Limits, measured against the engines (Deno 2.9 `Deno.openKv`, `@deno/kv` 0.14): values up to
 * 65536 bytes; Deno KV keys up to 2048 bytes, which for the stored bytes part is 1 tag byte, the
 * content with every 0x00 escaped as two bytes, and a terminator. An encoded kvq key always starts
 * with a non-zero type tag, so a key of n encoded bytes is stored in at most 2 + n + (n - 1)
 * bytes: `maxKeyBytes` is 1023, the largest n that always fits. 1000 mutations per commit, 100
 * checks per commit with `Deno.openKv` but only 10 with `@deno/kv` (and for remote databases,
 * whose server may be older), at most 819200 bytes of stored keys plus values per commit and
 * (Deno.openKv) 81920 bytes of stored keys per commit; `getMany` reads at most 10 keys per engine
 * call. Exceeding a limit rejects with `LimitError`.
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

import { CorruptionError, LimitError, StorageError, StoreClosedError } from "../../src/errors.ts";
import {
  type AtomicBatch,
  type AtomicKv,
  type AtomicOp,
  BufferedAtomicOp,
  checkListOptions,
  compareBytes,
  decodeKey,
  encodeKey,
  type KvCommitResult,
  type KvEntry,
  type KvInfo,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
  type KvScope,
  selectorRange,
} from "../../src/kv.ts";
import { plainBytes } from "../_kit/bytes.ts";
import { errorMessage } from "../_kit/errors.ts";

/** An entry as a Deno KV handle returns it. */
export interface DenoKvHandleEntry {
  /** The key. */
  readonly key: readonly unknown[];
  /** The value (`null` when absent). */
  readonly value: unknown;
  /** The versionstamp (`null` when absent). */
  readonly versionstamp: string | null;
}

/**
 * A native Deno KV key as this adapter passes it to the handle: one `Uint8Array` part holding
 * kvq's encoding of the key.
 */
export type DenoKvNativeKey = readonly [Uint8Array];

/** The atomic operation of a Deno KV handle (the subset kvq uses). */
export interface DenoKvHandleAtomic {
  /** Adds checks. */
  check(...checks: { key: DenoKvNativeKey; versionstamp: string | null }[]): DenoKvHandleAtomic;
  /** Adds a set. */
  set(key: DenoKvNativeKey, value: unknown): DenoKvHandleAtomic;
  /** Adds a delete. */
  delete(key: DenoKvNativeKey): DenoKvHandleAtomic;
  /** Commits. */
  commit(): Promise<{ ok: boolean; versionstamp?: string }>;
}

/**
 * The subset of `Deno.Kv` (and of `@deno/kv`'s `Kv`) this adapter uses. Declared here so that
 * type checkers without Deno's types accept the module.
 */
export interface DenoKvHandle {
  /** Reads one key. */
  get(key: DenoKvNativeKey): Promise<DenoKvHandleEntry>;
  /** Reads up to 10 keys at one point. */
  getMany(keys: DenoKvNativeKey[]): Promise<DenoKvHandleEntry[]>;
  /** Lists the entries in `[start, end)`. */
  list(
    selector: { start: DenoKvNativeKey; end: DenoKvNativeKey },
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
  /** See {@link DenoKvHandleOptions.busyTimeoutMs}. @default 5000 */
  busyTimeoutMs?: number;
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
  /**
   * How long a commit that finds the database busy (`database is locked`: another process is
   * writing the same file) is retried, with a growing, jittered backoff (1 ms doubling to 50 ms),
   * before it rejects with `StorageError` code `"BUSY"`. A busy commit applied nothing, so a retry
   * never applies it twice. 0: no retry.
   * @default 5000
   */
  busyTimeoutMs?: number;
}

const NAME = "deno-kv";
/**
 * Largest encoded kvq key that always fits Deno KV's 2048-byte write limit as one bytes part:
 * stored as 1 tag byte + the content with each 0x00 doubled + 1 terminator, and the content's
 * first byte (a type tag) is never 0x00, so n bytes take at most 2 + n + (n - 1) = 2n + 1 bytes.
 */
const MAX_KEY_BYTES = 1023;
const MAX_TOTAL_MUTATION_BYTES = 819200;
const MAX_TOTAL_KEY_BYTES = 81920;
const GET_MANY_CHUNK = 10;
const VERSIONSTAMP = /^[0-9a-f]{20}$/;
const BUSY = /database is locked|SQLITE_BUSY|database table is locked/i;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;

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

/** The size of the Deno KV key `[bytes]`: tag, content with 0x00 escaped as 0x00 0xff, terminator. */
/** The busy retry bound in ms; throws RangeError for a bad one. */
function busyTimeout(v: number | undefined): number {
  const ms = v ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!(typeof ms === "number" && ms >= 0)) {
    throw new RangeError(`Cannot open deno-kv store: busyTimeoutMs must be 0 or more, got ${v}`);
  }
  return ms;
}

function storedKeySize(bytes: Uint8Array): number {
  let n = bytes.length + 2;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) n++;
  return n;
}

/**
 * A list bound that fits Deno KV's read-key limit and selects the same stored keys. Every stored
 * key is at most `MAX_KEY_BYTES` long; for such keys k and a longer bound b with t = its first
 * `MAX_KEY_BYTES` bytes, `k >= b` iff `k > t` iff `k >= t + [0x00]`, and `k < b` iff `k <= t`
 * iff `k < t + [0x00]`. So both kinds of bound become `t + [0x00]` (stored in at most 2049 bytes,
 * what Deno KV accepts in a list selector).
 */
function listBound(bytes: Uint8Array): Uint8Array {
  if (bytes.length <= MAX_KEY_BYTES) return bytes;
  const out = new Uint8Array(MAX_KEY_BYTES + 1);
  out.set(bytes.subarray(0, MAX_KEY_BYTES));
  return out;
}

function message(e: unknown): string {
  return errorMessage(e).split("\n")[0];
}

function batchSizes(batch: AtomicBatch): { total: number; keys: number } {
  let total = 0, keys = 0;
  for (const c of batch.checks) {
    const size = storedKeySize(c.keyBytes);
    total += size;
    keys += size;
  }
  for (const m of batch.mutations) {
    const size = storedKeySize(m.keyBytes);
    total += size + (m.type === "set" ? m.value.length : 0);
    keys += size;
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
  readonly #busyTimeoutMs: number;
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
    busyTimeout(options.busyTimeoutMs); // a bad bound is refused before anything is opened
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
      busyTimeoutMs: options.busyTimeoutMs,
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
   * console.log(kv.info.scope, kv.info.maxChecks); // process 100
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
    this.#busyTimeoutMs = busyTimeout(options.busyTimeoutMs);
    this.info = {
      name: NAME,
      maxValueBytes: 65536,
      maxKeyBytes: MAX_KEY_BYTES,
      maxMutations: 1000,
      maxChecks: options.maxChecks ?? 10,
      scope: options.scope ?? "machine",
      durable: options.durable ?? true,
      watch: false,
      readKeys: GET_MANY_CHUNK,
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
    return { key, value: plainBytes(e.value, NAME), versionstamp: e.versionstamp };
  }

  /** {@inheritDoc AtomicKv.get} */
  get(key: KvKey): Promise<KvEntry | null> {
    let bytes: Uint8Array;
    try {
      this.#open("get");
      bytes = encodeKey(key);
    } catch (e) {
      return Promise.reject(e);
    }
    // A key longer than maxKeyBytes can never have been written.
    if (bytes.length > MAX_KEY_BYTES) return Promise.resolve(null);
    return this.#track(
      this.#kv.get([bytes]).then(
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
    let encoded: Uint8Array[];
    try {
      this.#open("getMany");
      encoded = keys.map((k) => encodeKey(k));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#track(this.#getMany(keys, encoded));
  }

  async #readChunks(keys: readonly KvKey[], encoded: readonly Uint8Array[]): Promise<(KvEntry | null)[]> {
    const out: (KvEntry | null)[] = [];
    for (let i = 0; i < keys.length; i += GET_MANY_CHUNK) {
      const chunk = encoded.slice(i, i + GET_MANY_CHUNK);
      const live = chunk.filter((b) => b.length <= MAX_KEY_BYTES).map((b): DenoKvNativeKey => [b]);
      let res: DenoKvHandleEntry[];
      try {
        res = live.length ? await this.#kv.getMany(live) : [];
      } catch (e) {
        throw this.#error("getMany", e);
      }
      let j = 0;
      chunk.forEach((b, n) => {
        out.push(b.length > MAX_KEY_BYTES ? null : this.#entry([...keys[i + n]], res[j++]));
      });
    }
    return out;
  }

  async #getMany(keys: readonly KvKey[], encoded: readonly Uint8Array[]): Promise<(KvEntry | null)[]> {
    if (keys.length <= GET_MANY_CHUNK) return this.#readChunks(keys, encoded);
    for (let attempt = 0;; attempt++) {
      const first = await this.#readChunks(keys, encoded);
      const second = await this.#readChunks(keys, encoded);
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
  list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    this.#open("list");
    return this.#list(selector, options);
  }

  async *#list(selector: KvListSelector, options: KvListOptions | undefined): AsyncGenerator<KvEntry> {
    // Both check their argument the way every adapter does (TypeError, RangeError).
    const range = selectorRange(selector);
    const { limit, reverse } = checkListOptions(options);
    if (limit === 0) return;
    const start = listBound(range.start);
    const end = listBound(range.end);
    if (compareBytes(start, end) >= 0) return; // Deno KV rejects start > end; the range is empty
    // Deno KV lists [start, end) of the single-bytes-part keys, in bytewise order (or reverse).
    const iter = this.#kv.list({ start: [start], end: [end] }, {
      reverse,
      batchSize: Math.min(limit, 500),
    });
    let remaining = limit;
    try {
      for await (const e of iter) {
        this.#open("list");
        const part = e.key.length === 1 ? e.key[0] : undefined;
        if (!(part instanceof Uint8Array)) continue; // not written by kvq
        let key: KvKey;
        try {
          key = decodeKey(part);
        } catch (cause) {
          throw new CorruptionError(NAME, "list", `a stored key is not a kvq key: ${message(cause)}`, {
            cause,
          });
        }
        const entry = this.#entry(key, e);
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
    const started = Date.now();
    for (let attempt = 0;; attempt++) {
      let res: { ok: boolean; versionstamp?: string };
      try {
        const op = this.#kv.atomic();
        for (const c of batch.checks) op.check({ key: [c.keyBytes], versionstamp: c.versionstamp });
        for (const m of batch.mutations) {
          if (m.type === "set") op.set([m.keyBytes], m.value);
          else op.delete([m.keyBytes]);
        }
        res = await op.commit();
      } catch (e) {
        if (!BUSY.test(message(e)) || this.#closed) throw this.#commitError(batch, e);
        // Another process holds the write lock; the commit applied nothing. Retry within the bound.
        const waited = Date.now() - started;
        if (waited >= this.#busyTimeoutMs) {
          throw new StorageError(
            NAME,
            "commit",
            `the database stayed busy (${message(e)}) for ${waited} ms over ${attempt + 1} attempts`,
            { cause: e, code: "BUSY" },
          );
        }
        const backoff = Math.min(50, 2 ** attempt) * (0.5 + Math.random());
        await new Promise((r) => setTimeout(r, Math.min(backoff, this.#busyTimeoutMs - waited)));
        continue;
      }
      return res.ok ? { ok: true, versionstamp: String(res.versionstamp) } : { ok: false };
    }
  }

  #commitError(batch: AtomicBatch, e: unknown): Error {
    const text = message(e);
    const sizes = batchSizes(batch);
    const longest = (pick: (bytes: number, value: number) => number) =>
      batch.mutations.reduce(
        (n, m) => Math.max(n, pick(m.keyBytes.length, m.type === "set" ? m.value.length : 0)),
        0,
      );
    if (/value too large|ValueTooLong/i.test(text)) {
      return new LimitError(NAME, "valueBytes", longest((_, v) => v), 65536, { cause: e });
    }
    if (/key too large|KeyTooLong/i.test(text)) {
      return new LimitError(NAME, "keyBytes", longest((k) => k), MAX_KEY_BYTES, { cause: e });
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
