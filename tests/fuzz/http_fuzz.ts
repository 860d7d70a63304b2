// The sidecar over a real loopback port under generated requests. The server runs in its own
// process (http_server.ts: a memory store, a token, a small body limit, serve()), so its RSS is its
// own; this process generates the requests from the server's own OpenAPI document and sends them
// with `concurrency` in flight, in rounds:
//
//   - hostile rounds: only requests the server must refuse. Without a token or with a wrong one (any
//     route, any body), and with the token: every request that breaks one documented constraint
//     (tests/server/_openapi.ts), malformed JSON (truncated, random bytes, deep nesting, 1e999,
//     __proto__ keys), bodies over the limit (declared, chunked, or both), wrong or missing
//     Content-Type, cross-site Origin, junk paths and methods, huge headers, a wrong Content-Length,
//     and slow bodies sent in pieces. The store is snapshotted (every key, value and versionstamp,
//     hashed) before and after each hostile round: it must not change.
//   - valid rounds: authenticated adds, bulk adds, lists, gets, claims, heartbeats, completes,
//     fails, releases, cancels, redrives, pauses and resumes, with the ids and tokens of earlier
//     answers, mixed with unauthenticated and hostile requests.
//
// The properties: no request without the token mutates anything or reads data (every answer to it
// on a non-open route is a 4xx), no 5xx that the document does not list for that route, no
// dropped connection except where the request itself was abandoned (a body over the limit, huge
// headers, a wrong length), the store unchanged by every hostile round, what the server holds
// after a full collection (JS heap in use plus external memory) and its RSS never more than
// `maxBodyBytes × concurrency` above their levels after the warm-up (half the run, at most 20,000
// requests), plus 4 × the store's growth since then, plus 8 MiB (live) or 16 MiB (RSS) the runtime
// may take or give back on its own; and the server still healthy at the end. The server's V8 young
// generation is capped (SEMI_SPACE_MB): uncapped, V8 grows it to 2 × 64 MB under this traffic, and
// RSS with it, whatever the server holds.
//
// KVQ_MEMLOG=1 makes the server print its memory (RSS, heap, external, array buffers, V8's heap
// spaces: size/used MB) to stderr every 2 s.
//
// Every request is drawn from a generator seeded from (seed, request index): a failure names both.
import process from "node:process";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { mulberry } from "../file/random.ts";
import { type Call, type Doc, violatingCalls } from "../server/_openapi.ts";

type Rng = () => number;
const int = (r: Rng, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)];

/** What one run saw. */
export interface HttpFuzzStats {
  /** Requests sent. */
  requests: number;
  /** Answers by status (`reset`: the connection closed without an answer). */
  byStatus: Record<string, number>;
  /** Requests by kind. */
  byKind: Record<string, number>;
  /** Hostile rounds whose store snapshot was compared. */
  snapshots: number;
  /**
   * The server's RSS after the warm-up (the baseline), its peak after that, the bound on the
   * difference, at the end, and at every tenth of the run (bytes).
   */
  rss: { baseline: number; peak: number; bound: number; final: number; trajectory: number[] };
  /**
   * The server's JS heap in use after a collection: after the warm-up, its peak, at the end; and
   * at the end, the heap V8 holds (`total`) and memory outside it (`external`, e.g. buffers).
   */
  heapUsed: { baseline: number; peak: number; final: number; total: number; external: number };
  /**
   * What the server holds after a full collection (JS heap in use plus memory outside it): after
   * the warm-up, its peak after that, the bound on the difference, at the end (bytes).
   */
  live: { baseline: number; peak: number; bound: number; final: number };
  /** Store entries and bytes at the end. */
  store: { entries: number; bytes: number };
  /** Wall time in ms. */
  durationMs: number;
  /** What broke a property (empty when all held); each names the seed and request index. */
  failures: string[];
}

/** Options of {@linkcode fuzzHttp}. */
export interface HttpFuzzOptions {
  /** Requests in flight. @default 16 */
  concurrency?: number;
  /** The server's body limit. @default 256 KiB */
  maxBodyBytes?: number;
  /** Requests per round. @default 200 */
  round?: number;
  /** Called after every round with the requests done so far. */
  progress?: (done: number) => void;
}

/** A generated request. */
interface Req {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Send over a raw socket: exact bytes, chunked or slow bodies, wrong lengths, huge headers. */
  raw?: { chunks: Uint8Array[]; delayMs: number; declared?: string; chunked?: boolean };
  /** With the valid token. */
  authed: boolean;
  /** Must be refused (hostile). */
  hostile: boolean;
  /** The connection may close without an answer (the request was abandoned by design). */
  mayReset: boolean;
  /** What to remember from the answer (ids, tokens). */
  learn?: "job" | "jobs" | "claim";
}

/** A server process and its command channel. */
interface Child {
  port: number;
  token: string;
  ask(cmd: string): Promise<Record<string, unknown>>;
  exited(): boolean;
  stop(): Promise<void>;
}

/** RSS a runtime may take or give back on its own (collections, JIT, allocator arenas), in bytes. */
const RUNTIME_SLACK = 16 * 1024 * 1024;
/** Live memory (after a full collection) that may come and go on its own (caches, JIT), in bytes. */
const LIVE_SLACK = 8 * 1024 * 1024;
const SERVER = fileURLToPath(new URL("./http_server.ts", import.meta.url));
/**
 * The server's young generation, in MB per semi-space. Left to itself, V8 grows it while this
 * traffic runs, to 64 MB per semi-space on Node 24 (new space 33.6 -> 67.1 -> 134.2 MB in the
 * first 20,000 requests of seed 1, RSS 137 -> 270 MB, while old space stays at 15-17 MB and the
 * heap in use after a collection at 25-26 MB) and by ~1 MB steps on Deno (28 -> 63 MB in 30,000
 * requests). That is the runtime sizing its nursery to the allocation rate, not memory the server
 * keeps: with 8 MB the same 30,000 requests grow RSS by 15 MB (136 -> 151 MB) and run 14% faster.
 * Capped here so that RSS after the warm-up shows what the server holds (docs/RELIABILITY.md).
 */
const SEMI_SPACE_MB = 8;
/**
 * Requests after which the server's memory must stop growing (at most half the run). By then the
 * JIT has compiled the paths this traffic takes and the allocators hold what it needs: with the
 * young generation capped, Node's RSS levels off within 3,000 requests of seed 1 and Bun's within
 * 6,000; Deno's grows outside V8's heap (its HTTP stack and the C allocator: `MALLOC_ARENA_MAX=1`
 * takes over a quarter of it; against a handler that answers 401 to everything it grows by 5 MB)
 * until ~12,000, and its live memory between rounds from 15.5 to ~23 MB by 15,000; then both stay
 * flat. Bun's RSS climbs slowly through the whole heavy run (see docs/RELIABILITY.md). A leak
 * grows with the requests: over the 80,000 requests of the heavy run after this point, the bounds
 * catch one of ~300 bytes per request.
 */
const WARMUP_REQUESTS = 20_000;

async function startServer(maxBodyBytes: number): Promise<Child> {
  // --expose-gc: the server collects garbage before it reports its memory. V8's young generation
  // capped at SEMI_SPACE_MB (see there); Bun's JavaScriptCore has no such space to cap.
  const semi = `--max-semi-space-size=${SEMI_SPACE_MB}`;
  const args = "Deno" in globalThis
    ? ["run", "-A", "--quiet", `--v8-flags=--expose-gc,${semi}`, SERVER]
    : "Bun" in globalThis
    ? [SERVER]
    : ["--expose-gc", semi, SERVER];
  const child = spawn(process.execPath, [...args, String(maxBodyBytes)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve((exited = true, undefined))));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error("the fuzzed server exited");
    return JSON.parse(value) as Record<string, unknown>;
  };
  const hello = await next();
  let chain: Promise<unknown> = Promise.resolve();
  const ask = (cmd: string) => {
    const p = chain.then(() => {
      child.stdin!.write(`${cmd}\n`);
      return next();
    });
    chain = p.catch(() => {});
    return p;
  };
  return {
    port: hello.port as number,
    token: hello.token as string,
    ask,
    exited: () => exited,
    stop: async () => {
      if (!exited) child.stdin!.write("exit\n");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}

const enc = new TextEncoder();
const QUEUES = ["fuzz-a", "fuzz-b", "fuzz.c"];
const OPEN = new Set(["GET /", "GET /healthz", "GET /openapi.json", "GET /docs", "GET /docs/scalar.js"]);
const JUNK_SEGMENTS = [
  "queues",
  "jobs",
  "fuzz-a",
  "claim",
  "bulk",
  "dead",
  "redrive",
  "cancel",
  "%zz",
  "..",
  "%2e%2e",
  "%00",
  "%C3%BC",
  "%E2%80%8B",
  "x".repeat(2000),
  "openapi.json",
  "docs",
  "",
  "metrics",
  "healthz",
];

/** A random JSON-ish value (for payloads and junk). */
function junkValue(r: Rng, depth = 0): unknown {
  const k = int(r, depth > 2 ? 6 : 9);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return pick(r, [0, -1, 1.5, 1e308, -1e308, 2 ** 53, 123456789]);
    case 3:
      return "s".repeat(int(r, 40));
    case 4:
      return pick(r, ["", "\u0000", "\u202e", "💥", "<script>", "' OR 1=1 --"]);
    case 5:
      return int(r, 1000);
    case 6:
      return Array.from({ length: int(r, 4) }, () => junkValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(r, 4); i > 0; i--) {
        o[pick(r, ["a", "data", "token", "x", "limit"])] = junkValue(r, depth + 1);
      }
      return o;
    }
  }
}

/** A malformed JSON body (never a valid request body for any route). */
function malformed(r: Rng): { kind: string; text: string | Uint8Array } {
  switch (int(r, 8)) {
    case 0:
      return { kind: "truncated", text: '{"data": {"to": "a@b.c", "n": [1, 2'.slice(0, 1 + int(r, 30)) };
    case 1: {
      const bytes = new Uint8Array(1 + int(r, 200));
      for (let i = 0; i < bytes.length; i++) bytes[i] = int(r, 256);
      bytes[0] = 0xff; // never valid UTF-8 JSON
      return { kind: "random-bytes", text: bytes };
    }
    case 2:
      return { kind: "deep-nesting", text: "[".repeat(1000 + int(r, 50_000)) };
    case 3:
      return { kind: "1e999", text: '{"data": 1, "delay": 1e999, "priority": -1e999}' };
    case 4:
      return { kind: "proto-key", text: '{"__proto__": {"data": 1}, "constructor": {"prototype": 1}}' };
    case 5:
      return { kind: "not-object", text: pick(r, ["42", '"x"', "true", "null", "[1,2]"]) };
    case 6:
      return { kind: "bom-nul", text: "\ufeff{\u0000}" };
    default:
      return { kind: "trailing", text: '{"data": 1} {"data": 2}' };
  }
}

/** The HTTP fuzzer's generator of requests, with what valid traffic learned so far. */
class Generator {
  readonly #calls: Call[];
  readonly #ops: { method: string; path: string; body: boolean }[];
  readonly #token: string;
  readonly #limit: number;
  readonly jobs: { queue: string; id: string }[] = [];
  readonly leases: { id: string; token: string }[] = [];

  constructor(doc: Doc, token: string, limit: number) {
    this.#calls = violatingCalls(doc);
    this.#ops = Object.entries(doc.paths as Record<string, Record<string, Doc>>).flatMap(([path, ops]) =>
      Object.entries(ops).map(([m, op]) => ({ method: m.toUpperCase(), path, body: !!op.requestBody }))
    );
    this.#token = token;
    this.#limit = limit;
  }

  #fill(template: string, r: Rng): string {
    return template.replace(
      /\{(\w+)\}/g,
      (_m, k) =>
        k === "queue" ? pick(r, QUEUES) : this.jobs.length && r() < 0.7 ? pick(r, this.jobs).id : "01NOTAJOB",
    );
  }

  #req(kind: string, method: string, path: string, _r: Rng, o: Partial<Req> = {}): Req {
    return {
      kind,
      method,
      path,
      headers: {},
      authed: false,
      hostile: true,
      mayReset: false,
      ...o,
    };
  }

  #json(req: Req, body: unknown): Req {
    req.headers["content-type"] = "application/json";
    req.body = JSON.stringify(body);
    return req;
  }

  #auth(req: Req, r: Rng, authed: boolean): Req {
    req.authed = authed;
    if (authed) req.headers.authorization = `Bearer ${this.#token}`;
    else {
      const bad = pick(r, [
        null,
        `Bearer ${this.#token}x`,
        `Bearer ${this.#token.slice(0, -1)}`,
        "Bearer",
        `Basic ${btoa(`kvq:${this.#token}`)}`,
        `bearer  ${this.#token} extra`,
        `Bearer ${"A".repeat(5000)}`,
      ]);
      if (bad !== null) req.headers.authorization = bad;
    }
    return req;
  }

  /** A request the server must refuse; `authed` picks whether it carries the token. */
  hostile(r: Rng, authed: boolean): Req {
    const k = int(r, 100);
    if (!authed) {
      // Anything at all, without the token: a valid request, a violating one, junk.
      const base = k < 40 ? this.valid(r) : k < 70 ? this.hostile(r, true) : this.#junk(r);
      const req = { ...base, headers: { ...base.headers }, kind: `unauth/${base.kind}`, hostile: true };
      delete req.headers.authorization;
      return this.#auth(req, r, false);
    }
    if (k < 45) {
      const c = pick(r, this.#calls);
      const req = this.#req(
        `violation`,
        c.method.toUpperCase(),
        c.path.replace("/queues/q/", `/queues/${pick(r, QUEUES)}/`),
        r,
      );
      return this.#auth(c.body === undefined ? req : this.#json(req, c.body), r, true);
    }
    const op = pick(r, this.#ops.filter((o) => o.body));
    const path = this.#fill(op.path, r);
    if (k < 60) {
      const m = malformed(r);
      const req = this.#req(`malformed/${m.kind}`, op.method, path, r, { body: m.text });
      req.headers["content-type"] = "application/json";
      return this.#auth(req, r, true);
    }
    if (k < 70) return this.#auth(this.#oversize(r, op.method, path), r, true);
    if (k < 76) {
      const req = this.#req("content-type", op.method, path, r, { body: '{"data": 1}' });
      const type = pick(r, [
        null,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "application/json-patch+json",
      ]);
      if (type !== null) req.headers["content-type"] = type;
      return this.#auth(req, r, true);
    }
    if (k < 80) {
      const req = this.#json(this.#req("cross-site", op.method, path, r), { data: 1 });
      if (r() < 0.5) {
        req.headers.origin = pick(r, ["http://evil.example", "null", "http://localhost:3000", "garbage"]);
      } else req.headers["sec-fetch-site"] = pick(r, ["cross-site", "same-site"]);
      return this.#auth(req, r, true);
    }
    if (k < 88) return this.#auth(this.#junk(r), r, true);
    if (k < 93) return this.#auth(this.#rawFraming(r, op.method, path), r, true);
    return this.#auth(this.#slow(r, op.method, path), r, true);
  }

  /** A path no route serves, or a method a path does not take. */
  #junk(r: Rng): Req {
    if (r() < 0.4) {
      const op = pick(r, this.#ops);
      const method = pick(r, ["PUT", "PATCH", ...(op.method === "GET" ? ["DELETE"] : ["GET"])]);
      const path = this.#fill(op.path, r);
      // A method the route does not take; skip the pairs the API does serve (GET and DELETE of a job).
      const served = this.#ops.some((o) =>
        o.method === method && this.#fill(o.path, () => 0) === this.#fill(op.path, () => 0)
      );
      return this.#req("junk-method", served ? "PATCH" : method, path, r);
    }
    const segments = Array.from({ length: 1 + int(r, 5) }, () => pick(r, JUNK_SEGMENTS));
    let path = `/${segments.join("/")}`;
    // As fetch sends it: "/a/%2e%2e/healthz" is "/healthz", which is no junk.
    const sent = new URL(`http://x${path}`).pathname;
    if (this.#ops.some((o) => new RegExp(`^${o.path.replace(/\{\w+\}/g, "[^/]+")}$`).test(sent))) {
      path += "/zz";
    }
    if (r() < 0.3) {
      path += `?${pick(r, ["limit=-1", "state=%ff", "a=1&a=2", "cursor=" + "z".repeat(3000), "%zz=1"])}`;
    }
    return this.#req("junk-path", pick(r, ["GET", "POST", "DELETE", "OPTIONS"]), path, r);
  }

  /** A body over the limit: declared by Content-Length, or chunked, or both (raw socket). */
  #oversize(r: Rng, method: string, path: string): Req {
    const size = this.#limit + 1 + int(r, 8 * this.#limit);
    const chunk = enc.encode(`{"data":"${"x".repeat(16 * 1024)}`);
    const chunks: Uint8Array[] = [];
    for (let n = 0; n < size; n += chunk.length) chunks.push(chunk);
    const how = pick(r, ["declared", "chunked", "declared-short"]);
    return this.#req(`oversize/${how}`, method, path, r, {
      headers: { "content-type": "application/json" },
      raw: {
        chunks,
        delayMs: 0,
        declared: how === "chunked" ? undefined : how === "declared" ? String(size) : String(this.#limit * 2),
        chunked: how === "chunked",
      },
      mayReset: true,
    });
  }

  /** Wrong framing: a bad Content-Length, or huge headers. */
  #rawFraming(r: Rng, method: string, path: string): Req {
    const how = pick(r, ["bad-length", "huge-header", "many-headers", "length-and-chunked"]);
    const req = this.#req(`framing/${how}`, method, path, r, {
      headers: { "content-type": "application/json" },
      raw: { chunks: [enc.encode('{"data": 1, "delay": -1}')], delayMs: 0 },
      mayReset: true,
    });
    // Framed right (a declared length), so that only what is named is wrong: without a length the
    // headers alone would be a valid claim, and the body the next request on the connection.
    req.raw!.declared = String(req.raw!.chunks[0].length);
    if (how === "bad-length") {
      req.raw!.declared = pick(r, ["abc", "-1", "1e3", "99999999999999999999", "5, 6"]);
    }
    if (how === "huge-header") req.headers["x-fuzz"] = "h".repeat(8 * 1024 + int(r, 120 * 1024));
    if (how === "many-headers") { for (let i = 0; i < 200 + int(r, 2000); i++) req.headers[`x-h${i}`] = "v"; }
    if (how === "length-and-chunked") {
      req.raw!.declared = "5";
      req.raw!.chunked = true;
    }
    return req;
  }

  /** A hostile body sent slowly, in pieces (some never finished: the client gives up). */
  #slow(r: Rng, method: string, path: string): Req {
    const text = pick(r, [
      '{"data": 1, "maxAttempts": 0}',
      '{"data": 1, "prority": 2}',
      '{"token": 5}',
      "[[[",
      '{"limit": 1.5}',
    ]);
    const bytes = enc.encode(text);
    const pieces = 2 + int(r, 4);
    const chunks = Array.from(
      { length: pieces },
      (_, i) =>
        bytes.subarray(
          Math.floor((i * bytes.length) / pieces),
          Math.floor(((i + 1) * bytes.length) / pieces),
        ),
    );
    return this.#req("slow-body", method, path, r, {
      headers: { "content-type": "application/json" },
      raw: { chunks, delayMs: 5 + int(r, 40), declared: String(bytes.length) },
      mayReset: true,
    });
  }

  /** A valid, authenticated request (its answer may still be 404 or 409 for a stale id or token). */
  valid(r: Rng): Req {
    const q = pick(r, QUEUES);
    const k = int(r, 100);
    const req = (kind: string, method: string, path: string, o: Partial<Req> = {}) =>
      this.#auth(this.#req(kind, method, path, r, { hostile: false, ...o }), r, true);
    const job = () => (this.jobs.length ? pick(r, this.jobs) : { queue: q, id: "01NOTAJOB" });
    if (k < 22) {
      const body: Record<string, unknown> = { data: junkValue(r) };
      if (r() < 0.3) body.priority = int(r, 20) - 10;
      if (r() < 0.2) body.key = `k${int(r, 50)}`;
      if (r() < 0.2) body.maxAttempts = 1 + int(r, 3);
      return this.#json(req("add", "POST", `/queues/${q}/jobs`, { learn: "job" }), body);
    }
    if (k < 27) {
      const jobs = Array.from({ length: 1 + int(r, 4) }, () => ({ data: junkValue(r) }));
      return this.#json(req("bulk", "POST", `/queues/${q}/jobs/bulk`, { learn: "jobs" }), { jobs });
    }
    if (k < 40) {
      const body: Record<string, unknown> = { leaseMs: 24 * 3600_000 };
      if (r() < 0.3) body.limit = 1 + int(r, 3);
      return this.#json(req("claim", "POST", `/queues/${q}/claim`, { learn: "claim" }), body);
    }
    if (k < 58 && this.leases.length) {
      const i = int(r, this.leases.length);
      const lease = this.leases[i];
      const action = pick(r, ["complete", "complete", "fail", "release", "heartbeat"]);
      if (action !== "heartbeat") this.leases.splice(i, 1);
      const body: Record<string, unknown> = { token: lease.token };
      if (action === "complete") body.result = junkValue(r);
      if (action === "fail") Object.assign(body, { error: { name: "E", message: "boom" }, retry: r() < 0.5 });
      if (action === "heartbeat") body.progress = int(r, 100);
      return this.#json(req(action, "POST", `/jobs/${lease.id}/${action}`), body);
    }
    if (k < 70) {
      const state = pick(r, ["ready", "active", "completed", "failed", "dead", "canceled", "scheduled"]);
      return req(
        "list",
        "GET",
        `/queues/${q}/jobs?state=${state}&limit=${1 + int(r, 20)}${r() < 0.3 ? "&payloads=true" : ""}`,
      );
    }
    if (k < 80) {
      const j = job();
      return req("get", "GET", r() < 0.5 ? `/jobs/${j.id}` : `/queues/${j.queue}/jobs/${j.id}`);
    }
    if (k < 84) return req("cancel", "DELETE", `/jobs/${job().id}`);
    if (k < 87) {
      return req("redrive", "POST", r() < 0.5 ? `/jobs/${job().id}/redrive` : `/queues/${q}/dead/redrive`);
    }
    if (k < 89) {
      return req(r() < 0.5 ? "pause" : "resume", "POST", `/queues/${q}/${r() < 0.5 ? "pause" : "resume"}`);
    }
    return req(
      "read",
      "GET",
      pick(r, ["/queues", `/queues/${q}`, `/queues/${q}/counts`, "/metrics", "/healthz", "/openapi.json"]),
    );
  }

  /** Remembers ids and tokens from a valid request's answer. */
  learn(req: Req, body: unknown): void {
    // deno-lint-ignore no-explicit-any
    const b = body as any;
    if (!b || typeof b !== "object") return;
    const queue = /^\/queues\/([^/]+)/.exec(req.path)?.[1] ?? QUEUES[0];
    if (req.learn === "job" && b.job?.id) this.jobs.push({ queue, id: b.job.id });
    if (req.learn === "jobs" && Array.isArray(b.jobs)) {
      for (const j of b.jobs) this.jobs.push({ queue, id: j.id });
    }
    if (req.learn === "claim") {
      for (const c of Array.isArray(b.jobs) ? b.jobs : [b]) {
        if (c?.token) this.leases.push({ id: c.job.id, token: c.token });
      }
    }
    if (this.jobs.length > 2000) this.jobs.splice(0, 1000);
    if (this.leases.length > 500) this.leases.splice(0, 250);
  }
}

/** Sends `req` over a raw socket; resolves with the status (0: closed without an answer). */
function sendRaw(port: number, req: Req): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const got: Uint8Array[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = new TextDecoder().decode(concat(got));
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text });
    };
    const timer = setTimeout(finish, 20_000);
    socket.on("data", (d: Uint8Array) => {
      got.push(d);
      // Enough to know the status: stop reading once the head arrived and the body is short.
      const text = new TextDecoder().decode(concat(got));
      const end = text.indexOf("\r\n\r\n");
      const len = /\r\ncontent-length: *(\d+)/i.exec(text);
      if (end >= 0 && len && text.length >= end + 4 + Number(len[1])) finish();
    });
    socket.on("error", finish);
    socket.on("close", finish);
    socket.on("connect", async () => {
      const raw = req.raw!;
      const lines = [`${req.method} ${req.path} HTTP/1.1`, `host: 127.0.0.1:${port}`, "connection: close"];
      // The token and the type first: a server keeps only its first 2,000 headers or so.
      const headers = Object.entries(req.headers).sort(([a], [b]) => rank(a) - rank(b));
      for (const [k, v] of headers) lines.push(`${k}: ${v}`);
      if (raw.declared !== undefined) lines.push(`content-length: ${raw.declared}`);
      if (raw.chunked) lines.push("transfer-encoding: chunked");
      try {
        socket.write(`${lines.join("\r\n")}\r\n\r\n`);
        for (const c of raw.chunks) {
          if (done) return;
          if (raw.delayMs) await new Promise((r) => setTimeout(r, raw.delayMs));
          const ok = socket.write(
            raw.chunked ? concat([enc.encode(`${c.length.toString(16)}\r\n`), c, enc.encode("\r\n")]) : c,
          );
          if (!ok) await new Promise((r) => socket.once("drain", r));
        }
        if (raw.chunked && !done) socket.write("0\r\n\r\n");
      } catch {
        finish();
      }
    });
  });
}

const rank = (name: string) => (name === "authorization" || name === "content-type" ? 0 : 1);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Sends `req` with fetch (keep-alive); resolves with the status (0: no answer) and the body. */
async function sendFetch(base: string, req: Req): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(`${base}${req.path}`, {
      method: req.method,
      headers: req.headers,
      body: req.body as RequestInit["body"],
      signal: AbortSignal.timeout(20_000),
    });
    return { status: res.status, text: await res.text() };
  } catch {
    return { status: 0, text: "" };
  }
}

/**
 * Runs `requests` generated requests against a fresh server process.
 *
 * @param seed The run's seed.
 * @param requests How many requests to send.
 * @param options Concurrency, body limit, round size, progress.
 * @returns What it saw; `failures` is empty when every property held.
 */
export async function fuzzHttp(
  seed: number,
  requests: number,
  options: HttpFuzzOptions = {},
): Promise<HttpFuzzStats> {
  const concurrency = options.concurrency ?? 16;
  const maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
  const roundSize = options.round ?? 200;
  const started = performance.now();
  const child = await startServer(maxBodyBytes);
  const base = `http://127.0.0.1:${child.port}`;
  const stats: HttpFuzzStats = {
    requests: 0,
    byStatus: {},
    byKind: {},
    snapshots: 0,
    rss: { baseline: 0, peak: 0, bound: 0, final: 0, trajectory: [] },
    heapUsed: { baseline: 0, peak: 0, final: 0, total: 0, external: 0 },
    live: { baseline: 0, peak: 0, bound: 0, final: 0 },
    store: { entries: 0, bytes: 0 },
    durationMs: 0,
    failures: [],
  };
  const fail = (what: string) => {
    if (stats.failures.length < 50) stats.failures.push(`seed ${seed}: ${what}`);
  };
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    const doc = JSON.parse(
      (await sendFetch(base, {
        method: "GET",
        path: "/openapi.json",
        headers: {},
      } as Req)).text,
    ) as Doc;
    const documented5xx = (method: string, path: string): Set<number> => {
      for (const [template, ops] of Object.entries(doc.paths as Record<string, Record<string, Doc>>)) {
        if (!new RegExp(`^${template.replace(/\{\w+\}/g, "[^/?]+")}(\\?|$)`).test(path)) continue;
        const op = ops[method.toLowerCase()];
        if (op) return new Set(Object.keys(op.responses).map(Number).filter((s) => s >= 500));
      }
      return new Set();
    };
    const gen = new Generator(doc, child.token, maxBodyBytes);
    let storeBaseline = 0;

    const one = async (i: number, hostileRound: boolean) => {
      const r = mulberry((seed * 0x9e3779b1) ^ i);
      const roll = r();
      const req = hostileRound
        ? gen.hostile(r, roll < 0.4 ? false : true)
        : roll < 0.55
        ? gen.valid(r)
        : gen.hostile(r, roll < 0.8 ? false : true);
      const { status, text } = req.raw ? await sendRaw(child.port, req) : await sendFetch(base, req);
      stats.requests++;
      stats.byStatus[status === 0 ? "reset" : status] =
        (stats.byStatus[status === 0 ? "reset" : status] ?? 0) + 1;
      const kind = req.kind.replace(/\/.*$/, "");
      stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
      // fetch sends the path as a URL parser normalizes it ("/a/%2e%2e/healthz" is "/healthz").
      const sent = req.raw ? req.path.split("?")[0] : new URL(`${base}${req.path}`).pathname;
      const where = `request ${i} (${req.kind} ${req.method} ${req.path.slice(0, 80)})`;
      const route = `${req.method} ${sent}`;
      if (status === 0) {
        if (!req.mayReset) fail(`${where}: the connection closed without an answer`);
        return;
      }
      if (status >= 500 && !documented5xx(req.method, sent).has(status)) {
        fail(`${where}: ${status} ${text.slice(-300)}`);
      }
      // Bun.serve merges repeated slashes ("//openapi.json" reaches the server as "/openapi.json").
      if (!req.authed && !OPEN.has(route.replace(/\/{2,}/g, "/")) && status < 400) {
        fail(`${where}: answered ${status} without the token${req.method === "GET" ? "" : " (a mutation)"}`);
      }
      if (req.hostile && req.authed && status < 400) {
        fail(`${where}: a hostile request was accepted (${status})`);
      }
      if (!req.hostile && req.authed && status >= 400 && status !== 404 && status !== 409) {
        fail(`${where}: a valid request was refused: ${status} ${text.slice(0, 300)}`);
      }
      if (!req.hostile && status < 300 && req.learn) {
        try {
          gen.learn(req, JSON.parse(text));
        } catch { /* not JSON: nothing to learn */ }
      }
    };

    const entries = async () => (await child.ask("entries")).entries as [string, string][];
    const rss = async () => {
      const m = await child.ask("rss") as {
        rss: number;
        heapUsed: number;
        heapTotal: number;
        external: number;
      };
      stats.heapUsed.peak = Math.max(stats.heapUsed.peak, m.heapUsed);
      stats.heapUsed.final = m.heapUsed;
      stats.heapUsed.total = m.heapTotal;
      stats.heapUsed.external = m.external;
      stats.live.peak = Math.max(stats.live.peak, m.heapUsed + m.external);
      stats.live.final = m.heapUsed + m.external;
      return m.rss;
    };
    const snapshot = async () =>
      await child.ask("snapshot") as { entries: number; bytes: number; hash: string };
    let done = 0;
    let round = 0;
    // The warm-up: half the run, at most WARMUP_REQUESTS.
    const warmup = Math.max(1, Math.round(Math.min(requests / 2, WARMUP_REQUESTS) / roundSize));
    while (done < requests) {
      const n = Math.min(roundSize, requests - done);
      const hostileRound = mulberry(seed ^ (round * 7919))() < 0.7;
      const before = hostileRound ? await snapshot() : undefined;
      const beforeEntries = hostileRound ? await entries() : undefined;
      if (hostileRound) await child.ask("mark");
      let next = done;
      const end = done + n;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < end) await one(next++, hostileRound);
      }));
      if (before) {
        const after = await snapshot();
        stats.snapshots++;
        if (after.hash !== before.hash) {
          const was = new Map(beforeEntries);
          const changed = (await entries()).filter(([k, v]) => was.get(k) !== v).map(([k]) => k);
          fail(`changed keys ${changed.join(" ").slice(0, 600)}`);
          const id = /"(0[0-9A-Z]{25})"/.exec(changed.join(" "))?.[1] ?? "-";
          fail(
            `requests on ${id}: ${JSON.stringify((await child.ask(`log ${id}`)).requests).slice(0, 1500)}`,
          );
          fail(
            `hostile round ${round} (requests ${done}-${end - 1}) changed the store: ${
              JSON.stringify(before)
            } -> ${JSON.stringify(after)}`,
          );
        }
      }
      done = end;
      round++;
      if (done >= requests * (stats.rss.trajectory.length / 10) && stats.rss.trajectory.length <= 10) {
        stats.rss.trajectory.push(await rss());
      }
      if (round === 1) {
        sampler = setInterval(() => {
          rss().then((v) => (stats.rss.peak = Math.max(stats.rss.peak, round > warmup ? v : 0)), () => {});
        }, 250);
      }
      if (round === warmup) {
        // The levels after the warm-up: what RSS and live memory grow by from here on is what a
        // leak shows (it grows with the requests, so most of it falls after this point: 80% in the
        // heavy run).
        stats.rss.baseline = await rss();
        stats.rss.peak = stats.rss.baseline;
        stats.heapUsed.baseline = stats.heapUsed.final;
        stats.live.baseline = stats.live.final;
        stats.live.peak = stats.live.final;
        storeBaseline = (await snapshot()).bytes;
      }
      if (child.exited()) {
        fail(`the server process exited during round ${round}`);
        break;
      }
      options.progress?.(done);
    }
    clearInterval(sampler);
    sampler = undefined;
    const health = await sendFetch(base, { method: "GET", path: "/healthz", headers: {} } as Req);
    if (health.status !== 200) fail(`GET /healthz after the run: ${health.status}`);
    const end = await snapshot();
    stats.store = { entries: end.entries, bytes: end.bytes };
    stats.rss.final = await rss();
    stats.rss.peak = Math.max(stats.rss.peak, stats.rss.final);
    stats.rss.bound = maxBodyBytes * concurrency + 4 * Math.max(0, end.bytes - storeBaseline) +
      RUNTIME_SLACK;
    stats.live.bound = maxBodyBytes * concurrency + 4 * Math.max(0, end.bytes - storeBaseline) + LIVE_SLACK;
    if (stats.live.baseline && stats.live.peak - stats.live.baseline > stats.live.bound) {
      fail(
        `Live memory grew by ${
          stats.live.peak - stats.live.baseline
        } bytes, over the bound of ${stats.live.bound}`,
      );
    }
    if (stats.rss.baseline && stats.rss.peak - stats.rss.baseline > stats.rss.bound) {
      fail(`RSS grew by ${stats.rss.peak - stats.rss.baseline} bytes, over the bound of ${stats.rss.bound}`);
    }
  } finally {
    clearInterval(sampler);
    await child.stop();
    stats.durationMs = Math.round(performance.now() - started);
  }
  return stats;
}
