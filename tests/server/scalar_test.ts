// server/_scalar.ts: the API reference's bundle is read from the installed @scalar/api-reference
// (its package.json's `browser` file), found from a given module as Node resolves packages, on
// every runtime; without the package there is no bundle (and /docs says how to get it:
// openapi_test.ts). A stand-in package in a temporary node_modules, so this runs whether or not
// the real one is installed.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadScalarBundle, SCALAR_PACKAGE } from "../../server/_scalar.ts";

const root = mkdtempSync(join(tmpdir(), "kvq-scalar-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A project dir whose node_modules holds a stand-in @scalar/api-reference; returns a file in it. */
function project(name: string, pkg: Record<string, unknown>, files: Record<string, string>): string {
  const dir = join(root, name);
  const at = join(dir, "node_modules", ...SCALAR_PACKAGE.split("/"));
  mkdirSync(join(at, "dist", "browser"), { recursive: true });
  writeFileSync(join(at, "package.json"), JSON.stringify({ name: SCALAR_PACKAGE, type: "module", ...pkg }));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(at, file), text);
  writeFileSync(join(dir, "main.js"), "");
  return join(dir, "main.js");
}

describe("the Scalar bundle", () => {
  test("is the installed package's browser file, with its version (exports that hide both are walked around)", async () => {
    const from = project("installed", {
      version: "9.8.7",
      browser: "./dist/browser/standalone.js",
      exports: { ".": { import: "./dist/index.js", default: "./dist/index.js" } },
    }, { "dist/index.js": "export {};", "dist/browser/standalone.js": "var Scalar = { ok: 1 };" });
    const bundle = await loadScalarBundle(from);
    assert.ok(bundle);
    assert.equal(bundle.version, "9.8.7");
    assert.equal(new TextDecoder().decode(bundle.body), "var Scalar = { ok: 1 };");
  });

  test("without a `browser` field, is dist/browser/standalone.js", async () => {
    const from = project("no-browser-field", { version: "1.0.0", main: "./dist/index.js" }, {
      "dist/index.js": "export {};",
      "dist/browser/standalone.js": "/* standalone */",
    });
    assert.equal(new TextDecoder().decode((await loadScalarBundle(from))!.body), "/* standalone */");
  });

  test("is undefined when the package is not installed", async () => {
    const dir = join(root, "empty");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "main.js"), "");
    assert.equal(await loadScalarBundle(join(dir, "main.js")), undefined);
  });

  test("fails, naming the file, when the package is installed without its bundle", async () => {
    const from = project("broken", { version: "1.0.0", main: "./dist/index.js" }, { "dist/index.js": "" });
    await assert.rejects(loadScalarBundle(from), /standalone\.js/);
  });
});
