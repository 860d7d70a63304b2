/**
 * Conformance cases: versionstamps increase with every commit, store-wide, and compare as
 * strings; all keys of one commit share its versionstamp.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type CaseDef, commitOk, u8 } from "./_harness.ts";

/** The versionstamp cases. */
export const versionstampCases: readonly CaseDef[] = [
  {
    name: "versionstamps strictly increase across commits store-wide and compare as strings",
    async run(s) {
      const kv = await s.open();
      const stamps: string[] = [];
      for (let i = 0; i < 40; i++) {
        // Different keys, different sub-prefixes, sets and deletes: the order is store-wide.
        const key = s.key(i % 3 === 0 ? "x" : i % 3 === 1 ? 1n : u8(i), i);
        const op = i % 5 === 4 ? kv.atomic().delete(s.key("x", 0)) : kv.atomic().set(key, u8(i));
        stamps.push(await commitOk(op, `commit ${i}`));
      }
      for (let i = 1; i < stamps.length; i++) {
        assert.ok(
          stamps[i - 1] < stamps[i],
          `versionstamp of commit ${i} (${stamps[i]}) is not greater than commit ${i - 1}'s (${
            stamps[i - 1]
          })`,
        );
      }
    },
  },
  {
    name: "overwriting a key gives it a greater versionstamp and leaves other keys' versionstamps",
    async run(s) {
      const kv = await s.open();
      const [a, b] = [s.key("a"), s.key("b")];
      const vsA = await commitOk(kv.atomic().set(a, u8(1)));
      const vsB1 = await commitOk(kv.atomic().set(b, u8(1)));
      const vsB2 = await commitOk(kv.atomic().set(b, u8(1)));
      assert.ok(vsB2 > vsB1, "rewriting the same bytes still gets a new, greater versionstamp");
      assert.equal((await kv.get(b))?.versionstamp, vsB2);
      assert.equal((await kv.get(a))?.versionstamp, vsA, "an untouched key keeps its versionstamp");
    },
  },
  {
    name: "all keys written by one commit carry that commit's versionstamp",
    async run(s) {
      const kv = await s.open();
      const keys = [s.key("a"), s.key(2n), s.key(u8(3), "deep")];
      const op = kv.atomic();
      for (const k of keys) op.set(k, u8(1));
      const vs = await commitOk(op);
      for (const e of await kv.getMany(keys)) assert.equal(e?.versionstamp, vs);
    },
  },
];
