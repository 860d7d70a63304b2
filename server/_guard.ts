/**
 * Browser-facing defences of the sidecar: which `Host` names it answers (DNS rebinding), and which
 * requests may change anything (cross-site requests: a page on another origin can send `no-cors`
 * `text/plain` POSTs and HTML form POSTs to a loopback server without any preflight).
 *
 * @module
 */

import { HttpError } from "./_errors.ts";

/** The names a loopback server answers to without configuration. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]", "::1"];

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** True for an interface name that only this machine can reach. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** The host name of a `Host` header or URL authority, lower-cased, without the port. */
export function hostName(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith("[")) {
    const end = a.indexOf("]");
    return end < 0 ? a : a.slice(0, end + 1);
  }
  const colon = a.indexOf(":");
  return colon < 0 ? a : a.slice(0, colon);
}

/** A `Host` header as `URL.host` writes it (lower case, default port dropped). */
function authority(host: string): string | null {
  try {
    return new URL(`http://${host.trim()}`).host;
  } catch {
    return null;
  }
}

/**
 * Refuses a request whose `Host` is not one of `allowed` (421 Misdirected Request): a page that
 * rebinds its own DNS name to 127.0.0.1 sends its own name as `Host`.
 *
 * @param request The request.
 * @param allowed Host names (lower case, IPv6 in brackets).
 * @throws {HttpError} 421 for a foreign host.
 */
export function checkHost(request: Request, allowed: ReadonlySet<string>): void {
  const header = request.headers.get("host");
  const name = hostName(header ?? new URL(request.url).host);
  if (!allowed.has(name)) {
    throw new HttpError(
      421,
      "MisdirectedRequestError",
      `This server does not answer to host ${JSON.stringify(name)} (allowed: ${[...allowed].join(", ")})`,
    );
  }
}

/**
 * Refuses a cross-site mutation: a request that is not GET/HEAD/OPTIONS must not come from another
 * site (`Sec-Fetch-Site` other than `same-origin` or `none`, or an `Origin` whose host differs from
 * the request's), and a body must be declared `application/json` (forms and `text/plain` are what
 * a page on another origin can send without asking). 403 and 415 respectively.
 *
 * @param request The request.
 * @throws {HttpError} 403 `CrossOriginError` or 415 `UnsupportedMediaTypeError`.
 */
export function checkMutation(request: Request): void {
  if (SAFE_METHODS.has(request.method)) return;
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    throw new HttpError(403, "CrossOriginError", `Refused a ${site} ${request.method} request`);
  }
  const origin = request.headers.get("origin");
  if (origin !== null) {
    const own = authority(request.headers.get("host") ?? new URL(request.url).host);
    let from: string | null = null;
    try {
      from = origin === "null" ? null : new URL(origin).host;
    } catch { /* malformed: refused below */ }
    if (from === null || from !== own) {
      throw new HttpError(
        403,
        "CrossOriginError",
        `Refused a ${request.method} request from origin ${origin}`,
      );
    }
  }
  const type = request.headers.get("content-type");
  if (declaresBody(request) && !/^application\/json\s*(;|$)/i.test(type ?? "")) {
    throw new HttpError(
      415,
      "UnsupportedMediaTypeError",
      `A ${request.method} body must be sent as Content-Type: application/json, got ${type ?? "none"}`,
    );
  }
}

/** True when the request's headers say it has a body (a type, a length above 0, or chunks). */
function declaresBody(request: Request): boolean {
  const length = request.headers.get("content-length");
  return request.headers.get("content-type") !== null || request.headers.has("transfer-encoding") ||
    (length !== null && length.trim() !== "0");
}

/**
 * A mutation whose headers declare no body, but whose `Request` has a body stream (Deno.serve gives
 * one to every bodiless DELETE and to a POST sent without `Content-Length`): the stream is read for
 * its first chunk. Empty, the request is answered as the bodiless request it is; not empty (a
 * stream handed to the fetch handler in-process without a type), it is refused like any body not
 * sent as JSON. Nothing past the first chunk is read.
 *
 * @param request The request (already through {@linkcode checkMutation}).
 * @returns The request, or a copy without a body.
 * @throws {HttpError} 415 `UnsupportedMediaTypeError` for a body that is not empty.
 */
export async function undeclaredBody(request: Request): Promise<Request> {
  if (SAFE_METHODS.has(request.method) || request.body === null || declaresBody(request)) return request;
  const reader = request.body.getReader();
  let empty = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        empty = true;
        break;
      }
      if (value.length > 0) break;
    }
  } finally {
    if (!empty) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  if (!empty) {
    throw new HttpError(
      415,
      "UnsupportedMediaTypeError",
      `A ${request.method} body must be sent as Content-Type: application/json, got none`,
    );
  }
  return new Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
  });
}
