// The rule of the rooms: src/ and mod.ts import nothing runtime-specific (node:*, bun:*, npm:,
// jsr:, Deno.*, Bun.*) and nothing from adapters/, server/ or cli/; an adapter imports from src/
// only kv.ts and errors.ts. Comments (JSDoc examples) are not imports and are ignored.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { specifiers, strip } from "./_imports.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

const RUNTIME_SPECIFIER = /^(node:|bun:|npm:|jsr:|bun$)/;
const RUNTIME_GLOBAL = /\b(Deno|Bun)\s*[.[]/;

/** Problems of one core file (src/ or mod.ts), given its path relative to the repo root. */
function coreProblems(file: string, source: string): string[] {
  const problems: string[] = [];
  for (const spec of specifiers(source)) {
    if (RUNTIME_SPECIFIER.test(spec)) problems.push(`${file}: imports runtime-specific "${spec}"`);
    if (spec.startsWith(".")) {
      const target = relative(root, resolve(root, dirname(file), spec)).split(/[\\/]/)[0];
      if (["adapters", "server", "cli"].includes(target)) {
        problems.push(`${file}: imports "${spec}" from ${target}/`);
      }
    }
  }
  const usage = RUNTIME_GLOBAL.exec(strip(source, true));
  if (usage) problems.push(`${file}: uses the runtime global ${usage[1]}`);
  return problems;
}

/** Problems of one adapter file: it reaches into src/ for anything but kv.ts and errors.ts. */
function adapterProblems(file: string, source: string): string[] {
  const problems: string[] = [];
  for (const spec of specifiers(source)) {
    if (!spec.startsWith(".")) continue;
    const target = relative(root, resolve(root, dirname(file), spec)).replaceAll("\\", "/");
    if (target.startsWith("src/") && target !== "src/kv.ts" && target !== "src/errors.ts") {
      problems.push(`${file}: imports ${target}; an adapter may import only src/kv.ts and src/errors.ts`);
    }
  }
  return problems;
}

function tsFiles(dir: string): string[] {
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) return tsFiles(rel);
    return rel.endsWith(".ts") && !rel.endsWith("_test.ts") ? [rel] : [];
  });
}

const read = (file: string): string => readFileSync(join(root, file), "utf8");

describe("import rules", () => {
  test("src/ and mod.ts import nothing runtime-specific and nothing from adapters, server or cli", () => {
    const files = ["mod.ts", ...tsFiles("src")];
    assert.ok(files.includes("src/kv.ts"), "the scan found src/kv.ts");
    assert.deepEqual(files.flatMap((f) => coreProblems(f, read(f))), []);
  });

  test("adapters import from src/ only kv.ts and errors.ts", () => {
    const files = tsFiles("adapters");
    assert.ok(files.includes("adapters/memory/mod.ts"), "the scan found the memory adapter");
    assert.deepEqual(files.flatMap((f) => adapterProblems(f, read(f))), []);
  });

  test("coreProblems() flags runtime imports, runtime globals and imports from adapters", () => {
    const bad = [
      `import { readFile } from "node:fs/promises";`,
      `import type { Database } from "bun:sqlite";`,
      `export * from "jsr:@std/assert";`,
      `const m = await import("npm:postgres");`,
      `import {\n  MemoryKv,\n} from "../adapters/memory/mod.ts";`,
      `export { serve } from "../server/mod.ts";`,
      `const home = Deno.env.get("HOME");`,
      `if (globalThis.Bun) Bun.gc(true);`,
      `import "node:process";`,
    ];
    for (const source of bad) assert.equal(coreProblems("src/x.ts", source).length, 1, source);
  });

  test("coreProblems() ignores comments, strings and allowed imports", () => {
    const fine = [
      `/**\n * @example\n * import { MemoryKv } from "../adapters/memory/mod.ts";\n * Deno.exit(0);\n */`,
      `// import { x } from "node:fs";`,
      `const msg = "run Deno.openKv() or node:sqlite";`,
      `import { encodeKey } from "./kv.ts";\nimport { Cron } from "croner";`,
      `const t = \`Bun.serve is not used here\`;`,
    ];
    for (const source of fine) assert.deepEqual(coreProblems("src/x.ts", source), [], source);
  });

  test("adapterProblems() flags an adapter reaching into src/ beyond kv.ts and errors.ts", () => {
    assert.equal(
      adapterProblems("adapters/x/mod.ts", `import { Queue } from "../../src/queue.ts";`).length,
      1,
    );
    assert.deepEqual(
      adapterProblems(
        "adapters/x/mod.ts",
        `import { encodeKey } from "../../src/kv.ts";\nimport { StorageError } from "../../src/errors.ts";\n` +
          `import { KvState } from "../memory/state.ts";`,
      ),
      [],
    );
  });
});
