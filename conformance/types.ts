/**
 * Public types of the conformance suites: what a caller passes to {@link testAdapter} and what
 * {@link conformanceCases} returns, and what a caller passes to {@link testEngine}.
 *
 * @module
 */

import type { AtomicKv } from "../src/kv.ts";

/**
 * A capability a store declares in its `info`; cases that need one are skipped without it.
 *
 * @example Which cases need a capability
 * ```ts
 * import { conformanceCases, type ConformanceCapability } from "@kvq/kvq/testing";
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const needs = (cap: ConformanceCapability): string[] =>
 *   conformanceCases({ name: "memory", open: () => new MemoryKv() })
 *     .filter((c) => c.requires.includes(cap))
 *     .map((c) => c.name);
 * console.log(needs("durable"));
 * ```
 */
export type ConformanceCapability = "watch" | "durable" | "spaceReserve";

/**
 * Handed to {@link ConformanceOptions.open} for every store a case opens.
 *
 * @example Map the id to a file path for a durable store
 * ```ts
 * import type { ConformanceContext } from "@kvq/kvq/testing";
 * const pathFor = (ctx: ConformanceContext): string => `/tmp/kvq-test/${ctx.id}.db`;
 * console.log(pathFor({ id: "kvq-1a2b3c4d-007" }));
 * ```
 */
export interface ConformanceContext {
  /**
   * Unique per case and per run (for example `"kvq-1a2b3c4d-007"`): letters, digits and `-`
   * only, so it is safe as a file, directory or database name. Opening again with the same id
   * after `close()` must reach the same data when the store declares `durable`.
   */
  readonly id: string;
}

/**
 * The capabilities the caller expects the store to declare. When given, the suite checks the
 * store's `info` against them, so a store that silently stops declaring `watch` fails instead of
 * skipping its watch cases. Skips follow what the store declares, never the adapter's name.
 *
 * @example Expect a durable store with watch
 * ```ts
 * import type { ConformanceCapabilities } from "@kvq/kvq/testing";
 * const caps: ConformanceCapabilities = { durable: true, watch: true };
 * console.log(caps);
 * ```
 */
export interface ConformanceCapabilities {
  /** Expected value of `info.watch`. @default read from the store's info */
  readonly watch?: boolean;
  /** Expected value of `info.durable`. @default read from the store's info */
  readonly durable?: boolean;
  /**
   * Expected value of `info.spaceReserve`. When `watch` and `durable` are given, the suite opens no
   * store to read capabilities, so leaving this out then skips the `space` cases.
   * @default read from the store's info, or false when `watch` and `durable` are given
   */
  readonly spaceReserve?: boolean;
}

/**
 * Options of {@link testAdapter} and {@link conformanceCases}.
 *
 * @example Options for the memory adapter
 * ```ts
 * import type { ConformanceOptions } from "@kvq/kvq/testing";
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const options: ConformanceOptions = { name: "memory", open: () => new MemoryKv() };
 * console.log(options.name);
 * ```
 */
export interface ConformanceOptions {
  /** Name shown in test titles, e.g. `"memory"`. */
  readonly name: string;
  /**
   * Opens a store for one case. Called at least once per case, with a fresh
   * {@link ConformanceContext}; called again with the same context to reopen a durable store.
   * Every case closes the stores it opens. Stores of different cases may share data (one
   * database for all): each case works under its own key prefix.
   */
  readonly open: (context: ConformanceContext) => Promise<AtomicKv> | AtomicKv;
  /**
   * Removes what {@link ConformanceOptions.open} created for a context (files, tables), after
   * the case has closed its stores. @default nothing is removed
   */
  readonly destroy?: (context: ConformanceContext) => Promise<void> | void;
  /** What the store is expected to declare. @default read from the store's info */
  readonly capabilities?: ConformanceCapabilities;
}

/**
 * One conformance case as data, so any test runner can register it.
 *
 * @example Run the cases without a test runner
 * ```ts
 * import { conformanceCases } from "@kvq/kvq/testing";
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const { info } = new MemoryKv();
 * let passed = 0;
 * for (const c of conformanceCases({ name: "memory", open: () => new MemoryKv() })) {
 *   if (!c.requires.every((cap) => info[cap])) continue; // skip: the store lacks a capability
 *   await c.run(); // throws on a contract violation
 *   passed++;
 * }
 * console.log(passed > 0); // true
 * ```
 */
export interface ConformanceCase {
  /** The concern, e.g. `"listing"`; also the case file under `conformance/`. */
  readonly concern: string;
  /** What is tested, "subject + behaviour", e.g. `"list() by prefix excludes the prefix key"`. */
  readonly name: string;
  /** Capabilities the store must declare for the case to apply; skip the case otherwise. */
  readonly requires: readonly ConformanceCapability[];
  /**
   * Runs the case: opens its stores, checks, closes them, and resolves; rejects with an
   * assertion error when the store breaks the contract, or when the store does not declare a
   * capability in {@link ConformanceCase.requires}.
   */
  run(): Promise<void>;
}

/**
 * Options of {@link testEngine}: the store the whole queue engine runs on.
 *
 * @example Options for the memory adapter
 * ```ts
 * import type { EngineSuiteOptions } from "@kvq/kvq/testing";
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const options: EngineSuiteOptions = { name: "memory", open: () => new MemoryKv(), watch: true };
 * console.log(options.name);
 * ```
 */
export interface EngineSuiteOptions {
  /** Name shown in test titles, e.g. `"memory"`. */
  readonly name: string;
  /**
   * Opens a fresh, empty store for one case, with a {@link ConformanceContext} of that case's
   * own (use its `id` as a file or database name). The case closes the store; it never reopens
   * it. Stores of different cases may share data: each case works under its own key root.
   */
  readonly open: (context: ConformanceContext) => Promise<AtomicKv> | AtomicKv;
  /**
   * Removes what {@link EngineSuiteOptions.open} created for a context (files, tables), after the
   * case has closed its store. @default nothing is removed
   */
  readonly destroy?: (context: ConformanceContext) => Promise<void> | void;
  /**
   * Whether the store implements `watch` (`info.watch`); the cases that need it are skipped
   * when it does not. @default read from the info of one store the suite opens (and closes)
   */
  readonly watch?: boolean;
}
