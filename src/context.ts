/**
 * The queue context: everything the services of one queue share — the checked options, the store,
 * its keyspace, the clock, the id factory, the group committer, the in-process signal channel and
 * the event target. `Queue` builds one; every service (producer, admin, lease, external,
 * maintenance, result, worker) is a set of functions over it. Nothing here is module-level state:
 * two `Queue` objects on one store share nothing but the store (and, in one process, its signal hub).
 *
 * @module
 */

import { checkRateLimit, type RateLimit } from "./rate_limit.ts";
import { type AtomicKv, encodeKey } from "./kv.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type IdFactory, monotonicUlid } from "./ids.ts";
import { type BlobSettings, blobSettings } from "./blobs.ts";
import { type Backoff, DEFAULT_BACKOFF, validateBackoff } from "./backoff.ts";
import { createSigner, type Signer } from "./signing.ts";
import { eventsOf, isTerminal, type JobEventType, type JobRecord, type JobState } from "./job.ts";
import { Keyspace } from "./keys.ts";
import { Committer } from "./committer.ts";
import { channel, type QueueSignal } from "./notifier.ts";
import { QueueEvent, type QueueEventType } from "./events.ts";
import { checkNumber } from "./validate.ts";
import type { Job, Middleware, QueueOptions } from "./types.ts";

/** One id factory per process, so ids from every queue in the process are strictly increasing. */
const processIds: IdFactory = monotonicUlid();

/** Where a `Queue` keeps its context for the workers it starts: a non-enumerable symbol property. */
const CONTEXT: unique symbol = Symbol("kvq.queueContext");

interface ContextHolder {
  readonly [CONTEXT]?: QueueContext<unknown, unknown>;
}

/** Gives `owner` (a `Queue`) its context, so `contextOf(owner)` finds it (nothing module-level). */
export function attachContext<T, R>(owner: object, ctx: QueueContext<T, R>): void {
  Object.defineProperty(owner, CONTEXT, { value: ctx, enumerable: false });
}

/** The context of a `Queue` (`undefined` for anything else). */
export function contextOf<T, R>(owner: unknown): QueueContext<T, R> | undefined {
  if (typeof owner !== "object" || owner === null) return undefined;
  return (owner as ContextHolder)[CONTEXT] as QueueContext<T, R> | undefined;
}

/** Something `Queue.close()` closes (a worker). */
export interface Closable {
  /** Stops it. */
  close(options?: { timeout?: number }): Promise<void>;
}

/** The checked options of one queue. */
export interface QueueSettings {
  /** Default most attempts per job. */
  readonly maxAttempts: number;
  /** The queue's backoff. */
  readonly backoff: Backoff;
  /** Default per-attempt timeout, in ms. */
  readonly timeout: number | undefined;
  /** Most unfinished jobs. */
  readonly maxQueued: number;
  /** What a full queue does with an add. */
  readonly overflow: "reject" | "dead";
  /** Largest payload or result, in bytes. */
  readonly maxPayloadBytes: number;
  /** Default `removeOnComplete`. */
  readonly removeOnComplete: boolean;
  /** Poll interval for changes made by other processes, in ms. */
  readonly pollInterval: number;
  /** Retention of ended jobs. */
  readonly retention: QueueOptions["retention"];
  /** The rate limit of job starts, shared by every worker and consumer on the store. */
  readonly rateLimit: Required<RateLimit> | undefined;
}

/** What every service of one queue shares. */
export interface QueueContext<T = unknown, R = unknown> {
  /** The store. */
  readonly kv: AtomicKv;
  /** The queue name. */
  readonly name: string;
  /** Its keys. */
  readonly ks: Keyspace;
  /** The clock. */
  readonly clock: Clock;
  /** The id factory (job ids, lease tokens, worker ids). */
  readonly ids: IdFactory;
  /** The generator for backoff jitter. */
  readonly random: () => number;
  /** The checked options. */
  readonly settings: QueueSettings;
  /** Signs and verifies payloads, when the queue has a signing key. */
  readonly signer: Signer | undefined;
  /** The blob store for large payloads and results, when the queue has one (src/blobs.ts). */
  readonly blobs: BlobSettings | undefined;
  /** Every write goes through it. */
  readonly committer: Committer;
  /** Middleware around handlers, outermost first. */
  readonly middleware: Middleware<T, R>[];
  /** Workers started from the queue (closed by `Queue.close()`). */
  readonly workers: Set<Closable>;
  /** When an external claim last ran the healer (see `runDue`). */
  lastHeal: number;
  /** Whether the last claim lost jobs to another claimer (the next one spreads out). */
  contended: boolean;
  /** Subscribes to the queue's in-process signals; returns the unsubscribe function. */
  subscribe(fn: (s: QueueSignal) => void): () => void;
  /** Tells this process's workers and waiters. */
  signal(s: QueueSignal): void;
  /** Dispatches a queue event. */
  emit(type: QueueEventType, job?: Job<T, R>, error?: unknown): void;
}

/**
 * Checks the options and builds the context of queue `name` on `kv`; events go to `target`.
 *
 * @param kv The store.
 * @param name The queue name.
 * @param options The queue options.
 * @param target Where queue events are dispatched (the `Queue`).
 * @throws {TypeError} When the store is not an AtomicKv or an option is invalid.
 * @throws {RangeError} When an option is out of range.
 *
 * @example
 * ```ts
 * import { MemoryKv } from "../adapters/memory/mod.ts";
 * import { createContext } from "./context.ts";
 * const ctx = createContext(new MemoryKv(), "mail", { maxAttempts: 5 }, new EventTarget());
 * console.log(ctx.settings.maxAttempts); // 5
 * ```
 */
export function createContext<T, R>(
  kv: AtomicKv,
  name: string,
  options: QueueOptions,
  target: EventTarget,
): QueueContext<T, R> {
  if (!kv || typeof kv.atomic !== "function" || !kv.info) {
    throw new TypeError("Cannot open queue: the store is not an AtomicKv");
  }
  const ks = new Keyspace(options.root, name);
  const maxAttempts = options.maxAttempts ?? 3;
  checkNumber("maxAttempts", maxAttempts, 1, true);
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  validateBackoff(backoff);
  const timeout = options.timeout;
  if (timeout !== undefined) checkNumber("timeout", timeout, 1);
  const maxQueued = options.maxQueued ?? Infinity;
  if (maxQueued !== Infinity) checkNumber("maxQueued", maxQueued, 0, true);
  const overflow = options.overflow ?? "reject";
  if (overflow !== "reject" && overflow !== "dead") {
    throw new TypeError(`Invalid overflow: expected "reject" or "dead", got ${JSON.stringify(overflow)}`);
  }
  const maxPayloadBytes = options.maxPayloadBytes ?? 4 * 1024 * 1024;
  checkNumber("maxPayloadBytes", maxPayloadBytes, 0, true);
  const pollInterval = options.pollInterval ?? 1000;
  checkNumber("pollInterval", pollInterval, 1);
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? processIds;
  let hubName = "";
  for (const b of encodeKey([...ks.root, name])) hubName += String.fromCharCode(b);
  const hub = channel(kv, hubName);
  return {
    kv,
    name,
    ks,
    clock,
    ids,
    random: options.random ?? Math.random,
    settings: {
      maxAttempts,
      backoff,
      timeout,
      maxQueued,
      overflow,
      maxPayloadBytes,
      removeOnComplete: options.removeOnComplete ?? false,
      pollInterval,
      retention: options.retention,
      rateLimit: checkRateLimit(options.rateLimit),
    },
    signer: options.signingKey !== undefined ? createSigner(options.signingKey) : undefined,
    blobs: blobSettings(options.blobs),
    committer: new Committer(kv, ks.counts, ks.deltaPrefix, maxQueued, undefined, () => clock.now()),
    middleware: [],
    workers: new Set(),
    lastHeal: -Infinity,
    contended: false,
    subscribe: (fn) => hub.subscribe(fn),
    signal: (s) => hub.emit(s),
    emit: (type, job, error) => void target.dispatchEvent(new QueueEvent<T, R>(type, { job, error })),
  };
}

/** Tells this process's workers and waiters what a record's new state means for them. */
export function announce<T, R>(ctx: QueueContext<T, R>, record: JobRecord): void {
  if (record.state === "ready") ctx.signal({ type: "ready" });
  else if (record.state === "scheduled" || record.state === "failed") {
    ctx.signal({ type: "delayed", at: record.runAt });
  } else if (isTerminal(record.state)) ctx.signal({ type: "ended", id: record.id });
}

/**
 * Tells this process about a committed change: the signal of the new state (see `announce`) and
 * the queue events `eventsOf` (job.ts) maps the change to, each carrying `job` and `error`.
 */
export function publish<T, R>(
  ctx: QueueContext<T, R>,
  event: JobEventType,
  before: JobState,
  after: JobRecord,
  job: Job<T, R>,
  error?: unknown,
): void {
  announce(ctx, after);
  for (const type of eventsOf(event, before, after)) ctx.emit(type, job, error);
}
