/**
 * Conformance cases: list() by prefix and by range, with limit and reverse, the selector edge
 * cases (the prefix key itself is never listed, start is inclusive, end is exclusive), and bad
 * arguments (a `RangeError` for a bad limit, a `TypeError` for a bad reverse or selector).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { AtomicKv, KvKey, KvListOptions, KvListSelector } from "../src/kv.ts";
import {
  assertBytes,
  assertKeyList,
  type CaseDef,
  collect,
  commitOk,
  rejectsWith,
  shuffled,
  u32,
  u8,
  writeAll,
} from "./_harness.ts";

async function keysOf(kv: AtomicKv, selector: KvListSelector, options?: KvListOptions): Promise<KvKey[]> {
  return (await collect(kv.list(selector, options))).map((e) => e.key);
}

/** The listing cases. */
export const listingCases: readonly CaseDef[] = [
  {
    name: "list() by prefix returns exactly the keys strictly under the prefix",
    async run(s) {
      const kv = await s.open();
      const inside: KvKey[] = [
        s.key("a", u8()),
        s.key("a", u8(0)),
        s.key("a", ""),
        s.key("a", "\0"),
        s.key("a", "b", "c"),
        s.key("a", 0n),
        s.key("a", -Infinity),
        s.key("a", 0),
        s.key("a", false),
        s.key("a", true),
      ];
      const outside: KvKey[] = [
        s.key("a"), // the prefix key itself
        s.key("a\0"), // "a" followed by NUL is a different string, not under ["a"]
        s.key("a\0", "x"),
        s.key("ab"),
        s.key("`"),
        s.key("b"),
        s.key(u8(0x61)),
      ];
      await writeAll(kv, shuffled([...inside, ...outside]).map((k) => [k, u8(1)] as const));
      assertKeyList(await keysOf(kv, { prefix: s.key("a") }), inside, 'list({ prefix: [..., "a"] })');
      assertKeyList(
        await keysOf(kv, { prefix: s.key("a") }, { reverse: true }),
        [...inside].reverse(),
        "the same list in reverse",
      );
      assertKeyList(await keysOf(kv, { prefix: s.key("none") }), [], "a prefix with nothing under it");
    },
  },
  {
    name: "list() with prefix and start/end includes start and excludes end",
    async run(s) {
      const kv = await s.open();
      const keys = [0, 1, 2, 3, 4, 5].map((n) => s.key("p", n));
      await writeAll(kv, keys.map((k) => [k, u8(1)] as const));
      assertKeyList(
        await keysOf(kv, { prefix: s.key("p"), start: s.key("p", 2) }),
        keys.slice(2),
        "start only",
      );
      assertKeyList(
        await keysOf(kv, { prefix: s.key("p"), end: s.key("p", 3) }),
        keys.slice(0, 3),
        "end only",
      );
      assertKeyList(
        await keysOf(kv, { prefix: s.key("p"), start: s.key("p", 1), end: s.key("p", 4) }),
        keys.slice(1, 4),
        "start and end",
      );
      assertKeyList(
        await keysOf(kv, { prefix: s.key("p"), start: s.key("p", 1.5), end: s.key("p", 3.5) }),
        keys.slice(2, 4),
        "start and end between stored keys",
      );
      assertKeyList(
        await keysOf(kv, { prefix: s.key("p"), start: s.key("p", 1), end: s.key("p", 4) }, { reverse: true }),
        keys.slice(1, 4).reverse(),
        "start and end, reverse",
      );
    },
  },
  {
    name: "list() by range [start, end) includes start and excludes end",
    async run(s) {
      const kv = await s.open();
      const keys = ["a", "b", "b\0", "ba", "c", "d"].map((p) => s.key(p));
      const nested = s.key("b", "nested");
      await writeAll(kv, [...keys, nested].map((k) => [k, u8(1)] as const));
      assertKeyList(
        await keysOf(kv, { start: s.key("b"), end: s.key("c") }),
        [s.key("b"), nested, s.key("b\0"), s.key("ba")],
        "range [b, c)",
      );
      assertKeyList(
        await keysOf(kv, { start: s.key("b"), end: s.key("c") }, { reverse: true }),
        [s.key("ba"), s.key("b\0"), nested, s.key("b")],
        "range [b, c) in reverse",
      );
      assertKeyList(await keysOf(kv, { start: s.key("c"), end: s.key("c") }), [], "an empty range [c, c)");
      assertKeyList(
        await keysOf(kv, { start: s.key("c"), end: s.key("c\0") }),
        [s.key("c")],
        "range [c, c\\0)",
      );
    },
  },
  {
    name: "list() with limit returns the first entries, or the last ones in reverse",
    async run(s) {
      const kv = await s.open();
      const keys = Array.from({ length: 10 }, (_, i) => s.key(i));
      await writeAll(kv, keys.map((k) => [k, u8(1)] as const));
      const prefix = { prefix: s.key() };
      assertKeyList(await keysOf(kv, prefix, { limit: 3 }), keys.slice(0, 3), "limit 3");
      assertKeyList(
        await keysOf(kv, prefix, { limit: 3, reverse: true }),
        keys.slice(7).reverse(),
        "limit 3, reverse",
      );
      assertKeyList(await keysOf(kv, prefix, { limit: 1 }), keys.slice(0, 1), "limit 1");
      assertKeyList(await keysOf(kv, prefix, { limit: 10 }), keys, "limit equal to the count");
      assertKeyList(await keysOf(kv, prefix, { limit: 1000 }), keys, "limit above the count");
      assertKeyList(
        await keysOf(kv, { prefix: s.key(), start: s.key(4) }, { limit: 2 }),
        keys.slice(4, 6),
        "limit 2 from start",
      );
      assertKeyList(
        await keysOf(kv, { prefix: s.key(), end: s.key(4) }, { limit: 2, reverse: true }),
        [keys[3], keys[2]],
        "limit 2 before end, reverse",
      );
    },
  },
  {
    name: "list() pages through many more entries than one batch in both directions",
    async run(s) {
      const kv = await s.open();
      const keys = Array.from({ length: 700 }, (_, i) => s.key("n", i));
      await writeAll(kv, shuffled(keys).map((k) => [k, u32(k[k.length - 1] as number)] as const), 100);
      const all = await collect(kv.list({ prefix: s.key("n") }));
      assertKeyList(all.map((e) => e.key), keys, "700 entries forward");
      all.forEach((e, i) => assertBytes(e.value, u32(i), `value of entry ${i}`));
      assertKeyList(
        await keysOf(kv, { prefix: s.key("n") }, { reverse: true }),
        [...keys].reverse(),
        "reverse",
      );
      assertKeyList(
        await keysOf(kv, { prefix: s.key("n") }, { limit: 300 }),
        keys.slice(0, 300),
        "limit 300",
      );
      assertKeyList(
        await keysOf(kv, { prefix: s.key("n") }, { limit: 300, reverse: true }),
        keys.slice(400).reverse(),
        "limit 300, reverse",
      );
    },
  },
  {
    name: "list() entries carry the same value and versionstamp as get()",
    async run(s) {
      const kv = await s.open();
      const vs1 = await commitOk(kv.atomic().set(s.key(1), u8(1)).set(s.key(2), u8(2)));
      const vs2 = await commitOk(kv.atomic().set(s.key(2), u8(22)).set(s.key(3), u8(3)));
      const listed = await collect(kv.list({ prefix: s.key() }));
      assert.deepEqual(listed.map((e) => e.versionstamp), [vs1, vs2, vs2], "listed versionstamps");
      for (const e of listed) {
        const got = await kv.get(e.key);
        assert.ok(got, "get() of a listed key returned null");
        assertBytes(e.value, got.value, "listed value equals get()");
        assert.equal(e.versionstamp, got.versionstamp, "listed versionstamp equals get()");
      }
    },
  },
  {
    name: "list() never returns the prefix key itself, even when start or end is the prefix key",
    async run(s) {
      const kv = await s.open();
      const prefix = s.key("a");
      const under = [s.key("a", 1), s.key("a", 2), s.key("a", 3)];
      await writeAll(kv, [prefix, ...under, s.key("b")].map((k) => [k, u8(1)] as const));
      assertKeyList(await keysOf(kv, { prefix, start: prefix }), under, "start is the prefix key");
      assertKeyList(
        await keysOf(kv, { prefix, start: prefix }, { reverse: true }),
        [...under].reverse(),
        "start is the prefix key, reverse",
      );
      assertKeyList(
        await keysOf(kv, { prefix, start: prefix }, { limit: 1 }),
        under.slice(0, 1),
        "start is the prefix key, limit 1",
      );
      assertKeyList(
        await keysOf(kv, { prefix, start: prefix, end: s.key("a", 3) }),
        under.slice(0, 2),
        "start is the prefix key, end under it",
      );
      assertKeyList(await keysOf(kv, { prefix, end: prefix }), [], "end is the prefix key");
      assertKeyList(
        await keysOf(kv, { prefix, start: prefix, end: prefix }),
        [],
        "start and end are the prefix key",
      );
    },
  },
  {
    name:
      "list() rejects a limit that is not a non-negative integer with RangeError, and limit 0 lists nothing",
    async run(s) {
      const kv = await s.open();
      const keys = [1, 2, 3, 4].map((n) => s.key(n));
      await writeAll(kv, keys.map((k) => [k, u8(1)] as const));
      const prefix = { prefix: s.key() };
      const bad: [string, unknown][] = [
        ["2.3", 2.3],
        ["0.5", 0.5],
        ["-1", -1],
        ["-0.5", -0.5],
        ["NaN", NaN],
        ["Infinity", Infinity],
        ['the string "2"', "2"],
        ["null", null],
        ["a bigint", 2n],
      ];
      for (const [what, limit] of bad) {
        for (const reverse of [false, true]) {
          await rejectsWith(
            () => collect(kv.list(prefix, { limit: limit as number, reverse })),
            RangeError,
            `list() with limit ${what}${reverse ? ", reverse" : ""}`,
          );
        }
      }
      assertKeyList(await keysOf(kv, prefix, { limit: 0 }), [], "limit 0");
      assertKeyList(await keysOf(kv, prefix, { limit: 0, reverse: true }), [], "limit 0, reverse");
      assertKeyList(await keysOf(kv, prefix, { limit: undefined }), keys, "limit undefined: no limit");
      assertKeyList(await keysOf(kv, prefix, { limit: 2 }), keys.slice(0, 2), "the store still lists after");
    },
  },
  {
    name: "list() rejects a reverse that is not a boolean with TypeError",
    async run(s) {
      const kv = await s.open();
      const keys = [1, 2, 3].map((n) => s.key(n));
      await writeAll(kv, keys.map((k) => [k, u8(1)] as const));
      const prefix = { prefix: s.key() };
      const bad: [string, unknown][] = [['the string "yes"', "yes"], ["1", 1], ["0", 0], ["null", null]];
      for (const [what, reverse] of bad) {
        await rejectsWith(
          () => collect(kv.list(prefix, { reverse: reverse as boolean })),
          TypeError,
          `list() with reverse ${what}`,
        );
      }
      assertKeyList(await keysOf(kv, prefix, { reverse: undefined }), keys, "reverse undefined: ascending");
      assertKeyList(await keysOf(kv, prefix, { reverse: false }), keys, "reverse false");
    },
  },
  {
    name:
      "list() rejects a selector whose start or end is outside its prefix, or that is malformed, with TypeError",
    async run(s) {
      const kv = await s.open();
      await writeAll(kv, [s.key("a", 1), s.key("b")].map((k) => [k, u8(1)] as const));
      const prefix = s.key("a");
      const bad: [string, unknown][] = [
        ["start outside the prefix", { prefix, start: s.key("b") }],
        ["start before the prefix", { prefix, start: s.key() }],
        ["end outside the prefix", { prefix, end: s.key("b") }],
        ["end before the prefix", { prefix, end: s.key() }],
        ['start "a\\0", which is not under "a"', { prefix, start: s.key("a\0") }],
        ['end "a\\0", which is not under "a"', { prefix, end: s.key("a\0") }],
        ["a range with start only", { start: s.key("a") }],
        ["a range with end only", { end: s.key("b") }],
        ["an empty selector", {}],
        ["a prefix that is not an array", { prefix: "a" }],
        ["null", null],
      ];
      for (const [what, selector] of bad) {
        await rejectsWith(
          () => collect(kv.list(selector as KvListSelector)),
          TypeError,
          `list() with ${what}`,
        );
      }
      assertKeyList(
        await keysOf(kv, { start: s.key("b"), end: s.key("a") }),
        [],
        "a range whose start is after its end is no error: it lists nothing",
      );
      assertKeyList(
        await keysOf(kv, { prefix, start: s.key("a", 2), end: s.key("a", 1) }, { reverse: true }),
        [],
        "start after end under a prefix, reverse: nothing",
      );
    },
  },
];
