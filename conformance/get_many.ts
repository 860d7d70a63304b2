/**
 * Conformance cases: getMany() returns entries in request order and reads one consistent point.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { KvCommitResult, KvEntry } from "../src/kv.ts";
import { assertBytes, assertKey, type CaseDef, commitOk, readU32, u32, u8 } from "./_harness.ts";

/** The getMany cases. */
export const getManyCases: readonly CaseDef[] = [
  {
    name: "getMany() returns entries in request order with null for absent keys",
    async run(s) {
      const kv = await s.open();
      const [a, b, c] = [s.key("a"), s.key(2n), s.key(u8(3))];
      const vs = await commitOk(kv.atomic().set(a, u8(1)).set(b, u8(2)).set(c, u8(3)));
      const keys = [c, s.key("absent"), a, b, a];
      const got = await kv.getMany(keys);
      assert.equal(got.length, keys.length, "one result per requested key");
      assert.equal(got[1], null, "absent key");
      for (const [i, v] of [[0, 3], [2, 1], [3, 2], [4, 1]] as const) {
        const e = got[i];
        assert.ok(e, `result ${i} is null`);
        assertKey(e.key, keys[i], `result ${i} key`);
        assertBytes(e.value, u8(v), `result ${i} value`);
        assert.equal(e.versionstamp, vs, `result ${i} versionstamp`);
      }
      assert.deepEqual(await kv.getMany([]), [], "getMany([]) is []");
    },
  },
  {
    name: "getMany() reads one consistent point between concurrent commits",
    async run(s) {
      const kv = await s.open();
      const keys = [s.key("a"), s.key("b"), s.key("c")];
      const write = (n: number): Promise<KvCommitResult> => {
        const op = kv.atomic();
        for (const k of keys) op.set(k, u32(n));
        return op.commit();
      };
      assert.equal((await write(0)).ok, true, "the first write");
      const reads: Promise<(KvEntry | null)[]>[] = [];
      const writes: Promise<unknown>[] = [];
      for (let i = 1; i <= 100; i++) {
        writes.push(write(i));
        reads.push(kv.getMany(keys));
      }
      await Promise.all(writes);
      for (const [i, read] of (await Promise.all(reads)).entries()) {
        assert.ok(read.every((e) => e !== null), `read ${i} saw a missing key`);
        const values = read.map((e) => readU32(e!.value));
        const stamps = new Set(read.map((e) => e!.versionstamp));
        assert.ok(
          values.every((v) => v === values[0]) && stamps.size === 1,
          `read ${i} mixed commits: values ${values.join(", ")}, versionstamps ${[...stamps].join(", ")}`,
        );
      }
    },
  },
];
