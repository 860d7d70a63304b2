/**
 * HMAC-SHA256 signing with WebCrypto, for tamper-evident payloads and tokens. Signatures are
 * base64url strings (43 characters, no padding); verification is constant-time (`crypto.subtle.verify`).
 *
 * @module
 */

/** A secret key: a string (its UTF-8 bytes are the key) or raw bytes. Must not be empty. */
export type SigningKey = string | Uint8Array;

/**
 * Signs bytes and verifies signatures with one secret key.
 *
 * @example Sign and verify
 * ```ts
 * import { createSigner } from "./signing.ts";
 * const signer = createSigner("s3cret");
 * const data = new TextEncoder().encode("job-1");
 * const sig = await signer.sign(data);
 * console.log(await signer.verify(data, sig)); // true
 * ```
 */
export interface Signer {
  /** Signs `data`; resolves to its HMAC-SHA256 as base64url (43 characters). */
  sign(data: Uint8Array): Promise<string>;
  /**
   * Checks a signature of `data` in constant time. Resolves to `false` (never rejects) for a wrong
   * or malformed signature.
   */
  verify(data: Uint8Array, signature: string): Promise<boolean>;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Encodes bytes as base64url without padding.
 *
 * @param bytes The bytes.
 * @returns The base64url text.
 *
 * @example
 * ```ts
 * import { encodeBase64Url } from "./signing.ts";
 * console.log(encodeBase64Url(new Uint8Array([251, 255]))); // "-_8"
 * ```
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Decodes base64url text (padding optional).
 *
 * @param text The base64url text.
 * @returns The bytes.
 * @throws {TypeError} When `text` is not base64url.
 *
 * @example
 * ```ts
 * import { decodeBase64Url } from "./signing.ts";
 * console.log(decodeBase64Url("-_8")); // Uint8Array [251, 255]
 * ```
 */
export function decodeBase64Url(text: string): Uint8Array {
  const body = text.replace(/=+$/, "");
  if (!BASE64URL.test(body) || body.length % 4 === 1) {
    throw new TypeError(`Cannot decode base64url: ${JSON.stringify(text.slice(0, 40))} is not base64url`);
  }
  const binary = atob(body.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * Creates an HMAC-SHA256 signer. The key is imported into WebCrypto once, on first use, and the
 * caller's key bytes are copied, so later changes to them do not affect the signer.
 *
 * @param key The secret; a non-empty string or byte array.
 * @returns The signer.
 * @throws {TypeError} When the key is empty or not a string or `Uint8Array`.
 *
 * @example Reject a tampered payload
 * ```ts
 * import { createSigner } from "./signing.ts";
 * const signer = createSigner(crypto.getRandomValues(new Uint8Array(32)));
 * const sig = await signer.sign(new TextEncoder().encode("pay 10"));
 * console.log(await signer.verify(new TextEncoder().encode("pay 99"), sig)); // false
 * ```
 */
export function createSigner(key: SigningKey): Signer {
  let bytes: Uint8Array<ArrayBuffer>;
  if (typeof key === "string") bytes = new TextEncoder().encode(key);
  else if (key instanceof Uint8Array) bytes = new Uint8Array(key);
  else throw new TypeError(`Cannot create signer: key must be a string or Uint8Array, got ${typeof key}`);
  if (bytes.length === 0) {
    throw new TypeError("Cannot create signer: key is empty, expected a non-empty secret");
  }
  // The key type is named through `crypto.subtle` so no DOM lib is needed to type-check.
  let imported: ReturnType<typeof crypto.subtle.importKey> | undefined;
  const cryptoKey = (): ReturnType<typeof crypto.subtle.importKey> => {
    imported ??= crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    return imported;
  };
  const checkData = (op: string, data: unknown): Uint8Array<ArrayBuffer> => {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError(`Cannot ${op}: data must be a Uint8Array, got ${typeof data}`);
    }
    return data as Uint8Array<ArrayBuffer>;
  };
  return {
    async sign(data: Uint8Array): Promise<string> {
      const input = checkData("sign", data);
      const mac = await crypto.subtle.sign("HMAC", await cryptoKey(), input);
      return encodeBase64Url(new Uint8Array(mac));
    },
    async verify(data: Uint8Array, signature: string): Promise<boolean> {
      const input = checkData("verify", data);
      if (typeof signature !== "string") return false;
      let mac: Uint8Array<ArrayBuffer>;
      try {
        mac = decodeBase64Url(signature) as Uint8Array<ArrayBuffer>;
      } catch {
        return false;
      }
      if (mac.length !== 32) return false;
      return await crypto.subtle.verify("HMAC", await cryptoKey(), mac, input);
    },
  };
}
