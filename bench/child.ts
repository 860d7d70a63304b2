// One measured run: opens one system fresh, runs one scenario, prints one result line, exits.
// Started by run.ts as a child process on the runtime the system needs:
//   <runtime> bench/child.ts --variant <id> --scenario <id> --scale <x> --dir <path> --timeout <ms>
//                            [--concurrency <n>]   (instead of the variant's best concurrency)
//                            [--kvq-root <dir>]    (kvq systems: import the library from that checkout)
// The line starting with "@@RESULT " is the result (JSON); everything else is the system's own output.
import process from "node:process";
import { exit, type Instance, runtimeVersion, type SystemModule } from "./lib.ts";
import { scenario } from "./scenarios.ts";
import { variant } from "./systems.ts";

function arg(name: string, fallback?: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : fallback;
  if (value === undefined) throw new TypeError(`child.ts: missing --${name}`);
  return value;
}

function report(result: Record<string, unknown>, code: number): never {
  process.stdout.write(`\n@@RESULT ${JSON.stringify(result)}\n`);
  exit(code);
}

const started = Date.now();
const v = variant(arg("variant"));
const s = scenario(arg("scenario"));
const scale = Number(arg("scale", "1"));
const dir = arg("dir");
const timeoutMs = Number(arg("timeout", "600000"));
const base = { variant: v.id, scenario: s.id, runtime: runtimeVersion() };

// The child must end by itself: a watchdog reports a timeout and exits even if a system hangs.
setTimeout(
  () => report({ ...base, error: `timed out after ${timeoutMs} ms` }, 3),
  timeoutMs,
);

let inst: Instance | undefined;
try {
  const concurrency = process.argv.includes("--concurrency") ? Number(arg("concurrency")) : v.best;
  const params = s.params(scale, concurrency);
  if (s.id === "fsync") {
    const { measureFsync } = await import("./systems/fsync.ts");
    const values = await measureFsync(dir, params.n, params.budgetMs);
    report({
      ...base,
      params: { ...params, bulkChunk: 0 },
      values,
      info: {
        version: base.runtime,
        backend: "node:fs",
        durability: "fdatasync per op",
      },
      ms: Date.now() - started,
    }, 0);
  }
  const mod = await import(`./systems/${v.module}`) as SystemModule;
  const name = `kvqbench_${Date.now().toString(36)}_${process.pid}`;
  const kvqRoot = process.argv.includes("--kvq-root") ? arg("kvq-root") : undefined;
  const opened = await mod.open({
    dir,
    name,
    options: kvqRoot ? { ...v.options, root: kvqRoot } : v.options,
  });
  inst = opened.instance;
  const full = { ...params, bulkChunk: opened.info.bulkChunk ?? 1000 };
  const values = await s.run(inst, full, { variant: v.id, name, dir, kvqRoot });
  const closing = inst.close();
  inst = undefined;
  await Promise.race([closing, new Promise((r) => setTimeout(r, 60_000))]);
  report({
    ...base,
    params: full,
    values,
    info: opened.info,
    ms: Date.now() - started,
  }, 0);
} catch (e) {
  const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (inst) {
    await Promise.race([
      inst.close().catch(() => {}),
      new Promise((r) => setTimeout(r, 10_000)),
    ]);
  }
  report(
    { ...base, error, stack: e instanceof Error ? e.stack : undefined },
    1,
  );
}
