/**
 * Who may send to this app and with which key: the shared key, per-peer keys, and the list of
 * accepted source apps.
 *
 * @module
 */

import { createSigner, type Signer, type SigningKey } from "../../src/signing.ts";
import { checkAppId } from "./resolver.ts";

/** The keys of one sidecar: one signer per peer, made once. */
export class Keyring {
  readonly #shared: Signer | undefined;
  readonly #peers = new Map<string, Signer>();
  readonly #accept: ReadonlySet<string> | "*";

  /**
   * @param key The shared key.
   * @param peerKeys Per-peer keys.
   * @param accept Accepted source apps (`"*"`: any app the keys verify).
   * @throws {TypeError} When there is no key at all, or an app id is malformed.
   */
  constructor(
    key: SigningKey | undefined,
    peerKeys: Readonly<Record<string, SigningKey>> = {},
    accept: readonly string[] | "*",
  ) {
    this.#shared = key === undefined ? undefined : createSigner(key);
    for (const [app, k] of Object.entries(peerKeys)) {
      this.#peers.set(checkAppId(app, "peerKeys"), createSigner(k));
    }
    if (!this.#shared && !this.#peers.size) {
      throw new TypeError(
        "Invalid delivery options: give a shared `key`, `peerKeys`, or both (messages are signed)",
      );
    }
    this.#accept = accept === "*" ? "*" : new Set(accept.map((a) => checkAppId(a, "acceptFrom")));
  }

  /** The signer for messages to or from `app`, or `undefined` when there is no key for it. */
  signer(app: string): Signer | undefined {
    return this.#peers.get(app) ?? this.#shared;
  }

  /** The signer to verify a message from `app` with, or `undefined` when `app` is not accepted. */
  verifier(app: string): Signer | undefined {
    if (this.#accept !== "*" && !this.#accept.has(app)) return undefined;
    return this.signer(app);
  }
}
