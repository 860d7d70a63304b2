/**
 * Conformance cases: concurrent commits on one store handle. Of N commits that check the same
 * versionstamp exactly one wins, and read-modify-write loops lose no update.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { KvCommitResult } from "../src/kv.ts";
import { assertBytes, type CaseDef, commitOk, readU32, u32 } from "./_harness.ts";

/** How many commits race in each case (at least 50). */
export const CONTENDERS = 64;

function winners(results: readonly KvCommitResult[]): number[] {
  return results.flatMap((r, i) => (r.ok ? [i] : []));
}

/** The concurrency cases. */
export const concurrencyCases: readonly CaseDef[] = [
  {
    name: `of ${CONTENDERS} concurrent commits checking one versionstamp exactly one wins`,
    async run(s) {
      const kv = await s.open();
      const key = s.key("contended");
      const vs = await commitOk(kv.atomic().set(key, u32(0)));
      const results = await Promise.all(
        Array.from(
          { length: CONTENDERS },
          (_, i) => kv.atomic().check(key, vs).set(key, u32(i + 1)).commit(),
        ),
      );
      const won = winners(results);
      assert.equal(won.length, 1, `expected exactly one winner, got ${won.length}`);
      const entry = await kv.get(key);
      assert.ok(entry, "the contended key vanished");
      assertBytes(entry.value, u32(won[0] + 1), "the stored value is the winner's");
      const result = results[won[0]];
      assert.equal(
        entry.versionstamp,
        result.ok ? result.versionstamp : "",
        "stored versionstamp is the winner's",
      );
    },
  },
  {
    name: `of ${CONTENDERS} concurrent creates checking null exactly one wins`,
    async run(s) {
      const kv = await s.open();
      const key = s.key("unique");
      const results = await Promise.all(
        Array.from({ length: CONTENDERS }, (_, i) => kv.atomic().check(key, null).set(key, u32(i)).commit()),
      );
      const won = winners(results);
      assert.equal(won.length, 1, `expected exactly one winner, got ${won.length}`);
      assertBytes((await kv.get(key))?.value, u32(won[0]), "the stored value is the winner's");
    },
  },
  {
    name: "concurrent read-modify-write loops with checks lose no update",
    async run(s) {
      const kv = await s.open();
      const key = s.key("counter");
      const workers = 50;
      let attempts = 0;
      const increment = async (): Promise<void> => {
        for (;;) {
          if (++attempts > workers * workers * 4) assert.fail("read-modify-write loops do not converge");
          const e = await kv.get(key);
          const n = e ? readU32(e.value) : 0;
          const res = await kv.atomic().check(key, e ? e.versionstamp : null).set(key, u32(n + 1)).commit();
          if (res.ok) return;
        }
      };
      await Promise.all(Array.from({ length: workers }, increment));
      const final = await kv.get(key);
      assert.ok(final, "the counter vanished");
      assert.equal(readU32(final.value), workers, "every increment counted exactly once");
    },
  },
  {
    name: `${CONTENDERS} concurrent commits on distinct keys all succeed with distinct versionstamps`,
    async run(s) {
      const kv = await s.open();
      const results = await Promise.all(
        Array.from(
          { length: CONTENDERS },
          (_, i) => kv.atomic().check(s.key(i), null).set(s.key(i), u32(i)).commit(),
        ),
      );
      assert.equal(winners(results).length, CONTENDERS, "every commit on its own key succeeds");
      const stamps = new Set(results.map((r) => (r.ok ? r.versionstamp : "")));
      assert.equal(stamps.size, CONTENDERS, "every commit gets its own versionstamp");
      for (let i = 0; i < CONTENDERS; i++) {
        const e = await kv.get(s.key(i));
        const r = results[i];
        assert.equal(
          e?.versionstamp,
          r.ok ? r.versionstamp : "",
          `key ${i} carries its commit's versionstamp`,
        );
      }
    },
  },
];
