// `node:test` for the browser page: `describe` and `test` record the cases the suites register
// (conformance/mod.ts and conformance/engine/ call them), and `runRegistered` runs them one by one.
// Only what the suites use is here.

/** Options of a test, as the suites pass them. */
export interface TestOptions {
  readonly skip?: string | boolean;
  readonly timeout?: number;
}

/** A registered test: its full name (suites joined by " > "), options and body. */
export interface Registered {
  readonly name: string;
  readonly options: TestOptions;
  readonly fn: () => unknown;
}

/** What running one test gave. */
export interface Outcome {
  readonly name: string;
  readonly status: "pass" | "fail" | "skip";
  readonly error?: string;
  readonly ms: number;
}

const registered: Registered[] = [];
const path: string[] = [];

/** Registers the tests `fn` registers under the suite `name` (synchronously, as the suites do). */
export function describe(name: string, fn: () => void): void {
  path.push(name);
  try {
    fn();
  } finally {
    path.pop();
  }
}

/** Registers one test. */
export function test(name: string, a: TestOptions | (() => unknown), b?: () => unknown): void {
  const options = typeof a === "function" ? {} : a;
  const fn = typeof a === "function" ? a : b!;
  registered.push({ name: [...path, name].join(" > "), options, fn });
}

/** The full names of the registered tests, in registration order. */
export function registeredNames(): string[] {
  return registered.map((r) => r.name);
}

/** Runs every registered test `select` picks, one at a time, each under its timeout. */
export async function runRegistered(select: (name: string) => boolean): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const t of registered.filter((r) => select(r.name))) {
    const started = performance.now();
    let outcome: Outcome;
    if (t.options.skip) {
      outcome = { name: t.name, status: "skip", error: String(t.options.skip), ms: 0 };
    } else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(t.fn),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out`)), t.options.timeout ?? 60_000);
          }),
        ]);
        outcome = { name: t.name, status: "pass", ms: performance.now() - started };
      } catch (e) {
        const error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(e);
        outcome = { name: t.name, status: "fail", error, ms: performance.now() - started };
      } finally {
        clearTimeout(timer);
      }
    }
    outcomes.push(outcome);
  }
  return outcomes;
}
