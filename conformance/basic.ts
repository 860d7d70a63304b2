/**
 * Conformance cases: get, set and delete of single keys.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { KvKey } from "../src/kv.ts";
import { assertBytes, assertKey, type CaseDef, collect, commitOk, u8 } from "./_harness.ts";

/** The get/set/delete cases. */
export const basicCases: readonly CaseDef[] = [
  {
    name: "get() returns null for a key that was never written",
    async run(s) {
      const kv = await s.open();
      assert.equal(await kv.get(s.key("never")), null);
      assert.equal(await kv.get(s.key()), null, "the case prefix itself was never written");
    },
  },
  {
    name: "set() then get() returns the key, the value and the commit's versionstamp",
    async run(s) {
      const kv = await s.open();
      const key = s.key("greeting");
      const vs = await commitOk(kv.atomic().set(key, u8(104, 105)));
      const entry = await kv.get(key);
      assert.ok(entry, "get() after set() returned null");
      assertKey(entry.key, key, "entry.key");
      assertBytes(entry.value, u8(104, 105), "entry.value");
      assert.equal(entry.versionstamp, vs, "entry.versionstamp is the versionstamp commit() returned");
    },
  },
  {
    name: "delete() removes a key, and deleting an absent key commits",
    async run(s) {
      const kv = await s.open();
      const key = s.key("doomed");
      await commitOk(kv.atomic().set(key, u8(1)));
      await commitOk(kv.atomic().delete(key), "delete of a present key");
      assert.equal(await kv.get(key), null, "the key is gone after delete()");
      await commitOk(kv.atomic().delete(key), "delete of an absent key");
      await commitOk(kv.atomic().delete(s.key("never")), "delete of a never-written key");
      assert.equal(await kv.get(key), null);
    },
  },
  {
    name: "the last mutation of a key in one atomic operation wins",
    async run(s) {
      const kv = await s.open();
      const [a, b, c] = [s.key("a"), s.key("b"), s.key("c")];
      await commitOk(kv.atomic().set(c, u8(0)));
      await commitOk(kv.atomic().set(a, u8(1)).set(a, u8(2)).set(b, u8(1)).delete(b).delete(c).set(c, u8(3)));
      assertBytes((await kv.get(a))?.value, u8(2), "set then set: the second value");
      assert.equal(await kv.get(b), null, "set then delete: absent");
      assertBytes((await kv.get(c))?.value, u8(3), "delete then set: present");
    },
  },
  {
    name: "keys whose parts differ only in type are different keys",
    async run(s) {
      const kv = await s.open();
      const keys: KvKey[] = [
        s.key("1"),
        s.key(1),
        s.key(1n),
        s.key(u8(0x31)),
        s.key(true),
        s.key(0),
        s.key(0n),
        s.key(""),
        s.key(u8()),
        s.key(false),
      ];
      const op = kv.atomic();
      keys.forEach((k, i) => op.set(k, u8(i)));
      await commitOk(op);
      for (const [i, k] of keys.entries()) {
        const e = await kv.get(k);
        assert.ok(e, `get(${i}) returned null`);
        assertKey(e.key, k, `key ${i}`);
        assertBytes(e.value, u8(i), `value of key ${i}`);
      }
    },
  },
  {
    name: "get() returns key parts with their types and values intact",
    async run(s) {
      const kv = await s.open();
      const key = s.key(
        u8(0, 0xff),
        "nul\0 and 😀",
        -(2n ** 600n),
        2n ** 64n,
        NaN,
        -Infinity,
        1.5,
        false,
      );
      await commitOk(kv.atomic().set(key, u8(7)));
      const e = await kv.get(key);
      assert.ok(e, "get() returned null");
      assertKey(e.key, key, "entry.key");
      const [listed] = await collect(kv.list({ prefix: s.key() }));
      assert.ok(listed, "list() returned nothing");
      assertKey(listed.key, key, "listed key");
    },
  },
];
