/**
 * What a server built by `createServer` shares with the other protocols served beside its HTTP
 * API (gRPC, `server/grpc/`): the same queues, the same remote-consumer leases (so a token from
 * one protocol is accepted by the other), the same metrics and the same auth. Kept in a `WeakMap`
 * keyed by the server, so nothing of it shows on the public `KvqServer`.
 *
 * @module
 */

import type { Consumers } from "./_consumer.ts";
import type { ServerMetrics } from "./metrics/collector.ts";
import type { Registry } from "./_registry.ts";

/** The pieces of one server that another protocol reuses. */
export interface ServerInternals {
  /** The queues served. */
  readonly registry: Registry;
  /** The remote consumers' claims and reports (lease tokens with their HMAC tags). */
  readonly consumers: Consumers;
  /** The server's metrics (totals come from the store, so nothing here counts per request). */
  readonly metrics: ServerMetrics;
  /** The auth check of a request; `undefined` when the server is open. */
  readonly allowed: ((request: Request) => Promise<boolean>) | undefined;
  /** The host names an open server answers to. */
  readonly hosts: ReadonlySet<string>;
  /** Largest request body in bytes. */
  readonly maxBodyBytes: number;
  /** Claim limits, in ms: the default and shortest lease, and the longest wait. */
  readonly claim: {
    readonly defaultLeaseMs: number;
    readonly minLeaseMs: number;
    readonly maxWaitMs: number;
  };
}

/** The internals of every server `createServer` made, by server. */
export const SERVER_INTERNALS: WeakMap<object, ServerInternals> = new WeakMap();
