// The sidecar through a real port on 127.0.0.1 (Deno.serve, Bun.serve or node:http by runtime).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { createServer, serve } from "../../server/mod.ts";

// deno-lint-ignore no-explicit-any
const json = async (res: Response): Promise<any> => await res.json();

describe("serve()", () => {
  test("serves the API and the dashboard on a free port of 127.0.0.1 and closes cleanly", async () => {
    const store = new MemoryKv();
    const app = createServer({ store, auth: "tok" });
    const http = await serve(app, { port: 0 });
    try {
      assert.ok(http.port > 0);
      assert.equal(http.url, `http://127.0.0.1:${http.port}`);
      const health = await fetch(`${http.url}/healthz`);
      assert.deepEqual(await health.json(), { ok: true });
      const page = await fetch(`${http.url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /kvq dashboard/);
      const denied = await fetch(`${http.url}/queues`);
      assert.equal(denied.status, 401);
      await denied.body?.cancel();
      const headers = { authorization: "Bearer tok", "content-type": "application/json" };
      const added = await fetch(`${http.url}/queues/web/jobs`, {
        method: "POST",
        headers,
        body: JSON.stringify({ data: { hello: "world" } }),
      });
      assert.equal(added.status, 201);
      const { job } = await json(added);
      const got = await fetch(`${http.url}/jobs/${job.id}`, { headers });
      assert.deepEqual((await json(got)).job.data, { hello: "world" });
      const claim = await json(
        await fetch(`${http.url}/queues/web/claim`, { method: "POST", headers, body: "{}" }),
      );
      const done = await fetch(`${http.url}/jobs/${job.id}/complete`, {
        method: "POST",
        headers,
        body: JSON.stringify({ token: claim.token, result: "ok" }),
      });
      assert.equal((await json(done)).job.state, "completed");
      const metrics = await fetch(`${http.url}/metrics`, { headers });
      assert.match(await metrics.text(), /kvq_jobs\{queue="web",state="completed"\} 1/);
    } finally {
      await http.close();
      await app.close();
      await store.close();
    }
  });

  test("serve() accepts a plain function and rejects a bad port", async () => {
    const http = await serve(() => new Response("hi"), { port: 0 });
    try {
      assert.equal(await (await fetch(http.url)).text(), "hi");
    } finally {
      await http.close();
    }
    await assert.rejects(serve(() => new Response(""), { port: 70000 }), RangeError);
  });

  test("answers carry the standard reason phrase (node:http included)", async () => {
    const store = new MemoryKv();
    const app = createServer({ store, auth: "tok" });
    const http = await serve(app, { port: 0 });
    try {
      const { get } = await import("node:http");
      const status = (path: string) =>
        new Promise<[number | undefined, string | undefined]>((resolve, reject) => {
          get(`${http.url}${path}`, (res) => {
            res.resume();
            resolve([res.statusCode, res.statusMessage]);
          }).on("error", reject);
        });
      assert.deepEqual(await status("/healthz"), [200, "OK"]);
      assert.deepEqual(await status("/queues"), [401, "Unauthorized"]);
    } finally {
      await http.close();
      await app.close();
      await store.close();
    }
  });

  test("without a token, a real port answers its loopback name and refuses a foreign Host with 421", async () => {
    const store = new MemoryKv();
    const app = createServer({ store });
    const http = await serve(app, { port: 0 });
    try {
      const { request } = await import("node:http");
      const status = (host: string) =>
        new Promise<number | undefined>((resolve, reject) => {
          request({ host: "127.0.0.1", port: http.port, path: "/queues", headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode);
          }).on("error", reject).end();
        });
      assert.equal(await status(`127.0.0.1:${http.port}`), 200);
      assert.equal(await status(`localhost:${http.port}`), 200);
      assert.equal(await status(`evil.example:${http.port}`), 421);
    } finally {
      await http.close();
      await app.close();
      await store.close();
    }
  });
});
