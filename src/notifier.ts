/**
 * In-process wake-ups: queues and workers that share one store instance in one process tell each
 * other about adds, endings, cancels and pauses at once, without a round trip to the store. Other
 * processes learn the same through `watch` (where the store declares it) or polling.
 *
 * @module
 */

import type { AtomicKv } from "./kv.ts";

/** What happened in a queue. */
export type QueueSignal =
  /** Jobs became ready. */
  | { readonly type: "ready" }
  /** A job was scheduled for `at`. */
  | { readonly type: "delayed"; readonly at: number }
  /** A job reached a terminal state (or was removed). */
  | { readonly type: "ended"; readonly id: string }
  /** A cancel was requested for an active job. */
  | { readonly type: "cancel"; readonly id: string }
  /** The queue was paused or resumed. */
  | { readonly type: "paused"; readonly paused: boolean };

/** A subscriber. */
export type SignalListener = (signal: QueueSignal) => void;

const hubs = new WeakMap<AtomicKv, Map<string, Set<SignalListener>>>();

/**
 * The channel of one queue on one store instance.
 *
 * @example
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { channel } from "./notifier.ts";
 * const kv = new MemoryKv();
 * const ch = channel(kv, '["kvq"]mail');
 * const off = ch.subscribe((s) => console.log(s.type));
 * ch.emit({ type: "ready" }); // "ready"
 * off();
 * ```
 */
export function channel(kv: AtomicKv, name: string): {
  subscribe(fn: SignalListener): () => void;
  emit(signal: QueueSignal): void;
} {
  let byName = hubs.get(kv);
  if (!byName) hubs.set(kv, byName = new Map());
  const map = byName;
  return {
    subscribe(fn: SignalListener): () => void {
      let set = map.get(name);
      if (!set) map.set(name, set = new Set());
      set.add(fn);
      return () => {
        set!.delete(fn);
        if (set!.size === 0 && map.get(name) === set) map.delete(name);
      };
    },
    emit(signal: QueueSignal): void {
      const set = map.get(name);
      if (!set) return;
      for (const fn of [...set]) {
        try {
          fn(signal);
        } catch {
          // A listener's failure must not stop the others.
        }
      }
    },
  };
}
