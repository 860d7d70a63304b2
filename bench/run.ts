// The benchmark harness: runs every selected (system, scenario) pair `--runs` times, each in a fresh
// child process on the runtime that system needs, records medians as JSON lines in bench/results/,
// and regenerates docs/BENCHMARKS.md from them. Runs are interleaved: per scenario, round r runs every
// system once (each round starting one system later), so the runs of different systems sit side by
// side in time. Each run records the 1-minute load average before and after it; a busy scenario keeps
// one core busy with a spinning process the harness starts before the child and stops after it.
//
//   node bench/run.ts [--scale 1] [--runs 3] [--systems default|all|peers|kvq|baseline|<id,...>]
//                     [--scenarios all|<id or letter,...>] [--parallel 1] [--timeout <ms>]
//                     [--concurrency <n>] [--baseline <git-rev>] [--ci] [--no-report] [--list] [--install]
//
// `--ci` = `--scale 0.005 --runs 1 --parallel 2 --no-report`, every available system; writes
// results/ci-*.jsonl and never touches docs/. Systems whose service (Redis, PostgreSQL) is down or
// whose runtime is missing are skipped with a message. `--concurrency <n>` overrides every system's best
// concurrency (to find it by measurement); such runs go to results/sweep-*.jsonl, which the report
// does not show as rows. `--baseline <rev>` also runs every selected kvq system against the library of
// commit <rev> (extracted into .tmp/baseline-<rev>), as rows `<id>@<rev>` interleaved with the current
// ones: the report's before/after table compares each with its current row from the same run.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { connect } from "node:net";
import { cpus, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type Baseline, baselineVariant, gitCommit, prepareBaseline } from "./baseline.ts";
import { median, type RuntimeName } from "./lib.ts";
import { load1, loadFlags, type RunLoad } from "./load.ts";
import { info, Redis, unlinkMatching } from "./resp.ts";
import { type Scenario, scenarios, type Values } from "./scenarios.ts";
import { type Service, type Variant, variants } from "./systems.ts";

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = join(benchDir, "..");
const dataDir = join(benchDir, ".data");
const resultsDir = join(benchDir, "results");

// ---------------------------------------------------------------------------------------------
// Arguments

interface Args {
  scale: number;
  runs: number;
  systems: string;
  scenarios: string;
  parallel: number;
  timeoutMs: number;
  ci: boolean;
  report: boolean;
  list: boolean;
  installOnly: boolean;
  /** Overrides each system's best concurrency (a sweep to find it), when set. */
  concurrency?: number;
  /** A git revision whose kvq also runs, as `<id>@<rev>` rows beside the current ones. */
  baseline?: string;
}

function positiveInt(text: string | undefined, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`${flag} must be a positive integer, got ${text}`);
  }
  return n;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const has = (name: string) => argv.includes(`--${name}`);
  const ci = has("ci");
  const scale = Number(get("scale") ?? (ci ? 0.005 : 1));
  if (!(scale > 0)) {
    throw new RangeError(
      `--scale must be a positive number, got ${get("scale")}`,
    );
  }
  const runs = positiveInt(get("runs") ?? (ci ? "1" : "3"), "--runs");
  return {
    scale,
    runs,
    systems: get("systems") ?? (ci ? "all" : "default"),
    scenarios: get("scenarios") ?? "all",
    parallel: Math.max(1, Number(get("parallel") ?? (ci ? 2 : 1))),
    // A child's own watchdog fires at this; the parent kills it 15 s later if it is still there.
    timeoutMs: Number(
      get("timeout") ??
        (ci ? 60_000 : Math.max(60_000, 1_800_000 * Math.min(1, scale))),
    ),
    ci,
    report: !has("no-report") && !ci,
    list: has("list"),
    installOnly: has("install"),
    concurrency: get("concurrency") === undefined
      ? undefined
      : positiveInt(get("concurrency"), "--concurrency"),
    baseline: has("baseline") ? get("baseline") ?? "" : undefined,
  };
}

function selectVariants(spec: string): Variant[] {
  const parts = spec.split(",").map((s) => s.trim()).filter(Boolean);
  const out = new Set<Variant>();
  for (const p of parts) {
    const matched = p === "default"
      ? variants.filter((v) => v.byDefault)
      : p === "all"
      ? variants
      : p === "peers"
      ? variants.filter((v) => v.group === "peer")
      : p === "kvq"
      ? variants.filter((v) => v.group === "kvq")
      : p === "baseline"
      ? variants.filter((v) => v.group === "baseline")
      : p.endsWith("*")
      ? variants.filter((v) => v.id.startsWith(p.slice(0, -1)))
      : variants.filter((v) => v.id === p);
    if (matched.length === 0) {
      throw new RangeError(
        `--systems: "${p}" matches nothing (known: ${variants.map((v) => v.id).join(", ")})`,
      );
    }
    for (const v of matched) out.add(v);
  }
  return [...out]; // in the order asked for
}

function selectScenarios(spec: string): Scenario[] {
  if (spec === "all") return [...scenarios];
  const parts = spec.split(",").map((s) => s.trim()).filter(Boolean);
  const out = scenarios.filter((s) => parts.includes(s.id) || parts.includes(s.letter));
  const unknown = parts.filter((p) => !scenarios.some((s) => s.id === p || s.letter === p));
  if (unknown.length) {
    throw new RangeError(
      `--scenarios: unknown ${unknown.join(", ")} (known: ${scenarios.map((s) => s.id).join(", ")})`,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Environment: peers installed, runtimes present, services up

const bin = (name: string): string => {
  const local = join(root, "node_modules", ".bin", name);
  return existsSync(local) ? local : name;
};

function runtimeCommand(
  runtime: RuntimeName,
  child: string[],
): [string, string[]] {
  const script = join(benchDir, "child.ts");
  if (runtime === "node") {
    return [bin("node"), ["--expose-gc", script, ...child]];
  }
  if (runtime === "bun") return [bin("bun"), [script, ...child]];
  return [bin("deno"), [
    "run",
    "-A",
    "--unstable-kv",
    "--no-check",
    "--v8-flags=--expose-gc",
    script,
    ...child,
  ]];
}

function runtimeAvailable(runtime: RuntimeName): boolean {
  const [cmd] = runtimeCommand(runtime, []);
  const r = spawnSync(cmd, ["--version"], { stdio: "ignore" });
  return r.status === 0;
}

const installed = (pkg: string) => existsSync(join(benchDir, "node_modules", pkg, "package.json"));

/** Installs bench/'s own dependencies (the peers) with npm, inside bench/ only. */
export function installPeers(): boolean {
  console.log("bench: installing peers (npm install in bench/) ...");
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund"], {
    cwd: benchDir,
    stdio: "inherit",
  });
  return r.status === 0;
}

function serviceUp(service: Service): Promise<boolean> {
  const port = service === "redis" ? 6379 : 5432;
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

// ---------------------------------------------------------------------------------------------
// Redis settings for the appendfsync-always variant (always restored)

let restoreRedis: (() => Promise<void>) | null = null;

async function applyRedisConfig(
  settings: Readonly<Record<string, string>>,
): Promise<void> {
  const redis = await Redis.open();
  try {
    const saved: [string, string][] = [];
    for (const key of Object.keys(settings)) {
      const [, value] = (await redis.command("CONFIG", "GET", key)) as [
        string,
        string,
      ];
      saved.push([key, value]);
    }
    restoreRedis = async () => {
      restoreRedis = null;
      const r = await Redis.open();
      try {
        // appendfsync first, appendonly last: the reverse of how they were applied.
        for (const [key, value] of [...saved].reverse()) {
          await r.command("CONFIG", "SET", key, value);
        }
        console.log(
          `bench: Redis settings restored (${saved.map(([k, v]) => `${k}=${v}`).join(", ")})`,
        );
      } finally {
        r.close();
      }
    };
    for (const [key, value] of Object.entries(settings)) {
      await redis.command("CONFIG", "SET", key, value);
    }
    // Turning appendonly on starts an AOF rewrite; measure after it finished.
    for (let i = 0; i < 600; i++) {
      if (
        (await info(redis, "persistence", "aof_rewrite_in_progress")) !== "1"
      ) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(
      `bench: Redis settings applied (${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(", ")})`,
    );
  } finally {
    redis.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Children

interface ChildResult {
  variant: string;
  scenario: string;
  runtime: string;
  params?: Record<string, number>;
  values?: Values;
  info?: {
    version: string;
    backend: string;
    durability: string;
    notes?: string;
  };
  error?: string;
  ms?: number;
  /** The machine's 1-minute load average around the run (set by the parent). */
  load?: RunLoad;
}

const live = new Set<number>();

/**
 * Starts a process that keeps one core busy (a spin loop) until stopped: the busy-machine scenario's
 * fixed load. Returns the function that stops it and resolves once it is gone.
 */
function startSpinner(): () => Promise<void> {
  const spinner = spawn(bin("node"), ["-e", "for (;;) {}"], {
    stdio: "ignore",
    detached: true,
  });
  const pid = spinner.pid;
  if (pid) live.add(pid);
  const gone = new Promise<void>((resolve) => spinner.once("exit", () => resolve()));
  return async () => {
    if (pid) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch { /* already gone */ }
      live.delete(pid);
    }
    await gone;
  };
}

async function runChild(
  v: Variant,
  s: Scenario,
  args: Args,
  run: number,
): Promise<ChildResult> {
  const dir = join(dataDir, `${v.id}-${s.id}-${run}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const childArgs = [
    "--variant",
    v.id,
    "--scenario",
    s.id,
    "--scale",
    String(args.scale),
    "--dir",
    dir,
    "--timeout",
    String(args.timeoutMs),
    ...(args.concurrency ? ["--concurrency", String(args.concurrency)] : []),
  ];
  // A baseline row runs the current child as its base variant, importing kvq from the old checkout.
  if (v.baseline) {
    childArgs[1] = v.baseline.of;
    childArgs.push("--kvq-root", v.baseline.root);
  }
  const [cmd, cmdArgs] = runtimeCommand(v.runtime, childArgs);
  const before = load1();
  const stopSpinner = s.busy ? startSpinner() : null;
  const result = await new Promise<ChildResult>((resolve) => {
    const child = spawn(cmd, cmdArgs, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group, so a kill reaches anything it started
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    if (child.pid) live.add(child.pid);
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on(
      "data",
      (d: string) => (out = (out + d).slice(-200_000)),
    );
    child.stderr.setEncoding("utf8").on(
      "data",
      (d: string) => (err = (err + d).slice(-20_000)),
    );
    const killer = setTimeout(() => {
      if (child.pid) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch { /* already gone */ }
      }
    }, args.timeoutMs + 15_000);
    // A runtime that cannot be started (gone from node_modules/.bin mid-run) fails this run, not the harness.
    child.on("error", (e) => {
      err += `\ncannot start ${cmd}: ${e.message}`;
    });
    child.on("close", (code) => {
      clearTimeout(killer);
      if (child.pid) live.delete(child.pid);
      rmSync(dir, { recursive: true, force: true });
      const line = out.split("\n").reverse().find((l) => l.startsWith("@@RESULT "));
      if (line) {
        resolve(JSON.parse(line.slice("@@RESULT ".length)) as ChildResult);
        return;
      }
      const tail = (err || out).trim().split("\n").slice(-8).join("\n");
      resolve({
        variant: v.id,
        scenario: s.id,
        runtime: v.runtime,
        error: `exit ${code}, no result:\n${tail}`,
      });
    });
  });
  const after = load1();
  await stopSpinner?.();
  return { ...result, load: { before, after } };
}

// ---------------------------------------------------------------------------------------------
// Results

/** One line of a results file: the medians of one (system, scenario) over its runs. */
export interface ResultLine {
  kind: "result";
  runId: string;
  date: string;
  scale: number;
  variant: string;
  system: string;
  group: Variant["group"];
  /** "default" or "best" (the peer's documented fast settings; kvq's rows are tuned). */
  tuning?: Variant["tuning"];
  config: string;
  runtime: string;
  version: string;
  backend: string;
  durability: string;
  notes?: string;
  scenario: string;
  params: Record<string, number>;
  runs: Values[];
  median: Values;
  /** The machine's 1-minute load average before and after each run in `runs`, in the same order. */
  loads?: RunLoad[];
  /** Per run in `runs`: its load differs by more than 1 from the run beside it (just before or after). */
  loadFlags?: boolean[];
  /** The machine's 1-minute load average around each run that failed, in order (beside `errors`). */
  errorLoads?: RunLoad[];
  /** On a `--baseline` row: the current variant it is the "before" of, and the commit it ran. */
  baseline?: { of: string; rev: string };
  errors: string[];
  command: string;
}

/** The first line of a results file: the run and the machine. */
export interface RunLine {
  kind: "run";
  runId: string;
  date: string;
  scale: number;
  runs: number;
  argv: string[];
  host: { cpus: number; model: string; memGiB: number; kernel: string };
  /** The kvq commit measured (`git describe --always --dirty`), when bench/ is in a git checkout. */
  commit?: string;
  /** The command that reproduces the whole run. */
  command?: string;
  /** Runs were interleaved (round r runs every system once); older files ran each system's runs in a row. */
  interleaved?: boolean;
  /** The commit of the `--baseline` rows (abbreviated), when the run had them. */
  baseline?: string;
}

function medians(runs: Values[]): Values {
  const keys = new Set(runs.flatMap((r) => Object.keys(r)));
  const out: Values = {};
  for (const k of keys) {
    out[k] = median(runs.map((r) => r[k]).filter((x) => Number.isFinite(x)));
  }
  return out;
}

function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "-";
  return x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toPrecision(3);
}

function reproduce(v: Variant, s: Scenario, args: Args): string {
  const scale = args.scale === 1 ? "" : ` --scale ${args.scale}`;
  const c = args.concurrency ? ` --concurrency ${args.concurrency}` : "";
  const id = v.baseline?.of ?? v.id;
  const b = v.baseline ? ` --baseline ${v.baseline.rev}` : "";
  return `npm run bench -- --systems ${id} --scenarios ${s.id} --runs ${args.runs}${scale}${c}${b}`;
}

// ---------------------------------------------------------------------------------------------
// Main

async function cleanupLeftovers(
  selected: Variant[],
  up: Set<Service>,
): Promise<void> {
  if (up.has("redis") && selected.some((v) => v.needs.includes("redis"))) {
    try {
      const redis = await Redis.open();
      try {
        const n = await unlinkMatching(redis, "kvqbench*");
        if (n) {
          console.log(`bench: removed ${n} leftover Redis keys (kvqbench*)`);
        }
      } finally {
        redis.close();
      }
    } catch (e) {
      console.log(`bench: could not clean Redis: ${(e as Error).message}`);
    }
  }
  if (
    up.has("postgres") && selected.some((v) => v.needs.includes("postgres")) &&
    installed("pg")
  ) {
    try {
      const { dropBenchSchemas } = await import("./systems/_pg.ts");
      const n = await dropBenchSchemas();
      if (n) {
        console.log(
          `bench: dropped ${n} leftover PostgreSQL schemas (kvqbench_*)`,
        );
      }
    } catch (e) {
      console.log(`bench: could not clean PostgreSQL: ${(e as Error).message}`);
    }
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  let selected = selectVariants(args.systems);
  const chosen = selectScenarios(args.scenarios);
  let baseline: Baseline | undefined;
  if (args.baseline !== undefined) {
    baseline = prepareBaseline(root, args.baseline);
    const b = baseline;
    // Each kvq system's "before" row right after it, so a round runs them side by side.
    selected = selected.flatMap((v) => v.group === "kvq" ? [v, baselineVariant(v, b)] : [v]);
    console.log(`bench: baseline ${b.rev} from ${b.root}`);
  }

  if (args.list) {
    for (const v of variants) {
      console.log(
        `${v.byDefault ? "*" : " "} ${v.id.padEnd(18)} ${v.runtime.padEnd(5)} ${v.system}: ${v.config}`,
      );
    }
    console.log(
      "\nscenarios: " +
        scenarios.map((s) => `${s.id} (${s.letter})`).join(", "),
    );
    return 0;
  }

  const missingPkgs = [...new Set(selected.flatMap((v) => v.packages))].filter((
    p,
  ) => !installed(p));
  if (missingPkgs.length > 0 || args.installOnly) {
    if (!installPeers()) {
      console.log(
        "bench: npm install in bench/ failed; systems needing peers are skipped",
      );
    }
    if (args.installOnly) return 0;
  }

  const skipped: string[] = [];
  const up = new Set<Service>();
  for (const service of ["redis", "postgres"] as const) {
    if (await serviceUp(service)) up.add(service);
  }
  const haveRuntime = new Map<RuntimeName, boolean>();
  selected = selected.filter((v) => {
    if (!haveRuntime.has(v.runtime)) {
      haveRuntime.set(v.runtime, runtimeAvailable(v.runtime));
    }
    const why = !haveRuntime.get(v.runtime)
      ? `runtime ${v.runtime} not found`
      : v.needs.find((s) => !up.has(s))
      ? `${v.needs.find((s) => !up.has(s))} is not reachable on 127.0.0.1 (start it with scripts/services.sh)`
      : v.packages.find((p) => !installed(p))
      ? `package ${v.packages.find((p) => !installed(p))} is not installed in bench/ (npm run bench:install)`
      : null;
    if (why) skipped.push(`${v.id}: ${why}`);
    return !why;
  });
  for (const s of skipped) console.log(`bench: SKIP ${s}`);

  const runId = new Date().toISOString().replace(/[:.]/g, "-");
  mkdirSync(resultsDir, { recursive: true });
  const prefix = args.ci ? "ci-" : args.concurrency ? "sweep-" : "";
  const file = join(resultsDir, `${prefix}${runId}.jsonl`);
  const header: RunLine = {
    kind: "run",
    runId,
    date: new Date().toISOString(),
    scale: args.scale,
    runs: args.runs,
    argv: process.argv.slice(2),
    host: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? "?",
      memGiB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
    },
    commit: gitCommit(root),
    command: [
      "npm run bench",
      ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : []),
    ].join(" "),
    interleaved: true,
    ...(baseline ? { baseline: baseline.rev } : {}),
  };
  writeFileSync(file, JSON.stringify(header) + "\n");
  console.log(
    `bench: ${selected.length} systems × ${chosen.length} scenarios × ${args.runs} runs, scale ${args.scale} -> ${file}`,
  );

  await cleanupLeftovers(selected, up);

  // Per scenario, `runs` rounds; each round runs every system once, starting one system later than the
  // round before (so no system always runs first or after the same neighbour). With --parallel, two
  // users of one service never overlap: one variant changes Redis settings, and a graphile-worker
  // migrating a fresh schema NOTIFYs every other graphile-worker on the server, which then shuts down.
  const scenariosOf = (v: Variant) =>
    chosen.filter((s) =>
      (v.scenarios ?? scenarios.map((x) => x.id).filter((x) => x !== "fsync"))
        .includes(s.id) && (!s.processes || v.processes === true)
    );
  let failures = 0;
  const serviceBusy = new Map<Service, Promise<void>>();
  /** Runs `fn` once no other run using one of `needs` is running. */
  const exclusive = <T>(
    needs: readonly Service[],
    fn: () => Promise<T>,
  ): Promise<T> => {
    if (needs.length === 0) return fn();
    const mine = Promise.all(needs.map((n) => serviceBusy.get(n))).then(fn);
    const settled = mine.then(() => {}, () => {});
    for (const n of needs) serviceBusy.set(n, settled);
    return mine;
  };
  /** Every run's load in the order the runs started: the flags compare each with its neighbours. */
  const sequence: RunLoad[] = [];

  const runOne = async (
    v: Variant,
    s: Scenario,
    run: number,
  ): Promise<ChildResult & { seq: number }> => {
    const go = async () => {
      const r = await runChild(v, s, args, run);
      const seq = sequence.push(r.load!) - 1;
      const head = s.headline.metric;
      const shown = r.error
        ? `ERROR ${r.error.split("\n")[0]}`
        : `${fmt(r.values?.[head])} ${s.headline.unit}` +
          (r.values?.p99Ms !== undefined && s.id === "e-latency" ? `, p99 ${fmt(r.values.p99Ms)} ms` : "");
      console.log(
        `  ${v.id.padEnd(20)} ${s.id.padEnd(13)} run ${run}/${args.runs}: ${shown}  ` +
          `(load ${r.load!.before.toFixed(2)} -> ${r.load!.after.toFixed(2)})`,
      );
      if (r.error && r.error.includes("\n")) {
        console.log(
          r.error.split("\n").slice(1).map((l) => "    " + l).join("\n"),
        );
      }
      return { ...r, seq };
    };
    // The variant that changes Redis settings is wrapped in apply/restore.
    return await exclusive(v.needs, async () => {
      try {
        if (v.redisConfig) await applyRedisConfig(v.redisConfig);
        return await go();
      } finally {
        if (restoreRedis) await restoreRedis();
      }
    });
  };

  const record = async (
    v: Variant,
    s: Scenario,
    results: (ChildResult & { seq: number })[],
  ) => {
    const flags = loadFlags(sequence);
    const ok = results.filter((r) => !r.error && r.values);
    const failed = results.filter((r) => r.error);
    if (failed.length) failures++;
    const last = ok.at(-1);
    const line: ResultLine = {
      kind: "result",
      runId,
      date: new Date().toISOString(),
      scale: args.scale,
      variant: v.id,
      system: v.system,
      group: v.group,
      tuning: v.tuning,
      config: v.config,
      runtime: last?.runtime ?? results[0]?.runtime ?? v.runtime,
      version: last?.info?.version ?? "?",
      backend: last?.info?.backend ?? "?",
      durability: last?.info?.durability ?? "?",
      notes: last?.info?.notes,
      scenario: s.id,
      params: last?.params ?? {},
      runs: ok.map((r) => r.values!),
      median: medians(ok.map((r) => r.values!)),
      loads: ok.map((r) => r.load!),
      loadFlags: ok.map((r) => flags[r.seq]),
      errorLoads: failed.map((r) => r.load!),
      errors: failed.map((r) => r.error!),
      ...(v.baseline ? { baseline: { of: v.baseline.of, rev: v.baseline.rev } } : {}),
      command: reproduce(v, s, args),
    };
    await appendFile(file, JSON.stringify(line) + "\n");
  };

  try {
    for (const s of chosen) {
      const vs = selected.filter((v) => scenariosOf(v).includes(s));
      if (vs.length === 0) continue;
      const results = new Map<Variant, (ChildResult & { seq: number })[]>(
        vs.map((v) => [v, []]),
      );
      for (let run = 1; run <= args.runs; run++) {
        const shift = (run - 1) % vs.length;
        const round = [...vs.slice(shift), ...vs.slice(0, shift)];
        const worker = async () => {
          for (let v = round.shift(); v; v = round.shift()) {
            results.get(v)!.push(await runOne(v, s, run));
          }
        };
        await Promise.all(
          Array.from({ length: Math.min(args.parallel, round.length) }, worker),
        );
      }
      for (const v of vs) await record(v, s, results.get(v)!);
    }
  } finally {
    if (restoreRedis) await restoreRedis();
    await cleanupLeftovers(selected, up);
    rmSync(dataDir, { recursive: true, force: true });
  }

  console.log(`bench: results in ${file}`);
  if (skipped.length) {
    console.log(
      `bench: skipped ${skipped.length}: ${skipped.map((s) => s.split(":")[0]).join(", ")}`,
    );
  }
  if (args.report) {
    const { writeReport } = await import("./report.ts");
    console.log(`bench: wrote ${writeReport()}`);
  }
  if (failures) {
    console.log(
      `bench: ${failures} (system, scenario) pairs had errors (see above)`,
    );
  }
  // CI checks the harness works: any error fails it; timings are never asserted.
  return args.ci && failures > 0 ? 1 : 0;
}

const onSignal = () => {
  for (const pid of live) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch { /* gone */ }
  }
  const done = restoreRedis ? restoreRedis() : Promise.resolve();
  done.finally(() => process.exit(130));
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

process.exitCode = await main();
