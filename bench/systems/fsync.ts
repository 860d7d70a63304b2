// The machine baseline: how many 4 KiB appends, each followed by fdatasync, the disk completes per
// second. A store that fsyncs every commit separately cannot beat this; group commit can.
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { now, percentile } from "../lib.ts";
import type { Values } from "../scenarios.ts";

/** Appends 4 KiB + fdatasync `n` times (or until `budgetMs` passes) in `dir`; returns ops/s and latency. */
export function measureFsync(
  dir: string,
  n: number,
  budgetMs: number,
): Promise<Values> {
  const path = join(dir, "fsync.bin");
  const fd = openSync(path, "w");
  const block = new Uint8Array(4096).fill(7);
  const lat: number[] = [];
  try {
    // Warm-up: the first syncs of a new file also write its metadata.
    for (let i = 0; i < 10; i++) {
      writeSync(fd, block);
      fdatasyncSync(fd);
    }
    const t0 = now();
    let ops = 0;
    for (; ops < n && now() - t0 < budgetMs; ops++) {
      const t = now();
      writeSync(fd, block);
      fdatasyncSync(fd);
      lat.push(now() - t);
    }
    const ms = now() - t0;
    return Promise.resolve({
      opsPerSec: (ops / ms) * 1000,
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      ops,
    });
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}
