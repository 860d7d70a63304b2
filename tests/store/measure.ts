// Measures the embedded durable stores openStore() chooses between, on this machine: N concurrent
// committers (default 8), fsync on, for a few seconds each, in a queue-like pattern (enqueue:
// check(null) + 2 sets; claim: check + set + delete). Not a test; run it by hand:
//   node tests/store/measure.ts [committers] [seconds]     (also: bun ..., deno run -A ...)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { AtomicKv } from "../../src/kv.ts";

const committers = Number(process.argv[2] ?? 8);
const seconds = Number(process.argv[3] ?? 3);
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

async function run(name: string, open: (dir: string) => Promise<AtomicKv>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kvq-measure-"));
  const kv = await open(dir);
  const value = new Uint8Array(200).fill(7);
  let commits = 0;
  const lat: number[] = [];
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: committers }, async (_, w) => {
    for (let i = 0; performance.now() < deadline; i++) {
      let s = performance.now();
      const a = await kv.atomic().check(["job", w, i], null).set(["job", w, i], value).set(
        ["ready", w, i],
        value,
      )
        .commit();
      lat.push(performance.now() - s);
      if (!a.ok) throw new Error("enqueue check failed");
      s = performance.now();
      const b = await kv.atomic().check(["job", w, i], a.versionstamp).set(["job", w, i], value)
        .delete(["ready", w, i]).commit();
      lat.push(performance.now() - s);
      if (!b.ok) throw new Error("claim check failed");
      commits += 2;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  await kv.close();
  rmSync(dir, { recursive: true, force: true });
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(2);
  console.log(
    `${name.padEnd(22)} ${committers} committers: ${
      String(Math.round(commits / secs)).padStart(6)
    } commits/s, ` +
      `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms (durable: ${kv.info.durable})`,
  );
}

const { SqliteKv } = await import("../../adapters/sqlite/mod.ts");
await run(isBun ? "sqlite (bun:sqlite)" : "sqlite (node:sqlite)", (dir) => SqliteKv.open(join(dir, "s.db")));
const { FileKv } = await import("../../adapters/file/mod.ts");
await run("file", (dir) => FileKv.open(join(dir, "f.kvq")));
const { DenoKv } = await import("../../adapters/deno-kv/mod.ts");
await run(
  isDeno ? "deno-kv (Deno.openKv)" : "deno-kv (@deno/kv)",
  (dir) => DenoKv.open(join(dir, "d.sqlite3")),
);
