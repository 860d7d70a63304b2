// Builds the npm package: ESM JavaScript + .d.ts in dist/, from the same TypeScript sources
// that JSR publishes. Relative ".ts" imports are rewritten to ".js" by tsc.
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
rmSync(join(root, "dist"), { recursive: true, force: true });
const tsc = join(root, "node_modules", ".bin", "tsc");
execFileSync(existsSync(tsc) ? tsc : "tsc", ["-p", join(root, "tsconfig.build.json")], {
  stdio: "inherit",
  cwd: root,
});
console.log("build: dist/ written");
