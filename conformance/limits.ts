/**
 * Conformance cases: declared limits. The store's `info` declares them; reaching a limit is
 * accepted, exceeding it rejects with a typed `LimitError` and applies nothing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LimitError, type LimitKind } from "../src/errors.ts";
import { type AtomicKv, encodeKey, type KvKey } from "../src/kv.ts";
import { type CaseDef, collect, commitOk, pattern, rejectsWith, u8 } from "./_harness.ts";

async function rejectsLimit(
  kv: AtomicKv,
  build: () => Promise<unknown>,
  kind: LimitKind,
  limit: number,
  what: string,
): Promise<void> {
  const e = await rejectsWith(build, LimitError, what) as LimitError;
  assert.equal(e.kind, kind, `${what}: LimitError.kind`);
  assert.equal(e.limit, limit, `${what}: LimitError.limit is the declared limit`);
  assert.ok(e.actual > limit, `${what}: LimitError.actual (${e.actual}) exceeds the limit`);
  assert.equal(e.adapter, kv.info.name, `${what}: LimitError.adapter names the store`);
}

/** A key under `prefix` whose encoding is exactly `bytes` long. */
function keyOfSize(prefix: KvKey, bytes: number): KvKey {
  const base = encodeKey([...prefix, ""]).length;
  assert.ok(bytes >= base, `maxKeyBytes ${bytes} is too small for the case's own prefix`);
  const key = [...prefix, "k".repeat(bytes - base)];
  assert.equal(encodeKey(key).length, bytes);
  return key;
}

async function isEmpty(kv: AtomicKv, prefix: KvKey): Promise<boolean> {
  return (await collect(kv.list({ prefix }, { limit: 1 }))).length === 0;
}

/** The limit cases. */
export const limitCases: readonly CaseDef[] = [
  {
    name: "info declares a name, positive integer limits, a scope and boolean capabilities",
    async run(s) {
      const kv = await s.open();
      const { info } = kv;
      assert.equal(typeof info.name, "string");
      assert.ok(info.name.length > 0, "info.name is empty");
      for (const k of ["maxValueBytes", "maxKeyBytes", "maxMutations", "maxChecks"] as const) {
        assert.ok(
          Number.isSafeInteger(info[k]) && info[k] > 0,
          `info.${k} is ${info[k]}, not a positive integer`,
        );
      }
      if (info.readKeys !== undefined) {
        assert.ok(
          Number.isSafeInteger(info.readKeys) && info.readKeys > 0,
          `info.readKeys is ${info.readKeys}, not a positive integer`,
        );
      }
      assert.ok(["process", "machine", "cluster"].includes(info.scope), `info.scope is ${info.scope}`);
      assert.equal(typeof info.durable, "boolean", "info.durable");
      assert.equal(typeof info.watch, "boolean", "info.watch");
      if (info.watch) assert.equal(typeof kv.watch, "function", "info.watch is true but watch() is missing");
      const expected = s.expectedCapabilities;
      for (const cap of ["watch", "durable"] as const) {
        if (expected[cap] !== undefined) {
          assert.equal(
            info[cap],
            expected[cap],
            `info.${cap} differs from the capabilities the suite expects`,
          );
        }
      }
    },
  },
  {
    name: "a value of exactly maxValueBytes is accepted and one byte more rejects with LimitError",
    async run(s) {
      const kv = await s.open();
      const max = kv.info.maxValueBytes;
      await commitOk(kv.atomic().set(s.key("max"), pattern(max)), "value of maxValueBytes");
      assert.equal((await kv.get(s.key("max")))?.value.length, max);
      await rejectsLimit(
        kv,
        () => kv.atomic().set(s.key("over"), pattern(max + 1)).commit(),
        "valueBytes",
        max,
        "value of maxValueBytes + 1",
      );
      assert.equal(await kv.get(s.key("over")), null, "the oversized value was stored");
    },
  },
  {
    name: "a key of exactly maxKeyBytes is accepted and one byte more rejects with LimitError",
    async run(s) {
      const kv = await s.open();
      const max = kv.info.maxKeyBytes;
      const atMax = keyOfSize(s.key("a"), max);
      await commitOk(kv.atomic().set(atMax, u8(1)), "key of maxKeyBytes");
      assert.equal((await kv.get(atMax))?.value.length, 1);
      const over = keyOfSize(s.key("b"), max + 1);
      await rejectsLimit(
        kv,
        () => kv.atomic().set(over, u8(1)).commit(),
        "keyBytes",
        max,
        "set() of a longer key",
      );
      await rejectsLimit(
        kv,
        () => kv.atomic().check(over, null).set(s.key("c"), u8(1)).commit(),
        "keyBytes",
        max,
        "check() of a longer key",
      );
      await rejectsLimit(
        kv,
        () => kv.atomic().delete(over).commit(),
        "keyBytes",
        max,
        "delete() of a longer key",
      );
      assert.ok(await isEmpty(kv, s.key("b")), "the oversized key was stored");
      assert.equal(await kv.get(s.key("c")), null, "a rejected operation applied a mutation");
    },
  },
  {
    name: "exactly maxMutations mutations commit and one more rejects with LimitError",
    async run(s) {
      const kv = await s.open();
      const max = kv.info.maxMutations;
      const op = kv.atomic();
      for (let i = 0; i < max; i++) op.set(s.key("ok", i), u8(1));
      await commitOk(op, "maxMutations mutations");
      assert.equal((await collect(kv.list({ prefix: s.key("ok") }))).length, max);
      await rejectsLimit(
        kv,
        () => {
          const over = kv.atomic();
          for (let i = 0; i < max; i++) over.set(s.key("over", i), u8(1));
          return over.delete(s.key("ok", 0)).commit();
        },
        "mutations",
        max,
        "maxMutations + 1 mutations",
      );
      assert.ok(await isEmpty(kv, s.key("over")), "a rejected operation applied some of its mutations");
      assert.ok(await kv.get(s.key("ok", 0)), "a rejected operation applied its delete");
    },
  },
  {
    name: "exactly maxChecks checks commit and one more rejects with LimitError",
    async run(s) {
      const kv = await s.open();
      const max = kv.info.maxChecks;
      const op = kv.atomic();
      for (let i = 0; i < max; i++) op.check(s.key("absent", i), null);
      await commitOk(op.set(s.key("done"), u8(1)), "maxChecks checks");
      await rejectsLimit(
        kv,
        () => {
          const over = kv.atomic();
          for (let i = 0; i <= max; i++) over.check(s.key("absent", i), null);
          return over.set(s.key("over"), u8(1)).commit();
        },
        "checks",
        max,
        "maxChecks + 1 checks",
      );
      assert.equal(await kv.get(s.key("over")), null, "a rejected operation applied its mutation");
    },
  },
  {
    name: "a commit rejected for a limit applies nothing and the store stays usable",
    async run(s) {
      const kv = await s.open();
      const vs = await commitOk(kv.atomic().set(s.key("kept"), u8(1)));
      await rejectsLimit(
        kv,
        () =>
          kv.atomic()
            .set(s.key("a"), u8(1))
            .delete(s.key("kept"))
            .set(s.key("big"), pattern(kv.info.maxValueBytes + 1))
            .set(s.key("b"), u8(2))
            .commit(),
        "valueBytes",
        kv.info.maxValueBytes,
        "an operation with one oversized value",
      );
      assert.equal(await kv.get(s.key("a")), null, "a mutation before the oversized one was applied");
      assert.equal(await kv.get(s.key("b")), null, "a mutation after the oversized one was applied");
      assert.equal((await kv.get(s.key("kept")))?.versionstamp, vs, "the delete was applied");
      await commitOk(kv.atomic().set(s.key("after"), u8(3)), "a commit after the rejected one");
      assert.ok(await kv.get(s.key("after")));
    },
  },
];
