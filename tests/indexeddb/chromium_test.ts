// The IndexedDB adapter in real Chromium (the Debian package, driven by playwright-core): the
// conformance suite and the engine suite run in a page served from 127.0.0.1 (the adapter and the
// suites bundled by `deno bundle`, with node:test and node:assert replaced by browser/), one
// node:test per case; and two tabs of one profile working one database never run one job twice.
// Skips, saying so, only when chromium is not installed (.ci/run installs it).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { bundle, launch, skipWithoutChromium } from "./_chromium.ts";

interface Outcome {
  readonly name: string;
  readonly status: "pass" | "fail" | "skip";
  readonly error?: string;
  readonly ms: number;
}
interface Run {
  readonly id: string;
  readonly tab: string;
  readonly start: number;
  readonly end: number;
}
type PageApi = {
  names(): string[];
  run(name: string): Promise<Outcome>;
  work(dbName: string, tab: string): Promise<void>;
  add(dbName: string, n: number): Promise<void>;
  runs(): Run[];
  watch(dbName: string, ms: number): Promise<void>;
  woken(): Promise<boolean>;
  touch(dbName: string): Promise<void>;
  stop(): Promise<void>;
};

if (skipWithoutChromium) {
  test("indexeddb in chromium", { skip: skipWithoutChromium });
} else {
  const script = bundle("tests/indexeddb/browser/entry.ts", "tests/indexeddb/browser/import_map.json");
  const html =
    `<!doctype html><meta charset="utf-8"><title>loading</title><script type="module" src="/bundle.js"></script>`;
  const browser = await launch({
    "/": { type: "text/html", body: html },
    "/bundle.js": { type: "text/javascript", body: script },
  });
  const { context } = browser;
  after(() => browser.close());
  const errors: string[] = [];
  const openTab = async () => {
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${browser.origin}/`);
    await page.waitForFunction(
      () => (globalThis as unknown as { document: { title: string } }).document.title === "ready",
      undefined,
      { timeout: 60_000 },
    );
    return page;
  };
  const suitePage = await openTab();
  const api = <T>(fn: (kvq: PageApi, arg: never) => T | Promise<T>, arg?: unknown): Promise<T> =>
    suitePage.evaluate(
      ([source, a]) =>
        (new Function(`return (${source})`)() as (k: unknown, a: unknown) => T)(
          (globalThis as unknown as { kvq: unknown }).kvq,
          a,
        ),
      [fn.toString(), arg] as const,
    ) as Promise<T>;
  const names = await api((k) => k.names());

  describe("indexeddb in chromium: suites", () => {
    test("the page registered the conformance and the engine suite", () => {
      assert.ok(names.some((n) => n.includes("AtomicKv conformance")), "conformance cases");
      assert.ok(names.some((n) => n.includes("external leases")), "engine cases");
      assert.deepEqual(errors, []);
    });
    for (const name of names) {
      test(name, { timeout: 90_000 }, async (t) => {
        const outcome = await api((k, n: string) => k.run(n), name);
        if (outcome.status === "skip") return t.skip(outcome.error);
        assert.equal(outcome.status, "pass", outcome.error);
      });
    }
  });

  test("indexeddb in chromium: a commit in one tab wakes a watcher in another tab (BroadcastChannel)", async () => {
    const [a, b] = [await openTab(), await openTab()];
    const db = `kvq-watch-tabs-${Date.now()}`;
    await a.evaluate((d) => (globalThis as unknown as { kvq: PageApi }).kvq.watch(d, 5_000), db);
    await b.evaluate((d) => (globalThis as unknown as { kvq: PageApi }).kvq.touch(d), db);
    assert.equal(await a.evaluate(() => (globalThis as unknown as { kvq: PageApi }).kvq.woken()), true);
    await a.close();
    await b.close();
  });

  test("indexeddb in chromium: two tabs on one database never run one job at once, and each job runs once", async () => {
    const [a, b] = [await openTab(), await openTab()];
    const call = <T>(page: typeof a, source: string, ...args: unknown[]): Promise<T> =>
      page.evaluate(
        ([s, xs]) =>
          (new Function("kvq", "args", `return (${s})`)(
            (globalThis as unknown as { kvq: unknown }).kvq,
            xs,
          )) as T,
        [source, args] as const,
      ) as Promise<T>;
    const db = `kvq-two-tabs-${Date.now()}`;
    const n = 60;
    await call(a, "kvq.work(args[0], 'a')", db);
    await call(b, "kvq.work(args[0], 'b')", db);
    await call(a, "kvq.add(args[0], args[1])", db, n);
    const deadline = Date.now() + 60_000;
    let runs: Run[] = [];
    while (Date.now() < deadline) {
      runs = [...await call<Run[]>(a, "kvq.runs()"), ...await call<Run[]>(b, "kvq.runs()")];
      if (new Set(runs.map((r) => r.id)).size >= n) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await call(a, "kvq.stop()");
    await call(b, "kvq.stop()");
    runs = [...await call<Run[]>(a, "kvq.runs()"), ...await call<Run[]>(b, "kvq.runs()")];
    const byId = Map.groupBy(runs, (r) => r.id);
    assert.equal(byId.size, n, "every job ran");
    for (const [id, rs] of byId) {
      assert.equal(rs.length, 1, `job ${id} ran ${rs.length} times: ${JSON.stringify(rs)}`);
    }
    const split = {
      a: runs.filter((r) => r.tab === "a").length,
      b: runs.filter((r) => r.tab === "b").length,
    };
    console.log(`two tabs: ${n} jobs, tab a ran ${split.a}, tab b ran ${split.b}`);
    await a.close();
    await b.close();
    assert.deepEqual(errors, []);
  });
}
