/**
 * Conformance cases for stores that declare `spaceReserve`: they implement `AtomicOp.growth()`,
 * and while they have space the mark changes nothing about a commit. (What a store does when it
 * is low on space cannot be provoked through the contract; each such store tests it itself, e.g.
 * `tests/file/disk_full_engine_test.ts`.)
 *
 * @module
 */

import assert from "node:assert/strict";
import { assertBytes, type CaseDef, commitFails, commitOk, u8 } from "./_harness.ts";

/** The space-reserve cases. */
export const spaceCases: readonly CaseDef[] = [
  {
    name: "growth() marks an operation and, with space left, changes nothing about its commit",
    requires: ["spaceReserve"],
    async run(s) {
      const kv = await s.open();
      const expected = s.expectedCapabilities.spaceReserve;
      if (expected !== undefined) {
        assert.equal(
          kv.info.spaceReserve,
          expected,
          "info.spaceReserve differs from the capabilities the suite expects",
        );
      }
      const op = kv.atomic();
      assert.equal(
        typeof op.growth,
        "function",
        "info.spaceReserve is true but AtomicOp.growth() is missing",
      );
      assert.equal(op.growth!(), op, "growth() returns the operation, for chaining");
      const a = s.key("a");
      const b = s.key("b");
      const vs1 = await commitOk(op.check(a, null).set(a, u8(1)).set(b, u8(2)), "a marked commit");
      assertBytes((await kv.get(a))?.value, u8(1), "the marked commit's value");
      assert.equal((await kv.get(b))?.versionstamp, vs1, "one versionstamp for the whole marked commit");
      // Checks still decide: a marked commit whose check fails applies nothing.
      await commitFails(
        kv.atomic().growth!().check(a, null).set(a, u8(9)).delete(b),
        "a marked commit, stale check",
      );
      assertBytes((await kv.get(a))?.value, u8(1), "nothing applied");
      // Marked and unmarked commits interleave, versionstamps increasing across both.
      const vs2 = await commitOk(kv.atomic().set(a, u8(3)), "an unmarked commit");
      const vs3 = await commitOk(kv.atomic().growth!().check(a, vs2).delete(b), "a marked delete");
      assert.ok(vs1 < vs2 && vs2 < vs3, `versionstamps ${vs1}, ${vs2}, ${vs3} do not increase`);
      assert.equal(await kv.get(b), null);
    },
  },
];
