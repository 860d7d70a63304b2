// Runs a child script on the current runtime (Node, Bun or Deno), waits for the line `ready <x>`
// it prints at its crash point, kills it with SIGKILL there and resolves `x`. Rejects when the child
// ends before that line, or ends by anything but the kill.
import { spawn } from "node:child_process";
import process from "node:process";

/** The command that runs `script` with `args` on this runtime. */
export function runtimeCommand(script: string, args: readonly string[]): [string, string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (deno) return [deno.execPath(), ["run", "-A", script, ...args]];
  return [process.execPath, [script, ...args]];
}

/** Starts `script`, SIGKILLs it at its `ready <x>` line, resolves `x`. */
export function killAtReady(script: string, args: readonly string[]): Promise<string> {
  const [cmd, argv] = runtimeCommand(script, args);
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let ready: string | undefined;
  child.stderr.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /ready (\S+)\n/.exec(out);
      if (m && ready === undefined) {
        ready = m[1]!;
        child.kill("SIGKILL");
      }
    });
    child.on("exit", (code, signal) => {
      if (ready === undefined) {
        reject(new Error(`child exited ${code ?? signal} before the crash point: ${err}`));
      } else if (signal !== "SIGKILL") reject(new Error(`child ended by ${code ?? signal}, not by the kill`));
      else resolve(ready);
    });
  });
}
