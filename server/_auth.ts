/**
 * Bearer-token authentication with a constant-time comparison: both the presented token and every
 * accepted token are hashed with SHA-256 and the digests compared byte by byte without an early
 * exit, so neither the content nor the length of a token leaks through timing.
 *
 * @module
 */

const enc = new TextEncoder();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(text)));
}

function equalDigests(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length && i < b.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** A check of a request's `Authorization: Bearer <token>` header. */
export interface BearerAuth {
  /** True when `header` carries one of the accepted tokens. */
  check(header: string | undefined | null): Promise<boolean>;
}

/**
 * Builds a bearer check for `tokens` (compared in constant time).
 *
 * @param tokens The accepted tokens (non-empty strings).
 * @returns The check.
 * @throws {TypeError} When a token is empty or not a string.
 */
export function bearerAuth(tokens: readonly string[]): BearerAuth {
  for (const t of tokens) {
    if (typeof t !== "string" || t === "") {
      throw new TypeError("Invalid auth token: expected a non-empty string");
    }
  }
  const digests = Promise.all(tokens.map(digest));
  return {
    async check(header) {
      const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? "");
      if (!m) return false;
      const got = await digest(m[1]);
      let ok = false;
      // Compare against every token, without stopping at the first match.
      for (const d of await digests) ok = equalDigests(got, d) || ok;
      return ok;
    },
  };
}

/**
 * Compares two strings in constant time (for lease tokens).
 *
 * @param a One string.
 * @param b The other.
 * @returns True when equal.
 */
export function timingSafeEqualText(a: string, b: string): boolean {
  const x = enc.encode(a);
  const y = enc.encode(b);
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
