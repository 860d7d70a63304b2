/**
 * The server's metrics: reads every series into a {@linkcode MetricsSnapshot} (gauges from the
 * store at read time, totals from the store-kept ledger, peer counters recorded by this process),
 * and flushes snapshots to the sinks every `intervalMs`.
 *
 * @module
 */

import { DEFAULT_ROOT, type Queue } from "../../mod.ts";
import { contextOf } from "../../src/context.ts";
import { Keyspace } from "../../src/keys.ts";
import { advanceLedger } from "./ledger.ts";
import type { MetricsSink } from "./sinks.ts";
import type { MetricsSnapshot, PeerMetrics, QueueMetrics } from "./snapshot.ts";

/** Options of the server's metrics (`createServer({ metrics })`). */
export interface MetricsOptions {
  /** Where snapshots are pushed periodically (the Prometheus endpoint is always there). @default [] */
  sinks?: readonly MetricsSink[];
  /** Time between flushes to the sinks, in ms (at least 100). @default 15000 */
  intervalMs?: number;
  /**
   * How old a job's end must be before the store-kept totals count it, in ms: covers commits still
   * in flight and clocks of other writers running a little behind. @default 1000
   */
  settleMs?: number;
  /** Called with an error of a flush or a sink (the next flush goes on). @default console.error */
  onError?: (error: unknown) => void;
}

/** Heads of the ready index looked at for the oldest ready job (one per priority). */
const MAX_PRIORITIES = 32;

interface Peer {
  deliveries: number;
  poison: number;
}

/**
 * The metrics of a sidecar, as `createServer(...).metrics`: read a snapshot, flush it to the sinks,
 * and record app-to-app deliveries.
 *
 * @example Record a delivery and read it back
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * import { createServer } from "@kvq/kvq/server";
 * const app = createServer({ store: new MemoryKv() });
 * app.metrics.recordDelivery("billing");
 * console.log((await app.metrics.snapshot()).peers); // [{ peer: "billing", deliveries: 1, poison: 0 }]
 * await app.close();
 * ```
 */
export class ServerMetrics {
  readonly #queues: () => Promise<Queue[]>;
  readonly #sinks: readonly MetricsSink[];
  readonly #intervalMs: number;
  readonly #settleMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #peers = new Map<string, Peer>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<unknown> | undefined;
  #closed: Promise<void> | undefined;

  /**
   * Creates the metrics of a server (`createServer` does; starts the flush timer when there are sinks).
   *
   * @param queues The queues to report (called at each reading).
   * @param options See {@linkcode MetricsOptions}.
   * @throws {RangeError} When `intervalMs` or `settleMs` is out of range.
   * @throws {TypeError} When a sink has no `export` function.
   */
  constructor(queues: () => Promise<Queue[]>, options: MetricsOptions = {}) {
    this.#queues = queues;
    this.#sinks = [...(options.sinks ?? [])];
    for (const [i, s] of this.#sinks.entries()) {
      if (!s || typeof s.export !== "function") {
        throw new TypeError(
          `Invalid metrics sink ${i}: expected an object with an export(snapshot) function`,
        );
      }
    }
    this.#intervalMs = options.intervalMs ?? 15_000;
    if (!Number.isFinite(this.#intervalMs) || this.#intervalMs < 100) {
      throw new RangeError(`Invalid metrics intervalMs: expected at least 100, got ${options.intervalMs}`);
    }
    this.#settleMs = options.settleMs ?? 1000;
    if (!Number.isFinite(this.#settleMs) || this.#settleMs < 0) {
      throw new RangeError(`Invalid metrics settleMs: expected 0 or more, got ${options.settleMs}`);
    }
    this.#onError = options.onError ?? ((e) => console.error("kvq: metrics flush failed:", e));
    if (this.#sinks.length) this.#schedule();
  }

  #schedule(): void {
    this.#timer = setTimeout(async () => {
      this.#timer = undefined;
      await this.flush().catch(() => {});
      if (!this.#closed) this.#schedule();
    }, this.#intervalMs);
    // Never the only thing keeping a process alive (Node and Bun; Deno timers have no unref).
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /**
   * Counts jobs delivered to a peer (called by app-to-app delivery).
   *
   * @param peer The peer's name.
   * @param n How many. @default 1
   */
  recordDelivery(peer: string, n = 1): void {
    this.#peer(peer).deliveries += n;
  }

  /**
   * Counts deliveries a peer refused for good (poison).
   *
   * @param peer The peer's name.
   * @param n How many. @default 1
   */
  recordPoison(peer: string, n = 1): void {
    this.#peer(peer).poison += n;
  }

  #peer(peer: string): Peer {
    if (typeof peer !== "string" || peer === "") {
      throw new TypeError(`Invalid peer: expected a non-empty string, got ${JSON.stringify(peer)}`);
    }
    let p = this.#peers.get(peer);
    if (!p) this.#peers.set(peer, p = { deliveries: 0, poison: 0 });
    return p;
  }

  /**
   * Reads every series now: counts, paused flags and oldest ready ages from the store, the totals
   * from the store-kept ledger (advanced first, so they include every job that ended up to
   * `settleMs` ago), and the peer counters.
   *
   * @returns The snapshot, queues and peers sorted by name.
   */
  async snapshot(): Promise<MetricsSnapshot> {
    const queues = await this.#queues();
    const at = Date.now();
    const rows = await Promise.all(queues.map((q) => this.#queue(q)));
    rows.sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
    const peers: PeerMetrics[] = [...this.#peers.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([peer, p]) => ({ peer, deliveries: p.deliveries, poison: p.poison }));
    return { at, queues: rows, peers };
  }

  async #queue(q: Queue): Promise<QueueMetrics> {
    const ctx = contextOf(q);
    const ks = ctx?.ks ?? new Keyspace(DEFAULT_ROOT, q.name);
    const now = ctx?.clock.now() ?? Date.now();
    const [counts, paused, totals, oldestReadyAgeMs] = await Promise.all([
      q.counts(),
      q.isPaused(),
      advanceLedger(q.kv, ks, now, this.#settleMs),
      oldestReady(q, ks, now),
    ]);
    const { completed, dead, canceled, attempts, wait, run } = totals;
    return {
      queue: q.name,
      counts,
      paused,
      oldestReadyAgeMs,
      completed,
      dead,
      canceled,
      attempts,
      wait,
      run,
    };
  }

  /**
   * Takes a snapshot and hands it to every sink (one flush at a time: a call during a flush waits for
   * it and then flushes again).
   *
   * @returns The snapshot that was exported.
   */
  async flush(): Promise<MetricsSnapshot> {
    while (this.#flushing) await this.#flushing.catch(() => {});
    const run = (async () => {
      let snapshot: MetricsSnapshot;
      try {
        snapshot = await this.snapshot();
      } catch (err) {
        this.#onError(err);
        throw err;
      }
      await Promise.all(this.#sinks.map(async (s) => {
        try {
          await s.export(snapshot);
        } catch (err) {
          this.#onError(err);
        }
      }));
      return snapshot;
    })();
    this.#flushing = run;
    try {
      return await run;
    } finally {
      if (this.#flushing === run) this.#flushing = undefined;
    }
  }

  /** Stops the flush timer, flushes once more to the sinks (when there are any) and closes them. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      if (!this.#sinks.length) return;
      await this.flush().catch(() => {});
      await Promise.all(this.#sinks.map(async (s) => {
        try {
          await s.close?.();
        } catch (err) {
          this.#onError(err);
        }
      }));
    })();
    return this.#closed;
  }
}

/**
 * How long the longest-waiting head of the ready index has been ready, in ms: the first job of each
 * priority (up to {@linkcode MAX_PRIORITIES}) is read, and `now - runAt` taken (`runAt` of a ready
 * job is when it became ready). 0 when nothing is ready.
 */
async function oldestReady(q: Queue, ks: Keyspace, now: number): Promise<number> {
  const prefix = ks.indexPrefix("ready");
  let start = prefix;
  let oldest = 0;
  for (let i = 0; i < MAX_PRIORITIES; i++) {
    let head: readonly unknown[] | undefined;
    for await (const e of q.kv.list({ prefix, start }, { limit: 1 })) head = e.key;
    if (!head) break;
    const priority = head[head.length - 2];
    const rec = await q.kv.get(ks.job(String(head[head.length - 1])));
    if (rec) {
      try {
        const runAt = Number(JSON.parse(new TextDecoder().decode(rec.value)).runAt);
        if (Number.isFinite(runAt)) oldest = Math.max(oldest, now - runAt);
      } catch {
        // An unreadable record is the integrity checks' business, not the metrics'.
      }
    }
    // Past every id of this priority.
    start = [...prefix, priority as number, "\uffff\uffff"];
  }
  return oldest;
}
