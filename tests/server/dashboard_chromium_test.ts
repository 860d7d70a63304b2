// The dashboard in real Chromium (the Debian package, driven by playwright-core, a fresh profile): a
// sidecar on a loopback port with jobs in every state, the page opened from it; open a job, redrive
// the dead one, search by idempotency key and by id, run a delayed job now, retry a failed one now,
// delete one, clean completed ones, the two uPlot charts drawn, and auto-refresh stopped while the
// tab is hidden. Any console error or page error fails it. Skips, saying so, only when chromium is
// not installed (.ci/run installs it).
// KVQ_DASHBOARD_SCREENSHOT=1 also writes docs/dashboard.png.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { Queue } from "../../mod.ts";
import { createServer, serve } from "../../server/mod.ts";
import { launchChromium, noChromium } from "./_chromium.ts";

const skip = noChromium;
const SCREENSHOT = process.env.KVQ_DASHBOARD_SCREENSHOT
  ? fileURLToPath(new URL("../../docs/dashboard.png", import.meta.url))
  : undefined;

interface Ids {
  completed: string[];
  dead: string;
  failed: string;
  scheduled: string;
  keyed: string;
}

if (skip) {
  test("dashboard in chromium", { skip });
} else {
  // Set up at the top level, not in a before() hook: bun test holds hooks to its 5 s default.
  {
    const store = new MemoryKv();
    const queue = new Queue(store, "mail", { maxAttempts: 3, backoff: 3_600_000 });
    const other = new Queue(store, "reports");
    const app = createServer({ store, queues: [queue, other] });
    const errors: string[] = [];
    const ids = {} as Ids;

    /** Jobs in every state, and attempts that ended (the charts' data), through the Queue API. */
    const seed = async () => {
      const added = await queue.addBulk(
        [1, 2, 3, 4, 5, 6].map((n) => ({ data: { to: `user${n}@example.com` } })),
      );
      const claimed = await queue.claim({ limit: 6, leaseMs: 60_000 });
      assert.equal(claimed.length, 6);
      for (const { job, token } of claimed.slice(0, 4)) {
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
        await queue.complete(job.id, token, { sent: true });
      }
      const [dead, failed] = claimed.slice(4);
      await queue.fail(dead.job.id, dead.token, new Error("mailbox does not exist"), { retry: false });
      await queue.fail(failed.job.id, failed.token, new Error("SMTP timeout"));
      ids.completed = claimed.slice(0, 4).map((c) => c.job.id);
      ids.dead = dead.job.id;
      ids.failed = failed.job.id;
      ids.scheduled = (await queue.add({ to: "later@example.com" }, { delay: 3_600_000 })).id;
      ids.keyed = (await queue.add({ to: "welcome@example.com" }, { key: "welcome:42" })).id;
      await other.add({ month: "2026-11" });
      assert.equal(added.length, 6);
    };

    const detailState = (state: string) =>
      page.waitForSelector(`#detail.open[data-state="${state}"]`, { timeout: 10_000 });
    const openTab = async (state: string) => {
      // The open detail panel covers the list.
      if (await page.locator("#detail.open").count()) await page.click("#detail #close");
      await page.click(`.tab[data-state="${state}"]`);
      await page.waitForSelector(`.tab.sel[data-state="${state}"]`);
    };
    // Locators, not page functions: the page's CSP forbids eval (waitForFunction with source text).
    const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
    const detailOf = (id: string) => page.locator("#detail.open h1", { hasText: exactly(id) }).waitFor();
    const openRow = async (id: string) => {
      await page.click(`tr[data-job="${id}"]`);
      await detailOf(id);
    };

    await seed();
    const http = await serve(app, { port: 0 });
    const browser = await launchChromium("dashboard");
    const context: BrowserContext = browser.context;
    const page: Page = context.pages()[0] ?? await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`page: ${e}`));
    page.on("dialog", (d) => void d.accept());
    await page.goto(`${http.url}/`);
    await page.waitForSelector('#queues a[data-queue="mail"].sel', { timeout: 15_000 });

    after(async () => {
      await browser.close();
      await http.close();
      await app.close();
      await queue.close();
      await other.close();
      await store.close();
    });
    describe("dashboard in chromium", () => {
      test(
        "the page loads its script and uPlot from the sidecar and draws both charts",
        { timeout: 30_000 },
        async () => {
          await page.waitForSelector("#chart-throughput .uplot canvas", { timeout: 10_000 });
          await page.waitForSelector("#chart-latency .uplot canvas", { timeout: 10_000 });
          const sizes = await page.evaluate(
            "[...document.querySelectorAll('#charts canvas')].map((c) => [c.width, c.height])",
          ) as [number, number][];
          assert.equal(sizes.length, 2);
          for (const [w, h] of sizes) assert.ok(w > 100 && h > 50, `canvas ${w}x${h}`);
          const legends = await page.$$eval(
            "#charts .u-legend .u-label",
            (ls) => ls.map((l) => l.textContent),
          );
          for (const label of ["completed", "failed", "run p50", "run p95", "wait p95"]) {
            assert.ok(legends.includes(label), `legend ${label} in ${legends.join(", ")}`);
          }
          assert.equal(
            await page.evaluate(() => typeof (globalThis as { uPlot?: unknown }).uPlot),
            "function",
          );
          assert.deepEqual(errors, []);
        },
      );

      test(
        "auto-refresh polls while the tab is visible and stops while it is hidden",
        { timeout: 30_000 },
        async () => {
          const polls: number[] = [];
          const onRequest = (r: { url(): string }) => {
            if (new URL(r.url()).pathname === "/queues") polls.push(Date.now());
          };
          const setVisibility = (state: "hidden" | "visible") =>
            page.evaluate((v) => {
              const doc = (globalThis as unknown as { document: EventTarget }).document;
              Object.defineProperty(doc, "visibilityState", { value: v, configurable: true });
              doc.dispatchEvent(new Event("visibilitychange"));
            }, state);
          const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
          page.on("request", onRequest);
          try {
            await sleep(2_500);
            assert.ok(polls.length >= 1, "a poll within 2.5 s while visible");
            await setVisibility("hidden");
            await sleep(200); // a poll already in flight
            const hidden = polls.length;
            await sleep(4_500);
            assert.equal(polls.length, hidden, "no poll while hidden");
            await setVisibility("visible");
            await sleep(500);
            assert.ok(polls.length > hidden, "a poll at once when visible again");
          } finally {
            page.off("request", onRequest);
          }
          assert.deepEqual(errors, []);
        },
      );

      test("a job opens with its payload and result", { timeout: 30_000 }, async () => {
        await openTab("completed");
        await openRow(ids.completed[0]);
        const text = await page.textContent("#detail");
        assert.match(text ?? "", /user1@example\.com/);
        assert.match(text ?? "", /"sent": true/);
        await page.click("#detail #close");
        assert.deepEqual(errors, []);
      });

      test("the dead job is redriven from its detail", { timeout: 30_000 }, async () => {
        await openTab("dead");
        await openRow(ids.dead);
        await page.click("#detail #redrive");
        await detailState("ready");
        assert.equal((await queue.getJob(ids.dead))?.state, "ready");
        assert.deepEqual(errors, []);
      });

      test("search finds a job by idempotency key and by id", { timeout: 30_000 }, async () => {
        await page.fill("#search", "welcome:42");
        await page.press("#search", "Enter");
        await detailOf(ids.keyed);
        assert.equal(await page.locator("#queuepanel tbody tr").count(), 1);
        await page.click("#detail #close");
        await page.fill("#search", ids.failed);
        await page.press("#search", "Enter");
        await page.waitForSelector(`#queuepanel tr[data-job="${ids.failed}"]`, { timeout: 10_000 });
        await page.fill("#search", "no-such-thing");
        await page.press("#search", "Enter");
        await page.waitForSelector("#noresults", { timeout: 10_000 });
        await page.click('#queues a[data-queue="mail"]');
        await page.waitForSelector("#queuepanel .tab.sel");
        assert.deepEqual(errors, []);
      });

      test(
        "a delayed job runs now (promote) and a failed one is retried now",
        { timeout: 30_000 },
        async () => {
          await openTab("scheduled");
          await openRow(ids.scheduled);
          await page.click("#detail #promote");
          await detailState("ready");
          assert.equal((await queue.getJob(ids.scheduled))?.state, "ready");
          await openTab("failed");
          await openRow(ids.failed);
          assert.equal(await page.textContent("#detail #promote"), "Retry now");
          await page.click("#detail #promote");
          await detailState("ready");
          const retried = await queue.getJob(ids.failed);
          assert.deepEqual([retried?.state, retried?.attempt], ["ready", 1]);
          assert.deepEqual(errors, []);
        },
      );

      test("a job is deleted, and completed jobs are cleaned by age", { timeout: 30_000 }, async () => {
        if (SCREENSHOT) {
          await page.click("#detail #close");
          await openTab("completed");
          await page.waitForSelector(`tr[data-job="${ids.completed[0]}"]`);
          await page.locator("#toast").evaluate((t) =>
            (t as unknown as { style: { display: string } }).style.display = "none"
          );
          await page.screenshot({ path: SCREENSHOT });
        }
        await openTab("ready");
        await openRow(ids.keyed);
        await page.click("#detail #delete");
        await page.waitForSelector("#detail:not(.open)", { state: "hidden" });
        assert.equal(await queue.getJob(ids.keyed), null);
        await page.click("#cleantoggle");
        await page.fill('#cleanform input[aria-label="older than, in minutes"]', "0");
        await page.click("#cleanrun");
        await page.locator('.tab[data-state="completed"] .n', { hasText: exactly("0") }).waitFor();
        assert.equal((await queue.counts()).completed, 0);
        assert.deepEqual(errors, []);
      });
    });
  }
}
