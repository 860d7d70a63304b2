// What every crash-test child shares, on Node, Bun and Deno alike: whole-line synchronous writes
// to stdout (a line the parent reads was written before any kill), its arguments, and exit.
import { writeSync } from "node:fs";

const enc = new TextEncoder();
const denoStdout = (globalThis as { Deno?: { stdout: { writeSync(b: Uint8Array): number } } }).Deno?.stdout;

/** Writes one line to stdout synchronously (the kernel has it when this returns). */
export function out(line: string): void {
  const bytes = enc.encode(line + "\n");
  let off = 0;
  while (off < bytes.length) {
    try {
      off += denoStdout ? denoStdout.writeSync(bytes.subarray(off)) : writeSync(1, bytes, off);
    } catch (e) {
      if ((e as { code?: string }).code !== "EAGAIN") throw e;
    }
  }
}

function argv(): string[] {
  return (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
    (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);
}

/** The value after `--name`, else `fallback`; throws when neither is there. */
export function arg(name: string, fallback?: string): string {
  const args = argv();
  const i = args.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < args.length) return args[i + 1];
  if (fallback === undefined) throw new TypeError(`crash child: missing --${name}`);
  return fallback;
}

/** Whether the flag `--name` is given. */
export function flag(name: string): boolean {
  return argv().includes(`--${name}`);
}

/** Exits the process with `code`. */
export function exit(code: number): never {
  const g = globalThis as { Deno?: { exit(c: number): never }; process?: { exit(c: number): never } };
  return g.Deno ? g.Deno.exit(code) : g.process!.exit(code);
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise<void>((r) => setTimeout(r, ms));

/** A one-line form of an error, for a protocol line. */
export function oneLine(e: unknown): string {
  return String((e as Error)?.stack ?? e).replace(/\s+/g, " ");
}
