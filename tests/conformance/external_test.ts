// A custom backend written outside the repository runs the conformance suite and the engine suite
// in a few lines each.
// The test writes a tiny Map-based AtomicKv and its test file into a temporary directory outside
// the repo, where `kvq` and `kvq/testing` resolve to this checkout (node_modules/kvq for Node and
// Bun, a deno.json import map for Deno), and runs that file under the current runtime's own test
// runner in a child process. A broken variant of the same store must make the child fail.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

// The user's store: everything it needs comes from the entry point for backend authors, kvq/kv.
const MAP_KV = `import {
  type AtomicKv,
  type AtomicOp,
  BufferedAtomicOp,
  checkListOptions,
  compareBytes,
  decodeKey,
  encodeKey,
  formatVersionstamp,
  type KvEntry,
  type KvInfo,
  type KvKey,
  type KvListOptions,
  type KvListSelector,
  selectorRange,
  StoreClosedError,
} from "kvq/kv";

type Row = { bytes: Uint8Array; value: Uint8Array; seq: bigint };
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** A store in a Map. With ignoreChecks it breaks the contract (for the suite's own test). */
export class MapKv implements AtomicKv {
  readonly info: KvInfo = {
    name: "map", maxValueBytes: 65536, maxKeyBytes: 2048, maxMutations: 1000, maxChecks: 100,
    scope: "process", durable: false, watch: false,
  };
  #rows = new Map<string, Row>();
  #seq = 0n;
  #closed = false;
  readonly #ignoreChecks: boolean;
  constructor(options: { ignoreChecks?: boolean } = {}) {
    this.#ignoreChecks = options.ignoreChecks ?? false;
  }
  #open(operation: string): void {
    if (this.#closed) throw new StoreClosedError(this.info.name, operation);
  }
  #entry(row: Row): KvEntry {
    return { key: decodeKey(row.bytes), value: row.value.slice(), versionstamp: formatVersionstamp(row.seq) };
  }
  #row(key: KvKey): Row | undefined {
    return this.#rows.get(hex(encodeKey(key)));
  }
  async get(key: KvKey): Promise<KvEntry | null> {
    this.#open("get");
    const row = this.#row(key);
    return row ? this.#entry(row) : null;
  }
  async getMany(keys: readonly KvKey[]): Promise<(KvEntry | null)[]> {
    this.#open("getMany");
    return keys.map((k) => this.#row(k)).map((row) => (row ? this.#entry(row) : null));
  }
  async *list(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry> {
    this.#open("list");
    const { start, end } = selectorRange(selector);
    const { limit, reverse } = checkListOptions(options);
    const rows = [...this.#rows.values()]
      .filter((r) => compareBytes(r.bytes, start) >= 0 && compareBytes(r.bytes, end) < 0)
      .sort((a, b) => compareBytes(a.bytes, b.bytes));
    if (reverse) rows.reverse();
    for (const row of rows.slice(0, limit)) yield this.#entry(row);
  }
  atomic(): AtomicOp {
    return new BufferedAtomicOp(this.info, async (batch) => {
      this.#open("commit");
      for (const c of batch.checks) {
        const row = this.#rows.get(hex(c.keyBytes));
        const current = row ? formatVersionstamp(row.seq) : null;
        if (current !== c.versionstamp && !this.#ignoreChecks) return { ok: false };
      }
      const seq = ++this.#seq;
      for (const m of batch.mutations) {
        if (m.type === "set") this.#rows.set(hex(m.keyBytes), { bytes: m.keyBytes, value: m.value, seq });
        else this.#rows.delete(hex(m.keyBytes));
      }
      return { ok: true, versionstamp: formatVersionstamp(seq) };
    });
  }
  async close(): Promise<void> {
    this.#closed = true;
  }
}
`;

// The few lines a user writes (the README snippet).
const MAP_KV_TEST = `import { testAdapter } from "kvq/testing";
import { MapKv } from "./map_kv.ts";

await testAdapter({ name: "map", open: () => new MapKv() });
`;

// The engine suite: the whole queue on the same store, from the same entry point.
const MAP_KV_ENGINE_TEST = `import { testEngine } from "kvq/testing";
import { MapKv } from "./map_kv.ts";

await testEngine({ name: "map", open: () => new MapKv() });
`;

const BROKEN_MAP_KV_TEST = `import { testAdapter } from "kvq/testing";
import { MapKv } from "./map_kv.ts";

await testAdapter({ name: "map-broken", open: () => new MapKv({ ignoreChecks: true }) });
`;

let dir = "";

/** Runs one test file of the external project (Deno without type checking, as Node and Bun). */
function runTestFile(file: string, timeout = 60_000): { status: number | null; output: string } {
  const commands: Record<string, string[]> = {
    node: ["--test", "--test-reporter=spec", file],
    bun: ["test", "--timeout", "30000", `./${file}`],
    deno: ["test", "-A", "--quiet", "--no-check", file],
  };
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" };
  delete env.NODE_TEST_CONTEXT; // else a child `node --test` reports to this runner instead
  const child = spawnSync(process.execPath, commands[runtime], {
    cwd: dir,
    env,
    encoding: "utf8",
    timeout,
  });
  return { status: child.status, output: `${child.stdout}\n${child.stderr}` };
}

describe("conformance suite from an external project", () => {
  before(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), "kvq-external-")));
    assert.ok(relative(repo, dir).startsWith(".."), `the temp dir ${dir} must be outside the repo`);
    const url = (path: string): string => new URL(path, `file://${repo}`).href;
    // How a user's project reaches the package: node_modules/kvq (Node, Bun) ...
    mkdirSync(join(dir, "node_modules", "kvq"), { recursive: true });
    writeFileSync(
      join(dir, "node_modules", "kvq", "package.json"),
      JSON.stringify({
        name: "kvq",
        type: "module",
        exports: { ".": "./mod.js", "./kv": "./kv.js", "./testing": "./testing.js" },
      }),
    );
    writeFileSync(join(dir, "node_modules", "kvq", "mod.js"), `export * from "${url("mod.ts")}";\n`);
    writeFileSync(join(dir, "node_modules", "kvq", "kv.js"), `export * from "${url("kv.ts")}";\n`);
    writeFileSync(
      join(dir, "node_modules", "kvq", "testing.js"),
      `export * from "${url("conformance/mod.ts")}";\n`,
    );
    // ... and an import map (Deno).
    writeFileSync(
      join(dir, "deno.json"),
      JSON.stringify({
        imports: {
          "kvq": url("mod.ts"),
          "kvq/kv": url("kv.ts"),
          "kvq/testing": url("conformance/mod.ts"),
        },
        nodeModulesDir: "manual", // kvq's own dependencies resolve from the checkout's node_modules
        lock: false,
      }),
    );
    writeFileSync(join(dir, "map_kv.ts"), MAP_KV);
    writeFileSync(join(dir, "map_kv_test.ts"), MAP_KV_TEST);
    writeFileSync(join(dir, "map_kv_engine_test.ts"), MAP_KV_ENGINE_TEST);
    writeFileSync(join(dir, "broken_map_kv_test.ts"), BROKEN_MAP_KV_TEST);
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(`a Map-based store in another directory passes the suite under ${runtime}`, () => {
    const { status, output } = runTestFile("map_kv_test.ts");
    assert.equal(status, 0, `the external suite run failed:\n${output.slice(-4000)}`);
    assert.match(output, /exactly one wins/, "the suite's cases ran");
    assert.match(output, /list\(\) orders single-part keys by type/);
  });

  test(`the same store passes the engine suite (testEngine) under ${runtime}`, { timeout: 120_000 }, () => {
    const { status, output } = runTestFile("map_kv_engine_test.ts", 120_000);
    assert.equal(status, 0, `the external engine suite run failed:\n${output.slice(-4000)}`);
    assert.match(output, /map: 4 workers/, "the engine suite's cases ran");
    assert.match(output, /maxQueued rejects the add past it/);
  });

  test(`the same store with checks ignored fails the suite under ${runtime}`, () => {
    const { status, output } = runTestFile("broken_map_kv_test.ts");
    assert.notEqual(status, 0, `a store that ignores checks passed:\n${output.slice(-2000)}`);
    assert.match(output, /check\(key, null\) passes for an absent key/);
  });
});
