import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";

test("MemoryKv commit with a null check creates a key exactly once", async () => {
  const kv = new MemoryKv();
  const a = await kv.atomic().check(["k"], null).set(["k"], new Uint8Array([1])).commit();
  const b = await kv.atomic().check(["k"], null).set(["k"], new Uint8Array([2])).commit();
  assert.equal(a.ok, true);
  assert.equal(b.ok, false);
  assert.deepEqual((await kv.get(["k"]))?.value, new Uint8Array([1]));
  await kv.close();
});
