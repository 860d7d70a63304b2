/**
 * Lease tokens handed to remote consumers: unguessable and still fencing. The engine's lease token
 * fences (a report is accepted only while the job holds it) but is made by the id factory, so
 * tokens of one claim are consecutive. The server therefore hands out the engine's token followed
 * by a 128-bit HMAC-SHA256 tag of the queue, the job id and that token, under a 256-bit key from
 * `crypto.getRandomValues`; a report whose tag does not verify is refused before the engine sees it.
 *
 * The key is the server's `leaseKey` when given; otherwise one kept in the store (made once, so
 * every server on the same store, and a restarted one, accept each other's tokens); without a
 * store, one per server.
 *
 * @module
 */

import type { AtomicKv, KvKey } from "../mod.ts";

const enc = new TextEncoder();
/** Bytes of the tag kept in a token (128 bits). */
const TAG_BYTES = 16;

/** Where a store keeps the lease key (outside the engine's keys). */
export function leaseKeyKey(root: KvKey): KvKey {
  return ["kvq-sidecar", ...root, "lease-key"];
}

function randomKey(): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(32));
}

/** The lease key stored in `kv`, made (atomically, once) when missing. */
async function storedKey(kv: AtomicKv, root: KvKey): Promise<Uint8Array<ArrayBuffer>> {
  const key = leaseKeyKey(root);
  for (let i = 0; i < 5; i++) {
    const got = await kv.get(key);
    if (got) return new Uint8Array(got.value);
    const fresh = randomKey();
    const res = await kv.atomic().check(key, null).set(key, fresh).commit();
    if (res.ok) return fresh;
  }
  throw new Error("Cannot make the lease key: the store keeps refusing it");
}

function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Signs and verifies the tags of lease tokens. */
export class LeaseTags {
  readonly #load: () => Promise<Uint8Array<ArrayBuffer>>;
  #key: ReturnType<typeof crypto.subtle.importKey> | undefined;

  /**
   * @param secret The key bytes or text; `undefined`: from `store` (or random without one).
   * @param store The store whose servers share the key.
   * @param root The store's kvq root.
   */
  constructor(secret: string | Uint8Array | undefined, store: AtomicKv | undefined, root: KvKey) {
    if (secret !== undefined && (typeof secret === "string" ? secret.length < 16 : secret.length < 16)) {
      throw new RangeError("Invalid leaseKey: expected at least 16 bytes");
    }
    const own = secret === undefined && !store ? randomKey() : undefined;
    this.#load = secret !== undefined
      ? () => Promise.resolve(typeof secret === "string" ? enc.encode(secret) : new Uint8Array(secret))
      : store
      ? () => storedKey(store, root)
      : () => Promise.resolve(own!);
  }

  /** The HMAC key, loaded (or made in the store) on first use, so a server that hands out no lease writes nothing. */
  #hmac(): ReturnType<typeof crypto.subtle.importKey> {
    const key = this.#key ??= this.#load().then((raw) =>
      crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
    );
    key.catch(() => (this.#key = undefined)); // a store error: try again next time
    return key;
  }

  /** The tag of a lease: 22 base64url characters. */
  async tag(queue: string, id: string, token: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", await this.#hmac(), enc.encode(`${queue}\n${id}\n${token}`));
    return toBase64Url(new Uint8Array(mac, 0, TAG_BYTES));
  }

  /** True when `tag` is the tag of this lease (compared in constant time). */
  async verify(queue: string, id: string, token: string, tag: string): Promise<boolean> {
    const want = await this.tag(queue, id, token);
    let diff = want.length ^ tag.length;
    for (let i = 0; i < want.length; i++) diff |= want.charCodeAt(i) ^ (tag.charCodeAt(i) || 0);
    return diff === 0;
  }
}
