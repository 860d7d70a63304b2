import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname!, "..", "..");
const read = (path: string) => readFileSync(join(root, path), "utf8");

test("README's main example is examples/quickstart.ts verbatim (the file a test runs)", () => {
  const readme = read("README.md");
  const section = readme.slice(readme.indexOf("## The main example"));
  const block = section.match(/```ts\n([\s\S]*?)```/);
  assert.ok(block, "README has a ```ts block under '## The main example'");
  assert.equal(block[1], read("examples/quickstart.ts"));
});

test("README's quick start names the test command that .ci/run calls", () => {
  const readme = read("README.md");
  const quickStart = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("## The main example"));
  assert.match(quickStart, /npm install && npm test/);
  assert.match(quickStart, /npm install && npm run demo/);
  assert.match(read(".ci/run"), /^npm install && npm test/m);
});

test("README's store matrix is what every store declares on this runtime, and names every store", async (t) => {
  const { HEADER, INFO_ONLY, RUNS_ON, RUNTIME, formatRow, openMatrix } = await import("./_matrix.ts");
  const readme = read("README.md");
  const start = readme.indexOf(HEADER[0]!);
  assert.ok(start >= 0, "README has the store matrix header");
  const lines = readme.slice(start).split("\n");
  const end = lines.findIndex((l) => !l.startsWith("|"));
  const table = lines.slice(0, end);
  assert.deepEqual(table.slice(0, 2), HEADER);
  const byStore = new Map(table.slice(2).map((l) => [l.split("|")[1]!.trim(), l]));
  assert.deepEqual([...byStore.keys()], Object.keys(RUNS_ON), "one row per store, in RUNS_ON's order");
  const { rows, skipped } = await openMatrix();
  for (const s of skipped) {
    t.diagnostic(`left out on ${RUNTIME}: ${s.store} (${s.why})`);
    assert.ok(["postgres", "unstorage (redis)"].includes(s.store), `${s.store} failed to open: ${s.why}`);
  }
  for (const r of rows) assert.equal(byStore.get(r.store), formatRow(r.store, r.info), `the ${r.store} row`);
  // This runtime's column: ticked exactly for the stores that opened here (or need a server that is down).
  const opened = new Set([...rows.map((r) => r.store), ...skipped.map((s) => s.store)]);
  for (const [store, on] of Object.entries(RUNS_ON)) {
    if (INFO_ONLY.includes(store)) continue;
    assert.equal(on.includes(RUNTIME), opened.has(store), `${store} on ${RUNTIME}`);
  }
});
