// Deno KV queues on a local file: `kv.enqueue` to add, `kv.listenQueue` to consume (Deno only).
// Deno KV has no knob for delivery concurrency and no count of queued messages, so the drain
// scenarios run at the engine's own concurrency and end at the last handler call.
import { join } from "node:path";
import { type JobHandler, type OpenContext, type Opened, type Payload, runtimeVersion } from "../lib.ts";

interface DenoKvAtomic {
  enqueue(value: unknown): DenoKvAtomic;
  commit(): Promise<{ ok: boolean }>;
}
interface DenoKvQueue {
  enqueue(value: unknown): Promise<{ ok: boolean }>;
  atomic(): DenoKvAtomic;
  listenQueue(handler: (value: unknown) => Promise<void> | void): Promise<void>;
  close(): void;
}

/** Opens Deno KV on a fresh file. */
export async function open(ctx: OpenContext): Promise<Opened> {
  const deno = (globalThis as { Deno?: { openKv(path: string): Promise<DenoKvQueue> } })
    .Deno;
  if (!deno) throw new Error("Deno KV queues need the Deno runtime");
  const kv = await deno.openKv(join(ctx.dir, "queue.sqlite3"));
  let handler: JobHandler | null = null;
  let listening: Promise<void> | null = null;
  return {
    info: {
      version: runtimeVersion(),
      backend: "Deno.openKv (local SQLite file)",
      durability: "Deno KV default (local SQLite, WAL)",
      notes:
        "delivery concurrency is the engine's own; no queued-message count (drain ends at the last handler)",
      bulkChunk: 1000,
    },
    instance: {
      async add(data: Payload) {
        const r = await kv.enqueue(data);
        if (!r.ok) throw new Error("Deno KV enqueue failed");
      },
      async addBulk(items: Payload[]) {
        const op = kv.atomic();
        for (const item of items) op.enqueue(item);
        const r = await op.commit();
        if (!r.ok) throw new Error("Deno KV atomic enqueue failed");
      },
      work(h: JobHandler) {
        handler = h;
        listening ??= kv.listenQueue(async (value) => {
          await handler?.(value as Payload);
        });
        return Promise.resolve();
      },
      stopWork() {
        // listenQueue cannot be stopped without closing the store: later messages are ignored.
        handler = null;
        return Promise.resolve();
      },
      async close() {
        handler = null;
        kv.close();
        await listening?.catch(() => {});
      },
    },
  };
}
