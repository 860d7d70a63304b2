/**
 * Listens for gRPC on a port: a cleartext HTTP/2 server (`node:http2`, h2c with prior knowledge,
 * as gRPC clients speak it) with connect-node's adapter, which answers gRPC, gRPC-Web and Connect
 * on the same port. `node:http2` servers work on Node, Bun and Deno alike (tried: grpc-js and
 * Connect's gRPC transport over HTTP/2 against each), so this is the one gRPC listener for all
 * three. HTTP/1.1 clients are not answered on this port: give them the service's `fetch` (Connect
 * and gRPC-Web) on an HTTP server.
 *
 * @module
 */

import type { Served, ServeOptions } from "../serve.ts";
import { InsecureBindError } from "../serve.ts";
import { isLoopback } from "../_guard.ts";
import type { GrpcService } from "./service.ts";

function hostForUrl(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/**
 * Serves a {@linkcode GrpcService} over cleartext HTTP/2: gRPC, gRPC-Web and Connect on one port,
 * on Node, Bun or Deno. A service without a token listens beyond loopback only with `insecure`,
 * as {@linkcode serve} does.
 *
 * @param service The service from {@linkcode createGrpcService}.
 * @param options `port` (default 8788, 0 for any free one), `hostname` (default "127.0.0.1"),
 *   `insecure`.
 * @returns The listening server, with its `url` (`http://host:port`) and `close()`.
 * @throws {InsecureBindError} For a bind beyond loopback without a token and without `insecure`.
 *
 * @example Serve it and call it with a client generated from proto/kvq/v1/queue.proto
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * import { createServer } from "@kvq/kvq/server";
 * import { createGrpcService, serveGrpc } from "@kvq/kvq/grpc";
 * import { createClient } from "@connectrpc/connect";
 * import { createGrpcTransport } from "@connectrpc/connect-node";
 * // Your own `buf generate` of the .proto; kvq's copy here:
 * import { QueueService } from "./gen/kvq/v1/queue_pb.ts";
 * const app = createServer({ store: new MemoryKv() });
 * const grpc = createGrpcService(app);
 * const served = await serveGrpc(grpc, { port: 0 });
 * const client = createClient(QueueService, createGrpcTransport({ baseUrl: served.url }));
 * const bytes = new Uint8Array([1, 2, 3]);
 * const { job } = await client.add({ queue: "mail", job: { data: { kind: { case: "binary", value: bytes } } } });
 * console.log(job?.state); // 2 (JobState.READY)
 * await served.close();
 * grpc.close();
 * await app.close();
 * ```
 */
export async function serveGrpc(service: GrpcService, options: ServeOptions = {}): Promise<Served> {
  const port = options.port ?? 8788;
  const hostname = options.hostname ?? "127.0.0.1";
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot serve gRPC: port must be an integer from 0 to 65535, got ${port}`);
  }
  if (!service.authenticated && !isLoopback(hostname)) {
    if (!options.insecure) {
      throw new InsecureBindError(
        `Cannot serve gRPC on ${hostname} without a token: anyone who can reach it could add, claim ` +
          `and delete jobs. Give a token (auth), listen on 127.0.0.1, or pass insecure: true (--insecure)`,
      );
    }
    console.warn(`kvq: WARNING: serving gRPC on ${hostname} WITHOUT A TOKEN (insecure)`);
  }
  const [http2, { connectNodeAdapter }] = await Promise.all([
    import("node:http2"),
    import("@connectrpc/connect-node"),
  ]);
  const server = http2.createServer(connectNodeAdapter({ routes: service.routes }));
  const sessions = new Set<import("node:http2").Http2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  let closed: Promise<void> | undefined;
  return {
    port: bound,
    hostname,
    url: `http://${hostForUrl(hostname)}:${bound}`,
    close: () =>
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      }),
  };
}
