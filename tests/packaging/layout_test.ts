// The engine's structure: no import cycle among src/ files (type-only imports aside), no src/ file over
// 500 lines of code, and docs/ARCHITECTURE.md's layout names every file of src/, adapters/, server/, cli/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const MAX_CODE_LINES = 500;

/** Every .ts file under `dir`, as paths relative to `dir` with forward slashes. */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ts")) out.push(relative(dir, p).split("\\").join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

/** The source without comments (block and line comments blanked; strings kept). */
function code(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " ")).replace(
    /(^|[^:"'`\\])\/\/.*$/gm,
    "$1",
  );
}

/** The relative modules `source` imports or re-exports for their values (type-only ones left out). */
function valueImports(source: string): string[] {
  const out: string[] = [];
  const re = /(?:^|\n)\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+["'](\.[^"']+)["']/g;
  for (const m of code(source).matchAll(re)) {
    if (m[2]) continue; // import type / export type
    const names = /\{([^}]*)\}/.exec(m[3]);
    const onlyTypes = names !== null && !/^[\w$]+\s*,/.test(m[3].trim()) &&
      names[1].split(",").map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith("type "));
    if (!onlyTypes) out.push(m[4]);
  }
  for (const m of code(source).matchAll(/(?:^|\n)\s*import\s+["'](\.[^"']+)["']/g)) out.push(m[1]);
  return out;
}

/** A cycle in the graph, as a list of files, or null. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === "done") return null;
    if (state.get(n) === "open") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "open");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, "done");
    return null;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

function srcGraph(): Map<string, string[]> {
  const src = join(root, "src");
  const graph = new Map<string, string[]>();
  for (const f of files(src)) {
    const deps = valueImports(readFileSync(join(src, f), "utf8"))
      .map((s) => relative(src, resolve(dirname(join(src, f)), s)).split("\\").join("/"))
      .filter((d) => !d.startsWith(".."));
    graph.set(f, deps);
  }
  return graph;
}

test("findCycle reports a cycle through value imports and ignores type-only imports", () => {
  const a = 'import { b } from "./b.ts";\nimport type { C } from "./c.ts";\n';
  const b = 'import { type X, a } from "./a.ts";\n';
  const c = 'import { type A } from "./a.ts";\nexport { x } from "./d.ts";\n';
  assert.deepEqual(valueImports(a), ["./b.ts"]);
  assert.deepEqual(valueImports(b), ["./a.ts"]);
  assert.deepEqual(valueImports(c), ["./d.ts"]);
  assert.deepEqual(findCycle(new Map([["a", ["b"]], ["b", ["a"]]])), ["a", "b", "a"]);
  assert.equal(findCycle(new Map([["a", ["b"]], ["b", []], ["c", ["a"]]])), null);
});

test("src/ has no import cycle", () => {
  const graph = srcGraph();
  assert.ok(graph.size > 20, `read ${graph.size} files`);
  assert.ok((graph.get("queue.ts") ?? []).includes("worker.ts"), "imports are read");
  const cycle = findCycle(graph);
  assert.equal(cycle, null, `import cycle: ${cycle?.join(" -> ")}`);
});

test(`no file in src/ has more than ${MAX_CODE_LINES} lines of code`, () => {
  const src = join(root, "src");
  const over: string[] = [];
  for (const f of files(src)) {
    const lines = code(readFileSync(join(src, f), "utf8")).split("\n").filter((l) => l.trim() !== "");
    if (lines.length > MAX_CODE_LINES) over.push(`${f}: ${lines.length}`);
  }
  assert.deepEqual(over, [], "split these files");
});

/**
 * The files a layout tree names, as full paths: an entry is the first word of a line of the
 * tree; a word ending in `/` opens a folder for the entries indented below it.
 */
function layoutFiles(layout: string): Set<string> {
  const named = new Set<string>();
  const folders: { indent: number; path: string }[] = [];
  for (const line of layout.split("\n")) {
    const m = /^( *)(\S+)/.exec(line);
    if (!m || !/(\/|\.ts)$/.test(m[2])) continue;
    const indent = m[1].length;
    while (folders.length && folders[folders.length - 1].indent >= indent) folders.pop();
    const path = [...folders.map((f) => f.path), m[2]].join("");
    if (m[2].endsWith("/")) folders.push({ indent, path: m[2] });
    else named.add(path);
  }
  return named;
}

test("docs/ARCHITECTURE.md's layout lists every file of src/, adapters/, server/ and cli/", () => {
  const doc = readFileSync(join(root, "docs", "ARCHITECTURE.md"), "utf8");
  const start = doc.indexOf("## Layout");
  assert.ok(start >= 0, "a Layout section");
  const end = doc.indexOf("\n## ", start + 1);
  const named = layoutFiles(doc.slice(start, end < 0 ? doc.length : end));
  const missing: string[] = [];
  for (const dir of ["src", "adapters", "server", "cli"]) {
    for (const f of files(join(root, dir))) {
      if (!named.has(`${dir}/${f}`)) missing.push(`${dir}/${f}`);
    }
  }
  assert.deepEqual(missing, [], "add these files to the layout in docs/ARCHITECTURE.md, one line each");
});
