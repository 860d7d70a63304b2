// Static checks run by .ci/run: lint, format, type checks (tsc and deno), the documentation lint of
// every entry point, the documentation examples (run, not only type-checked), JSR publish dry run
// (no slow types), the npm build and an npm pack dry run. Stops at the first failure.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const bin = (name) => {
  const local = join(root, "node_modules", ".bin", name);
  return existsSync(local) ? local : name;
};
const deno = bin("deno");
const env = { ...process.env, NO_COLOR: "1" };
const entryFiles = Object.values(JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).exports);

/** Runs a command in the repo; throws (with its output) when it exits non-zero. */
function run(cmd, args) {
  return execFileSync(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env, encoding: "utf8" });
}

/** Every `error[kind]: message` line `deno doc --lint` printed. */
function docLintErrors(files) {
  const r = spawnSync(deno, ["doc", "--lint", ...files], { cwd: root, env, encoding: "utf8" });
  const errors = [...`${r.stdout}\n${r.stderr}`.matchAll(/^error\[([a-z-]+)\]: (.*)$/gm)]
    .map(([, kind, message]) => ({ kind, message }));
  if (r.status !== 0 && errors.length === 0) throw Object.assign(new Error("deno doc failed"), r);
  return errors;
}

/** Names each entry point exports (values and types), from `deno doc --json`. */
function exportedNames(entry) {
  const json = JSON.parse(run(deno, ["doc", "--json", entry]));
  return new Set(Object.values(json.nodes).flatMap((m) => (m.symbols ?? []).map((s) => s.name)));
}

// One by one, an entry point may reference a type that a sibling entry point of the package
// exports (an adapter's `atomic(): AtomicOp` refers to the contract in `kvq` / `kvq/kv`): JSR
// documents the package as a whole, which is the run on all entry points together. Anything
// else (a missing JSDoc, a type no entry point exports) fails.
function docLintEach() {
  const names = new Map(entryFiles.map((e) => [e, exportedNames(e)]));
  const problems = [];
  for (const entry of entryFiles) {
    for (const { kind, message } of docLintErrors([entry])) {
      const ref = kind === "private-type-ref" ? /references private type '([^']+)'/.exec(message)?.[1] : null;
      const home = ref && entryFiles.find((other) => other !== entry && names.get(other).has(ref));
      if (!home) problems.push(`${entry}: error[${kind}]: ${message}`);
    }
  }
  if (problems.length > 0) throw Object.assign(new Error("doc lint"), { stdout: problems.join("\n") + "\n" });
}

function docLintAll() {
  const errors = docLintErrors(entryFiles);
  if (errors.length > 0) {
    throw Object.assign(new Error("doc lint"), {
      stdout: errors.map((e) => `error[${e.kind}]: ${e.message}`).join("\n") + "\n",
    });
  }
}

/** Whether something listens on 127.0.0.1:`port`. */
function reachable(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, timeout: 1000 });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true)).once("error", () => done(false)).once(
      "timeout",
      () => done(false),
    );
  });
}

// The modules reachable from the entry points: the doc blocks of every file in them run. Folders,
// not files, so that `deno test` runs only their doc blocks and imports no module as a test
// file (cli/main.ts would start the CLI). tests/ is not among them.
const DOC_ROOTS = ["mod.ts", "kv.ts", "src", "adapters", "conformance", "server", "cli"];
const TEST_FILE = /(^|[_.])test\.[cm]?[jt]sx?$/;

/** The .ts files under `path` (or `path` itself when it is a file). */
function walk(path) {
  if (!existsSync(join(root, path))) return [];
  if (!statSync(join(root, path)).isDirectory()) return [path];
  return readdirSync(join(root, path)).flatMap((name) =>
    name.endsWith(".ts") || statSync(join(root, path, name)).isDirectory() ? walk(`${path}/${name}`) : []
  );
}

/** The roots to pass to `deno test --doc`; without PostgreSQL its adapter's examples are left out. */
async function docTestRoots() {
  const tests = DOC_ROOTS.flatMap(walk).filter((f) => TEST_FILE.test(f.split("/").pop()));
  if (tests.length > 0) throw new Error(`test files among the documented modules: ${tests.join(", ")}`);
  if (await reachable(5432)) return { roots: DOC_ROOTS, note: "" };
  const adapters = readdirSync(join(root, "adapters"), { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== "postgres").map((d) => `adapters/${d.name}`);
  return {
    roots: [...DOC_ROOTS.filter((r) => r !== "adapters"), ...adapters],
    note: " (PostgreSQL not reachable at 127.0.0.1:5432: adapters/postgres examples NOT run)",
  };
}

// Every example must show something: an example that passes without printing (and has no
// assert) shows nothing a reader could check, so it fails here.
async function docTests() {
  const { roots, note } = await docTestRoots();
  const lines = run(deno, ["test", "--doc", "-A", ...roots]).split("\n");
  const silent = [];
  let count = 0;
  for (let i = 1; i < lines.length; i++) {
    const m = /^file:\/\/(\S+)#(\d+)-(\d+)\.ts \.\.\. ok/.exec(lines[i]);
    if (!m) continue;
    count++;
    if (!lines[i - 1].startsWith("running ")) continue; // its output came between the two lines
    const [, file, from, to] = m;
    const block = readFileSync(file, "utf8").split("\n").slice(Number(from) - 1, Number(to)).join("\n");
    if (!/\bassert/.test(block)) silent.push(`${relative(root, file)}:${from}`);
  }
  if (silent.length > 0) {
    throw Object.assign(new Error("silent examples"), {
      stdout: `examples that neither print nor assert anything:\n${silent.join("\n")}\n`,
    });
  }
  return ` (${count} examples)${note}`;
}

// Examples marked `ts ignore` cannot run as doc tests because they register tests themselves
// (`testAdapter`, `testEngine`: a Deno.test inside a doc test). They are still type-checked,
// from a copy inside the repo (so `@kvq/kvq/...` resolves to this package). No other example
// may be ignored.
function ignoredExamples() {
  const dir = join(root, ".tmp", "doc-examples");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = [];
  const problems = [];
  for (const file of DOC_ROOTS.flatMap(walk)) {
    const lines = readFileSync(join(root, file), "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s*\*\s*```ts ignore\s*$/.test(lines[i])) continue;
      const body = [];
      for (i++; i < lines.length && !/^\s*\*\s*```\s*$/.test(lines[i]); i++) {
        body.push(lines[i].replace(/^\s*\* ?/, ""));
      }
      const code = body.join("\n");
      if (!/\btest(Adapter|Engine)\(/.test(code)) {
        problems.push(
          `${file}:${i + 1 - body.length}: a "ts ignore" example that registers no tests; make it run`,
        );
      }
      const copy = join(dir, `${file.replaceAll("/", "_")}_${i}.ts`);
      writeFileSync(copy, `${code}\n`);
      files.push(relative(root, copy));
    }
  }
  try {
    if (problems.length > 0) {
      throw Object.assign(new Error("ignored examples"), { stdout: problems.join("\n") + "\n" });
    }
    if (files.length > 0) run(deno, ["check", "--quiet", ...files]);
    return ` (${files.length} examples)`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const steps = [
  ["deno lint", () => void run(deno, ["lint"])],
  ["deno fmt --check", () => void run(deno, ["fmt", "--check"])],
  ["tsc --noEmit", () => void run(bin("tsc"), ["-p", "tsconfig.json", "--noEmit"])],
  ["deno check", () => void run(deno, ["check", ...entryFiles])],
  ["deno doc --lint (all entry points)", docLintAll],
  ["deno doc --lint (each entry point)", docLintEach],
  ["deno test --doc (every example runs)", docTests],
  ["deno check (ts ignore examples)", ignoredExamples],
  ["deno publish --dry-run", () => void run(deno, ["publish", "--dry-run", "--allow-dirty"])],
  ["build (npm)", () => void run(bin("node"), ["scripts/build.mjs"])],
  ["npm pack --dry-run", () => void run("npm", ["pack", "--dry-run", "--silent"])],
];
// `node scripts/check.mjs doc` runs only the steps whose name contains "doc".
const only = process.argv[2];
for (const [name, step] of steps.filter(([name]) => !only || name.includes(only))) {
  const started = Date.now();
  process.stdout.write(`check: ${name} ... `);
  try {
    const note = await step();
    console.log(
      `ok (${((Date.now() - started) / 1000).toFixed(1)} s)${typeof note === "string" ? note : ""}`,
    );
  } catch (e) {
    console.log("FAILED");
    if (!e.stdout && !e.stderr) console.log(String(e?.message ?? e));
    process.stdout.write(String(e.stdout ?? ""));
    process.stderr.write(String(e.stderr ?? ""));
    process.exit(1);
  }
}
console.log("check: all passed");
