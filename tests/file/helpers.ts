// Shared helpers of the file store tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { FsLayer } from "../../adapters/file/fs.ts";
import { FileKv, type FileKvOptions } from "../../adapters/file/mod.ts";
import type { KvKey } from "../../src/kv.ts";
import { fsError, type SimOp } from "./sim_fs.ts";

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | undefined): string | undefined => b && new TextDecoder().decode(b);

/** A fresh temporary directory and a cleanup function. */
export function tempDir(): { dir: string; path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "kvq-file-"));
  return { dir, path: join(dir, "store.kvq"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every entry of a store as "key=value@versionstamp" lines, in key order. */
export async function dump(kv: FileKv, prefix: KvKey = []): Promise<string[]> {
  const out: string[] = [];
  const sel = prefix.length ? { prefix } : { start: [new Uint8Array(0)], end: [true, true] };
  for await (const e of kv.list(sel)) {
    out.push(`${JSON.stringify(e.key, keyJson)}=${dec(e.value)}@${e.versionstamp}`);
  }
  return out;
}

function keyJson(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v;
}

/** Opens and asserts nothing; returns the error thrown, or the store. */
export async function openOrError(path: string, options?: FileKvOptions): Promise<FileKv | Error> {
  try {
    return await FileKv.open(path, options);
  } catch (e) {
    return e as Error;
  }
}

/** The runtime running the tests, and how to start a child process of it running a script. */
export function childCommand(script: string, args: string[]): [string, string[]] {
  const g = globalThis as { Deno?: { execPath(): string } };
  if (g.Deno) return [g.Deno.execPath(), ["run", "-A", "--no-check", script, ...args]];
  const bun = (process.versions as Record<string, string | undefined>).bun;
  if (bun) return [process.execPath, [script, ...args]];
  return [process.execPath, [script, ...args]];
}

export interface Faults {
  /** Calls per operation. */
  readonly counts: Record<string, number>;
  /** Fault to raise before an operation, by name; return an error to throw, or nothing. */
  before: ((op: SimOp, target: string | number) => Error | void) | null;
}

/** Wraps an FsLayer so tests can count calls and inject errors before any operation. */
export function faulty(base: FsLayer): FsLayer & { faults: Faults } {
  const faults: Faults = { counts: {}, before: null };
  const gate = (op: SimOp, target: string | number) => {
    faults.counts[op] = (faults.counts[op] ?? 0) + 1;
    const e = faults.before?.(op, target);
    if (e) throw e;
  };
  const wrap = <A extends unknown[], R>(op: SimOp, f: (...a: A) => Promise<R>) => (...a: A): Promise<R> => {
    try {
      gate(op, a[0] as string | number);
    } catch (e) {
      return Promise.reject(e);
    }
    return f(...a);
  };
  return {
    faults,
    pid: base.pid,
    processAlive: (pid) => base.processAlive(pid),
    open: wrap("open", base.open.bind(base)),
    close: wrap("close", base.close.bind(base)),
    read: wrap("read", base.read.bind(base)),
    readSync: base.readSync.bind(base),
    write: wrap("write", base.write.bind(base)),
    fdatasync: wrap("fdatasync", base.fdatasync.bind(base)),
    ftruncate: wrap("ftruncate", base.ftruncate.bind(base)),
    size: wrap("size", base.size.bind(base)),
    rename: wrap("rename", base.rename.bind(base)),
    link: wrap("link", base.link.bind(base)),
    unlink: wrap("unlink", base.unlink.bind(base)),
    fsyncDir: wrap("fsyncDir", base.fsyncDir.bind(base)),
  };
}

export { fsError };
