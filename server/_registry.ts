/**
 * The queues a server serves: the `Queue` instances it was given, and (with a store) queues opened
 * on demand and queues found in the store.
 *
 * @module
 */

import { type AtomicKv, DEFAULT_ROOT, type KvKey, Queue, type QueueOptions } from "../mod.ts";
import { HttpError } from "./_errors.ts";

/**
 * The grammar of queue names in requests: 1 to 128 characters, ASCII letters, digits, `.`, `_` and
 * `-`, starting with a letter or digit. No spaces, no look-alikes (zero-width or bidi characters),
 * nothing that needs escaping in a URL, a metric label or a terminal.
 */
export const QUEUE_NAME: RegExp = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Checks a queue name from a URL or body against {@linkcode QUEUE_NAME}.
 *
 * @throws {TypeError} When the name does not follow the grammar.
 */
export function checkQueueName(name: string): string {
  if (typeof name !== "string" || !QUEUE_NAME.test(name)) {
    throw new TypeError(
      `Invalid queue name ${JSON.stringify(name)}: expected 1 to 128 ASCII letters, digits, ".", "_" ` +
        `or "-", starting with a letter or digit`,
    );
  }
  return name;
}

/** Finds queue names in a store by their `meta` keys (one short list per queue). */
export async function discoverQueues(kv: AtomicKv, root: KvKey = DEFAULT_ROOT): Promise<string[]> {
  const prefix = [...root, "meta"];
  const names: string[] = [];
  let start: KvKey | undefined;
  for (let i = 0; i < 10_000; i++) {
    let found: string | undefined;
    for await (const e of kv.list(start ? { prefix, start } : { prefix }, { limit: 1 })) {
      const part = e.key[prefix.length];
      if (typeof part === "string") found = part;
    }
    if (found === undefined) break;
    names.push(found);
    // "name\0" sorts after every key under [..., "meta", name] and before the next queue's keys.
    start = [...prefix, found + "\u0000"];
  }
  return names;
}

/** The queues of one server. */
export class Registry {
  readonly #queues = new Map<string, Queue>();
  readonly #store: AtomicKv | undefined;
  readonly #options: QueueOptions;
  readonly #onOpen: (queue: Queue) => void;

  constructor(
    queues: readonly Queue[],
    store: AtomicKv | undefined,
    options: QueueOptions,
    onOpen: (queue: Queue) => void,
  ) {
    this.#store = store;
    this.#options = options;
    this.#onOpen = onOpen;
    for (const q of queues) {
      if (!(q instanceof Queue)) {
        throw new TypeError("Invalid server option queues: expected Queue instances");
      }
      this.#queues.set(q.name, q);
      onOpen(q);
    }
    if (!store && !queues.length) {
      throw new TypeError("Cannot create server: pass `store` or at least one queue in `queues`");
    }
  }

  /** The queues opened so far. */
  get opened(): Queue[] {
    return [...this.#queues.values()];
  }

  /** The queue `name`; opened on demand when the server has a store; 404 otherwise. */
  get(name: string): Queue {
    return this.open(checkQueueName(name));
  }

  /** The queue `name` (a name the server or the store already knows: not checked against the grammar). */
  open(name: string): Queue {
    let q = this.#queues.get(name);
    if (q) return q;
    if (!this.#store) throw new HttpError(404, "QueueNotFoundError", `Queue "${name}" is not served here`);
    q = new Queue(this.#store, name, this.#options);
    this.#queues.set(name, q);
    this.#onOpen(q);
    return q;
  }

  /**
   * The queue `name` when it exists (served, opened before, or present in the store); otherwise a
   * 404, and nothing is opened or registered: reads of unknown names leave no trace.
   */
  async existing(name: string): Promise<Queue> {
    checkQueueName(name);
    const q = this.#queues.get(name);
    if (q) return q;
    if (this.#store && await this.#inStore(name)) return this.open(name);
    throw new HttpError(404, "QueueNotFoundError", `Queue "${name}" does not exist`);
  }

  /** True when the store holds any key of queue `name` (its counts or paused flag). */
  async #inStore(name: string): Promise<boolean> {
    const prefix = [...(this.#options.root ?? DEFAULT_ROOT), "meta", name];
    for await (const _ of this.#store!.list({ prefix }, { limit: 1 })) return true;
    return false;
  }

  /** Every queue name: those opened and those found in the store, sorted. */
  async names(): Promise<string[]> {
    const names = new Set(this.#queues.keys());
    if (this.#store) {
      for (const n of await discoverQueues(this.#store, this.#options.root)) names.add(n);
    }
    return [...names].sort();
  }

  /** Finds which queue holds job `id` (a job's key includes its queue). */
  async find(id: string): Promise<Queue | null> {
    for (const name of await this.names()) {
      const q = this.open(name);
      if (await q.getJob(id)) return q;
    }
    return null;
  }
}
