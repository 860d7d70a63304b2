/**
 * Small async helpers (the parts of `@std/async` kvq needs; JSR is out of reach): a deferred
 * promise, a concurrency-limited map, and a deadline on the injectable clock.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";
import { TimeoutError } from "./errors.ts";

/** A promise with its `resolve` and `reject` functions. */
export interface Deferred<T> {
  /** The promise. */
  promise: Promise<T>;
  /** Resolves the promise (later calls, and calls after `reject`, do nothing). */
  resolve(value: T): void;
  /** Rejects the promise (later calls, and calls after `resolve`, do nothing). */
  reject(reason: unknown): void;
}

/**
 * Creates a promise that is settled from outside.
 *
 * @returns The promise with its `resolve` and `reject`.
 *
 * @example Settle from another callback
 * ```ts
 * import { deferred } from "./async.ts";
 * const d = deferred<number>();
 * queueMicrotask(() => d.resolve(42));
 * console.log(await d.promise); // 42
 * ```
 */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight, and resolves to the results in
 * input order. On the first rejection no new item starts; the returned promise rejects with that
 * error once the calls already in flight have settled (so no work is left running behind it).
 *
 * @param concurrency The most calls in flight, an integer >= 1 (or `Infinity`).
 * @param items The inputs; read lazily, one at a time as slots free up.
 * @param fn The async function; it also receives the item's index.
 * @returns The results, in the order of `items`.
 * @throws {RangeError} When `concurrency` is not an integer >= 1 or `Infinity`.
 *
 * @example Fetch at most 2 at a time
 * ```ts
 * import { pooledMap } from "./async.ts";
 * const doubled = await pooledMap(2, [1, 2, 3], async (n) => n * 2);
 * console.log(doubled); // [2, 4, 6]
 * ```
 */
export function pooledMap<T, R>(
  concurrency: number,
  items: Iterable<T>,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!(concurrency === Infinity || (Number.isSafeInteger(concurrency) && concurrency >= 1))) {
    return Promise.reject(
      new RangeError(`Cannot run pooledMap: concurrency must be an integer >= 1, got ${concurrency}`),
    );
  }
  return new Promise<R[]>((resolve, reject) => {
    const results: R[] = [];
    const iterator = items[Symbol.iterator]();
    let index = 0;
    let active = 0;
    let done = false;
    let failed = false;
    let error: unknown;
    const finish = () => {
      if (active > 0) return;
      if (failed) reject(error);
      else if (done) resolve(results);
    };
    const fail = (e: unknown) => {
      if (!failed) {
        failed = true;
        error = e;
      }
    };
    const launch = () => {
      while (!failed && !done && active < concurrency) {
        let next: IteratorResult<T>;
        try {
          next = iterator.next();
        } catch (e) {
          fail(e);
          break;
        }
        if (next.done) {
          done = true;
          break;
        }
        const i = index++;
        active++;
        let call: Promise<R>;
        try {
          call = Promise.resolve(fn(next.value, i));
        } catch (e) {
          call = Promise.reject(e);
        }
        call.then(
          (value) => {
            results[i] = value;
          },
          fail,
        ).finally(() => {
          active--;
          launch();
          finish();
        });
      }
      if (failed) iterator.return?.();
    };
    launch();
    finish();
  });
}

/**
 * Waits for `promise`, but rejects with a {@linkcode TimeoutError} if it has not settled after `ms`
 * on `clock`. The timer is cleared as soon as either happens. The watched promise keeps running;
 * pass an `AbortSignal` to the work itself to stop it.
 *
 * @param promise The promise to wait for.
 * @param ms The time limit in ms (>= 0).
 * @param clock The clock that measures the time. @default systemClock
 * @returns The promise's value.
 * @throws {TimeoutError} When the time runs out first.
 * @throws {RangeError} When `ms` is negative or not a number.
 *
 * @example Give a slow operation 1 s
 * ```ts
 * import { deadline } from "./async.ts";
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * const slow = new Promise<string>(() => {});
 * const result = deadline(slow, 1_000, clock).catch((e) => e.name);
 * await clock.advance(1_000);
 * console.log(await result); // "TimeoutError"
 * ```
 */
export function deadline<T>(promise: Promise<T>, ms: number, clock: Clock = systemClock): Promise<T> {
  if (typeof ms !== "number" || Number.isNaN(ms) || ms < 0) {
    return Promise.reject(new RangeError(`Cannot set deadline: ms must be a number >= 0, got ${ms}`));
  }
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(() => reject(new TimeoutError("Deadline exceeded", ms)), ms);
    Promise.resolve(promise).then(
      (value) => {
        clock.clearTimer(timer);
        resolve(value);
      },
      (error) => {
        clock.clearTimer(timer);
        reject(error);
      },
    );
  });
}
