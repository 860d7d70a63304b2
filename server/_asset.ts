/**
 * How the sidecar answers with a static page, script or stylesheet of its own (the dashboard's,
 * uPlot's, the API reference's): its content type, `nosniff`, no referrer, a short public cache
 * (`no-cache` for HTML, so a page always asks for its current scripts), and an `ETag` answered 304
 * when the browser already has it.
 *
 * @module
 */

/** How {@linkcode assetResponse} answers. */
export interface AssetOptions {
  /** The `Content-Security-Policy` to send with it. @default none */
  csp?: string;
  /** An `ETag` (quoted here): a request whose `If-None-Match` names it gets a 304 without the body. */
  etag?: string;
}

/** Seconds a browser may keep a script or stylesheet before it asks again. */
const MAX_AGE_S = 300;

/**
 * The answer to `request` for an asset.
 *
 * @param request The request (for `If-None-Match`).
 * @param body The asset.
 * @param type Its `Content-Type`.
 * @param options The CSP and `ETag`.
 * @returns 200 with the asset, or 304 when the browser's copy is current.
 */
export function assetResponse(
  request: Request,
  body: string | Uint8Array,
  type: string,
  options: AssetOptions = {},
): Response {
  const headers: Record<string, string> = {
    "content-type": type,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": type.startsWith("text/html") ? "no-cache" : `public, max-age=${MAX_AGE_S}`,
  };
  if (options.csp !== undefined) headers["content-security-policy"] = options.csp;
  if (options.etag !== undefined) {
    headers.etag = `"${options.etag}"`;
    const wanted = request.headers.get("if-none-match");
    if (wanted !== null && wanted.split(",").some((t) => t.trim().replace(/^W\//, "") === headers.etag)) {
      return new Response(null, { status: 304, headers });
    }
  }
  return new Response(body as ConstructorParameters<typeof Response>[0], { headers });
}
