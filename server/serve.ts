/**
 * Listens on a port with a fetch handler on whichever runtime this is: `Deno.serve` on Deno,
 * `Bun.serve` on Bun, `node:http` on Node (with a small Request/Response bridge, loaded only there).
 *
 * @module
 */

import { isLoopback } from "./_guard.ts";
import { listen } from "./_listen.ts";

/**
 * Refused: a bind beyond loopback for a handler that takes no token, without `insecure`. Give the
 * server a token (`createServer({ token })`), bind loopback, or pass `insecure: true` knowingly.
 */
export class InsecureBindError extends Error {
  /** Always `"InsecureBindError"`. */
  override name = "InsecureBindError";
}

/** A fetch handler, or an object with one (such as the server from `createServer`). */
export type FetchHandler =
  | ((request: Request) => Response | Promise<Response>)
  | { fetch(request: Request): Response | Promise<Response> };

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** The port; 0 picks a free one. @default 8787 */
  port?: number;
  /** The interface to listen on. @default "127.0.0.1" */
  hostname?: string;
  /**
   * Listen beyond loopback although the handler takes no token (`authenticated: false`, as
   * `createServer` without `auth` reports): anyone who can reach the port can then add, claim and
   * delete jobs. Without it, such a bind is refused. @default false
   */
  insecure?: boolean;
}

/** A listening HTTP server. */
export interface Served {
  /** The port it listens on (the chosen one when `port` was 0). */
  readonly port: number;
  /** The interface it listens on. */
  readonly hostname: string;
  /** `http://host:port`. */
  readonly url: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

interface DenoLike {
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void>; finished: Promise<void> };
}

interface BunLike {
  serve(options: {
    port: number;
    hostname: string;
    idleTimeout?: number;
    fetch: (request: Request) => Response | Promise<Response>;
  }): { port: number; stop(closeActiveConnections?: boolean): Promise<void> | void };
}

function hostForUrl(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/** The body of a Node request as a web stream, read only as the handler pulls it (never buffered). */
function nodeBody(req: AsyncIterable<unknown>): ReadableStream<Uint8Array> {
  const it = req[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value as Uint8Array);
    },
    // Canceled (a refused or too large body): stop reading; the connection closes after the answer.
    cancel() {},
  }, { highWaterMark: 0 });
}

async function serveNode(
  handle: (request: Request) => Response | Promise<Response>,
  port: number,
  hostname: string,
): Promise<{ port: number; close(): Promise<void> }> {
  const http = await import("node:http");
  const { STATUS_CODES } = http;
  const server = http.createServer(async (req, res) => {
    const controller = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    try {
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (Array.isArray(v)) { for (const item of v) headers.append(k, item); }
        else if (v !== undefined) headers.set(k, v);
      }
      const method = req.method ?? "GET";
      const hasBody = method !== "GET" && method !== "HEAD" &&
        (req.headers["transfer-encoding"] !== undefined ||
          (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0"));
      // The body streams into the handler as it pulls, so auth and the size limit act before and
      // while it arrives (`duplex: "half"` is what lets a Request carry a stream).
      const request = new Request(
        `http://${req.headers.host ?? `${hostForUrl(hostname)}:${port}`}${req.url}`,
        {
          method,
          headers,
          body: hasBody ? nodeBody(req) : undefined,
          signal: controller.signal,
          duplex: "half",
        } as RequestInit,
      );
      const response = await handle(request);
      const out: Record<string, string | string[]> = {};
      response.headers.forEach((v, k) => {
        if (k !== "set-cookie") out[k] = v;
      });
      // A body left unread (refused before or while it streamed) cannot be followed by another
      // request on this connection: close it once answered rather than read the rest.
      if (hasBody && !req.complete) out.connection = "close";
      const cookies = response.headers.getSetCookie();
      if (cookies.length) out["set-cookie"] = cookies;
      res.writeHead(response.status, response.statusText || STATUS_CODES[response.status] || "", out);
      if (response.body && method !== "HEAD") {
        for await (const chunk of response.body) {
          if (!res.write(chunk)) await new Promise<void>((r) => res.once("drain", () => r()));
        }
      }
      res.end();
    } catch (err) {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json; charset=utf-8" });
        res.end(
          JSON.stringify({ error: { name: "Error", message: String((err as Error)?.message ?? err) } }),
        );
      } else res.destroy();
    }
  });
  const bound = await listen(server, port, hostname);
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * Serves a fetch handler over HTTP on Deno, Bun or Node, picking the runtime's own server.
 *
 * @param handler A `(Request) => Response` function or an object with `fetch` (e.g. the server from
 *   `createServer`).
 * @param options `port` (default 8787, 0 for any free one) and `hostname` (default "127.0.0.1").
 * @returns The listening server, with its `url` and `close()`.
 *
 * @example Serve a handler on a free port
 * ```ts
 * import { serve } from "@kvq/kvq/server";
 * const http = await serve(() => new Response("hi"), { port: 0 });
 * console.log(await (await fetch(http.url)).text()); // "hi"
 * await http.close();
 * ```
 */
export async function serve(handler: FetchHandler, options: ServeOptions = {}): Promise<Served> {
  const handle = typeof handler === "function" ? handler : (req: Request) => handler.fetch(req);
  if (typeof handle !== "function") throw new TypeError("Cannot serve: expected a fetch handler");
  const port = options.port ?? 8787;
  const hostname = options.hostname ?? "127.0.0.1";
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot serve: port must be an integer from 0 to 65535, got ${port}`);
  }
  const open = typeof handler === "object" && handler !== null &&
    (handler as { authenticated?: unknown }).authenticated === false;
  if (open && !isLoopback(hostname)) {
    if (!options.insecure) {
      throw new InsecureBindError(
        `Cannot serve on ${hostname} without a token: anyone who can reach it could add, claim and ` +
          `delete jobs. Give a token (auth), listen on 127.0.0.1, or pass insecure: true (--insecure)`,
      );
    }
    console.warn(
      `kvq: WARNING: serving on ${hostname} WITHOUT A TOKEN (insecure): anyone who can reach this ` +
        `port can add, claim and delete jobs`,
    );
  }
  const g = globalThis as { Deno?: DenoLike; Bun?: BunLike };
  let bound: number;
  let close: () => Promise<void>;
  if (g.Deno && typeof g.Deno.serve === "function") {
    // Deno.serve listens before it returns; onListen replaces its default "Listening on" log.
    const server = g.Deno.serve({ port, hostname, onListen: () => {} }, (req) => handle(req));
    bound = server.addr.port;
    close = async () => {
      await server.shutdown();
      await server.finished;
    };
  } else if (g.Bun && typeof g.Bun.serve === "function") {
    // idleTimeout 0: long-polling claims may wait longer than Bun's 10 s default.
    const server = g.Bun.serve({ port, hostname, idleTimeout: 0, fetch: (req) => handle(req) });
    bound = server.port;
    close = async () => {
      await server.stop(true);
    };
  } else {
    const server = await serveNode(handle, port, hostname);
    bound = server.port;
    close = server.close;
  }
  let closed: Promise<void> | undefined;
  return {
    port: bound,
    hostname,
    url: `http://${hostForUrl(hostname)}:${bound}`,
    close: () => (closed ??= close()),
  };
}
