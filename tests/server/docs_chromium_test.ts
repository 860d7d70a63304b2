// /docs in real Chromium (tests/server/_chromium.ts) with every request to another host refused and
// recorded: the reference renders from what the sidecar serves (the page, /docs/scalar.js,
// /openapi.json), its request panel opens, no console or page error (the page's CSP reports what it
// blocks as errors), and no request leaves the server. Skips, saying so, when chromium or the
// @scalar/api-reference package is not installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { createServer, serve } from "../../server/mod.ts";
import { SCALAR_PACKAGE, scalarBundle } from "../../server/_scalar.ts";
import { launchChromium, noChromium } from "./_chromium.ts";

const skip = noChromium ||
  (await scalarBundle() === undefined ? `${SCALAR_PACKAGE} is not installed` : false);

test("/docs in chromium renders offline: nothing requested from another host, no console error", {
  skip,
  timeout: 120_000,
}, async () => {
  const store = new MemoryKv();
  const app = createServer({ store, auth: "tok" });
  const http = await serve(app, { port: 0 });
  const browser = await launchChromium("docs");
  try {
    const page = browser.context.pages()[0] ?? await browser.context.newPage();
    page.setDefaultTimeout(30_000);
    const errors: string[] = [];
    const foreign: string[] = [];
    const local: string[] = [];
    const origin = new URL(http.url).origin;
    await browser.context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.origin !== origin) {
        foreign.push(url.href);
        return route.abort();
      }
      local.push(url.pathname);
      return route.continue();
    });
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`page: ${e}`));
    await page.goto(`${http.url}/docs`);
    // The document's title, description and first route: rendered from /openapi.json.
    await page.getByRole("heading", { name: "kvq sidecar" }).first().waitFor();
    await page.getByText("Enqueue, inspect, manage and consume kvq jobs").first().waitFor();
    await page.getByText("The dashboard page").first().waitFor();
    // The request panel (Scalar's API client) opens too.
    await page.getByText("Test Request").first().click();
    await page.getByText("Send", { exact: true }).first().waitFor();
    assert.deepEqual(foreign, []);
    assert.deepEqual(errors, []);
    for (const path of ["/docs", "/docs/scalar.js", "/openapi.json"]) {
      assert.ok(local.includes(path), `${path} not loaded: ${local.join(" ")}`);
    }
  } finally {
    await browser.close();
    await http.close();
    await app.close();
    await store.close();
  }
});
