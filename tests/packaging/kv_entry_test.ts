// kvq/kv, the entry point for backend authors: the contract, key codec, typed errors and adapter
// kit, and nothing of the engine. Checked on the source (its transitive static imports) and at run time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as kv from "../../kv.ts";
import { specifiers } from "./_imports.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** Every repo file `entry` loads through static or literal dynamic imports, and every bare specifier. */
function closure(entry: string): { files: string[]; bare: string[] } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of specifiers(readFileSync(join(root, file), "utf8"))) {
      if (spec.startsWith(".")) {
        visit(relative(root, resolve(root, dirname(file), spec)).replaceAll("\\", "/"));
      } else bare.add(spec);
    }
  };
  visit(entry);
  return { files: [...files].sort(), bare: [...bare].sort() };
}

test("kvq/kv loads from src/ only the contracts (AtomicKv, BlobStore) and the errors, and no engine, cron library or runtime module", () => {
  const { files, bare } = closure("kv.ts");
  assert.ok(files.includes("adapters/_kit/mod.ts"), files.join("\n"));
  assert.deepEqual(files.filter((f) => f.startsWith("src/")), [
    "src/atomic_op.ts",
    "src/blob_store.ts",
    "src/errors.ts",
    "src/key_codec.ts",
    "src/kv.ts",
    "src/list_range.ts",
  ]);
  for (const f of files) {
    assert.match(
      f,
      /^(kv\.ts|src\/(kv|errors|key_codec|list_range|atomic_op|blob_store)\.ts|adapters\/_kit\/[a-z_]+\.ts)$/,
      f,
    );
  }
  assert.deepEqual(bare, []); // in particular no "croner"
});

test("closure() finds the engine and croner behind the main entry point (so the check above can fail)", () => {
  const { files, bare } = closure("mod.ts");
  assert.ok(files.includes("src/queue.ts"), files.join("\n"));
  assert.ok(bare.includes("croner"), bare.join("\n"));
});

test("kvq/kv exports the contract, key codec, typed errors and adapter kit, and no queue", () => {
  for (
    const name of [
      "BufferedAtomicOp",
      "encodeKey",
      "decodeKey",
      "compareKeys",
      "selectorRange",
      "formatVersionstamp",
      "StorageError",
      "StoreClosedError",
      "CorruptionError",
      "LimitError",
      "StoreLockedError",
      "KvState",
      "StateKv",
      "SortedMap",
      "WatchHub",
      "WriteQueue",
      "storageError",
      "startsWith",
      "plainBytes",
    ]
  ) {
    assert.equal(typeof (kv as Record<string, unknown>)[name], "function", name);
  }
  for (const name of ["Queue", "Worker", "transition"]) assert.equal(name in kv, false, name);
  assert.deepEqual(kv.decodeKey(kv.encodeKey(["job", 1n])), ["job", 1n]);
});
