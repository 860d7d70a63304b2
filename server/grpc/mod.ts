/**
 * The kvq sidecar over gRPC: `kvq.v1.QueueService` (`proto/kvq/v1/queue.proto`, shipped in the
 * package) with the same operations as the HTTP API, served with Connect as gRPC, gRPC-Web and
 * Connect on one HTTP/2 port, on the same queues, leases and auth as a server from
 * `createServer`. `kvq serve --grpc-port N` starts it beside HTTP.
 *
 * | runtime | {@linkcode serveGrpc} (`node:http2`, h2c) | `service.fetch` on `Deno.serve` / `Bun.serve` |
 * | --- | --- | --- |
 * | Node | gRPC, gRPC-Web, Connect (HTTP/2) | (use `serve`: Connect, gRPC-Web over HTTP/1.1) |
 * | Bun | gRPC, gRPC-Web, Connect (HTTP/2) | Connect, gRPC-Web over HTTP/1.1 |
 * | Deno | gRPC, gRPC-Web, Connect (HTTP/2) | Connect, gRPC-Web over HTTP/1.1 and HTTP/2 |
 *
 * gRPC proper needs HTTP/2 trailers, which no fetch-style server sends; hence `node:http2`.
 *
 * @example A remote consumer over gRPC: claim, then complete
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * import { createServer } from "@kvq/kvq/server";
 * import { createGrpcService, QueueService, serveGrpc, toValue } from "@kvq/kvq/grpc";
 * import { createClient } from "@connectrpc/connect";
 * import { createGrpcTransport } from "@connectrpc/connect-node";
 * const app = createServer({ store: new MemoryKv(), auth: "s3cret" });
 * const grpc = createGrpcService(app);
 * const served = await serveGrpc(grpc, { port: 0 });
 * const client = createClient(QueueService, createGrpcTransport({ baseUrl: served.url }));
 * const headers = { authorization: "Bearer s3cret" };
 * await client.add({ queue: "mail", job: { data: toValue({ to: "a@example.com" }) } }, { headers });
 * const { leases: [lease] } = await client.claim({ queue: "mail" }, { headers });
 * const { job } = await client.complete({ id: lease.job!.id, token: lease.token }, { headers });
 * console.log(job?.state === 5); // true (JobState.COMPLETED)
 * await served.close();
 * grpc.close();
 * await app.close();
 * ```
 *
 * @module
 */

export { createGrpcService, type GrpcService } from "./service.ts";
export { serveGrpc } from "./serve.ts";
export { fromValue, toValue } from "./_convert.ts";
export { ERROR_NAME_TRAILER } from "./_status.ts";
// The generated code: the service and its enum as values, every message as a type (build
// messages with `create(...Schema)` from the generated file, or pass plain objects to a client).
export { file_kvq_v1_queue, JobState, QueueService } from "./gen/kvq/v1/queue_pb.ts";
export type * from "./gen/kvq/v1/queue_pb.ts";
