// Packaging hygiene: a fresh `npm install` must leave the tree clean (so `deno publish --dry-run`
// does not abort on a dirty tree), and the repository and both packages carry the LICENSE their
// manifests declare.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const readJson = (file: string) => JSON.parse(readFileSync(root + file, "utf8"));

test("package-lock.json lists every optional platform package of the devDependencies", () => {
  // npm adds the optional packages of every platform to the lock on install; a lock without them
  // is rewritten by the first `npm install` of a fresh clone.
  const lock = readJson("package-lock.json");
  const pkg = readJson("package.json");
  const missing: string[] = [];
  for (const dep of Object.keys(pkg.devDependencies ?? {})) {
    const entry = lock.packages?.[`node_modules/${dep}`];
    assert.ok(entry, `${dep} is in package-lock.json`);
    for (const optional of Object.keys(entry.optionalDependencies ?? {})) {
      if (!lock.packages[`node_modules/${optional}`]) missing.push(`${dep} -> ${optional}`);
    }
  }
  assert.deepEqual(missing, [], "optional platform packages missing from package-lock.json");
});

test("the repository ships the MIT LICENSE that package.json, jsr.json and deno.json declare", () => {
  assert.ok(existsSync(root + "LICENSE"), "LICENSE exists");
  assert.match(readFileSync(root + "LICENSE", "utf8"), /^MIT License/);
  for (const file of ["package.json", "jsr.json", "deno.json"]) {
    assert.equal(readJson(file).license, "MIT", `${file} declares MIT`);
  }
  assert.ok(readJson("package.json").files.includes("LICENSE"), "the npm tarball includes LICENSE");
  const excluded: string[] = readJson("deno.json").publish?.exclude ?? [];
  assert.ok(!excluded.includes("LICENSE"), "the JSR package includes LICENSE");
});
