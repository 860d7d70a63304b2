/**
 * The options and shapes of app-to-app delivery: who this sidecar is, how it finds its peers, how
 * it signs, how often it retries, where poisoned messages go and how it reports what it did.
 *
 * @module
 */

import type { BackoffOptions, Clock, Queue, SigningKey } from "../../mod.ts";
import type { PeersOption } from "./resolver.ts";

/**
 * Finds the base URL (`http://host:port`, no trailing slash) of the sidecar of app `app`.
 * Throw {@linkcode UnknownPeerError} for an app it does not know: the message is poisoned
 * (reason `"unresolved"`) instead of retried.
 */
export type Resolver = (app: string) => string | Promise<string>;

/** The retry policy of a route: how many attempts, and the wait between them. */
export interface RetryPolicy {
  /** Most delivery attempts (the first included). @default 10 */
  attempts?: number;
  /**
   * The wait after a failed attempt.
   * @default { type: "exponential", delay: 500, max: 30_000 }: 0.5 s, 1 s, 2 s, ... capped at 30 s
   */
  backoff?: BackoffOptions;
}

/** Why a message was poisoned (sent to the poison queue instead of its target). */
export type PoisonReason =
  /** Every allowed attempt failed (peer unreachable, or it answered 5xx). */
  | "exhausted"
  /** The receiver's queue was full (`maxQueued`): it answered 429. */
  | "overflow"
  /** The receiver refused the message for good (a 4xx other than 429: bad signature, bad queue name, ...). */
  | "refused"
  /** The resolver does not know the target app. */
  | "unresolved";

/** A message that will not be delivered, as handed to the poison sink. */
export interface PoisonedMessage {
  /** The message id (a ULID, the outbox job's id). */
  readonly id: string;
  /** The sending app (this sidecar). */
  readonly source: string;
  /** The target app. */
  readonly app: string;
  /** The target queue. */
  readonly queue: string;
  /** The payload. */
  readonly data: unknown;
  /** Held in memory only (`transient: true`). */
  readonly transient: boolean;
  /** Why it was poisoned. */
  readonly reason: PoisonReason;
  /** What the last attempt met (the receiver's answer, or the network error). */
  readonly detail: string;
  /** Attempts made. */
  readonly attempts: number;
}

/**
 * Where poisoned messages go besides the poison queue: a webhook URL (POSTed the
 * {@linkcode PoisonedMessage} as JSON), a callback, or a queue (in another store, say) that gets
 * the message as a job.
 */
export type PoisonSink = string | ((message: PoisonedMessage) => void | Promise<void>) | Queue;

/** What {@linkcode DeliveryEvent} reports. */
export type DeliveryEventType =
  /** A message was accepted by the target's sidecar (sender side). */
  | "delivered"
  /** An attempt failed and another is scheduled (sender side). */
  | "retried"
  /** A message went to the poison queue (sender side). */
  | "poisoned"
  /** A message from a peer was stored in its queue; `duplicate` when it was already there (receiver side). */
  | "received"
  /** A message from a peer was refused: bad or missing signature, unknown source, stale (receiver side). */
  | "rejected";

/**
 * One thing delivery did, for metrics: counters per peer (`delivered`, `retried`, `poisoned` by
 * target app; `received`, `rejected` by source app).
 */
export interface DeliveryEvent {
  /** What happened. */
  readonly type: DeliveryEventType;
  /** The other app: the target for sender-side events, the claimed source for receiver-side ones. */
  readonly peer: string;
  /** The target queue. */
  readonly queue: string;
  /** The message id (absent for a rejected request without one). */
  readonly id?: string;
  /** Sender side: the attempt that ended (1-based). */
  readonly attempt?: number;
  /** `poisoned`: why. */
  readonly reason?: PoisonReason;
  /** `received`: the message was already in the queue (a resend), nothing was stored. */
  readonly duplicate?: boolean;
  /** `retried`, `poisoned`, `rejected`: what went wrong. */
  readonly detail?: string;
}

/** Delivery counters of one peer (see {@linkcode DeliveryEvent}). */
export interface PeerCounters {
  /** Messages to this peer it acknowledged. */
  delivered: number;
  /** Failed attempts to this peer that were retried. */
  retried: number;
  /** Messages to this peer that went to the poison queue. */
  poisoned: number;
  /** Messages from this peer stored in a queue here. */
  received: number;
  /** Messages from this peer that were already here (resends: acknowledged, nothing stored). */
  duplicates: number;
  /** Requests claiming to come from this peer that were refused. */
  rejected: number;
}

/** Options of app-to-app delivery (`createServer({ appId, delivery })`). */
export interface DeliveryOptions {
  /**
   * How target apps are found: a static map from app id to base URL
   * (`{ billing: "http://10.0.0.7:8787" }`), a DNS name template with `{app}` in it
   * (`"http://{app}.prod.svc.cluster.local:8787"`, or `{ template, vars }` with more
   * placeholders), or a function. @default none (every message is poisoned `"unresolved"`)
   */
  peers?: PeersOption;
  /** The key shared by every app (HMAC-SHA256 of each message). Give this, `peerKeys`, or both. */
  key?: SigningKey;
  /**
   * Per-peer keys: the key this app signs with for messages to that app, and verifies messages from
   * it with. Wins over `key` for the apps it names.
   */
  peerKeys?: Readonly<Record<string, SigningKey>>;
  /**
   * The source apps whose messages are accepted. Messages from other apps are refused, even when
   * signed with the shared key. @default the apps named in `peerKeys` and in a static `peers` map
   */
  acceptFrom?: readonly string[] | "*";
  /** The default retry policy. @default { attempts: 10, exponential 0.5 s .. 30 s } */
  retry?: RetryPolicy;
  /** Retry policies per route, by `"app/queue"` or `"app"` (the first that matches wins over `retry`). */
  routes?: Readonly<Record<string, RetryPolicy>>;
  /** Where poisoned messages go besides the poison queue. @default none */
  poisonSink?: PoisonSink;
  /** Called for every delivery event (counters per peer for metrics). @default none */
  onEvent?: (event: DeliveryEvent) => void;
  /** Largest accepted difference between a message's timestamp and this clock, in ms. @default 300000 */
  maxSkewMs?: number;
  /** Deliveries in flight at once (per outbox: durable and transient). @default 8 */
  concurrency?: number;
  /** Longest wait for a peer's answer to one attempt, in ms. @default 10000 */
  requestTimeoutMs?: number;
  /** Lease of the delivery worker's jobs, in ms: how soon a crashed sender's deliveries are retried. @default 30000 */
  leaseMs?: number;
  /** Time source (timestamps, skew checks). @default systemClock */
  clock?: Clock;
  /** The HTTP client. @default globalThis.fetch */
  fetch?: (request: Request) => Promise<Response>;
}
