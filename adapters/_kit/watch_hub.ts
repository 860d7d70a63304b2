/**
 * The watch side of an adapter, written once: watchers by key prefix, woken (coalesced) after the
 * commits that touch their prefix, as `AtomicKv.watch` asks.
 *
 * @module
 */

import { bytesToBinary } from "./bytes.ts";

/** A watched prefix, as bytes and as a binary string (whichever the adapter compares faster). */
export interface WatchedPrefix {
  /** The encoded prefix. */
  readonly bytes: Uint8Array;
  /** The encoded prefix as a binary string (one char per byte). */
  readonly binary: string;
}

interface Watcher extends WatchedPrefix {
  wake(): void;
}

/** Hooks of {@link WatchHub.watch}. */
export interface WatchHooks {
  /** True once the store is closed: the iteration ends (the store calls {@link WatchHub.wakeAll} on close). */
  closed?: () => boolean;
  /** Called when the first watcher starts (e.g. to start polling for other processes' commits). */
  onFirst?: () => void;
  /** Called when the last watcher ends. */
  onLast?: () => void;
}

/**
 * Watchers by encoded key prefix. A store calls {@link WatchHub.wake} after each applied commit
 * (or group) and returns {@link WatchHub.watch} from `AtomicKv.watch`.
 *
 * @example
 * ```ts
 * import { encodeKey, WatchHub } from "@kvq/kvq/kv";
 * const hub = new WatchHub();
 * const stop = new AbortController();
 * const it = hub.watch(encodeKey(["jobs"]), stop.signal)[Symbol.asyncIterator]();
 * const next = it.next();
 * const key = encodeKey(["jobs", 1]);
 * hub.wake((w) => key.length >= w.bytes.length && w.bytes.every((b, i) => key[i] === b));
 * console.log((await next).done); // false: woken
 * stop.abort();
 * ```
 */
export class WatchHub {
  readonly #watchers = new Set<Watcher>();

  /** Number of active watchers. */
  get size(): number {
    return this.#watchers.size;
  }

  /** Wakes every watcher for which `touches(prefix)` is true. */
  wake(touches: (prefix: WatchedPrefix) => boolean): void {
    for (const w of this.#watchers) if (touches(w)) w.wake();
  }

  /** Wakes every watcher (a hint: other processes committed, or the store closed). */
  wakeAll(): void {
    for (const w of this.#watchers) w.wake();
  }

  /**
   * Yields once after each wake-up (several wake-ups while the consumer is busy yield once) until
   * `signal` aborts or `hooks.closed()` turns true.
   */
  async *watch(prefix: Uint8Array, signal: AbortSignal, hooks: WatchHooks = {}): AsyncGenerator<void> {
    let pending = false;
    let wake: (() => void) | null = null;
    const watcher: Watcher = {
      bytes: prefix,
      binary: bytesToBinary(prefix),
      wake: () => {
        pending = true;
        wake?.();
      },
    };
    const ended = () => signal.aborted || (hooks.closed?.() ?? false);
    const onAbort = () => wake?.();
    this.#watchers.add(watcher);
    if (this.#watchers.size === 1) hooks.onFirst?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!ended()) {
        if (!pending) await new Promise<void>((r) => (wake = r));
        wake = null;
        if (ended()) return;
        pending = false;
        yield;
      }
    } finally {
      this.#watchers.delete(watcher);
      signal.removeEventListener("abort", onAbort);
      if (this.#watchers.size === 0) hooks.onLast?.();
    }
  }
}
