/**
 * Conformance cases: values are bytes, stored and returned exactly, and copied in and out.
 *
 * @module
 */

import assert from "node:assert/strict";
import { assertBytes, type CaseDef, collect, commitOk, pattern, u8 } from "./_harness.ts";

/** The value cases. */
export const valueCases: readonly CaseDef[] = [
  {
    name: "values round-trip byte-exact: empty, every byte value, and maxValueBytes",
    async run(s) {
      const kv = await s.open();
      const every = Uint8Array.from({ length: 512 }, (_, i) => (i < 256 ? i : 511 - i));
      const cases: [string, Uint8Array][] = [
        ["empty", new Uint8Array(0)],
        ["one zero byte", u8(0)],
        ["every byte value, up and down", every],
        ["0x00 and 0xff runs", u8(0, 0, 0, 0xff, 0xff, 0, 0xff)],
        ["maxValueBytes", pattern(kv.info.maxValueBytes, 3)],
      ];
      for (const [name, value] of cases) await commitOk(kv.atomic().set(s.key(name), value), name);
      for (const [name, value] of cases) {
        const e = await kv.get(s.key(name));
        assert.ok(e, `${name}: get() returned null`);
        assertBytes(e.value, value, `${name} via get()`);
      }
      const listed = await collect(kv.list({ prefix: s.key() }));
      for (const e of listed) {
        const value = cases.find(([name]) => name === e.key.at(-1))?.[1];
        assert.ok(value, `unexpected key ${String(e.key.at(-1))}`);
        assertBytes(e.value, value, `${String(e.key.at(-1))} via list()`);
      }
      const many = await kv.getMany(cases.map(([name]) => s.key(name)));
      many.forEach((e, i) => assertBytes(e?.value, cases[i][1], `${cases[i][0]} via getMany()`));
    },
  },
  {
    name: "set() stores a copy: changing the caller's buffer later changes nothing",
    async run(s) {
      const kv = await s.open();
      const value = u8(1, 2, 3);
      const op = kv.atomic().set(s.key("k"), value);
      value[0] = 99; // after set(), before commit()
      await commitOk(op);
      value[1] = 99; // after commit()
      assertBytes((await kv.get(s.key("k")))?.value, u8(1, 2, 3), "stored value");
    },
  },
  {
    name: "a value that is a view into a larger buffer stores only the view's bytes",
    async run(s) {
      const kv = await s.open();
      const big = pattern(100);
      const view = big.subarray(10, 20);
      await commitOk(kv.atomic().set(s.key("view"), view));
      assertBytes((await kv.get(s.key("view")))?.value, pattern(100).slice(10, 20), "stored view");
    },
  },
  {
    name: "changing a returned value does not change the stored value",
    async run(s) {
      const kv = await s.open();
      await commitOk(kv.atomic().set(s.key("k"), u8(1, 2, 3)));
      const first = await kv.get(s.key("k"));
      assert.ok(first);
      first.value[0] = 99;
      const [listed] = await collect(kv.list({ prefix: s.key() }));
      listed.value[1] = 99;
      assertBytes(
        (await kv.get(s.key("k")))?.value,
        u8(1, 2, 3),
        "stored value after changing returned copies",
      );
    },
  },
];
