// The checked-in gRPC code is what the .proto generates: `buf generate` (buf.gen.yaml, the same
// command as `npm run gen:proto`) into a temporary folder gives byte-identical files, and the
// .proto passes `buf lint`. Regenerate with `npm run gen:proto` after editing proto/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const buf = join(root, "node_modules", ".bin", process.platform === "win32" ? "buf.cmd" : "buf");
const GEN = join("server", "grpc", "gen");
const skip = existsSync(buf) ? false : "node_modules/.bin/buf is not installed (devDependency @bufbuild/buf)";

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

test("buf generate reproduces the checked-in server/grpc/gen exactly", { skip }, () => {
  const out = mkdtempSync(join(tmpdir(), "kvq-proto-"));
  try {
    execFileSync(buf, ["generate", "--output", out], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const fresh = filesUnder(join(out, GEN)).map((f) => relative(join(out, GEN), f)).sort();
    const kept = filesUnder(join(root, GEN)).map((f) => relative(join(root, GEN), f)).sort();
    assert.deepEqual(kept, fresh, "the same generated files");
    for (const f of fresh) {
      assert.equal(
        readFileSync(join(root, GEN, f), "utf8"),
        readFileSync(join(out, GEN, f), "utf8"),
        `${f} differs from what proto/ generates: run npm run gen:proto`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("the .proto passes buf lint", { skip }, () => {
  execFileSync(buf, ["lint"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
});
