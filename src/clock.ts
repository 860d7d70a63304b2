/**
 * Time enters the core only through a {@linkcode Clock}: the system clock in production, a
 * {@linkcode FakeClock} in tests, so every time-dependent rule is deterministic under test.
 *
 * @module
 */

/** An opaque handle returned by {@linkcode Clock.setTimer}; pass it to {@linkcode Clock.clearTimer}. */
export type TimerHandle = unknown;

/**
 * A source of time and one-shot timers.
 *
 * @example Schedule a callback
 * ```ts
 * import { systemClock } from "./clock.ts";
 * let fired = false;
 * const handle = systemClock.setTimer(() => (fired = true), 10);
 * systemClock.clearTimer(handle);
 * await new Promise((resolve) => setTimeout(resolve, 20));
 * console.log(fired, systemClock.now() > 0); // false true
 * ```
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Calls `fn` once after `ms` milliseconds.
   *
   * @param fn The callback.
   * @param ms The delay in ms; negative delays count as 0.
   * @returns A handle for {@linkcode Clock.clearTimer}.
   */
  setTimer(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; clearing a fired or already cleared timer does nothing. */
  clearTimer(handle: TimerHandle): void;
}

/** The longest delay `setTimeout` accepts; longer delays fire at once on some runtimes. */
const MAX_TIMEOUT = 2 ** 31 - 1;

function checkDelay(ms: number): number {
  if (typeof ms !== "number" || Number.isNaN(ms)) {
    throw new RangeError(`Cannot set timer: delay must be a number of ms, got ${String(ms)}`);
  }
  return Math.max(0, ms);
}

/** A system timer whose delay may exceed {@linkcode MAX_TIMEOUT}: it re-arms until the time is due. */
interface LongTimer {
  id: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The real clock: `Date.now()` and `setTimeout`/`clearTimeout`. Delays longer than the 2^31-1 ms
 * `setTimeout` accepts are split into several timers, so they never fire early; an infinite delay
 * never fires.
 *
 * @example Read the time
 * ```ts
 * import { systemClock } from "./clock.ts";
 * console.log(new Date(systemClock.now()).toISOString());
 * ```
 */
export const systemClock: Clock = {
  now(): number {
    return Date.now();
  },
  setTimer(fn: () => void, ms: number): TimerHandle {
    const delay = checkDelay(ms);
    const timer: LongTimer = { id: undefined };
    if (delay === Infinity) return timer;
    const due = Date.now() + delay;
    const arm = (wait: number) => {
      timer.id = setTimeout(() => {
        const left = due - Date.now();
        if (left > 0 && wait === MAX_TIMEOUT) arm(Math.min(left, MAX_TIMEOUT));
        else {
          timer.id = undefined;
          fn();
        }
      }, wait);
    };
    arm(Math.min(delay, MAX_TIMEOUT));
    return timer;
  },
  clearTimer(handle: TimerHandle): void {
    const timer = handle as LongTimer | undefined;
    if (timer && typeof timer === "object" && "id" in timer && timer.id !== undefined) {
      clearTimeout(timer.id);
      timer.id = undefined;
    }
  },
};

interface FakeTimer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
}

/** Options of {@linkcode FakeClock}. */
export interface FakeClockOptions {
  /**
   * How many microtask turns {@linkcode FakeClock.settle} yields, so promise chains started by a
   * timer run before the next timer fires.
   *
   * @default 1000 (about 0.1 ms)
   */
  settleTurns?: number;
}

/**
 * A deterministic clock for tests: time moves only when {@linkcode FakeClock.advance} is called.
 * Timers fire in due-time order, then in the order they were set.
 *
 * A timer set with a delay of 0 fires on the next `advance` (even `advance(0)`), never by itself.
 *
 * @example Fire a timer by moving time forward
 * ```ts
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock(1_000);
 * let fired = 0;
 * clock.setTimer(() => fired++, 500);
 * await clock.advance(499);
 * console.log(fired); // 0
 * await clock.advance(1);
 * console.log(fired, clock.now()); // 1 1500
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #timers: FakeTimer[] = [];
  #nextId = 1;
  #turns: number;
  #chain: Promise<void> = Promise.resolve();

  /**
   * Creates a fake clock.
   *
   * @param start The initial time in ms since the epoch. @default 0
   * @param options See {@linkcode FakeClockOptions}.
   */
  constructor(start: number = 0, options: FakeClockOptions = {}) {
    if (!Number.isFinite(start)) {
      throw new RangeError(`Cannot create FakeClock: start must be a finite number, got ${start}`);
    }
    const turns = options.settleTurns ?? 1000;
    if (!Number.isInteger(turns) || turns < 0) {
      throw new RangeError(`Cannot create FakeClock: settleTurns must be an integer >= 0, got ${turns}`);
    }
    this.#now = start;
    this.#turns = turns;
  }

  /** The fake time in ms. */
  now(): number {
    return this.#now;
  }

  /** Sets a timer due `ms` after the current fake time (negative delays count as 0). */
  setTimer(fn: () => void, ms: number): TimerHandle {
    const delay = checkDelay(ms);
    const timer: FakeTimer = { id: this.#nextId++, due: this.#now + delay, fn };
    // Keep the list sorted by (due, id): insert after every timer due at or before this one.
    let i = this.#timers.length;
    while (i > 0 && this.#timers[i - 1]!.due > timer.due) i--;
    this.#timers.splice(i, 0, timer);
    return timer.id;
  }

  /** Cancels a pending timer; unknown or fired handles are ignored. */
  clearTimer(handle: TimerHandle): void {
    const i = this.#timers.findIndex((t) => t.id === handle);
    if (i >= 0) this.#timers.splice(i, 1);
  }

  /** Number of pending timers (tests assert that everything was cleaned up). */
  get pending(): number {
    return this.#timers.length;
  }

  /** The due time of the earliest pending timer, or `undefined` when none is pending. */
  get nextDue(): number | undefined {
    return this.#timers[0]?.due;
  }

  /**
   * Lets pending promise callbacks run: yields a fixed number of microtask turns (no macrotask,
   * no real time passes).
   *
   * @returns A promise that resolves after the turns.
   */
  async settle(): Promise<void> {
    for (let i = 0; i < this.#turns; i++) await Promise.resolve();
  }

  /**
   * Moves time forward by `ms`, firing every timer that becomes due, in due-time order (then the
   * order they were set), with the clock set to each timer's due time while it runs. Between timers
   * (and before the first and after the last) pending promise callbacks settle, so async code
   * reacting to a timer runs and may set further timers, which fire too if due within the window.
   * Calls made while another `advance` runs are queued behind it.
   *
   * @param ms How far to move, in ms (>= 0).
   * @returns A promise that resolves once time has moved and callbacks have settled.
   */
  advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) {
      return Promise.reject(
        new RangeError(`Cannot advance FakeClock: ms must be a finite number >= 0, got ${ms}`),
      );
    }
    const run = this.#chain.then(() => this.#advance(ms));
    this.#chain = run.catch(() => {});
    return run;
  }

  /**
   * Moves time to the due time of the next pending timer and fires it (and any timer due at the
   * same time). Does nothing when no timer is pending.
   *
   * @returns A promise that resolves once the timers fired and callbacks settled.
   */
  runNext(): Promise<void> {
    const due = this.#timers[0]?.due;
    return due === undefined ? this.settle() : this.advance(Math.max(0, due - this.#now));
  }

  async #advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await this.settle();
    for (;;) {
      const timer = this.#timers[0];
      if (!timer || timer.due > target) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, timer.due);
      timer.fn();
      await this.settle();
    }
    this.#now = target;
    await this.settle();
  }
}

/**
 * Resolves after `ms` on `clock`. When `signal` aborts, the timer is cleared and the promise
 * rejects with `signal.reason` (or an `AbortError` `DOMException` when there is none).
 *
 * @param clock The clock to wait on.
 * @param ms The delay in ms.
 * @param signal Optional abort signal.
 * @returns A promise that resolves after the delay.
 *
 * @example Wait on a fake clock
 * ```ts
 * import { FakeClock, sleep } from "./clock.ts";
 * const clock = new FakeClock();
 * const done = sleep(clock, 1_000);
 * await clock.advance(1_000);
 * await done;
 * console.log(clock.now()); // 1000
 * ```
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const reason = () => signal?.reason ?? new DOMException("The sleep was aborted", "AbortError");
    if (signal?.aborted) {
      reject(reason());
      return;
    }
    const onAbort = () => {
      clock.clearTimer(handle);
      reject(reason());
    };
    const handle = clock.setTimer(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
