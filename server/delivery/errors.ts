/**
 * The errors of app-to-app delivery.
 *
 * @module
 */

import { PermanentError } from "../../mod.ts";
import type { PoisonReason } from "./types.ts";

/**
 * The resolver does not know an app: a message to it is poisoned (reason `"unresolved"`).
 *
 * @example
 * ```ts
 * import { UnknownPeerError } from "./errors.ts";
 * console.log(new UnknownPeerError("billing").message); // "Cannot resolve app billing: no peer of that name"
 * ```
 */
export class UnknownPeerError extends Error {
  /** The app. */
  readonly app: string;
  /** Creates the error. */
  constructor(app: string, detail = "no peer of that name") {
    super(`Cannot resolve app ${app}: ${detail}`);
    this.name = "UnknownPeerError";
    this.app = app;
  }
}

/**
 * A message will not be delivered: the delivery worker throws it (as a `PermanentError`, so the
 * outbox job goes straight to `dead`, the poison queue) with why in `reason`.
 *
 * @example
 * ```ts
 * import { PoisonedError } from "./errors.ts";
 * const e = new PoisonedError("overflow", "billing answered 429");
 * console.log(e.message); // "Poisoned (overflow): billing answered 429"
 * ```
 */
export class PoisonedError extends PermanentError {
  /** Why. */
  readonly reason: PoisonReason;
  /** Creates the error. */
  constructor(reason: PoisonReason, detail: string) {
    super(`Poisoned (${reason}): ${detail}`);
    this.reason = reason;
  }
}

/** Why a receiver refused a message. */
export type RefusalReason = "unsigned" | "unknown-source" | "wrong-target" | "stale" | "signature";

/**
 * A receiver refused a message from a peer (the sidecar answers 401): it is not stored and never
 * reaches the app.
 *
 * @example
 * ```ts
 * import { DeliveryRefusedError } from "./errors.ts";
 * const e = new DeliveryRefusedError("signature", "the signature does not match");
 * console.log(e.status, e.reason); // 401 "signature"
 * ```
 */
export class DeliveryRefusedError extends Error {
  /** The HTTP status the sidecar answers with. */
  readonly status = 401;
  /** Why. */
  readonly reason: RefusalReason;
  /** Creates the error. */
  constructor(reason: RefusalReason, detail: string) {
    super(`Refused delivery (${reason}): ${detail}`);
    this.name = "DeliveryRefusedError";
    this.reason = reason;
  }
}

/**
 * One delivery attempt failed in a way worth retrying (peer unreachable, timed out, or it answered
 * 5xx): the outbox job is retried after the route's backoff.
 *
 * @example
 * ```ts
 * import { PeerUnavailableError } from "./errors.ts";
 * console.log(new PeerUnavailableError("billing", "answered 503").message); // "Cannot deliver to billing: answered 503"
 * ```
 */
export class PeerUnavailableError extends Error {
  /** The target app. */
  readonly app: string;
  /** Creates the error. */
  constructor(app: string, detail: string) {
    super(`Cannot deliver to ${app}: ${detail}`);
    this.name = "PeerUnavailableError";
    this.app = app;
  }
}
