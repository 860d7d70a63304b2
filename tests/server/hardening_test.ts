// The sidecar hardened by default: auth and the body limit before and while a body streams, Host
// checks (DNS rebinding), cross-site mutations refused, reads of unknown queues leave no trace,
// unguessable lease tokens, the queue name grammar and range-checked fields.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { createServer, InsecureBindError, serve } from "../../server/mod.ts";
import { withServer } from "./_helpers.ts";
import process from "node:process";

const CHUNK = new Uint8Array(64 * 1024).fill(0x20);

/** A body of `chunks` 64 KiB chunks, made as they are pulled; `pulled()` counts the bytes taken. */
function countingBody(chunks: number): { body: ReadableStream<Uint8Array>; pulled(): number } {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= chunks * CHUNK.length) return controller.close();
      sent += CHUNK.length;
      controller.enqueue(CHUNK.slice());
    },
  }, { highWaterMark: 0 });
  return { body, pulled: () => sent };
}

function post(url: string, body: RequestInit["body"], headers: Record<string, string> = {}): Request {
  return new Request(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    duplex: "half",
  } as RequestInit);
}

describe("sidecar body limits", () => {
  test("an unauthenticated POST is answered 401 without reading its body", () =>
    withServer({ auth: "tok" }, async ({ app }) => {
      const { body, pulled } = countingBody(1024);
      const res = await app.fetch(post("http://localhost/queues/q/jobs", body));
      assert.equal(res.status, 401);
      await res.body?.cancel();
      assert.ok(pulled() <= CHUNK.length, `read ${pulled()} bytes of a refused body`);
    }));

  test("a chunked body over the limit with a valid token is 413 after at most the limit and a chunk", () =>
    withServer({ auth: "tok", maxBodyBytes: 256 * 1024 }, async ({ app, call }) => {
      const { body, pulled } = countingBody(64); // 4 MiB, no Content-Length
      const res = await app.fetch(
        post("http://localhost/queues/q/jobs", body, { authorization: "Bearer tok" }),
      );
      assert.equal(res.status, 413);
      assert.equal(((await res.json()) as { error: { name: string } }).error.name, "LimitError");
      assert.ok(pulled() <= 256 * 1024 + 2 * CHUNK.length, `pulled ${pulled()} bytes past a 256 KiB limit`);
      assert.equal((await call("GET", "/queues")).body.queues.length, 0, "nothing was added");
    }));

  test("a declared Content-Length over the limit is 413 before the body is read", () =>
    withServer({ maxBodyBytes: 1024 }, async ({ app }) => {
      const { body, pulled } = countingBody(16);
      const res = await app.fetch(
        post("http://localhost/queues/q/jobs", body, { "content-length": "1048576" }),
      );
      assert.equal(res.status, 413);
      assert.equal(pulled(), 0);
    }));

  test("through a real port, a 64 MiB unauthenticated POST is 401 and the server buffers none of it", async () => {
    const store = new MemoryKv();
    const app = createServer({ store, auth: "tok" });
    const http = await serve(app, { port: 0 });
    try {
      // Warm up the path first so one-time allocations do not count.
      await (await fetch(`${http.url}/queues`, { method: "POST", body: "{}" })).body?.cancel();
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
      const { body } = countingBody(1024);
      try {
        const res = await fetch(post(`${http.url}/queues/q/jobs`, body));
        assert.equal(res.status, 401);
        await res.body?.cancel();
      } catch (err) {
        // The server may close the connection after answering while the upload is still going.
        assert.match(String((err as Error)?.cause ?? err), /reset|closed|socket|EPIPE|broken|terminated/i);
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      const grew = peak - before;
      assert.ok(grew < 32 * 1024 * 1024, `RSS grew by ${Math.round(grew / 1048576)} MiB for a 64 MiB body`);
    } finally {
      await http.close();
      await app.close();
      await store.close();
    }
  });

  test("through a real port, a chunked body over the limit with a valid token is 413", async () => {
    const store = new MemoryKv();
    const app = createServer({ store, auth: "tok", maxBodyBytes: 128 * 1024 });
    const http = await serve(app, { port: 0 });
    try {
      const { body } = countingBody(32);
      const res = await fetch(post(`${http.url}/queues/q/jobs`, body, { authorization: "Bearer tok" }));
      assert.equal(res.status, 413);
      assert.equal(((await res.json()) as { error: { name: string } }).error.name, "LimitError");
    } finally {
      await http.close();
      await app.close();
      await store.close();
    }
  });
});

describe("sidecar without a token", () => {
  test("a foreign Host (DNS rebinding) is 421; loopback names and allowedHosts are answered", () =>
    withServer({ allowedHosts: ["queues.internal"] }, async ({ app }) => {
      const get = (url: string, host?: string) =>
        app.fetch(new Request(url, host ? { headers: { host } } : {}));
      const evil = await get("http://evil.example:8789/queues");
      assert.equal(evil.status, 421);
      assert.equal(
        ((await evil.json()) as { error: { name: string } }).error.name,
        "MisdirectedRequestError",
      );
      assert.equal((await get("http://localhost/queues", "evil.example:8789")).status, 421);
      for (
        const url of ["http://localhost:8787/queues", "http://127.0.0.1/queues", "http://[::1]:9/queues"]
      ) {
        assert.equal((await get(url)).status, 200, url);
      }
      assert.equal((await get("http://queues.internal:8787/queues")).status, 200);
    }));

  test("with a token, any Host is answered (the token is the defence)", () =>
    withServer({ auth: "tok" }, async ({ app }) => {
      const res = await app.fetch(
        new Request("http://sidecar.example/queues", { headers: { authorization: "Bearer tok" } }),
      );
      assert.equal(res.status, 200);
    }));

  test("cross-site no-cors text/plain and form POSTs neither add, pause nor claim", () =>
    withServer({}, async ({ app, call }) => {
      const job = (await call("POST", "/queues/q/jobs", { data: "keep" })).body.job;
      const send = (path: string, body: string | null, headers: Record<string, string>) =>
        app.fetch(new Request(`http://localhost${path}`, { method: "POST", headers, body }));
      // What a page on another origin can send without a preflight:
      const plain = await send("/queues/q/jobs", '{"data":"x"}', {
        "content-type": "text/plain;charset=UTF-8",
        origin: "http://evil.example",
        "sec-fetch-site": "cross-site",
      });
      assert.equal(plain.status, 403);
      const plainNoHints = await send("/queues/q/jobs", '{"data":"x"}', { "content-type": "text/plain" });
      assert.equal(plainNoHints.status, 415, "a text/plain body is refused even without Origin");
      const form = await send("/queues/q/pause", "", {
        "content-type": "application/x-www-form-urlencoded",
      });
      assert.equal(form.status, 415);
      const claim = await send("/queues/q/claim", "{}", {
        "content-type": "application/json",
        origin: "http://localhost:3000",
      });
      assert.equal(claim.status, 403, "another origin on the same host is another site");
      const fetchSite = await send("/queues/q/claim", null, { "sec-fetch-site": "same-site" });
      assert.equal(fetchSite.status, 403);
      const counts = (await call("GET", "/queues/q/counts")).body;
      assert.equal(counts.ready, 1, "nothing added, nothing claimed");
      assert.equal((await call("GET", "/queues/q")).body.paused, false);
      assert.equal((await call("GET", `/jobs/${job.id}`)).body.job.state, "ready");
      // The dashboard's own requests (same origin) still work.
      const own = await send("/queues/q/pause", null, {
        origin: "http://localhost",
        "sec-fetch-site": "same-origin",
      });
      assert.equal(own.status, 200);
    }));

  test("serve() refuses a non-loopback bind without a token unless insecure, and then warns", async () => {
    const store = new MemoryKv();
    const app = createServer({ store });
    try {
      await assert.rejects(serve(app, { port: 0, hostname: "0.0.0.0" }), InsecureBindError);
      const warned: string[] = [];
      const warn = console.warn;
      console.warn = (...args: unknown[]) => void warned.push(args.join(" "));
      let http;
      try {
        http = await serve(app, { port: 0, hostname: "0.0.0.0", insecure: true });
      } finally {
        console.warn = warn;
      }
      await http.close();
      assert.match(warned.join("\n"), /WITHOUT A TOKEN/);
      const authed = createServer({ store, auth: "tok" });
      const open = await serve(authed, { port: 0, hostname: "0.0.0.0" });
      await open.close();
      await authed.close();
    } finally {
      await app.close();
      await store.close();
    }
  });
});

describe("sidecar input", () => {
  test("reads of unknown queues are 404 and 3,000 junk GETs grow neither /queues nor /metrics", () =>
    withServer({}, async ({ call }) => {
      await call("POST", "/queues/real/jobs", { data: 1 });
      const queues = (await call("GET", "/queues")).text;
      // The oldest ready job's age moves with the clock; every other line must stay the same.
      const scrape = async () =>
        (await call("GET", "/metrics")).text.replace(/^(kvq_oldest_ready_age_seconds\{[^}]*\}) .*$/gm, "$1");
      const metrics = await scrape();
      const paths = ["", "/counts", "/jobs?state=ready", "/jobs/01ABC"];
      for (let i = 0; i < 3000; i++) {
        const res = await call("GET", `/queues/junk-${i}${paths[i % paths.length]}`);
        assert.equal(res.status, 404);
      }
      assert.equal((await call("POST", "/queues/junk-1/dead/redrive", {})).status, 404);
      assert.equal((await call("GET", "/queues")).text, queues);
      assert.equal(await scrape(), metrics);
    }));

  test("lease tokens carry a 128-bit tag: a token guessed from a neighbour's is refused", () =>
    withServer({}, async ({ call }) => {
      await call("POST", "/queues/q/jobs/bulk", { jobs: [{ data: 1 }, { data: 2 }] });
      const [a, b] = (await call("POST", "/queues/q/claim", { limit: 2 })).body.jobs;
      const [qa, coreA, tagA] = a.token.split(".");
      assert.match(tagA, /^[A-Za-z0-9_-]{22}$/);
      // The engine's tokens of one claim are consecutive ids: the attacker's best guess at b's.
      const last = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
      const bump = coreA.slice(0, -1) + last[last.indexOf(coreA.at(-1)) + 1];
      for (
        const guess of [`${qa}.${bump}`, `${qa}.${bump}.${tagA}`, `${qa}.${b.token.split(".")[1]}.${tagA}`]
      ) {
        const res = await call("POST", `/jobs/${b.job.id}/complete`, { token: guess });
        assert.equal(res.status, 409, guess);
      }
      assert.equal((await call("POST", `/jobs/${b.job.id}/complete`, { token: a.token })).status, 409);
      assert.equal((await call("POST", `/jobs/${b.job.id}/complete`, { token: b.token })).status, 200);
      assert.equal((await call("POST", `/jobs/${a.job.id}/complete`, { token: a.token })).status, 200);
    }));

  test("the lease key is made in the store on the first claim, not by servers that only read", () =>
    withServer({}, async ({ store, call }) => {
      const key = ["kvq-sidecar", "kvq", "lease-key"];
      await call("POST", "/queues/q/jobs", { data: 1 });
      await call("GET", "/queues");
      assert.equal(await store.get(key), null);
      const claimed = (await call("POST", "/queues/q/claim", {})).body;
      assert.equal((await store.get(key))?.value.length, 32);
      assert.equal(
        (await call("POST", `/jobs/${claimed.job.id}/complete`, { token: claimed.token })).status,
        200,
      );
    }));

  test("queue names follow the grammar: look-alikes, spaces and long names are 400", () =>
    withServer({}, async ({ call }) => {
      for (const name of ["mail\u200b", "abc\u202etxt.exe", " ", "a b", ".hidden", "x".repeat(129), "ü"]) {
        const res = await call("POST", `/queues/${encodeURIComponent(name)}/jobs`, { data: 1 });
        assert.equal(res.status, 400, JSON.stringify(name));
        assert.match(res.body.error.message, /queue name/);
      }
      for (const name of ["mail", "a.b-c_d", "9", "x".repeat(128)]) {
        assert.equal((await call("POST", `/queues/${name}/jobs`, { data: 1 })).status, 201, name);
      }
    }));

  test("every numeric and boolean field is type- and range-checked with a 400 naming it", () =>
    withServer({}, async ({ call }) => {
      const bad: [string, Record<string, unknown>][] = [
        ["delay", { delay: 1e20 }],
        ["delay", { delay: -5 }],
        ["delay", { delay: "5" }],
        ["runAt", { runAt: 9e15 }],
        ["removeOnComplete", { removeOnComplete: "yes" }],
        ["priority", { priority: 1e300 }],
        ["maxAttempts", { maxAttempts: 0 }],
        ["maxAttempts", { maxAttempts: 2.5 }],
        ["timeout", { timeout: 0 }],
        ["backoff", { backoff: -1 }],
        ["backoff.delay", { backoff: { type: "fixed", delay: 1e20 } }],
        ["key", { key: 42 }],
      ];
      for (const [field, extra] of bad) {
        const res = await call("POST", "/queues/q/jobs", { data: 1, ...extra });
        assert.equal(res.status, 400, JSON.stringify(extra));
        assert.ok(res.body.error.message.includes(field), `${res.body.error.message} names ${field}`);
      }
      const claims: [string, Record<string, unknown>][] = [
        ["leaseMs", { leaseMs: 100 }],
        ["leaseMs", { leaseMs: "5000" }],
        ["wait", { wait: -1 }],
        ["limit", { limit: 1.5 }],
      ];
      for (const [field, body] of claims) {
        const res = await call("POST", "/queues/q/claim", body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.ok(res.body.error.message.includes(field), res.body.error.message);
      }
      assert.equal((await call("GET", "/queues/q/counts")).status, 404, "nothing was added or opened");
    }));
});

describe("sidecar bodies the headers do not declare", () => {
  test("a bodiless DELETE or POST with an empty body stream (as Deno.serve gives) is answered; a stream with bytes and no type is 415", () =>
    withServer({}, async ({ app, call }) => {
      const job = (await call("POST", "/queues/q/jobs", { data: 1 })).body.job;
      const stream = (text: string) =>
        new ReadableStream<Uint8Array>({
          start(c) {
            if (text) c.enqueue(new TextEncoder().encode(text));
            c.close();
          },
        });
      const send = (method: string, path: string, text: string) =>
        app.fetch(
          new Request(
            `http://localhost${path}`,
            { method, body: stream(text), duplex: "half" } as RequestInit,
          ),
        );
      const canceled = await send("DELETE", `/jobs/${job.id}`, "");
      assert.equal(canceled.status, 200);
      assert.equal(((await canceled.json()) as { canceled: boolean }).canceled, true);
      assert.equal((await send("POST", "/queues/q/pause", "")).status, 200);
      const withBytes = await send("POST", "/queues/q/jobs", '{"data": 2}');
      assert.equal(withBytes.status, 415);
      assert.equal((await call("GET", "/queues/q/counts")).body.ready, 0, "nothing added");
    }));
});
