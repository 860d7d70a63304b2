/**
 * The test suites for a storage backend. {@link testAdapter} is the AtomicKv conformance suite:
 * it proves that a backend keeps the contract kvq's queue relies on (Deno KV's key order across
 * every key part type, listing by prefix and range, checks with versionstamps, all-or-nothing
 * commits, exactly one winner among concurrent contenders, store-wide increasing versionstamps,
 * declared limits enforced with typed errors, byte-exact values, consistent getMany, durability
 * across a reopen, watch, close, and bad arguments rejected with `TypeError` or `RangeError`).
 * {@link testEngine} is the engine suite: it runs the whole job queue (`Queue`, workers,
 * retries, recovery, scheduling, external leases, ...) on the backend, through kvq's public API.
 *
 * Cases register through `node:test`, so the same test file runs under `node --test`,
 * `bun test` and `deno test`. Cases that need a capability (`watch`, `durable`, `spaceReserve`)
 * are skipped when the store does not declare it in its `info`, never by the adapter's name.
 * (The examples register tests, so they run in a test file, not as documentation tests.)
 *
 * @example Run both suites against your own backend
 * ```ts ignore
 * // my_store_test.ts: node --test my_store_test.ts, bun test, or deno test -A
 * import { testAdapter, testEngine } from "@kvq/kvq/testing";
 * import { MemoryKv } from "@kvq/kvq/memory"; // or your own AtomicKv
 *
 * await testAdapter({ name: "memory", open: () => new MemoryKv() });
 * await testEngine({ name: "memory", open: () => new MemoryKv() });
 * ```
 *
 * @module
 */

import { describe, test } from "node:test";
import type { AtomicKv } from "../src/kv.ts";
import { conformanceCases } from "./cases.ts";
import type { ConformanceCapabilities, ConformanceCase, ConformanceOptions } from "./types.ts";

export { conformanceCases } from "./cases.ts";
export { testEngine } from "./engine/suite.ts";
export type {
  ConformanceCapabilities,
  ConformanceCapability,
  ConformanceCase,
  ConformanceContext,
  ConformanceOptions,
  EngineSuiteOptions,
} from "./types.ts";

/** Longest a single case may take, in milliseconds. */
const CASE_TIMEOUT_MS = 60_000;

type Declared = { readonly watch: boolean; readonly durable: boolean; readonly spaceReserve: boolean };

/** Opens one store to read what it declares, then closes (and destroys) it again. */
async function probe(options: ConformanceOptions): Promise<Declared> {
  const context = { id: `kvq-probe-${crypto.getRandomValues(new Uint32Array(1))[0].toString(16)}` };
  const kv: AtomicKv = await options.open(context);
  try {
    return {
      watch: kv.info.watch === true,
      durable: kv.info.durable === true,
      spaceReserve: kv.info.spaceReserve === true,
    };
  } finally {
    await kv.close();
    await options.destroy?.(context);
  }
}

function registerAll(name: string, cases: readonly ConformanceCase[], declared: Declared): void {
  describe(`${name}: AtomicKv conformance`, () => {
    const concerns = [...new Set(cases.map((c) => c.concern))];
    for (const concern of concerns) {
      describe(concern, () => {
        for (const c of cases.filter((c) => c.concern === concern)) {
          const missing = c.requires.filter((cap) => !declared[cap]);
          const skip = missing.length > 0 ? `the store does not declare ${missing.join(", ")}` : false;
          test(c.name, { skip, timeout: CASE_TIMEOUT_MS }, () => c.run());
        }
      });
    }
  });
}

/**
 * Registers the whole conformance suite for a store with `node:test`, one test per case,
 * grouped by concern under `"<name>: AtomicKv conformance"`. Await it at the top level of a
 * test file: it may open one store first to read the capabilities the store declares. When
 * `options.capabilities` names both `watch` and `durable`, it registers at once, without
 * opening a store; the cases then also check that the store declares exactly those.
 *
 * @param options The adapter under test: a name, a factory, and optionally a `destroy` hook
 *   and the expected capabilities.
 * @returns Resolves when every case is registered.
 *
 * @example The memory adapter
 * ```ts ignore
 * import { testAdapter } from "@kvq/kvq/testing";
 * import { MemoryKv } from "@kvq/kvq/memory";
 *
 * await testAdapter({ name: "memory", open: () => new MemoryKv() });
 * ```
 *
 * @example A durable store that reopens by context id
 * ```ts ignore
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { testAdapter } from "@kvq/kvq/testing";
 * import { FileKv } from "@kvq/kvq/file";
 *
 * const dir = mkdtempSync(join(tmpdir(), "kvq-conformance-"));
 * await testAdapter({
 *   name: "file",
 *   open: (ctx) => FileKv.open(join(dir, ctx.id)), // the same id reopens the same store
 *   // The log and its space reserve (`<log>.reserve`).
 *   destroy: (ctx) => ["", ".reserve"].forEach((f) => rmSync(join(dir, ctx.id) + f, { force: true })),
 *   capabilities: { durable: true, watch: true, spaceReserve: true },
 * });
 * ```
 */
export async function testAdapter(options: ConformanceOptions): Promise<void> {
  const cases = conformanceCases(options);
  const caps: ConformanceCapabilities = options.capabilities ?? {};
  const declared = caps.watch !== undefined && caps.durable !== undefined
    ? { watch: caps.watch, durable: caps.durable, spaceReserve: caps.spaceReserve ?? false }
    : await probe(options);
  registerAll(options.name, cases, declared);
}
