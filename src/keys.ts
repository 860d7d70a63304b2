/**
 * The keyspace: which key holds what. Everything lives under one root prefix (default `["kvq"]`),
 * so a store shared with application data never collides with it.
 *
 * ```
 * root + ["job", queue, id]                        -> job record (JSON)
 * root + ["blob", queue, id, "p" | "r", i]         -> chunk i of a large payload ("p") or result ("r")
 * root + ["ready", queue, -priority, id]           -> ""        claim order: ascending key order
 *                                                                (higher priority first, then id =
 *                                                                submission order, ids are ULIDs)
 * root + ["delayed", queue, runAt, id]             -> state     scheduled and failed (retry) jobs
 * root + ["lease", queue, id]                      -> lease     active jobs: what the attempt changed
 *                                                                (attempt, lease, progress, cancel request;
 *                                                                src/lease_entry.ts), over the record as it
 *                                                                was when claimed
 * root + ["done", queue, finishedAt, id]           -> ""        completed
 * root + ["dead", queue, finishedAt, id]           -> ""        dead letters
 * root + ["canceled", queue, finishedAt, id]       -> ""        canceled
 * root + ["unique", queue, key]                    -> id        idempotency key / external id
 * root + ["meta", queue, "counts"]                 -> folded base of the per-state counts (JSON)
 * root + ["meta", queue, "counts", "admit"]        -> admission key: written (checked) by each add
 *                                                     commit of a queue with maxQueued, only those
 * root + ["meta", queue, "delta", "w", writer]     -> one writer's count delta (JSON, with `at`),
 *                                                     written by each of its commits that count
 * root + ["meta", queue, "delta", id]              -> count delta of a transactional add
 *                                                     (deltas are folded into "counts" by maintenance)
 * root + ["meta", queue, "paused"]                 -> present while the queue is paused
 * root + ["meta", queue, "rate"]                   -> the rate limit's token bucket (JSON), when the
 *                                                     queue has one: written by each claim batch
 * root + ["cron", queue, name]                     -> repeating schedule (JSON)
 * root + ["metrics", queue]                        -> the sidecar's metrics ledger (JSON): totals of the
 *                                                     jobs that ended, read from the terminal indexes
 * ```
 *
 * Job keys include the queue, so queues with their own (e.g. deterministic) id factories never
 * collide. Every job is in exactly one state index at a time: each state change is one atomic commit that
 * checks the versionstamp of the job's fence (its record; while active, its lease entry; for a claim,
 * its ready entry), deletes the old index entry, writes the new one and the record (not while the
 * job stays active: the lease entry is its index entry and holds what changed), and adds its count
 * change to its writer's delta (no key is written by every writer).
 *
 * @module
 */

import type { KvKey, KvKeyPart } from "./kv.ts";
import type { JobRecord, JobState } from "./job.ts";

/** The default root prefix. */
export const DEFAULT_ROOT: readonly string[] = Object.freeze(["kvq"]);

/** The index a state lives in. */
export const STATE_INDEX: Readonly<Record<JobState, string>> = Object.freeze({
  scheduled: "delayed",
  failed: "delayed",
  ready: "ready",
  active: "lease",
  completed: "done",
  dead: "dead",
  canceled: "canceled",
});

/**
 * The keys of one queue under one root.
 *
 * @example Where a ready job's index entry lives
 * ```ts
 * import { Keyspace } from "./keys.ts";
 * const ks = new Keyspace(["kvq"], "mail");
 * console.log(ks.job("01J0")); // ["kvq", "job", "mail", "01J0"]
 * ```
 */
export class Keyspace {
  /** The root prefix. */
  readonly root: KvKey;
  /** The queue name. */
  readonly queue: string;
  /** The per-state counts. */
  readonly counts: KvKey;
  /** The paused flag. */
  readonly paused: KvKey;
  /** The admission key (see the table above). */
  readonly admit: KvKey;
  /** The rate limit's token bucket (see the table above). */
  readonly rate: KvKey;

  /**
   * Creates the keyspace of `queue` under `root`.
   *
   * @param root The root prefix. @default ["kvq"]
   * @param queue The queue name (a non-empty string).
   */
  constructor(root: KvKey = DEFAULT_ROOT, queue: string) {
    if (typeof queue !== "string" || queue === "") {
      throw new TypeError(`Invalid queue name: expected a non-empty string, got ${JSON.stringify(queue)}`);
    }
    if (!Array.isArray(root)) throw new TypeError("Invalid root prefix: expected an array of key parts");
    this.root = root;
    this.queue = queue;
    this.counts = [...root, "meta", queue, "counts"];
    this.paused = [...root, "meta", queue, "paused"];
    this.admit = [...this.counts, "admit"];
    this.rate = [...root, "meta", queue, "rate"];
  }

  /** The job record key. */
  job(id: string): KvKey {
    return [...this.root, "job", this.queue, id];
  }

  /** Chunk `i` of a job's payload (`"p"`) or result (`"r"`). */
  blob(id: string, kind: "p" | "r", i: number): KvKey {
    return [...this.root, "blob", this.queue, id, kind, i];
  }

  /** The prefix of one state's index in this queue (one shared, frozen array per state). */
  indexPrefix(state: JobState): KvKey {
    let p = this.#prefixes.get(state);
    if (!p) this.#prefixes.set(state, p = Object.freeze([...this.root, STATE_INDEX[state], this.queue]));
    return p;
  }

  readonly #prefixes = new Map<JobState, KvKey>();

  /** The lease entry of an active job (its index entry while active; src/lease_entry.ts). */
  lease(id: string): KvKey {
    return [...this.indexPrefix("active"), id];
  }

  /** The index key of a record in its current state. */
  index(job: JobRecord): KvKey {
    const p = this.indexPrefix(job.state);
    switch (job.state) {
      case "ready":
        // 0 - priority: higher priority sorts first; never -0 (which sorts before 0).
        return [...p, 0 - job.priority, job.id];
      case "scheduled":
      case "failed":
        return [...p, job.runAt, job.id];
      case "active":
        return [...p, job.id];
      default:
        return [...p, job.finishedAt ?? job.updatedAt, job.id];
    }
  }

  /** The idempotency key entry. */
  unique(key: string): KvKey {
    return [...this.root, "unique", this.queue, key];
  }

  /** The prefix of transactional-add count deltas. */
  get deltaPrefix(): KvKey {
    return [...this.root, "meta", this.queue, "delta"];
  }

  /** A transactional add's count delta. */
  delta(id: string): KvKey {
    return [...this.deltaPrefix, id];
  }

  /** The prefix of repeating schedules. */
  get cronPrefix(): KvKey {
    return [...this.root, "cron", this.queue];
  }

  /** A repeating schedule. */
  cron(name: string): KvKey {
    return [...this.cronPrefix, name];
  }

  /** The id at the end of an index key. */
  static idOf(indexKey: KvKey): string {
    return indexKey[indexKey.length - 1] as string;
  }

  /** The time part (runAt / finishedAt) of a time-ordered index key (every index but ready and lease). */
  static timeOf(indexKey: KvKey): number {
    return indexKey[indexKey.length - 2] as number;
  }

  /** A key that sorts right after `key` and before anything after it (for exclusive starts). */
  static after(key: KvKey): KvKeyPart[] {
    // No index key has children, so any one-part extension sorts after it and before its next sibling.
    return [...key, new Uint8Array(0)];
  }
}
