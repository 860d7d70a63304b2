/**
 * The conformance cases as data: {@link conformanceCases} returns every case, ready to run under
 * any test runner. {@link testAdapter} registers them with `node:test`.
 *
 * @module
 */

import type { CaseDef } from "./_harness.ts";
import { Scope } from "./_harness.ts";
import { atomicCases } from "./atomic.ts";
import { basicCases } from "./basic.ts";
import { concurrencyCases } from "./concurrency.ts";
import { durabilityCases } from "./durability.ts";
import { getManyCases } from "./get_many.ts";
import { lifecycleCases } from "./lifecycle.ts";
import { limitCases } from "./limits.ts";
import { listingCases } from "./listing.ts";
import { orderingCases } from "./ordering.ts";
import { spaceCases } from "./space.ts";
import type { ConformanceCase, ConformanceOptions } from "./types.ts";
import { valueCases } from "./values.ts";
import { versionstampCases } from "./versionstamps.ts";
import { watchCases } from "./watch.ts";

/** Every concern, in the order cases are registered. */
const CONCERNS: readonly (readonly [string, readonly CaseDef[]])[] = [
  ["basic", basicCases],
  ["listing", listingCases],
  ["ordering", orderingCases],
  ["atomic", atomicCases],
  ["concurrency", concurrencyCases],
  ["versionstamps", versionstampCases],
  ["limits", limitCases],
  ["values", valueCases],
  ["get_many", getManyCases],
  ["durability", durabilityCases],
  ["watch", watchCases],
  ["lifecycle", lifecycleCases],
  ["space", spaceCases],
];

function runToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function validate(options: ConformanceOptions): void {
  if (!options || typeof options !== "object") {
    throw new TypeError("Invalid conformance options: expected an object with name and open");
  }
  if (typeof options.name !== "string" || options.name.length === 0) {
    throw new TypeError("Invalid conformance options: name must be a non-empty string");
  }
  if (typeof options.open !== "function") {
    throw new TypeError(`Invalid conformance options for "${options.name}": open must be a function`);
  }
  if (options.destroy !== undefined && typeof options.destroy !== "function") {
    throw new TypeError(`Invalid conformance options for "${options.name}": destroy must be a function`);
  }
}

/**
 * Returns every conformance case for a store, as data. Each case opens its own stores through
 * `options.open` with a context id of its own, works under its own key prefix, and closes what
 * it opened; so cases are independent and may run in any order, even against one shared
 * database. Skip a case when the store does not declare every capability in its `requires`.
 * Use this to run the suite under a test runner without `node:test`; {@link testAdapter} does it
 * for `node:test`.
 *
 * @param options The adapter under test: a name and a factory.
 * @returns The cases, grouped by `concern` in a stable order.
 *
 * @example Register the cases with another test runner
 * ```ts
 * import { conformanceCases } from "@kvq/kvq/testing";
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const probe = new MemoryKv();
 * for (const c of conformanceCases({ name: "memory", open: () => new MemoryKv() })) {
 *   const applies = c.requires.every((cap) => probe.info[cap]);
 *   console.log(`${c.concern} > ${c.name}${applies ? "" : " (skipped)"}`);
 *   // With a runner: it(`${c.concern} > ${c.name}`, { skip: !applies }, () => c.run());
 * }
 * ```
 */
export function conformanceCases(options: ConformanceOptions): ConformanceCase[] {
  validate(options);
  const token = runToken();
  const out: ConformanceCase[] = [];
  let n = 0;
  for (const [concern, defs] of CONCERNS) {
    for (const def of defs) {
      const index = n++;
      const requires = def.requires ?? [];
      out.push({
        concern,
        name: def.name,
        requires,
        async run(): Promise<void> {
          const scope = new Scope(
            options,
            `kvq-${token}-${String(index).padStart(3, "0")}`,
            ["kvq-conformance", token, index],
            requires,
          );
          try {
            await def.run(scope);
          } catch (e) {
            await scope.dispose().catch(() => {});
            throw e;
          }
          await scope.dispose();
        },
      });
    }
  }
  return out;
}
