/**
 * The engine suite: every behaviour of the job engine (items 1-17 of the job-engine issue),
 * runnable against any AtomicKv store. Register it from a `*_test.ts` file:
 *
 * ```ts
 * import { engineSuite } from "./suite.ts";
 * engineSuite({ name: "memory", open: () => new MemoryKv() });
 * ```
 *
 * Each case opens its own store through `open()`, works under its own root prefix, drives time
 * through a fake clock and closes everything it opened. Cases that wait for I/O poll in real
 * time with 1 ms steps, so they work on durable stores too.
 *
 * @module
 */
import { coreCases } from "./cases_core.ts";
import { opsCases } from "./cases_ops.ts";
import type { EngineSuiteOptions } from "./_helpers.ts";

export type { EngineSuiteOptions } from "./_helpers.ts";

/** Registers every engine case for one store. */
export function engineSuite(options: EngineSuiteOptions): void {
  coreCases(options);
  opsCases(options);
}
