/**
 * kvq: a durable background-job queue for TypeScript on Deno, Bun and Node, over one atomic
 * key-value contract.
 *
 * This entry point holds the runtime-agnostic core: the AtomicKv contract, the key codec and
 * the typed errors. Storage adapters are their own entry points (`@kvq/kvq/memory`, ...), and
 * the adapter conformance suite is `@kvq/kvq/testing`.
 *
 * @example Store and read a key through the contract
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const kv = new MemoryKv();
 * await kv.atomic().set(["hello"], new Uint8Array([1, 2, 3])).commit();
 * console.log((await kv.get(["hello"]))?.value); // Uint8Array [1, 2, 3]
 * ```
 *
 * @module
 */

export * from "./src/errors.ts";
export * from "./src/kv.ts";
export * from "./src/queue.ts";
export * from "./src/worker.ts";
export * from "./src/types.ts";
export * from "./src/events.ts";
export * from "./src/job.ts";
export * from "./src/keys.ts";
export * from "./src/clock.ts";
export * from "./src/ids.ts";
export * from "./src/backoff.ts";
export type { Signer, SigningKey } from "./src/signing.ts";
