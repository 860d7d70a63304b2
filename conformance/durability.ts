/**
 * Conformance cases for stores that declare `durable`: whatever a resolved commit wrote is
 * there after close() and a reopen of the same store, versionstamps included.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { KvEntry } from "../src/kv.ts";
import { assertBytes, assertKeyList, type CaseDef, collect, commitOk, pattern, u8 } from "./_harness.ts";

function sameEntries(actual: readonly KvEntry[], expected: readonly KvEntry[], what: string): void {
  assertKeyList(actual.map((e) => e.key), expected.map((e) => e.key), what);
  actual.forEach((e, i) => {
    assertBytes(e.value, expected[i].value, `${what}: value of entry ${i}`);
    assert.equal(e.versionstamp, expected[i].versionstamp, `${what}: versionstamp of entry ${i}`);
  });
}

/** The durability cases. */
export const durabilityCases: readonly CaseDef[] = [
  {
    name: "every committed entry is present after close() and reopen, versionstamps included",
    requires: ["durable"],
    async run(s) {
      let kv = await s.open();
      const every = Uint8Array.from({ length: 256 }, (_, i) => i);
      await commitOk(
        kv.atomic().set(s.key("bytes", u8(0, 0xff)), every).set(s.key("empty"), new Uint8Array(0)),
      );
      await commitOk(
        kv.atomic().set(s.key("str", "nul\0 😀"), u8(1)).set(s.key(-0), u8(2)).set(s.key(2n ** 100n), u8(3)),
      );
      await commitOk(kv.atomic().set(s.key("overwritten"), u8(1)).set(s.key("deleted"), u8(1)));
      await commitOk(kv.atomic().set(s.key("overwritten"), pattern(4096)).delete(s.key("deleted")));
      const last = await commitOk(kv.atomic().set(s.key(true), pattern(kv.info.maxValueBytes, 5)));
      const before = await collect(kv.list({ prefix: s.key() }));
      await s.close(kv);

      kv = await s.open();
      sameEntries(await collect(kv.list({ prefix: s.key() })), before, "after the first reopen");
      assert.equal(await kv.get(s.key("deleted")), null, "a deleted key came back");
      const next = await commitOk(kv.atomic().set(s.key("after"), u8(9)).delete(s.key("empty")));
      assert.ok(
        next > last,
        `the first commit after reopen (${next}) is not greater than the last before (${last})`,
      );
      const second = await collect(kv.list({ prefix: s.key() }));
      await s.close(kv);

      kv = await s.open();
      sameEntries(await collect(kv.list({ prefix: s.key() })), second, "after the second reopen");
      await s.close(kv);
    },
  },
  {
    name: "a commit started before close() is present after reopen",
    requires: ["durable"],
    async run(s) {
      let kv = await s.open();
      const pending = kv.atomic().set(s.key("late"), u8(7)).commit();
      await s.close(kv);
      const res = await pending;
      assert.equal(res.ok, true, "a commit started before close() did not succeed");
      kv = await s.open();
      const e = await kv.get(s.key("late"));
      assert.ok(e, "the commit started before close() is lost after reopen");
      assert.equal(e.versionstamp, res.ok ? res.versionstamp : "");
      await s.close(kv);
    },
  },
  {
    name: "a relaxed commit followed by a plain one: both are present after close() and reopen",
    requires: ["durable"],
    async run(s) {
      let kv = await s.open();
      const [a, b] = [s.key("relaxed"), s.key("plain")];
      const op = kv.atomic();
      if (op.relaxed) op.relaxed();
      const vsA = await commitOk(op.set(a, u8(1)), "a relaxed commit");
      const vsB = await commitOk(kv.atomic().set(b, u8(2)), "a plain commit after it");
      await s.close(kv);
      kv = await s.open();
      assert.equal((await kv.get(a))?.versionstamp, vsA, "the relaxed commit is gone after reopen");
      assert.equal((await kv.get(b))?.versionstamp, vsB, "the plain commit is gone after reopen");
      await s.close(kv);
    },
  },
];
