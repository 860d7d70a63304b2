// The shared atomic-operation buffer (src/kv.ts BufferedAtomicOp): what it hands an adapter. The
// conformance suite checks the same promises through each adapter; these look at the batch itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type AtomicBatch, BufferedAtomicOp, encodeKey, encodeKeyBinary, type KvInfo } from "../../src/kv.ts";

const info: KvInfo = {
  name: "probe",
  maxValueBytes: 65536,
  maxKeyBytes: 2048,
  maxMutations: 1000,
  maxChecks: 1000,
  scope: "process",
  durable: false,
  watch: false,
};

/** Commits `build`'s operation and returns the batch the adapter received. */
async function batchOf(build: (op: BufferedAtomicOp) => void): Promise<AtomicBatch> {
  let seen: AtomicBatch | undefined;
  const op = new BufferedAtomicOp(info, (batch) => {
    seen = batch;
    return Promise.resolve({ ok: true, versionstamp: "1" });
  });
  build(op);
  await op.commit();
  return seen!;
}

test("BufferedAtomicOp copies each value at set(): later writes to the caller's buffer or to another copy change nothing", async () => {
  const sources = Array.from(
    { length: 300 },
    (_, i) => Uint8Array.from({ length: (i * 37) % 200 }, (_, j) => i + j),
  );
  const expected = sources.map((s) => Array.from(s));
  const batch = await batchOf((op) => sources.forEach((s, i) => op.set(["k", i], s)));
  for (const s of sources) s.fill(0xee);
  const values = batch.mutations.map((m) => (m.type === "set" ? m.value : new Uint8Array()));
  assert.deepEqual(values.map((v) => Array.from(v)), expected);
  for (const v of values) v.fill(0x11); // a copy that is changed leaves every other copy intact
  const again = await batchOf((op) =>
    sources.forEach((_, i) => op.set(["k", i], Uint8Array.from(expected[i])))
  );
  assert.deepEqual(again.mutations.map((m) => (m.type === "set" ? Array.from(m.value) : [])), expected);
});

test("BufferedAtomicOp copies a view into a larger buffer as the view's bytes only", async () => {
  const big = Uint8Array.from({ length: 64 }, (_, i) => i);
  const batch = await batchOf((op) => op.set(["v"], big.subarray(10, 13)));
  const m = batch.mutations[0];
  assert.equal(m.type, "set");
  assert.deepEqual(m.type === "set" && Array.from(m.value), [10, 11, 12]);
});

test("BufferedAtomicOp hands each key as encodeKey() bytes and as the same bytes in a binary string", async () => {
  const keys = [["job", "q", "01J"], ["ready", "q", -0, "id"], [new Uint8Array([0, 255]), 1n, true, "é\0"]];
  const batch = await batchOf((op) => {
    op.check(keys[0], null);
    op.set(keys[1], new Uint8Array(0));
    op.delete(keys[2]);
  });
  const entries = [batch.checks[0], batch.mutations[0], batch.mutations[1]];
  entries.forEach((e, i) => {
    assert.deepEqual(e.keyBytes, encodeKey(keys[i]));
    assert.equal(e.keyBinary, encodeKeyBinary(keys[i]));
  });
});
