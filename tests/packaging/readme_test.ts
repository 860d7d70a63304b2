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
