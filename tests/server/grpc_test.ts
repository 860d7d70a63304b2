// The gRPC service driven by real gRPC clients over HTTP/2: @grpc/grpc-js with the .proto loaded at
// run time (an implementation independent of the server's Connect and protobuf-es), and Connect's
// own gRPC transport for the typed client and the streaming claim. Same store, leases and auth as
// the HTTP API: a token from one protocol is accepted by the other.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { createServer, serve } from "../../server/mod.ts";
import { createGrpcService, ERROR_NAME_TRAILER, serveGrpc } from "../../server/grpc/mod.ts";
import { fromValue, toValue } from "../../server/grpc/_convert.ts";
import { JobState, QueueService } from "../../server/grpc/gen/kvq/v1/queue_pb.ts";
import { until } from "./_helpers.ts";

const TOKEN = "grpc-test-token";
const PROTO = fileURLToPath(new URL("../../proto/kvq/v1/queue.proto", import.meta.url));

// ---------------------------------------------------------------- grpc-js, from the .proto
// deno-lint-ignore no-explicit-any
type Any = any;
const definition = protoLoader.loadSync(PROTO, {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [fileURLToPath(new URL("../../proto", import.meta.url))],
});
const QueueServiceClient = (grpc.loadPackageDefinition(definition) as Any).kvq.v1.QueueService;

/** JSON as a google.protobuf.Value in protobufjs's object form. */
function pbJson(v: unknown): Any {
  if (v === null) return { nullValue: "NULL_VALUE" };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(pbJson) } };
  return {
    structValue: { fields: Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, pbJson(x)])) },
  };
}

/** A google.protobuf.Value in protobufjs's object form as JSON. */
function jsonOf(v: Any): unknown {
  switch (v.kind) {
    case "nullValue":
      return null;
    case "numberValue":
    case "stringValue":
    case "boolValue":
      return v[v.kind];
    case "listValue":
      return v.listValue.values.map(jsonOf);
    case "structValue":
      return Object.fromEntries(Object.entries(v.structValue.fields).map(([k, x]) => [k, jsonOf(x)]));
  }
  return undefined;
}

interface GrpcJs {
  call(method: string, request: object, token?: string | null): Promise<Any>;
  stream(method: string, request: object): grpc.ClientReadableStream<Any>;
  close(): void;
}

function grpcJs(address: string): GrpcJs {
  const client = new QueueServiceClient(address, grpc.credentials.createInsecure());
  const meta = (token: string | null | undefined) => {
    const m = new grpc.Metadata();
    if (token !== null) m.set("authorization", `Bearer ${token ?? TOKEN}`);
    return m;
  };
  return {
    call: (method, request, token) =>
      new Promise((resolve, reject) =>
        client[method](
          request,
          meta(token),
          (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res)),
        )
      ),
    stream: (method, request) => client[method](request, meta(undefined)),
    close: () => client.close(),
  };
}

/** Asserts `p` rejects with gRPC status `code` and a message matching `message`. */
async function rejectsWith(p: Promise<unknown>, code: grpc.status, message: RegExp): Promise<Any> {
  let caught: Any;
  await assert.rejects(p, (err: Any) => {
    caught = err;
    assert.equal(err.code, code, `status ${err.code} (${err.details}), expected ${code}`);
    assert.match(err.details, message);
    return true;
  });
  return caught;
}

describe("gRPC service", () => {
  let store: MemoryKv;
  let app: ReturnType<typeof createServer>;
  let service: ReturnType<typeof createGrpcService>;
  let served: Awaited<ReturnType<typeof serveGrpc>>;
  let js: GrpcJs;
  let seq = 0;
  /** A queue name no other test uses. */
  const fresh = () => `g${++seq}`;

  before(async () => {
    store = new MemoryKv();
    app = createServer({ store, auth: TOKEN, minLeaseMs: 100 });
    service = createGrpcService(app);
    served = await serveGrpc(service, { port: 0 });
    js = grpcJs(`127.0.0.1:${served.port}`);
  });
  after(async () => {
    js.close();
    service.close();
    await served.close();
    await app.close();
    store.close();
  });

  test("grpc-js: Add stores a job and GetJob returns it with its payload", async () => {
    const queue = fresh();
    const added = await js.call("Add", {
      queue,
      job: { data: { json: pbJson({ to: "a@example.com", n: 2 }) }, maxAttempts: 2, key: "k1" },
    });
    assert.equal(added.created, true);
    assert.equal(added.job.state, "JOB_STATE_READY");
    assert.equal(added.job.maxAttempts, 2);
    const again = await js.call("Add", { queue, job: { data: { json: pbJson(1) }, key: "k1" } });
    assert.equal(again.created, false, "the idempotency key returns the existing job");
    const got = await js.call("GetJob", { id: added.job.id });
    assert.equal(got.job.queue, queue);
    assert.deepEqual(jsonOf(got.job.data.json), { to: "a@example.com", n: 2 });
    const counts = await js.call("Counts", { queue });
    assert.equal(counts.counts.ready, 1);
  });

  test("grpc-js: Claim leases a job, Heartbeat renews it, Complete ends it", async () => {
    const queue = fresh();
    await js.call("Add", { queue, job: { data: { json: pbJson("work") } } });
    const { leases } = await js.call("Claim", { queue, leaseMs: 5000 });
    assert.equal(leases.length, 1);
    const [lease] = leases;
    assert.equal(lease.job.state, "JOB_STATE_ACTIVE");
    assert.equal(lease.leaseMs, 5000);
    const beat = await js.call("Heartbeat", {
      id: lease.job.id,
      token: lease.token,
      progress: { json: pbJson({ pct: 50 }) },
    });
    assert.ok(beat.expiresAtMs >= lease.expiresAtMs);
    const done = await js.call("Complete", {
      id: lease.job.id,
      token: lease.token,
      result: { json: pbJson("ok") },
    });
    assert.equal(done.job.state, "JOB_STATE_COMPLETED");
    assert.equal(jsonOf(done.job.result.json), "ok");
    const none = await js.call("Claim", { queue });
    assert.deepEqual(none.leases, [], "nothing left to claim");
  });

  test("grpc-js: Fail with retry false sends the job to dead, and RedriveJob brings it back", async () => {
    const queue = fresh();
    await js.call("Add", { queue, job: { data: { json: pbJson(1) }, maxAttempts: 5 } });
    const [lease] = (await js.call("Claim", { queue })).leases;
    const failed = await js.call("Fail", {
      id: lease.job.id,
      token: lease.token,
      error: { name: "BadInput", message: "cannot parse" },
      retry: false,
    });
    assert.equal(failed.job.state, "JOB_STATE_DEAD");
    assert.equal(failed.job.reason, "permanent");
    assert.equal(failed.job.error.name, "BadInput");
    assert.equal(failed.job.history[0].outcome, "failed");
    const dead = await js.call("ListJobs", { queue, state: "JOB_STATE_DEAD" });
    assert.deepEqual(dead.jobs.map((j: Any) => j.id), [lease.job.id]);
    assert.equal(dead.jobs[0].data, null, "pages leave payloads out unless asked");
    const back = await js.call("RedriveJob", { id: lease.job.id, queue });
    assert.equal(back.job.state, "JOB_STATE_READY");
  });

  test("grpc-js: Fail with attempts left retries; the last failure leaves the job dead (exhausted)", async () => {
    const queue = fresh();
    await js.call("Add", { queue, job: { data: { json: pbJson(1) }, maxAttempts: 2, backoffMs: 0 } });
    for (let i = 1; i <= 2; i++) {
      const [lease] = (await js.call("Claim", { queue, waitMs: 2000 })).leases;
      assert.equal(lease.job.attempt, i);
      const { job } = await js.call("Fail", {
        id: lease.job.id,
        token: lease.token,
        error: { message: "boom" },
      });
      assert.equal(job.state, i === 1 ? "JOB_STATE_FAILED" : "JOB_STATE_DEAD");
      if (i === 2) assert.equal(job.reason, "exhausted");
    }
  });

  test("grpc-js: ClaimStream pushes jobs as they come, never more than max_in_flight unreported", async () => {
    const queue = fresh();
    const stream = js.stream("ClaimStream", { queue, maxInFlight: 1, leaseMs: 10_000 });
    const got: Any[] = [];
    stream.on("data", (m: Any) => got.push(m.lease));
    const ended = new Promise<Any>((resolve) => stream.on("error", resolve));
    // Added after the stream opened: pushed as soon as it is ready.
    await js.call("Add", { queue, job: { data: { json: pbJson("a") } } });
    await js.call("Add", { queue, job: { data: { json: pbJson("b") } } });
    await until(() => got.length === 1, "the first pushed job");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(got.length, 1, "the credit (1) holds the second job back");
    assert.equal((await js.call("Counts", { queue })).counts.ready, 1);
    await js.call("Complete", { id: got[0].job.id, token: got[0].token });
    await until(() => got.length === 2, "the second job once the first was reported");
    assert.deepEqual(got.map((l) => jsonOf(l.job.data.json)), ["a", "b"]);
    // A slot also frees when the job is reported elsewhere (here: over HTTP) or its lease ends.
    await js.call("Add", { queue, job: { data: { json: pbJson("c") } } });
    const res = await app.fetch(
      new Request(`http://localhost/jobs/${got[1].job.id}/release`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ token: got[1].token }),
      }),
    );
    assert.equal(res.status, 200, "the HTTP API accepts the token handed out over gRPC");
    await until(() => got.length >= 3, "a job once the second was released over HTTP", 5000);
    stream.cancel();
    assert.equal((await ended).code, grpc.status.CANCELLED);
  });

  test("grpc-js: ClaimStream frees a slot when a pushed job's lease runs out unreported", async () => {
    const queue = fresh();
    await js.call("Add", { queue, job: { data: { json: pbJson("a") }, maxAttempts: 3 } });
    await js.call("Add", { queue, job: { data: { json: pbJson("b") } } });
    const stream = js.stream("ClaimStream", { queue, maxInFlight: 1, leaseMs: 100 });
    const got: Any[] = [];
    stream.on("data", (m: Any) => got.push(m.lease));
    const ended = new Promise<Any>((resolve) => stream.on("error", resolve));
    await until(() => got.length === 1, "the first pushed job");
    // Never reported: the healer ends the lease, and the stream's recheck frees the slot.
    await until(() => got.length === 2, "a second job after the first lease ran out", 8000);
    const first = await js.call("GetJob", { id: got[0].job.id });
    assert.notEqual(first.job.state, "JOB_STATE_COMPLETED");
    assert.equal(first.job.history[0].outcome, "stalled");
    stream.cancel();
    assert.equal((await ended).code, grpc.status.CANCELLED);
  });

  test("grpc-js: ClaimStream ends after max_jobs", async () => {
    const queue = fresh();
    for (const d of [1, 2, 3]) await js.call("Add", { queue, job: { data: { json: pbJson(d) } } });
    const stream = js.stream("ClaimStream", { queue, maxInFlight: 5, maxJobs: 2 });
    const got: Any[] = [];
    stream.on("data", (m: Any) => got.push(m.lease));
    await new Promise<void>((resolve, reject) => {
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    assert.equal(got.length, 2);
  });

  test("grpc-js: a call without the token is UNAUTHENTICATED, a wrong token too", async () => {
    await rejectsWith(js.call("ListQueues", {}, null), grpc.status.UNAUTHENTICATED, /bearer token/);
    await rejectsWith(js.call("Add", { queue: "x", job: {} }, "wrong"), grpc.status.UNAUTHENTICATED, /token/);
  });

  test("grpc-js: bad arguments are INVALID_ARGUMENT naming the field", async () => {
    const queue = fresh();
    await rejectsWith(js.call("Claim", { queue, leaseMs: 5 }), grpc.status.INVALID_ARGUMENT, /lease_ms/);
    await rejectsWith(js.call("Claim", { queue, limit: 1000 }), grpc.status.INVALID_ARGUMENT, /limit/);
    await rejectsWith(
      js.call("Add", { queue, job: { data: { json: pbJson(1) }, delayMs: -1 } }),
      grpc.status.INVALID_ARGUMENT,
      /delay_ms/,
    );
    await rejectsWith(js.call("Add", { queue, job: {} }), grpc.status.INVALID_ARGUMENT, /"data"/);
    await rejectsWith(
      js.call("Add", { queue: "bad name!", job: { data: { json: pbJson(1) } } }),
      grpc.status.INVALID_ARGUMENT,
      /queue name/,
    );
    await rejectsWith(js.call("Heartbeat", { id: "x", token: "" }), grpc.status.INVALID_ARGUMENT, /token/);
  });

  test("grpc-js: unknown jobs and queues are NOT_FOUND; a lost lease is FAILED_PRECONDITION", async () => {
    const queue = fresh();
    await rejectsWith(js.call("GetJob", { id: "01NOPE" }), grpc.status.NOT_FOUND, /01NOPE/);
    await rejectsWith(js.call("Counts", { queue: "never-made" }), grpc.status.NOT_FOUND, /never-made/);
    await js.call("Add", { queue, job: { data: { json: pbJson(1) } } });
    const [lease] = (await js.call("Claim", { queue })).leases;
    await js.call("Complete", { id: lease.job.id, token: lease.token });
    const err = await rejectsWith(
      js.call("Complete", { id: lease.job.id, token: lease.token }),
      grpc.status.FAILED_PRECONDITION,
      /lease ended/,
    );
    assert.deepEqual(err.metadata.get(ERROR_NAME_TRAILER), ["LeaseLostError"]);
    // A forged tag is refused before the engine sees it.
    const forged = lease.token.replace(/.$/, (c: string) => (c === "A" ? "B" : "A"));
    await rejectsWith(
      js.call("Release", { id: lease.job.id, token: forged }),
      grpc.status.FAILED_PRECONDITION,
      /not a lease of this job/,
    );
  });

  test("grpc-js: Pause stops claims, Resume restarts them; CancelJob, RemoveJob, RedriveDead", async () => {
    const queue = fresh();
    const { job } = await js.call("Add", { queue, job: { data: { json: pbJson(1) } } });
    assert.equal((await js.call("Pause", { queue })).paused, true);
    assert.deepEqual((await js.call("Claim", { queue })).leases, []);
    assert.equal((await js.call("Resume", { queue })).paused, false);
    const canceled = await js.call("CancelJob", { id: job.id });
    assert.equal(canceled.canceled, true);
    assert.equal(canceled.job.state, "JOB_STATE_CANCELED");
    assert.equal((await js.call("RemoveJob", { id: job.id, queue })).removed, true);
    assert.equal((await js.call("RemoveJob", { id: job.id, queue })).removed, false);
    assert.equal((await js.call("RedriveDead", { queue })).redriven, 0);
    const { queues } = await js.call("ListQueues", {});
    assert.ok(queues.some((q: Any) => q.name === queue));
  });

  test("Connect's gRPC transport (HTTP/2): typed client, AddBulk and a streaming claim", async () => {
    const client = createClient(QueueService, createGrpcTransport({ baseUrl: served.url }));
    const headers = { authorization: `Bearer ${TOKEN}` };
    const queue = fresh();
    const bulk = await client.addBulk({
      queue,
      jobs: [{ data: toValue({ n: 1 }) }, { data: toValue(new Uint8Array([1, 2, 3])) }],
    }, { headers });
    assert.equal(bulk.jobs.length, 2);
    const ac = new AbortController();
    const seen: unknown[] = [];
    for await (
      const { lease } of client.claimStream({ queue, maxInFlight: 2 }, { headers, signal: ac.signal })
    ) {
      seen.push(fromValue(lease?.job?.data));
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, [{ n: 1 }, new Uint8Array([1, 2, 3])]);
    const page = await client.listJobs({ queue, state: JobState.ACTIVE, payloads: true }, { headers });
    assert.equal(page.jobs.length, 2);
    await assert.rejects(client.counts({ queue }), (e: unknown) => {
      assert.ok(e instanceof ConnectError);
      assert.equal(e.code, Code.Unauthenticated);
      return true;
    });
  });

  test("the Connect protocol over HTTP/2 on the same port", async () => {
    const client = createClient(
      QueueService,
      createConnectTransport({ baseUrl: served.url, httpVersion: "2" }),
    );
    const queue = fresh();
    const { job } = await client.add({ queue, job: { data: toValue("hi") } }, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(fromValue(job?.data), "hi");
  });

  test("service.fetch answers Connect and gRPC-Web over HTTP/1.1 on an HTTP server", async () => {
    const http = await serve(service, { port: 0 });
    try {
      const client = createClient(
        QueueService,
        createConnectTransport({ baseUrl: http.url, httpVersion: "1.1" }),
      );
      const headers = { authorization: `Bearer ${TOKEN}` };
      const queue = fresh();
      await client.add({ queue, job: { data: toValue(1) } }, { headers });
      const { counts } = await client.counts({ queue }, { headers });
      assert.equal(counts?.ready, 1n);
      const res = await fetch(`${http.url}/kvq.v1.QueueService/Counts`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ queue: "bad name!" }),
      });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { code: string }).code, "invalid_argument");
      const web = createClient(
        QueueService,
        createGrpcWebTransport({ baseUrl: http.url, httpVersion: "1.1" }),
      );
      assert.equal((await web.counts({ queue }, { headers })).counts?.ready, 1n);
    } finally {
      await http.close();
    }
  });
});

describe("gRPC service without a token", () => {
  test("answers loopback host names only (DNS rebinding) and refuses cross-site calls", async () => {
    const app = createServer({ store: new MemoryKv() });
    const service = createGrpcService(app);
    try {
      const call = (headers: Record<string, string>) =>
        service.fetch(
          new Request("http://127.0.0.1/kvq.v1.QueueService/ListQueues", {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body: "{}",
          }),
        );
      assert.equal((await call({})).status, 200);
      const foreign = await call({ host: "evil.example" });
      assert.equal(foreign.status, 403);
      assert.match(((await foreign.json()) as { message: string }).message, /does not answer to host/);
      const cross = await call({ "sec-fetch-site": "cross-site" });
      assert.equal(cross.status, 403);
      await cross.body?.cancel();
      service.close();
      const late = await call({});
      assert.equal(late.status, 503, "closed: calls are refused as UNAVAILABLE");
      await late.body?.cancel();
    } finally {
      service.close();
      await app.close();
    }
  });

  test("serveGrpc refuses to listen beyond loopback without a token unless insecure", async () => {
    const app = createServer({ store: new MemoryKv() });
    const service = createGrpcService(app);
    try {
      await assert.rejects(serveGrpc(service, { port: 0, hostname: "0.0.0.0" }), /without a token/);
    } finally {
      service.close();
      await app.close();
    }
  });
});

describe("kvq serve --grpc-port", () => {
  test("serves gRPC beside HTTP with the same token, and stops on SIGTERM", { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "kvq-grpc-cli-"));
    const main = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
    const g = globalThis as { Deno?: unknown };
    const args = ["serve", "--port", "0", "--grpc-port", "0", "--store", join(dir, "data"), "--token", TOKEN];
    const proc = spawn(process.execPath, g.Deno ? ["run", "-A", main, ...args] : [main, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => proc.on("close", (c) => resolve(c)));
    try {
      await until(
        () => /gRPC http:\/\/127\.0\.0\.1:\d+/.test(out) || proc.exitCode !== null,
        "the serve line",
        30_000,
      );
      const url = /gRPC (http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
      assert.ok(url, `stdout:\n${out}\nstderr:\n${err}`);
      const client = grpcJs(`127.0.0.1:${url[2]}`);
      try {
        const added = await client.call("Add", { queue: "cli", job: { data: { json: pbJson("x") } } });
        assert.equal(added.job.state, "JOB_STATE_READY");
        await rejectsWith(client.call("ListQueues", {}, null), grpc.status.UNAUTHENTICATED, /token/);
      } finally {
        client.close();
      }
      // The HTTP API of the same process sees the job added over gRPC.
      const http = /on (http:\/\/127\.0\.0\.1:\d+) /.exec(out)![1];
      const res = await fetch(`${http}/queues/cli/counts`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(((await res.json()) as { ready: number }).ready, 1);
      proc.kill("SIGTERM");
      const code = await exited;
      assert.match(out, /SIGTERM, shutting down/);
      // Deno's node:child_process reports the signal sent rather than the exit status (Deno.Command
      // sees 0): the exit status is checked on Node and Bun.
      if (!g.Deno) assert.equal(code, 0, `stderr:\n${err}`);
    } finally {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await exited;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
