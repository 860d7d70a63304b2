// The dashboard page's script (no shadowed browser globals, pauses when hidden) and the list API it
// polls (no payloads).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { createServer } from "../../server/mod.ts";
import { client } from "./_helpers.ts";

/** Names a page script must not declare: they would shadow the window's own. */
const BROWSER_GLOBALS = [
  "history",
  "location",
  "name",
  "status",
  "top",
  "parent",
  "self",
  "window",
  "document",
  "navigator",
  "screen",
  "event",
  "origin",
  "length",
  "close",
  "open",
  "print",
  "stop",
  "focus",
  "blur",
  "fetch",
  "alert",
  "confirm",
  "performance",
  "crypto",
  "frames",
  "scroll",
  "find",
  "closed",
  "opener",
  "localStorage",
  "sessionStorage",
];

async function page(): Promise<string> {
  const store = new MemoryKv();
  const app = createServer({ store });
  try {
    return (await client(app)("GET", "/")).text;
  } finally {
    await app.close();
    await store.close();
  }
}

describe("dashboard", () => {
  test("the page script parses and declares no name that shadows a browser global", async () => {
    const html = await page();
    const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1];
    assert.ok(script, "the page has an inline script");
    new Function(script); // a syntax error throws here
    const declared = [...script.matchAll(/\b(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)/g)]
      .map((m) => m[1]);
    const shadowing = declared.filter((n) => BROWSER_GLOBALS.includes(n));
    assert.deepEqual(shadowing, [], `declared: ${shadowing.join(", ")}`);
    assert.match(script, /history\.replaceState/);
  });

  test("auto-refresh runs only while the tab is visible", async () => {
    const script = /<script>([\s\S]*)<\/script>/.exec(await page())![1];
    assert.match(script, /setInterval\([^\n]*document\.visibilityState === "visible"/);
    assert.match(script, /addEventListener\("visibilitychange"/);
  });

  test("list pages carry no payloads, results or progress; a job's detail and payloads=true do", async () => {
    const store = new MemoryKv();
    const app = createServer({ store });
    const call = client(app);
    try {
      const big = "x".repeat(100_000);
      const job = (await call("POST", "/queues/q/jobs", { data: { big } })).body.job;
      const list = await call("GET", "/queues/q/jobs?state=ready");
      assert.equal(list.status, 200);
      assert.equal(list.body.jobs.length, 1);
      assert.equal(list.body.jobs[0].id, job.id);
      assert.equal("data" in list.body.jobs[0], false);
      assert.ok(list.text.length < 5000, `a one-job page is ${list.text.length} bytes`);
      assert.equal((await call("GET", `/queues/q/jobs/${job.id}`)).body.job.data.big, big);
      const full = await call("GET", "/queues/q/jobs?state=ready&payloads=true");
      assert.equal(full.body.jobs[0].data.big, big);
    } finally {
      await app.close();
      await store.close();
    }
  });
});
