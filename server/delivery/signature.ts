/**
 * The signature of one delivery: HMAC-SHA256 over the message id, source app, target app, target
 * queue, timestamp and body bytes, carried in `x-kvq-*` headers.
 *
 * @module
 */

import { createSigner, type Signer, type SigningKey } from "../../src/signing.ts";

/** The request headers of a delivery. */
export const HEADERS = {
  id: "x-kvq-message-id",
  source: "x-kvq-source",
  target: "x-kvq-target",
  timestamp: "x-kvq-timestamp",
  signature: "x-kvq-signature",
} as const;

/** What a delivery's signature covers. */
export interface SignedFields {
  /** The message id. */
  readonly id: string;
  /** The sending app. */
  readonly source: string;
  /** The target app. */
  readonly target: string;
  /** The target queue. */
  readonly queue: string;
  /** When the attempt was signed (ms since the epoch). */
  readonly timestamp: number;
  /** The request body. */
  readonly body: Uint8Array;
}

/**
 * The signed bytes: a version tag, the fields one per line (none may hold a newline: ids and names
 * follow a grammar without one), then the body.
 */
function signedBytes(f: SignedFields): Uint8Array {
  const head = new TextEncoder().encode(
    `kvq-delivery-v1\n${f.id}\n${f.source}\n${f.target}\n${f.queue}\n${f.timestamp}\n`,
  );
  const out = new Uint8Array(head.length + f.body.length);
  out.set(head);
  out.set(f.body, head.length);
  return out;
}

/**
 * Signs a delivery with `key`.
 *
 * @param key The key shared with the target app.
 * @param fields What the signature covers.
 * @returns The signature (base64url).
 *
 * @example Sign and verify one delivery
 * ```ts
 * import { signDelivery, verifyDelivery } from "./signature.ts";
 * const fields = {
 *   id: "01J0000000000000000000000",
 *   source: "shop",
 *   target: "billing",
 *   queue: "invoices",
 *   timestamp: 1_700_000_000_000,
 *   body: new TextEncoder().encode('{"data":1}'),
 * };
 * const sig = await signDelivery("s3cret", fields);
 * console.log(await verifyDelivery("s3cret", fields, sig)); // true
 * ```
 */
export function signDelivery(key: SigningKey, fields: SignedFields): Promise<string> {
  return signWith(createSigner(key), fields);
}

/**
 * Checks a delivery's signature in constant time; `false` for a wrong or malformed one.
 *
 * @param key The key shared with the source app.
 * @param fields What the signature should cover.
 * @param signature The signature from the request.
 * @returns Whether it matches.
 */
export function verifyDelivery(key: SigningKey, fields: SignedFields, signature: string): Promise<boolean> {
  return verifyWith(createSigner(key), fields, signature);
}

/** {@linkcode signDelivery} with a signer made once (the delivery worker keeps one per peer). */
export function signWith(signer: Signer, fields: SignedFields): Promise<string> {
  return signer.sign(signedBytes(fields));
}

/** {@linkcode verifyDelivery} with a signer made once. */
export function verifyWith(signer: Signer, fields: SignedFields, signature: string): Promise<boolean> {
  return signer.verify(signedBytes(fields), signature);
}
