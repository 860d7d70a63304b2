/**
 * Reading a request body under a byte limit: a declared `Content-Length` over the limit is refused
 * before a byte is read, and a streamed (chunked) body is counted as it arrives and abandoned as
 * soon as it passes the limit, so the server never holds more than the limit (plus one chunk).
 *
 * @module
 */

import { HttpError } from "./_errors.ts";

function tooLarge(what: string, limit: number): HttpError {
  return new HttpError(413, "LimitError", `Request body is ${what}, the limit is ${limit} bytes`);
}

/**
 * Refuses a request whose declared `Content-Length` is over `limit` (or not a length at all),
 * without reading its body.
 *
 * @param request The request.
 * @param limit The largest body in bytes.
 * @throws {HttpError} 413 when the declared length is over the limit, 400 when it is malformed.
 */
export function checkDeclaredLength(request: Request, limit: number): void {
  const declared = request.headers.get("content-length");
  if (declared === null) return;
  if (!/^\d{1,16}$/.test(declared.trim())) {
    throw new HttpError(400, "TypeError", `Invalid Content-Length: ${JSON.stringify(declared)}`);
  }
  const n = Number(declared.trim());
  if (n > limit) throw tooLarge(`${n} bytes`, limit);
}

/**
 * Reads a request's body as bytes, at most `limit` of them: over the limit, the read stops, the
 * stream is canceled and a 413 is thrown.
 *
 * @param request The request.
 * @param limit The largest body in bytes.
 * @returns The body (empty when there is none).
 * @throws {HttpError} 413 `LimitError` past the limit.
 */
export async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  checkDeclaredLength(request, limit);
  const body = request.body;
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw tooLarge(`over ${limit} bytes (${size} read so far)`, limit);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
