// The machine baseline: how many 4 KiB writes, each followed by fdatasync, the disk completes per
// second. Two ways, because they differ a lot on most file systems:
// - append: each write grows the file, so fdatasync also commits the new size (file-system journal);
// - overwrite: writes cycle over a preallocated, already-synced 4 MiB region, so fdatasync flushes
//   data only (how SQLite's WAL and a reused log segment behave).
// A store that syncs every commit on its own cannot beat the overwrite rate; group commit can.
// `opsPerSec` (the headline, used by the targets) is the overwrite rate: the higher, stricter bar.
import { closeSync, fdatasyncSync, fsyncSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { now, percentile } from "../lib.ts";
import type { Values } from "../scenarios.ts";

const BLOCK = 4096;
const REGION = 1024; // blocks: 4 MiB

function loop(fd: number, n: number, budgetMs: number, position: (i: number) => number | null): number[] {
  const block = new Uint8Array(BLOCK).fill(7);
  const lat: number[] = [];
  const t0 = now();
  for (let i = 0; i < n && now() - t0 < budgetMs; i++) {
    const t = now();
    writeSync(fd, block, 0, BLOCK, position(i));
    fdatasyncSync(fd);
    lat.push(now() - t);
  }
  return lat;
}

/** Measures 4 KiB write + fdatasync `n` times per mode (or until `budgetMs` per mode) in `dir`. */
export function measureFsync(dir: string, n: number, budgetMs: number): Promise<Values> {
  const appendPath = join(dir, "append.bin");
  const overwritePath = join(dir, "overwrite.bin");
  try {
    let fd = openSync(appendPath, "w");
    loop(fd, 10, budgetMs, () => null); // warm-up
    const append = loop(fd, n, budgetMs, () => null);
    closeSync(fd);

    fd = openSync(overwritePath, "w");
    const zero = new Uint8Array(BLOCK);
    for (let i = 0; i < REGION; i++) writeSync(fd, zero);
    fsyncSync(fd);
    loop(fd, 10, budgetMs, (i) => (i % REGION) * BLOCK); // warm-up
    const overwrite = loop(fd, n, budgetMs, (i) => (i % REGION) * BLOCK);
    closeSync(fd);

    const rate = (lat: number[]) => (lat.length / lat.reduce((a, b) => a + b, 0)) * 1000;
    return Promise.resolve({
      opsPerSec: rate(overwrite),
      appendOpsPerSec: rate(append),
      p50Ms: percentile(overwrite, 50),
      p99Ms: percentile(overwrite, 99),
      appendP50Ms: percentile(append, 50),
      ops: overwrite.length,
    });
  } finally {
    rmSync(appendPath, { force: true });
    rmSync(overwritePath, { force: true });
  }
}
