/**
 * Conformance cases: checks with versionstamps, and all-or-nothing commits.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { AtomicKv, KvEntry, KvKey } from "../src/kv.ts";
import { assertBytes, type CaseDef, collect, commitFails, commitOk, u8 } from "./_harness.ts";

async function snapshot(kv: AtomicKv, prefix: KvKey): Promise<string> {
  const entries: KvEntry[] = await collect(kv.list({ prefix }));
  return JSON.stringify(
    entries.map((e) => [String(e.key.at(-1)), [...e.value], e.versionstamp]),
  );
}

/** The check and atomicity cases. */
export const atomicCases: readonly CaseDef[] = [
  {
    name: "check(key, null) passes for an absent key and fails once the key exists",
    async run(s) {
      const kv = await s.open();
      const key = s.key("once");
      await commitOk(kv.atomic().check(key, null).set(key, u8(1)), "first create");
      await commitFails(kv.atomic().check(key, null).set(key, u8(2)), "second create");
      assertBytes((await kv.get(key))?.value, u8(1), "the first value stays");
      await commitOk(kv.atomic().delete(key));
      await commitOk(kv.atomic().check(key, null).set(key, u8(3)), "create after delete");
    },
  },
  {
    name: "check() with the current versionstamp passes and with a stale one fails",
    async run(s) {
      const kv = await s.open();
      const key = s.key("k");
      const vs1 = await commitOk(kv.atomic().set(key, u8(1)));
      const vs2 = await commitOk(
        kv.atomic().check(key, vs1).set(key, u8(2)),
        "check with the current versionstamp",
      );
      await commitFails(kv.atomic().check(key, vs1).set(key, u8(3)), "check with a stale versionstamp");
      assertBytes((await kv.get(key))?.value, u8(2), "value after the stale check");
      await commitOk(kv.atomic().check(key, vs2).set(key, u8(4)), "check with the new versionstamp");
      // A versionstamp the store never issued for this key fails too.
      const other = await commitOk(kv.atomic().set(s.key("other"), u8(0)));
      await commitFails(
        kv.atomic().check(key, other).set(key, u8(5)),
        "check with another key's versionstamp",
      );
    },
  },
  {
    name: "check() with a versionstamp fails for an absent or deleted key",
    async run(s) {
      const kv = await s.open();
      const key = s.key("k");
      const vs = await commitOk(kv.atomic().set(key, u8(1)));
      await commitFails(kv.atomic().check(s.key("absent"), vs).set(s.key("x"), u8(1)), "absent key");
      await commitOk(kv.atomic().delete(key));
      await commitFails(kv.atomic().check(key, vs).set(key, u8(2)), "deleted key, its old versionstamp");
      assert.equal(await kv.get(key), null);
      assert.equal(await kv.get(s.key("x")), null);
    },
  },
  {
    name: "a failed check applies none of the operation's mutations",
    async run(s) {
      const kv = await s.open();
      const [a, b, c, d] = ["a", "b", "c", "d"].map((p) => s.key(p));
      await commitOk(kv.atomic().set(a, u8(1)).set(b, u8(2)).set(c, u8(3)));
      const before = await snapshot(kv, s.key());
      const res = await kv.atomic()
        .set(a, u8(10))
        .delete(b)
        .set(d, u8(40))
        .check(c, null) // fails: c exists
        .set(s.key("e"), u8(50))
        .delete(c)
        .commit();
      assert.equal(res.ok, false, "the check on an existing key must fail");
      assert.equal(await snapshot(kv, s.key()), before, "the store changed although the check failed");
    },
  },
  {
    name: "one failing check among several fails the whole operation",
    async run(s) {
      const kv = await s.open();
      const [a, b, c] = ["a", "b", "c"].map((p) => s.key(p));
      const vsA = await commitOk(kv.atomic().set(a, u8(1)));
      const vsB = await commitOk(kv.atomic().set(b, u8(2)));
      await commitOk(kv.atomic().set(b, u8(3))); // vsB is now stale
      const before = await snapshot(kv, s.key());
      await commitFails(
        kv.atomic().check(a, vsA).check(c, null).check(b, vsB).set(a, u8(9)).set(c, u8(9)),
        "two passing checks and one stale",
      );
      assert.equal(await snapshot(kv, s.key()), before, "the store changed although a check failed");
      await commitOk(
        kv.atomic().check(a, vsA).check(c, null).set(a, u8(9)).set(c, u8(9)),
        "all checks passing",
      );
    },
  },
  {
    name: "an operation with only checks commits and changes nothing",
    async run(s) {
      const kv = await s.open();
      const key = s.key("k");
      const vs = await commitOk(kv.atomic().set(key, u8(1)));
      await commitOk(kv.atomic().check(key, vs).check(s.key("absent"), null), "checks only");
      await commitOk(kv.atomic(), "an empty operation");
      const e = await kv.get(key);
      assert.equal(e?.versionstamp, vs, "a check-only commit does not rewrite the checked key");
      assert.equal(await kv.get(s.key("absent")), null);
    },
  },
  {
    name: "relaxed(), when the store has it, marks an operation and changes nothing about its commit",
    async run(s) {
      const kv = await s.open();
      const op = kv.atomic();
      if (op.relaxed === undefined) return; // optional: such a store makes every commit durable
      assert.equal(typeof op.relaxed, "function", "AtomicOp.relaxed must be a method when present");
      assert.equal(op.relaxed(), op, "relaxed() returns the operation, for chaining");
      const [a, b] = [s.key("a"), s.key("b")];
      const vs1 = await commitOk(op.check(a, null).set(a, u8(1)).set(b, u8(2)), "a relaxed commit");
      assertBytes((await kv.get(a))?.value, u8(1), "the relaxed commit's value");
      assert.equal((await kv.get(b))?.versionstamp, vs1, "one versionstamp for the whole relaxed commit");
      await commitFails(kv.atomic().relaxed!().check(a, null).set(a, u8(9)), "a relaxed commit, stale check");
      assertBytes((await kv.get(a))?.value, u8(1), "nothing applied");
      // Relaxed and plain commits interleave, versionstamps increasing across both.
      const stamps = [
        await commitOk(kv.atomic().relaxed!().set(a, u8(3)), "a relaxed set"),
        await commitOk(kv.atomic().set(b, u8(4)), "a plain set after it"),
        await commitOk(kv.atomic().relaxed!().delete(b), "a relaxed delete after that"),
      ];
      assert.ok(
        vs1 < stamps[0] && stamps[0] < stamps[1] && stamps[1] < stamps[2],
        `stamps ${stamps} not increasing`,
      );
      assertBytes((await kv.get(a))?.value, u8(3), "the last relaxed write");
      assert.equal(await kv.get(b), null);
    },
  },
];
