// Runs the whole test suite under Node (node --test), Bun (bun test) and Deno (deno test), one
// after the other, and fails if any runtime fails. The runtimes come from node_modules/.bin
// (npm puts it on PATH), never from the machine. A last line sums up: "tests: N passed, N failed".
//
// Usage: node scripts/test.mjs [node|bun|deno ...]   (default: all three)
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const bin = (name) => {
  const local = join(import.meta.dirname, "..", "node_modules", ".bin", name);
  return existsSync(local) ? local : name;
};
const glob = "tests/**/*_test.ts";
const runners = {
  node: [bin("node"), ["--test", "--test-concurrency=1", glob]],
  bun: [bin("bun"), ["test", "--timeout", "60000", "tests/"]],
  deno: [bin("deno"), ["test", "-A", "--quiet", "--no-check", "tests/"]],
};
// How each runner reports its totals.
const counters = {
  node: (out) => [/^ℹ pass (\d+)/m, /^ℹ fail (\d+)/m].map((re) => Number(out.match(re)?.[1] ?? NaN)),
  bun: (out) => [/^\s*(\d+) pass$/m, /^\s*(\d+) fail$/m].map((re) => Number(out.match(re)?.[1] ?? 0)),
  deno: (out) => {
    const m = out.match(/(\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/);
    return m ? [Number(m[1]) + Number(m[2] ?? 0), Number(m[3]) + Number(m[4] ?? 0)] : [NaN, NaN];
  },
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(runners);
let passed = 0, failed = 0;
const summary = [];
for (const name of wanted) {
  const [cmd, args] = runners[name];
  console.log(`\n=== ${name}: ${cmd.split("/").pop()} ${args.join(" ")}`);
  const started = Date.now();
  const { code, out } = await new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" },
    });
    let out = "";
    const tee = (stream, sink) =>
      stream.on("data", (d) => {
        out += d;
        sink.write(d);
      });
    tee(child.stdout, process.stdout);
    tee(child.stderr, process.stderr);
    child.on("close", (code) => resolve({ code, out }));
  });
  // deno-lint-ignore no-control-regex
  const [p, f] = counters[name](out.replace(/\x1b\[[0-9;]*m/g, ""));
  const ok = code === 0 && !(f > 0) && p > 0;
  passed += p || 0;
  failed += Number.isNaN(f) ? (ok ? 0 : 1) : f + (ok || f > 0 ? 0 : 1);
  summary.push(
    `${name}: ${ok ? "ok" : "FAILED"} (exit ${code}, ${p} passed, ${f} failed, ${
      ((Date.now() - started) / 1000).toFixed(1)
    } s)`,
  );
}
console.log("\n=== summary\n" + summary.join("\n"));
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || summary.some((s) => s.includes("FAILED")) ? 1 : 0);
