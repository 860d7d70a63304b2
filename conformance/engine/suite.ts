/**
 * The engine suite: every behaviour of kvq's job queue (enqueue, states, ordering, workers,
 * retries, recovery and fencing, scheduling, cancel, capacity, transient stores, signed payloads,
 * retention, hooks and events, graceful shutdown, introspection and results, determinism,
 * transactional enqueue, external leases), run through the public `Queue` API on any AtomicKv
 * store. Where `testAdapter` shows that a store keeps the contract, this shows that the whole
 * queue runs on it.
 *
 * Each case opens its own store through `open()`, works under its own key root, drives time
 * through a fake clock and closes everything it opened. Cases that wait for I/O poll in real
 * time with 1 ms steps, so they work on durable and remote stores too.
 *
 * @module
 */
import { coreCases } from "./cases_core.ts";
import { opsCases } from "./cases_ops.ts";
import { engineContext } from "./_helpers.ts";
import type { EngineSuiteOptions } from "../types.ts";

function validate(options: EngineSuiteOptions): void {
  if (!options || typeof options !== "object") {
    throw new TypeError("Invalid engine suite options: expected an object with name and open");
  }
  if (typeof options.name !== "string" || options.name.length === 0) {
    throw new TypeError("Invalid engine suite options: name must be a non-empty string");
  }
  if (typeof options.open !== "function") {
    throw new TypeError(`Invalid engine suite options for "${options.name}": open must be a function`);
  }
  if (options.destroy !== undefined && typeof options.destroy !== "function") {
    throw new TypeError(`Invalid engine suite options for "${options.name}": destroy must be a function`);
  }
  if (options.watch !== undefined && typeof options.watch !== "boolean") {
    throw new TypeError(`Invalid engine suite options for "${options.name}": watch must be true or false`);
  }
}

/** Opens one store to read whether it declares watch, then closes (and destroys) it again. */
async function declaresWatch(options: EngineSuiteOptions): Promise<boolean> {
  const context = engineContext();
  const kv = await options.open(context);
  try {
    return kv.info.watch === true;
  } finally {
    await kv.close();
    await options.destroy?.(context);
  }
}

/**
 * Registers the whole engine suite for a store with `node:test`, one test per case, grouped by
 * concern under `"<name>: <n> <concern>"` (for example `"memory: 4 workers"`). Await it at the
 * top level of a test file: without `options.watch` it opens one store first to read whether
 * the store declares `watch`. The same file runs under `node --test`, `bun test` and
 * `deno test -A`. Run {@link testAdapter} on the store too: the engine relies on the contract.
 *
 * @param options The store under test: a name, a factory, and optionally a `destroy` hook and
 *   whether the store has `watch`.
 * @returns Resolves when every case is registered.
 *
 * @example The whole queue on the memory adapter
 * ```ts ignore
 * import { testEngine } from "@kvq/kvq/testing";
 * import { MemoryKv } from "@kvq/kvq/memory";
 *
 * await testEngine({ name: "memory", open: () => new MemoryKv() });
 * ```
 *
 * @example A durable store, one database file per case
 * ```ts ignore
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { testEngine } from "@kvq/kvq/testing";
 * import { SqliteKv } from "@kvq/kvq/sqlite";
 *
 * const dir = mkdtempSync(join(tmpdir(), "kvq-engine-"));
 * await testEngine({
 *   name: "sqlite",
 *   open: (ctx) => SqliteKv.open(join(dir, `${ctx.id}.db`)),
 *   destroy: (ctx) => ["", "-wal", "-shm"].forEach((f) => rmSync(join(dir, `${ctx.id}.db${f}`), { force: true })),
 *   watch: true,
 * });
 * ```
 */
export async function testEngine(options: EngineSuiteOptions): Promise<void> {
  validate(options);
  const watch = options.watch ?? await declaresWatch(options);
  const resolved: EngineSuiteOptions = { ...options, watch };
  coreCases(resolved);
  opsCases(resolved);
}
