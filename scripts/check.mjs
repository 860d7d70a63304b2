// Static checks run by .ci/run: lint, format, type checks (tsc and deno), JSR publish dry run
// (no slow types), the npm build and an npm pack dry run. Stops at the first failure.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const bin = (name) => {
  const local = join(root, "node_modules", ".bin", name);
  return existsSync(local) ? local : name;
};
const entryFiles = Object.values(JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).exports);
const steps = [
  ["deno lint", bin("deno"), ["lint"]],
  ["deno fmt --check", bin("deno"), ["fmt", "--check"]],
  ["tsc --noEmit", bin("tsc"), ["-p", "tsconfig.json", "--noEmit"]],
  ["deno check", bin("deno"), ["check", ...entryFiles]],
  ["deno publish --dry-run", bin("deno"), ["publish", "--dry-run", "--allow-dirty"]],
  ["build (npm)", bin("node"), ["scripts/build.mjs"]],
  ["npm pack --dry-run", "npm", ["pack", "--dry-run", "--silent"]],
];
for (const [name, cmd, args] of steps) {
  const started = Date.now();
  process.stdout.write(`check: ${name} ... `);
  try {
    execFileSync(cmd, args, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    console.log(`ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    console.log("FAILED");
    process.stdout.write(String(e.stdout ?? ""));
    process.stderr.write(String(e.stderr ?? ""));
    process.exit(1);
  }
}
console.log("check: all passed");
