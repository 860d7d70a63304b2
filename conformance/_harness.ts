/**
 * Internal helpers of the conformance suite: the per-case scope (stores, key prefix, cleanup),
 * byte and key helpers, and assertions that tolerate two copies of kvq's error classes.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { AtomicKv, AtomicOp, KvEntry, KvKey, KvKeyPart } from "../src/kv.ts";
import type {
  ConformanceCapabilities,
  ConformanceCapability,
  ConformanceContext,
  ConformanceOptions,
} from "./types.ts";

/** A case as written in a concern file. */
export interface CaseDef {
  /** "subject + behaviour". */
  readonly name: string;
  /** Capabilities the store must declare. */
  readonly requires?: readonly ConformanceCapability[];
  /** The body. */
  run(scope: Scope): Promise<void>;
}

/** Everything one case owns: its context id, its key prefix and the stores it opened. */
export class Scope {
  /** The context handed to `open`. */
  readonly context: ConformanceContext;
  /** The case's own key prefix; every key the case writes starts with it. */
  readonly prefix: KvKey;
  /** What the caller told the suite to expect the store to declare. */
  readonly expectedCapabilities: ConformanceCapabilities;
  readonly #options: ConformanceOptions;
  readonly #requires: readonly ConformanceCapability[];
  readonly #open = new Set<AtomicKv>();

  /** Creates the scope of one case run. */
  constructor(
    options: ConformanceOptions,
    id: string,
    prefix: KvKey,
    requires: readonly ConformanceCapability[],
  ) {
    this.#options = options;
    this.context = { id };
    this.prefix = prefix;
    this.#requires = requires;
    this.expectedCapabilities = options.capabilities ?? {};
  }

  /** Opens a store for this case (again with the same context on a reopen). */
  async open(): Promise<AtomicKv> {
    const kv = await this.#options.open(this.context);
    this.#open.add(kv);
    if (!kv || typeof kv.atomic !== "function" || !kv.info) {
      throw new TypeError(`${this.#options.name}: open() did not return an AtomicKv`);
    }
    for (const cap of this.#requires) {
      assert.equal(
        kv.info[cap],
        true,
        `this case needs a store that declares info.${cap}, and "${kv.info.name}" declares ${kv.info[cap]}`,
      );
    }
    return kv;
  }

  /** Closes a store this case opened. */
  async close(kv: AtomicKv): Promise<void> {
    this.#open.delete(kv);
    await kv.close();
  }

  /** A key under the case's prefix. */
  key(...parts: KvKeyPart[]): KvKey {
    return [...this.prefix, ...parts];
  }

  /** Closes what is still open and lets the caller remove the store's files. */
  async dispose(): Promise<void> {
    let error: unknown = undefined;
    for (const kv of this.#open) {
      try {
        await kv.close();
      } catch (e) {
        error ??= e;
      }
    }
    this.#open.clear();
    try {
      await this.#options.destroy?.(this.context);
    } catch (e) {
      error ??= e;
    }
    if (error !== undefined) throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Bytes and values.

/** Bytes from numbers. */
export function u8(...bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

/** A 4-byte big-endian encoding of `n`. */
export function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

/** Reads {@link u32}. */
export function readU32(bytes: Uint8Array): number {
  assert.equal(bytes.length, 4, `expected a 4-byte value, got ${bytes.length} bytes`);
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
}

/** `length` bytes of a pattern that differs at every position modulo 251. */
export function pattern(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed) % 251;
  return out;
}

/** True when both are the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Asserts a value is a Uint8Array holding exactly `expected`. */
export function assertBytes(actual: unknown, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what}: expected a Uint8Array, got ${describe(actual)}`);
  if (sameBytes(actual, expected)) return;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  assert.fail(
    `${what}: expected ${expected.length} bytes, got ${actual.length}; first difference at byte ${i} ` +
      `(expected ${expected[i]}, got ${actual[i]})`,
  );
}

function describe(v: unknown): string {
  return v === null ? "null" : typeof v === "object" ? (v.constructor?.name ?? "object") : typeof v;
}

// ---------------------------------------------------------------------------------------------
// Keys.

/** True when two key parts are the same part (same type; `Object.is` for numbers). */
export function samePart(a: KvKeyPart, b: KvKeyPart): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && sameBytes(a, b);
  }
  return typeof a === typeof b && Object.is(a, b);
}

/** True when two keys are the same key. */
export function sameKey(a: KvKey, b: KvKey): boolean {
  return a.length === b.length && a.every((p, i) => samePart(p, b[i]));
}

/** A readable form of a key for failure messages. */
export function showKey(key: KvKey): string {
  return "[" + key.map(showPart).join(", ") + "]";
}

function showPart(p: KvKeyPart): string {
  if (p instanceof Uint8Array) return `u8(${[...p].join(",")})`;
  if (typeof p === "bigint") {
    const s = p.toString();
    return (s.length > 24 ? `${s.slice(0, 10)}…(${s.length} digits)` : s) + "n";
  }
  if (typeof p === "number") return Object.is(p, -0) ? "-0" : String(p);
  if (typeof p === "string") {
    return JSON.stringify(p).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
  }
  return String(p);
}

/** Asserts a key equals the expected key, part types included. */
export function assertKey(actual: unknown, expected: KvKey, what: string): void {
  assert.ok(Array.isArray(actual), `${what}: expected a key array, got ${describe(actual)}`);
  assert.ok(sameKey(actual, expected), `${what}: expected key ${showKey(expected)}, got ${showKey(actual)}`);
}

/** Asserts a list of keys equals the expected list, in order. */
export function assertKeyList(actual: readonly KvKey[], expected: readonly KvKey[], what: string): void {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (!sameKey(actual[i], expected[i])) {
      assert.fail(
        `${what}: at position ${i} expected ${showKey(expected[i])}, got ${showKey(actual[i])}` +
          (i > 0 ? ` (after ${showKey(actual[i - 1])})` : ""),
      );
    }
  }
  if (actual.length !== expected.length) {
    const extra = actual.length > expected.length
      ? `unexpected ${showKey(actual[n])}`
      : `missing ${showKey(expected[n])}`;
    assert.fail(`${what}: expected ${expected.length} keys, got ${actual.length}; ${extra}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Store helpers.

/** Commits and asserts success; returns the versionstamp. */
export async function commitOk(op: AtomicOp, what = "commit"): Promise<string> {
  const res = await op.commit();
  assert.equal(res.ok, true, `${what}: expected { ok: true }, got { ok: false }`);
  assert.ok(
    res.ok && typeof res.versionstamp === "string" && res.versionstamp.length > 0,
    `${what}: no versionstamp`,
  );
  return res.versionstamp;
}

/** Commits and asserts a failed check (`{ ok: false }`). */
export async function commitFails(op: AtomicOp, what: string): Promise<void> {
  const res = await op.commit();
  assert.equal(res.ok, false, `${what}: expected { ok: false } (a check should fail), got { ok: true }`);
}

/** Reads a whole list into an array. */
export async function collect(iter: AsyncIterable<KvEntry>): Promise<KvEntry[]> {
  const out: KvEntry[] = [];
  for await (const e of iter) out.push(e);
  return out;
}

/** Writes entries, in atomic operations of at most `chunk` mutations. */
export async function writeAll(
  kv: AtomicKv,
  entries: readonly (readonly [KvKey, Uint8Array])[],
  chunk = 25,
): Promise<void> {
  const size = Math.max(1, Math.min(chunk, kv.info.maxMutations));
  for (let i = 0; i < entries.length; i += size) {
    const op = kv.atomic();
    for (const [k, v] of entries.slice(i, i + size)) op.set(k, v);
    await commitOk(op, `writing entries ${i}..${Math.min(i + size, entries.length) - 1}`);
  }
}

/** A deterministic shuffle (so a failure reproduces). */
export function shuffled<T>(items: readonly T[], seed = 42): T[] {
  const out = [...items];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** True when `e` is an instance of `cls`, or of a same-named class from another copy of kvq. */
export function isError(e: unknown, cls: abstract new (...args: never[]) => Error): boolean {
  if (e instanceof cls) return true;
  for (
    let p = e === null || typeof e !== "object" ? null : Object.getPrototypeOf(e);
    p;
    p = Object.getPrototypeOf(p)
  ) {
    if (p.constructor?.name === cls.name) return true;
  }
  return false;
}

/** Asserts `fn` throws or rejects with `cls`, and returns the error. */
export async function rejectsWith(
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  what: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    assert.ok(
      isError(e, cls),
      `${what}: expected ${cls.name}, got ${(e as Error)?.name ?? e}: ${(e as Error)?.message}`,
    );
    return e as Error;
  }
  assert.fail(`${what}: expected a ${cls.name}, but it succeeded`);
}

/** Resolves with `p`, or rejects when it takes longer than `ms`. Clears its timer. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new assert.AssertionError({ message: `${what} (waited ${ms} ms)` })),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** True when `p` settles within `ms`. Clears its timer. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p.then(() => true, () => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
