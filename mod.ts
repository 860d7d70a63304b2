/**
 * kvq: a durable background-job queue for TypeScript on Deno, Bun and Node, over one atomic
 * key-value contract.
 *
 * This entry point holds the runtime-agnostic core: the job queue (`Queue`, `Worker`, the job
 * states and the pure `transition` function), the AtomicKv contract, the key codec and the typed
 * errors. Storage adapters are their own entry points (`@kvq/kvq/memory`, ...), and the adapter
 * conformance suite is `@kvq/kvq/testing`.
 *
 * @example Add a job, process it with a retry, shut down
 * ```ts
 * import { Queue } from "@kvq/kvq";
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const emails = new Queue<{ to: string }, string>(new MemoryKv(), "emails", { backoff: 100 });
 * let tries = 0;
 * const worker = emails.process((job, ctx) => {
 *   if (++tries === 1) throw new Error("SMTP timeout"); // retried after 100 ms
 *   return `sent to ${job.data.to} on attempt ${ctx.attempt}`;
 * });
 * const job = await emails.add({ to: "ada@example.com" });
 * console.log(await emails.result(job.id)); // "sent to ada@example.com on attempt 2"
 * await worker.close({ timeout: 5_000 });
 * ```
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
