// A large payload through the blob store: a ReadableStream of N MiB (default 1024) added to a queue
// on the file store with its blob store over unstorage's fs driver (4 MiB chunks), then processed by a
// handler that reads it through ctx.stream(). Prints the add and process rates and the process's peak
// RSS (sampled every 5 ms), which stays flat however large the payload. Not a test:
//   node bench/blob.ts [MiB]      bun bench/blob.ts [MiB]      deno run -A bench/blob.ts [MiB]
//   npm run bench:blob
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import { FileKv } from "../adapters/file/mod.ts";
import { UnstorageBlobStore } from "../adapters/unstorage/mod.ts";
import { Queue } from "../mod.ts";

const MiB = 1024 * 1024;
const args = (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ??
  (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? [];
const SIZE = Number(args[0] ?? 1024);
const runtime = (globalThis as { Bun?: unknown }).Bun
  ? "bun"
  : (globalThis as { Deno?: unknown }).Deno
  ? "deno"
  : "node";

const rss = () => process.memoryUsage().rss;
const dir = mkdtempSync(join(tmpdir(), "kvq-bench-blob-"));
try {
  const kv = await FileKv.open(join(dir, "jobs.kvq"));
  const store = new UnstorageBlobStore(createStorage({ driver: fsDriver({ base: join(dir, "blobs") }) }));
  const queue = new Queue<unknown, number>(kv, "bench", { blobs: { store } });
  const start = rss();
  let peak = start;
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 5);
  const total = SIZE * MiB;
  let sent = 0;
  const piece = new Uint8Array(256 * 1024);
  const source = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= total) return c.close();
      const n = Math.min(piece.length, total - sent);
      const out = piece.slice(0, n);
      out[0] = (sent / piece.length) & 255;
      c.enqueue(out);
      sent += n;
    },
  });
  const t0 = performance.now();
  const job = await queue.add(source);
  const t1 = performance.now();
  const worker = queue.process(async (_job, ctx) => {
    let n = 0;
    for await (const c of ctx.stream()) n += c.length;
    return n;
  }, { leaseMs: 120_000 });
  const read = await queue.result(job.id);
  const t2 = performance.now();
  clearInterval(sampler);
  await worker.close();
  await queue.close();
  await kv.close();
  if (read !== total) throw new Error(`read ${read} bytes, expected ${total}`);
  const rate = (ms: number) => (SIZE / (ms / 1000)).toFixed(0);
  console.log(
    `${runtime}\tpayload ${SIZE} MiB\tadd ${rate(t1 - t0)} MiB/s\tprocess ${rate(t2 - t1)} MiB/s\t` +
      `RSS at start ${(start / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
