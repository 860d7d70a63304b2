// `node:assert/strict` for the browser page: the assertions the conformance and engine suites use
// (equal, notEqual, deepEqual, ok, fail, match, rejects, throws, AssertionError), strict semantics.

/** A failed assertion. */
export class AssertionError extends Error {
  /** Creates the error. */
  constructor(options: { message?: string } = {}) {
    super(options.message ?? "assertion failed");
    this.name = "AssertionError";
  }
}

function show(v: unknown): string {
  try {
    return typeof v === "bigint" ? `${v}n` : typeof v === "string" ? JSON.stringify(v) : String(
      v instanceof Uint8Array
        ? `Uint8Array [${[...v].join(", ")}]`
        : JSON.stringify(v, (_, x) =>
          typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? `Uint8Array(${[...x]})` : x) ??
          String(v),
    );
  } catch {
    return String(v);
  }
}

function deepEq(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>;
    if (a.size !== m.size) return false;
    for (const [k, v] of a) if (!m.has(k) || !deepEq(v, m.get(k))) return false;
    return true;
  }
  if (a instanceof Set) {
    const s = b as Set<unknown>;
    if (a.size !== s.size) return false;
    for (const v of a) if (!s.has(v)) return false;
    return true;
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

function failWith(message: string | Error | undefined, fallback: string): never {
  if (message instanceof Error) throw message;
  throw new AssertionError({ message: message ?? fallback });
}

type Expected = (new (...args: never[]) => unknown) | RegExp | ((e: unknown) => unknown) | object;

function matches(e: unknown, expected: Expected | undefined): boolean {
  if (expected === undefined) return true;
  if (expected instanceof RegExp) return expected.test(String((e as Error)?.message ?? e));
  if (typeof expected === "function") {
    // A class (it has a prototype) is an instanceof check; an arrow function is a validator.
    if (expected.prototype !== undefined) return e instanceof (expected as new () => unknown);
    return (expected as (e: unknown) => unknown)(e) === true;
  }
  return Object.entries(expected).every(([k, v]) => {
    const actual = (e as Record<string, unknown>)?.[k];
    return v instanceof RegExp ? v.test(String(actual)) : deepEq(actual, v);
  });
}

type Validator = Expected | string;

/** The `node:assert/strict` default export, as far as the suites use it. */
export interface Assert {
  (value: unknown, message?: string | Error): void;
  AssertionError: typeof AssertionError;
  ok(value: unknown, message?: string | Error): void;
  equal(a: unknown, b: unknown, message?: string | Error): void;
  notEqual(a: unknown, b: unknown, message?: string | Error): void;
  deepEqual(a: unknown, b: unknown, message?: string | Error): void;
  fail(message?: string | Error): never;
  match(s: string, re: RegExp, message?: string | Error): void;
  throws(fn: () => unknown, expected?: Validator, message?: string | Error): void;
  rejects(
    p: Promise<unknown> | (() => Promise<unknown>),
    expected?: Validator,
    message?: string | Error,
  ): Promise<void>;
}

function ok(value: unknown, message?: string | Error): void {
  if (!value) failWith(message, `expected a truthy value, got ${show(value)}`);
}

const assert: Assert = Object.assign(ok, {
  AssertionError,
  ok,
  equal(a: unknown, b: unknown, message?: string | Error): void {
    if (!Object.is(a, b)) failWith(message, `expected ${show(b)}, got ${show(a)}`);
  },
  notEqual(a: unknown, b: unknown, message?: string | Error): void {
    if (Object.is(a, b)) failWith(message, `expected a value other than ${show(b)}`);
  },
  deepEqual(a: unknown, b: unknown, message?: string | Error): void {
    if (!deepEq(a, b)) failWith(message, `expected deep-equal ${show(b)}, got ${show(a)}`);
  },
  fail(message?: string | Error): never {
    return failWith(message, "failed");
  },
  match(s: string, re: RegExp, message?: string | Error): void {
    if (!re.test(s)) failWith(message, `${show(s)} does not match ${re}`);
  },
  throws(fn: () => unknown, expected?: Validator, message?: string | Error): void {
    if (typeof expected === "string") [message, expected] = [expected, undefined];
    try {
      fn();
    } catch (e) {
      if (!matches(e, expected)) failWith(message, `threw ${show(String(e))}, not the expected error`);
      return;
    }
    failWith(message, "expected a throw");
  },
  async rejects(
    p: Promise<unknown> | (() => Promise<unknown>),
    expected?: Validator,
    message?: string | Error,
  ): Promise<void> {
    if (typeof expected === "string") [message, expected] = [expected, undefined];
    try {
      await (typeof p === "function" ? p() : p);
    } catch (e) {
      if (!matches(e, expected)) {
        failWith(message, `rejected with ${show(String(e))}, not the expected error`);
      }
      return;
    }
    failWith(message, "expected a rejection");
  },
});

export default assert;
