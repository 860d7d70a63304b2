// The conformance suite is itself tested: it runs programmatically (conformanceCases) against
// deliberately broken stores, and each must fail the case that covers what it breaks, while the
// memory adapter passes every case the same way.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { conformanceCases, type ConformanceOptions } from "../../conformance/mod.ts";
import type { AtomicKv } from "../../src/kv.ts";
import {
  DeafWatchKv,
  DecreasingVersionstampKv,
  ForgetfulKv,
  HalfCommitKv,
  IgnoresChecksKv,
  LaxLimitKv,
  LaxListOptionsKv,
  ListsPrefixKeyKv,
  NeverClosesKv,
  OutOfOrderKv,
  RacyKv,
  reopenableMemory,
  StartAtPrefixKeyKv,
} from "./_adapters.ts";

/** Runs every applicable case; returns the failures by case name and the names that ran. */
async function runSuite(
  options: ConformanceOptions,
): Promise<{ failed: Map<string, unknown>; ran: string[] }> {
  const probe = await options.open({ id: "probe" });
  const info = probe.info;
  await probe.close();
  await options.destroy?.({ id: "probe" });
  const failed = new Map<string, unknown>();
  const ran: string[] = [];
  for (const c of conformanceCases(options)) {
    if (!c.requires.every((cap) => info[cap])) continue;
    ran.push(c.name);
    try {
      await c.run();
    } catch (e) {
      failed.set(c.name, e);
    }
  }
  return { failed, ran };
}

const broken: [string, () => AtomicKv, RegExp][] = [
  [
    "a store that ignores checks",
    () => new IgnoresChecksKv(),
    /^check\(key, null\) passes for an absent key/,
  ],
  [
    "a store that applies half a commit when a check fails",
    () => new HalfCommitKv(),
    /^a failed check applies none/,
  ],
  ["a store that lists out of order", () => new OutOfOrderKv(), /^list\(\) orders single-part keys by type/],
  [
    "a store whose check and write race",
    () => new RacyKv(),
    /^of \d+ concurrent commits checking one versionstamp/,
  ],
  [
    "a store that exceeds its declared value limit",
    () => new LaxLimitKv(),
    /^a value of exactly maxValueBytes/,
  ],
  [
    "a store with decreasing versionstamps",
    () => new DecreasingVersionstampKv(),
    /^versionstamps strictly increase/,
  ],
  [
    "a store that keeps working after close()",
    () => new NeverClosesKv(),
    /^after close\(\) every operation rejects/,
  ],
  [
    "a store that declares durable but forgets",
    () => new ForgetfulKv(),
    /^every committed entry is present after close/,
  ],
  ["a store whose watcher never wakes", () => new DeafWatchKv(), /^watch\(\) wakes after a commit/],
  [
    "a store that lists the prefix key itself",
    () => new ListsPrefixKeyKv(),
    /^list\(\) by prefix returns exactly/,
  ],
  [
    "a store that lists the prefix key when start is the prefix key",
    () => new StartAtPrefixKeyKv(),
    /^list\(\) never returns the prefix key itself/,
  ],
  [
    "a store that rounds a fractional list limit",
    () => new LaxListOptionsKv(),
    /^list\(\) rejects a limit that is not a non-negative integer/,
  ],
  [
    "a store that takes any reverse as a boolean",
    () => new LaxListOptionsKv(),
    /^list\(\) rejects a reverse that is not a boolean/,
  ],
];

describe("conformance suite", () => {
  test("conformanceCases() passes every case for the memory adapter when run without a test runner", async () => {
    const { failed, ran } = await runSuite({ name: "memory", open: () => new MemoryKv() });
    assert.deepEqual([...failed.keys()], [], `memory failed: ${[...failed.values()].join("\n")}`);
    assert.ok(ran.length >= 40, `only ${ran.length} cases ran`);
  });

  test("conformanceCases() runs the durability cases for a store that reopens by id", async () => {
    const reopenable = reopenableMemory();
    const { failed, ran } = await runSuite({ name: "memory-reopenable", ...reopenable });
    assert.deepEqual([...failed.keys()], [], `failed: ${[...failed.values()].join("\n")}`);
    assert.ok(ran.some((n) => n.startsWith("every committed entry is present after close")));
    assert.equal(reopenable.stores.size, 0, "destroy() ran for every case");
  });

  for (const [what, open, relevant] of broken) {
    test(`conformanceCases() fails ${what}`, { timeout: 60_000 }, async () => {
      const { failed, ran } = await runSuite({ name: what, open });
      const hit = [...failed.keys()].filter((n) => relevant.test(n));
      assert.ok(ran.some((n) => relevant.test(n)), `the relevant case ${relevant} did not run`);
      assert.ok(
        hit.length > 0,
        `the relevant case ${relevant} passed; failed cases: ${[...failed.keys()].join("; ") || "none"}`,
      );
    });
  }

  test("conformanceCases() rejects options without a name or an open function", () => {
    assert.throws(() => conformanceCases({ name: "", open: () => new MemoryKv() }), TypeError);
    assert.throws(() => conformanceCases({ name: "x" } as unknown as ConformanceOptions), TypeError);
  });

  test("conformanceCases() gives every case a distinct name, a concern and a prefix of its own", async () => {
    const seen: unknown[][] = [];
    const cases = conformanceCases({
      name: "spy",
      open: (ctx) => {
        seen.push([ctx.id]);
        return new MemoryKv();
      },
    });
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, "case names are unique");
    for (const c of cases) assert.ok(c.concern.length > 0);
    for (const c of cases.slice(0, 5)) await c.run();
    assert.equal(new Set(seen.map(([id]) => id)).size, 5, "each case opens with its own context id");
  });
});
