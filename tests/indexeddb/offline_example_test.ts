// The offline-first example (examples/offline/) in real Chromium: requests sent while the browser is
// offline wait in the IndexedDB outbox, retried with backoff, and all reach the server once it is
// back online, each once (by its Idempotency-Key), in a page served from 127.0.0.1.
// Skips, saying so, only when chromium is not installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bundle, launch, ROOT, skipWithoutChromium } from "./_chromium.ts";

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test(
  "offline example: requests made offline are retried and all delivered once the browser is online again",
  {
    skip: skipWithoutChromium,
    timeout: 120_000,
  },
  async () => {
    const received: { key: string; body: unknown }[] = [];
    const browser = await launch({
      "/": { type: "text/html", body: readFileSync(join(ROOT, "examples/offline/index.html")) },
      "/outbox.js": { type: "text/javascript", body: bundle("examples/offline/outbox.ts") },
    }, (req, res) => {
      if (req.method !== "POST" || req.url !== "/api/messages") return void res.writeHead(404).end();
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => {
        received.push({ key: String(req.headers["idempotency-key"]), body: JSON.parse(data) });
        res.writeHead(204).end();
      });
    });
    try {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${browser.origin}/`);
      await page.waitForFunction(() => "outbox" in globalThis, undefined, { timeout: 60_000 });
      type Status = { waiting: number; sent: number };
      const status = () =>
        page.evaluate(() =>
          (globalThis as unknown as { outbox: { status(): Promise<Status> } }).outbox.status()
        );

      await browser.context.setOffline(true);
      for (const text of ["one", "two", "three"]) {
        await page.fill("#message", text);
        await page.click("button");
      }
      await until("three waiting requests", async () => (await status()).waiting === 3);
      // Offline for a while: attempts fail and are retried with backoff, nothing arrives.
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(received.length, 0);
      assert.deepEqual(await status(), { waiting: 3, sent: 0 });

      await browser.context.setOffline(false);
      await until("every request sent", async () => (await status()).sent === 3);
      const texts = received.map((r) => (r.body as { text: string }).text).sort();
      assert.deepEqual([...new Set(received.map((r) => r.key))].length, 3, "three distinct requests");
      assert.deepEqual(texts, ["one", "three", "two"]);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  },
);
