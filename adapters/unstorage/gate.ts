/**
 * Readers and one writer, never at once: a driver has no transactions, so the unstorage adapter
 * applies a commit group while no read is running, and reads while no group is applied. A read
 * then never sees half a group (`getMany` reads one consistent point) and, on the fs driver, never
 * reads a file while it is rewritten. A waiting writer goes before readers that come after it.
 *
 * @module
 */

/**
 * The gate.
 *
 * @example
 * ```ts
 * import { ReadWriteGate } from "./gate.ts";
 * const gate = new ReadWriteGate();
 * const order: string[] = [];
 * await Promise.all([
 *   gate.read(async () => order.push("read")),
 *   gate.write(async () => order.push("write")),
 *   gate.read(async () => order.push("read after write")),
 * ]);
 * console.log(order); // ["read", "write", "read after write"]
 * ```
 */
export class ReadWriteGate {
  #readers = 0;
  #writing: Promise<void> | null = null;
  #drained: (() => void) | null = null;

  /** Runs `fn` while no writer runs (readers run together). */
  async read<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#writing) await this.#writing;
    this.#readers++;
    try {
      return await fn();
    } finally {
      if (--this.#readers === 0) this.#drained?.();
    }
  }

  /** Runs `fn` once the running readers are done, while no reader starts. One writer at a time. */
  async write<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#writing) await this.#writing;
    let release!: () => void;
    this.#writing = new Promise<void>((r) => (release = r));
    try {
      while (this.#readers > 0) await new Promise<void>((r) => (this.#drained = r));
      this.#drained = null;
      return await fn();
    } finally {
      this.#writing = null;
      release();
    }
  }
}
