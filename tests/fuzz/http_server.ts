// The server the HTTP fuzzer (http_fuzz.ts) attacks, in its own process so that its RSS is its own:
// a memory store, createServer with a token and a small body limit, serve() on a free loopback
// port. It prints one JSON line `{ port, token, maxBodyBytes }` when listening, then answers one
// JSON line per command read from stdin:
//
//   rss        { rss }                     its resident set size in bytes
//   snapshot   { entries, bytes, hash }    every key, value and versionstamp of the store, hashed
//   entries    { entries: [[key, versionstamp], ...] }   (to say what changed when a hash differs)
//   mark       forgets the mutating requests seen so far
//   log ID     { requests }: those since the mark that name job ID or were answered below 400
//   exit       closes the server and the store, then exits
//
// With KVQ_MEMLOG=1 it also prints a MEM line to stderr every 2 s: RSS, heap total/used, external,
// array buffers, and each of V8's heap spaces as size/used (MB; none on Bun).
import process from "node:process";
import { createInterface } from "node:readline";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { createServer, serve } from "../../server/mod.ts";
import { encodeKey } from "../../src/key_codec.ts";

const TOKEN = "fuzz-token-0123456789";
const maxBodyBytes = Number(process.argv[2] ?? 64 * 1024);

const store = new MemoryKv();
const app = createServer({ store, auth: TOKEN, maxBodyBytes, maxWaitMs: 50 });
/** The requests answered since the last `mark`: what a changed store is traced back to. */
let seen: { method: string; path: string; status: number; authed: boolean }[] = [];
const http = await serve({
  fetch: async (req: Request) => {
    const res = await app.fetch(req);
    if (req.method !== "GET" && seen.length < 5000) {
      const path = new URL(req.url).pathname;
      seen.push({
        method: req.method,
        path,
        status: res.status,
        authed: req.headers.get("authorization") === `Bearer ${TOKEN}`,
      });
    }
    return res;
  },
}, { port: 0 });

/** FNV-1a over every entry's key, value and versionstamp, in key order. */
async function snapshot(): Promise<{ entries: number; bytes: number; hash: string }> {
  let h = 0x811c9dc5;
  let entries = 0;
  let bytes = 0;
  const mix = (b: Uint8Array) => {
    for (const x of b) h = Math.imul(h ^ x, 0x01000193) >>> 0;
    bytes += b.length;
  };
  const enc = new TextEncoder();
  for await (const e of store.list({ prefix: [] })) {
    entries++;
    mix(encodeKey(e.key));
    mix(e.value);
    mix(enc.encode(String(e.versionstamp)));
  }
  return { entries, bytes, hash: h.toString(16) };
}

console.log(JSON.stringify({ port: http.port, token: TOKEN, maxBodyBytes }));
if (process.env.KVQ_MEMLOG) {
  const { getHeapSpaceStatistics } = await import("node:v8");
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const started = Date.now();
  setInterval(() => {
    const m = process.memoryUsage();
    let spaces: string[] = [];
    try {
      spaces = getHeapSpaceStatistics().filter((s) => s.space_size > 0)
        .map((s) => `${s.space_name.replace("_space", "")}=${mb(s.space_size)}/${mb(s.space_used_size)}`);
    } catch { /* no V8 heap spaces on this runtime */ }
    const t = ((Date.now() - started) / 1000).toFixed(0);
    process.stderr.write(
      `MEM t=${t} rss=${mb(m.rss)} heapTotal=${mb(m.heapTotal)} heapUsed=${mb(m.heapUsed)} ` +
        `external=${mb(m.external)} ab=${mb(m.arrayBuffers)} ${spaces.join(" ")}\n`,
    );
  }, 2000).unref();
}
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const cmd = line.trim();
  if (cmd === "rss") {
    // Collect first (Node with --expose-gc, Deno with --v8-flags=--expose-gc, Bun.gc on Bun).
    const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
    if (g.gc) g.gc();
    else g.Bun?.gc(true);
    const m = process.memoryUsage();
    console.log(
      JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external }),
    );
  } else if (cmd === "snapshot") console.log(JSON.stringify(await snapshot()));
  else if (cmd === "mark") {
    seen = [];
    console.log("{}");
  } else if (cmd.startsWith("log ")) {
    const id = cmd.slice(4);
    console.log(JSON.stringify({ requests: seen.filter((r) => r.path.includes(id) || r.status < 400) }));
  } else if (cmd === "entries") {
    const entries: [string, string | null][] = [];
    for await (const e of store.list({ prefix: [] })) {
      entries.push([
        JSON.stringify(e.key, (_k, v) => (typeof v === "bigint" ? String(v) : v)),
        e.versionstamp,
      ]);
    }
    console.log(JSON.stringify({ entries }));
  } else if (cmd === "exit") break;
}
await http.close();
await app.close();
await store.close();
process.exit(0);
