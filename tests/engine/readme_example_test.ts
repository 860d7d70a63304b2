// Runs the README's main example (examples/quickstart.ts) exactly as written, in a child process
// of the runtime running this test, and checks what it prints.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const file = fileURLToPath(new URL("../../examples/quickstart.ts", import.meta.url));
const isDeno = "Deno" in globalThis;

test("README example (examples/quickstart.ts) runs and prints the retry and the result", async () => {
  const args = isDeno ? ["run", "-A", file] : [file];
  const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve, reject) => {
    execFile(
      process.execPath,
      args,
      { timeout: 30_000, env: { ...process.env, NO_COLOR: "1" } },
      (err, stdout) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ stdout, code: err ? Number(err.code) : 0 });
      },
    );
  });
  assert.equal(code, 0);
  assert.equal(
    stdout,
    "attempt 1 failed, retrying in 100 ms\nsent to ada@example.com on attempt 2\n",
  );
});
