// GET /openapi.json against the app: every route the app serves is documented (and nothing else),
// and every constraint the document states is enforced. The violating requests are generated from
// the document itself: for each integer bound, enum, pattern, length, type, required field and
// closed object of every parameter and body, one request breaks just that, and must get a 400
// whose message names the field.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { routesOf } from "../../server/server.ts";
import { withServer } from "./_helpers.ts";
import { violatingCalls } from "./_openapi.ts";
import { SCALAR_PACKAGE, scalarBundle } from "../../server/_scalar.ts";
import process from "node:process";

describe("GET /openapi.json", () => {
  test("is an OpenAPI 3.1 document, open without a token like /healthz, and /docs renders it", () =>
    withServer({ auth: "tok" }, async ({ call }) => {
      const res = await call("GET", "/openapi.json", undefined, { token: null });
      assert.equal(res.status, 200);
      assert.equal(res.body.openapi, "3.1.0");
      assert.deepEqual(res.body.security, [{ bearer: [] }]);
      assert.deepEqual(res.body.paths["/healthz"].get.security, []);
      const docs = await call("GET", "/docs", undefined, { token: null });
      assert.equal(docs.status, 200);
      assert.match(docs.text, /\/openapi\.json/);
      assert.equal((await call("GET", "/queues", undefined, { token: null })).status, 401);
    }));

  test("/docs loads nothing from another host: its scripts and styles are served by the sidecar, open like the page", () =>
    withServer({ auth: "tok" }, async ({ call }) => {
      const docs = await call("GET", "/docs", undefined, { token: null });
      assert.equal(docs.status, 200);
      assert.match(docs.headers.get("content-type") ?? "", /^text\/html/);
      const refs = pageReferences(docs.text);
      const foreign = refs.filter((r) => !/^\/(?!\/)/.test(r));
      assert.deepEqual(foreign, [], `/docs references ${foreign.join(", ")}`);
      const installed = await scalarBundle();
      if (installed === undefined) {
        // Without the package: a page that says how to get it, and no script at all.
        assert.match(docs.text, new RegExp(`npm install ${SCALAR_PACKAGE}`));
        assert.deepEqual(refs.filter((r) => r.endsWith(".js")), []);
        const missing = await call("GET", "/docs/scalar.js", undefined, { token: null });
        assert.equal(missing.status, 404);
        assert.match(missing.body.error.message, /@scalar\/api-reference is not installed/);
        return;
      }
      assert.ok(refs.includes("/docs/scalar.js"), `/docs loads ${refs.join(", ")}`);
      for (const ref of refs) {
        const res = await call("GET", ref, undefined, { token: null });
        assert.equal(res.status, 200, `GET ${ref}`);
      }
      const js = await call("GET", "/docs/scalar.js", undefined, { token: null });
      assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
      assert.equal(js.headers.get("cache-control"), "public, max-age=300");
      assert.equal(js.headers.get("x-content-type-options"), "nosniff");
      assert.equal(js.text.length, new TextDecoder().decode(installed.body).length);
      const etag = js.headers.get("etag")!;
      assert.equal(etag, `"scalar-${installed.version}"`);
      const again = await call("GET", "/docs/scalar.js", undefined, {
        token: null,
        headers: { "if-none-match": etag },
      });
      assert.equal(again.status, 304);
      assert.equal(again.text, "");
    }));

  test("documents every route the app serves, and only those", () =>
    withServer({}, async ({ app, call }) => {
      const doc = (await call("GET", "/openapi.json")).body;
      const served = routesOf(app).map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`).sort();
      const documented = Object.entries(doc.paths as Record<string, object>)
        .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
      assert.ok(served.length >= 24, `only ${served.length} routes found`);
      assert.deepEqual(documented, served);
    }));

  test("with app-to-app delivery, /send and /deliver are documented too (/deliver open: its credential is the signature) and /send's constraints are enforced", () =>
    withServer({
      auth: "tok",
      appId: "a",
      delivery: { key: "shared-delivery-key", peers: "http://{app}", acceptFrom: "*" },
    }, async ({ app, call }) => {
      const doc = (await call("GET", "/openapi.json")).body;
      const served = routesOf(app).map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`).sort();
      const documented = Object.entries(doc.paths as Record<string, object>)
        .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
      assert.ok(served.includes("POST /send/{app}/{queue}") && served.includes("POST /deliver/{queue}"));
      assert.deepEqual(documented, served);
      assert.deepEqual(doc.paths["/deliver/{queue}"].post.security, []);
      assert.equal(doc.paths["/send/{app}/{queue}"].post.security, undefined);
      const calls = violatingCalls(doc).filter((c) => c.path.startsWith("/send/"));
      assert.ok(calls.length >= 5, `only ${calls.length} violations of /send generated`);
      const failures: string[] = [];
      for (const c of calls) {
        const res = await call(c.method.toUpperCase(), c.path, c.body);
        const message: string = res.body?.error?.message ?? res.text;
        if (res.status !== 400 || !message.includes(c.field)) {
          failures.push(`${c.what}: ${res.status} ${message}`);
        }
      }
      assert.deepEqual(failures, []);
    }));

  test("every documented bound, enum, pattern, length, type, required field and closed object is enforced with a 400 naming the field", () =>
    withServer({}, async ({ call }) => {
      const doc = (await call("GET", "/openapi.json")).body;
      const calls = violatingCalls(doc);
      assert.ok(calls.length > 100, `only ${calls.length} violations generated`);
      for (
        const kind of [
          "below minimum",
          "above maximum",
          "a fraction",
          "not one of",
          "not matching",
          "longer than",
          "shorter than",
          ": required",
          "unknown field",
          ": type",
        ]
      ) {
        assert.ok(calls.some((c) => c.what.includes(kind)), `no violation of kind "${kind}" generated`);
      }
      const failures: string[] = [];
      for (const c of calls) {
        const res = await call(c.method.toUpperCase(), c.path, c.body);
        const message: string = res.body?.error?.message ?? res.text;
        if (res.status !== 400 || !message.includes(c.field)) {
          failures.push(
            `${c.what}: ${res.status} ${message} (sent ${JSON.stringify(c.body)?.slice(0, 200)})`,
          );
        }
      }
      assert.deepEqual(failures, []);
      if (process.env.KVQ_OPENAPI_VERBOSE) {
        for (const c of calls) console.log(c.what, "->", c.path, JSON.stringify(c.body));
      }
      assert.equal(
        (await call("GET", "/queues")).body.queues.length,
        0,
        "no violating request opened a queue",
      );
    }));
});

/**
 * Every script, stylesheet, font, image, frame or preload a page names: `src` and `href` attributes of
 * the tags that load something, `@import` and `url(...)` in its styles. A page that loads nothing
 * from another host has only paths starting with one `/` here.
 */
function pageReferences(html: string): string[] {
  const refs: string[] = [];
  const loaders = /<(script|link|img|iframe|source|embed|object|video|audio)\b[^>]*>/gi;
  for (const [tag] of html.matchAll(loaders)) {
    for (const [, , value] of tag.matchAll(/\b(src|href|data)\s*=\s*["']?([^"'\s>]+)/gi)) refs.push(value);
  }
  for (const [, value] of html.matchAll(/@import\s+(?:url\()?["']?([^"')\s;]+)/gi)) refs.push(value);
  for (const [, value] of html.matchAll(/url\(\s*["']?([^"')\s]+)/gi)) {
    if (!value.startsWith("data:")) refs.push(value);
  }
  // A module script can import from anywhere: any absolute URL inside a script counts too.
  for (const [, body] of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)) {
    for (const [url] of body.matchAll(/(?:https?:)?\/\/[\w.-]+\.[a-z]{2,}[^\s"'`)]*/gi)) refs.push(url);
  }
  return refs;
}
