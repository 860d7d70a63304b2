/**
 * The queue of commits waiting to be written, written once: a store pushes each commit and gets
 * its promise, takes groups to write together (group commit), and settles them.
 *
 * @module
 */

import type { AtomicBatch, KvCommitResult } from "../../src/kv.ts";

/** A queued commit: the store's fields plus how to settle its promise. */
export type Queued<T> = T & {
  /** Resolves the commit's promise. */
  resolve(result: KvCommitResult): void;
  /** Rejects the commit's promise. */
  reject(error: unknown): void;
};

/**
 * Commits waiting to be written, in order. `T` is what the store keeps per commit (at least the
 * batch).
 *
 * @example Group every commit of one tick into one write
 * ```ts
 * import { WriteQueue } from "@kvq/kvq/kv";
 * const queue = new WriteQueue<{ batch: { checks: []; mutations: [] } }>();
 * const a = queue.push({ batch: { checks: [], mutations: [] } as never });
 * const b = queue.push({ batch: { checks: [], mutations: [] } as never });
 * const group = queue.take();
 * group.forEach((p, i) => p.resolve({ ok: true, versionstamp: String(i + 1).padStart(20, "0") }));
 * console.log(group.length, (await a).ok, (await b).ok); // 2 true true
 * ```
 */
export class WriteQueue<T extends { readonly batch: AtomicBatch }> {
  #items: Queued<T>[] = [];
  #tail: Promise<void> = Promise.resolve();

  /** Commits waiting. */
  get length(): number {
    return this.#items.length;
  }

  /** Queues a commit (the object becomes the queued entry); returns its promise. */
  push(item: T): Promise<KvCommitResult> {
    const promise = new Promise<KvCommitResult>((resolve, reject) => {
      const q = item as Queued<T>;
      q.resolve = resolve;
      q.reject = reject;
      this.#items.push(q);
    });
    this.#tail = promise.then(() => {}, () => {});
    return promise;
  }

  /**
   * Takes the oldest commits while their `size` adds up to at most `maxSize` (always at least one
   * commit when any is queued). Without arguments: every queued commit.
   */
  take(maxSize: number = Infinity, size: (item: T) => number = () => 0): Queued<T>[] {
    const q = this.#items;
    if (maxSize === Infinity) return q.splice(0);
    let total = 0;
    let n = 0;
    while (n < q.length && (n === 0 || total + size(q[n]) <= maxSize)) total += size(q[n++]);
    return q.splice(0, n);
  }

  /** Puts commits back at the head of the queue, in their order (they are written next). */
  putBack(items: readonly Queued<T>[]): void {
    this.#items.unshift(...items);
  }

  /** Keeps the commits `keep` returns true for, in order; the caller settles the others. */
  retain(keep: (item: Queued<T>) => boolean): void {
    this.#items = this.#items.filter(keep);
  }

  /** Takes every queued commit and rejects it with `error`. */
  rejectAll(error: unknown): void {
    for (const p of this.#items.splice(0)) p.reject(error);
  }

  /** Resolves once every commit queued so far has settled (never rejects). */
  settled(): Promise<void> {
    return this.#tail;
  }
}
