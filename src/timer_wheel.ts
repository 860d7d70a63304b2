/**
 * A timer wheel: many one-shot callbacks (a worker's heartbeats and job timeouts) on one clock
 * timer, armed for the earliest of them. Adding and cancelling cost no system timer each; a worker
 * running thousands of jobs a second would otherwise set and clear two timers per job.
 *
 * Entries are kept sorted by due time (then by the order they were added) in a linked list;
 * an entry is inserted by walking back from the tail, so the common case — a delay as long as or
 * longer than the last one's — is O(1), and cancelling is O(1). Callbacks due at the same time
 * fire in the order they were added, each at the clock time it was due (with a fake clock, time
 * moves to each due time in turn). When the wheel is empty no clock timer is pending.
 *
 * @module
 */

import type { Clock, TimerHandle } from "./clock.ts";

/** A callback in a {@linkcode TimerWheel}; pass it to {@linkcode TimerWheel.cancel}. */
export interface WheelEntry {
  /** When it is due (clock time, ms). */
  readonly due: number;
  /** @internal */
  fn: (() => void) | null;
  /** @internal */
  prev: WheelEntry | null;
  /** @internal */
  next: WheelEntry | null;
}

/**
 * One-shot callbacks on one clock timer.
 *
 * @example Two callbacks, one clock timer
 * ```ts
 * import { FakeClock } from "./clock.ts";
 * import { TimerWheel } from "./timer_wheel.ts";
 * const clock = new FakeClock();
 * const wheel = new TimerWheel(clock);
 * const fired: number[] = [];
 * wheel.add(() => fired.push(clock.now()), 10);
 * const b = wheel.add(() => fired.push(-1), 20);
 * wheel.cancel(b);
 * console.log(clock.pending); // 1
 * await clock.advance(30);
 * console.log(fired, clock.pending); // [10] 0
 * ```
 */
export class TimerWheel {
  readonly #clock: Clock;
  #head: WheelEntry | null = null;
  #tail: WheelEntry | null = null;
  #timer: TimerHandle | undefined = undefined;
  /** The due time the clock timer is armed for (Infinity: not armed). */
  #armedFor = Infinity;
  #size = 0;

  /** @param clock The clock whose timer the wheel uses. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Callbacks waiting. */
  get size(): number {
    return this.#size;
  }

  /**
   * Calls `fn` once, `ms` after now (negative delays count as 0).
   *
   * @throws {RangeError} When `ms` is not a number.
   */
  add(fn: () => void, ms: number): WheelEntry {
    if (typeof ms !== "number" || Number.isNaN(ms)) {
      throw new RangeError(`Cannot add timer: delay must be a number of ms, got ${String(ms)}`);
    }
    const e: WheelEntry = { due: this.#clock.now() + Math.max(0, ms), fn, prev: null, next: null };
    let at = this.#tail;
    while (at !== null && at.due > e.due) at = at.prev;
    e.prev = at;
    e.next = at === null ? this.#head : at.next;
    if (e.next !== null) e.next.prev = e;
    else this.#tail = e;
    if (at !== null) at.next = e;
    else this.#head = e;
    this.#size++;
    if (this.#head === e) this.#arm();
    return e;
  }

  /** Cancels a callback; cancelling a fired or already cancelled one does nothing. */
  cancel(e: WheelEntry): void {
    if (e.fn === null) return;
    this.#unlink(e);
    if (this.#head === null) this.#disarm();
  }

  #unlink(e: WheelEntry): void {
    e.fn = null;
    if (e.prev !== null) e.prev.next = e.next;
    else this.#head = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else this.#tail = e.prev;
    e.prev = e.next = null;
    this.#size--;
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  /** Arms the clock timer for the head, unless it is already armed for that time or earlier. */
  #arm(): void {
    const head = this.#head;
    if (head === null) return this.#disarm();
    if (this.#timer !== undefined && this.#armedFor <= head.due) return;
    this.#disarm();
    this.#armedFor = head.due;
    this.#timer = this.#clock.setTimer(() => this.#fire(), head.due - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = this.#clock.now();
    // Take what is due first: a callback that adds another due at once does not run in this pass.
    const due: (() => void)[] = [];
    while (this.#head !== null && this.#head.due <= now) {
      const e = this.#head;
      due.push(e.fn!);
      this.#unlink(e);
    }
    this.#arm();
    for (const fn of due) {
      try {
        fn();
      } catch (e) {
        // As a throwing timer callback would: reported as uncaught, the others still run.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}
