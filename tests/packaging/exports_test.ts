// deno.json, jsr.json and package.json declare the same entry points, name and version; the
// npm export map points at the built files of the same TypeScript entry points. Fails on drift.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

type Json = Record<string, unknown>;
interface Manifests {
  deno: Json;
  jsr: Json;
  pkg: Json;
  build: Json;
}

function readJson(file: string): Json {
  return JSON.parse(readFileSync(root + file, "utf8"));
}

function readManifests(): Manifests {
  return {
    deno: readJson("deno.json"),
    jsr: readJson("jsr.json"),
    pkg: readJson("package.json"),
    build: readJson("tsconfig.build.json"),
  };
}

/** `./adapters/x/mod.ts` -> `./dist/adapters/x/mod` (without extension). */
function distBase(tsPath: string): string | null {
  const m = /^\.\/(.+)\.ts$/.exec(tsPath);
  return m ? `./dist/${m[1]}` : null;
}

/** Every disagreement between the manifests, as readable lines; empty when they agree. */
function exportMapProblems({ deno, jsr, pkg, build }: Manifests): string[] {
  const problems: string[] = [];
  const denoExports = (deno.exports ?? {}) as Record<string, string>;
  const jsrExports = (jsr.exports ?? {}) as Record<string, string>;
  const pkgExports = (pkg.exports ?? {}) as Record<string, { types?: string; default?: string }>;

  if (deno.name !== jsr.name) problems.push(`name: deno.json "${deno.name}", jsr.json "${jsr.name}"`);
  const scoped = /^@[^/]+\/(.+)$/.exec(String(jsr.name ?? ""));
  if (!scoped) problems.push(`name: jsr.json "${jsr.name}" is not a scoped JSR name`);
  else if (pkg.name !== scoped[1]) problems.push(`name: package.json "${pkg.name}" is not "${scoped[1]}"`);
  for (const [file, m] of [["deno.json", deno], ["jsr.json", jsr]] as const) {
    if (m.version !== pkg.version) {
      problems.push(`version: ${file} ${m.version}, package.json ${pkg.version}`);
    }
    if (m.license !== pkg.license) {
      problems.push(`license: ${file} ${m.license}, package.json ${pkg.license}`);
    }
  }
  if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(String(pkg.version))) {
    problems.push(`version: "${pkg.version}" is not semver`);
  }

  const keys = new Set([...Object.keys(denoExports), ...Object.keys(jsrExports), ...Object.keys(pkgExports)]);
  if (!keys.has(".")) problems.push(`exports: no "." entry point`);
  const included = new Set(((build.include ?? []) as string[]).map((p) => p.replace(/^\.\//, "")));
  const files = (pkg.files ?? []) as string[];
  if (!files.includes("dist")) problems.push(`package.json files does not include "dist"`);
  for (const key of [...keys].sort()) {
    const d = denoExports[key], j = jsrExports[key], p = pkgExports[key];
    if (d === undefined) problems.push(`exports "${key}": missing in deno.json`);
    if (j === undefined) problems.push(`exports "${key}": missing in jsr.json`);
    if (p === undefined) problems.push(`exports "${key}": missing in package.json`);
    if (d !== undefined && j !== undefined && d !== j) {
      problems.push(`exports "${key}": deno.json ${d}, jsr.json ${j}`);
    }
    const ts = d ?? j;
    if (ts === undefined) continue;
    const base = distBase(ts);
    if (base === null) {
      problems.push(`exports "${key}": ${ts} is not a ./path.ts file`);
      continue;
    }
    if (!existsSync(root + ts.slice(2))) problems.push(`exports "${key}": ${ts} does not exist`);
    const top = ts.slice(2).split("/")[0];
    if (!included.has(top)) problems.push(`exports "${key}": ${top} is not in tsconfig.build.json include`);
    if (p === undefined) continue;
    if (typeof p !== "object" || p === null) {
      problems.push(`exports "${key}": package.json entry is not { types, default }`);
      continue;
    }
    if (p.default !== `${base}.js`) {
      problems.push(`exports "${key}": package.json default ${p.default}, want ${base}.js`);
    }
    if (p.types !== `${base}.d.ts`) {
      problems.push(`exports "${key}": package.json types ${p.types}, want ${base}.d.ts`);
    }
  }
  return problems;
}

function drifted(change: (m: Manifests) => void): string[] {
  const m = structuredClone(readManifests());
  change(m);
  return exportMapProblems(m);
}

describe("export maps", () => {
  test("deno.json, jsr.json and package.json declare the same entry points, name and version", () => {
    assert.deepEqual(exportMapProblems(readManifests()), []);
  });

  test("the published entry points include the core, the backend authors' kvq/kv, the testing suite and the memory adapter", () => {
    const keys = Object.keys(readManifests().jsr.exports as Json);
    for (const key of [".", "./kv", "./testing", "./memory"]) assert.ok(keys.includes(key), `missing ${key}`);
  });

  test("exportMapProblems() reports an entry point missing from one manifest", () => {
    const problems = drifted((m) => delete (m.jsr.exports as Json)["./memory"]);
    assert.ok(problems.some((p) => p.includes(`"./memory": missing in jsr.json`)), problems.join("\n"));
  });

  test("exportMapProblems() reports a package.json path that does not match the .ts entry", () => {
    const problems = drifted((m) => {
      (m.pkg.exports as Record<string, Json>)["./testing"].default = "./dist/testing.js";
      (m.pkg.exports as Record<string, Json>)["./memory"].types = "./dist/adapters/memory/index.d.ts";
    });
    assert.equal(problems.length, 2, problems.join("\n"));
  });

  test("exportMapProblems() reports diverging paths, versions and names", () => {
    assert.ok(drifted((m) => ((m.deno.exports as Json)["./memory"] = "./adapters/mem/mod.ts")).length > 0);
    assert.ok(drifted((m) => (m.jsr.version = "9.9.9")).some((p) => p.startsWith("version:")));
    assert.ok(drifted((m) => (m.pkg.name = "kvq-fork")).some((p) => p.startsWith("name:")));
    assert.ok(drifted((m) => (m.deno.name = "@other/kvq")).some((p) => p.startsWith("name:")));
  });
});
