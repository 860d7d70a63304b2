/**
 * The kvq sidecar over gRPC: `kvq.v1.QueueService` (`proto/kvq/v1/queue.proto`, shipped in the
 * package) with the same operations as the HTTP API, served with Connect as gRPC, gRPC-Web and
 * Connect on one HTTP/2 port, on the same queues, leases and auth as a server from
 * `createServer`. `kvq serve --grpc-port N` starts it beside HTTP.
 *
 * | runtime | {@linkcode serveGrpc} (`node:http2`, h2c) | the service's `fetch` on a fetch-style server |
 * | --- | --- | --- |
 * | Node | gRPC, gRPC-Web, Connect (HTTP/2) | Connect, gRPC-Web over HTTP/1.1 (`serve` of `kvq/server`) |
 * | Bun | gRPC, gRPC-Web, Connect (HTTP/2) | Connect, gRPC-Web over HTTP/1.1 (`Bun.serve`) |
 * | Deno | gRPC, gRPC-Web, Connect (HTTP/2) | Connect, gRPC-Web over HTTP/1.1 and h2c (`Deno.serve`) |
 *
 * gRPC proper needs HTTP/2 trailers, which no fetch-style server sends; hence `node:http2`.
 *
 * Clients in any language are generated from the `.proto` (shipped in the package); in
 * TypeScript with `buf generate` and `@bufbuild/protoc-gen-es`, then Connect's `createClient`.
 * kvq's own generated code (`server/grpc/gen/`) is internal.
 *
 * @example A remote consumer over gRPC: claim, then complete
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * import { createServer } from "@kvq/kvq/server";
 * import { createGrpcService, serveGrpc } from "@kvq/kvq/grpc";
 * import { fromJson } from "@bufbuild/protobuf";
 * import { ValueSchema } from "@bufbuild/protobuf/wkt";
 * import { createClient } from "@connectrpc/connect";
 * import { createGrpcTransport } from "@connectrpc/connect-node";
 * // Your own `buf generate` of proto/kvq/v1/queue.proto; kvq's copy here:
 * import { JobState, QueueService } from "./gen/kvq/v1/queue_pb.ts";
 * const app = createServer({ store: new MemoryKv(), auth: "s3cret" });
 * const grpc = createGrpcService(app);
 * const served = await serveGrpc(grpc, { port: 0 });
 * const client = createClient(QueueService, createGrpcTransport({ baseUrl: served.url }));
 * const headers = { authorization: "Bearer s3cret" };
 * const data = { kind: { case: "json" as const, value: fromJson(ValueSchema, { to: "a@example.com" }) } };
 * await client.add({ queue: "mail", job: { data } }, { headers });
 * const { leases: [lease] } = await client.claim({ queue: "mail", leaseMs: 30_000n }, { headers });
 * const { job } = await client.complete({ id: lease.job!.id, token: lease.token }, { headers });
 * console.log(job?.state === JobState.COMPLETED); // true
 * await served.close();
 * grpc.close();
 * await app.close();
 * ```
 *
 * @module
 */

export { createGrpcService, type GrpcRouter, type GrpcService } from "./service.ts";
export { serveGrpc } from "./serve.ts";
export { ERROR_NAME_TRAILER } from "./_status.ts";
