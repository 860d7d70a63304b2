// The engine probe (bench/engine_probe.ts) on an older commit and on this checkout, interleaved: per
// round, on each runtime, one run of each side (the side that goes first alternates by round). The old
// side runs this checkout's probe copied into the baseline checkout (it uses the public Queue API
// only), so both measure the same thing. Appends one JSON line per run to results/probe-<date>.jsonl
// and regenerates docs/BENCHMARKS.md (its before/after section shows the CPU µs per job).
//
//   node bench/probe_compare.ts --baseline <git-rev> [--runs 3] [--n 100000] [--concurrency 256]
//                               [--runtimes node,bun] [--no-report]
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { gitCommit, prepareBaseline } from "./baseline.ts";
import type { ProbeLine } from "./before_after.ts";
import { load1 } from "./load.ts";

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = join(benchDir, "..");

/** Raised when a probe run prints no result line. */
export class ProbeError extends Error {
  override name = "ProbeError";
}

const argv = process.argv.slice(2);
const get = (name: string): string | undefined => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
};
const count = (name: string, fallback: number): number => {
  const n = Number(get(name) ?? fallback);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `--${name} must be a positive integer, got ${get(name)}`,
    );
  }
  return n;
};
const rev = get("baseline");
if (!rev) {
  throw new TypeError("probe_compare.ts: --baseline <git-rev> is required");
}
const runs = count("runs", 3);
const n = count("n", 100_000);
const concurrency = count("concurrency", 256);
const runtimes = (get("runtimes") ?? "node,bun").split(",").map((r) => r.trim());
for (const r of runtimes) {
  if (r !== "node" && r !== "bun") {
    throw new RangeError(`--runtimes: node or bun, got ${r}`);
  }
}

const baseline = prepareBaseline(root, rev);
const oldProbe = join(baseline.root, "bench", "engine_probe.current.ts");
copyFileSync(join(benchDir, "engine_probe.ts"), oldProbe);
const probes = { before: oldProbe, after: join(benchDir, "engine_probe.ts") };
const commits = { before: baseline.rev, after: gitCommit(root) ?? "?" };
const bin = (name: string) => {
  const local = join(root, "node_modules", ".bin", name);
  return existsSync(local) ? local : name;
};

// "node: add … drain in … ms: 12345 jobs/s, 12.3 µs CPU/job"
const RESULT = /drain in \d+ ms: (\d+) jobs\/s, ([\d.]+) µs CPU\/job/;

function probe(
  runtime: "node" | "bun",
  side: "before" | "after",
): Omit<ProbeLine, "round" | "runId" | "command"> {
  const before = load1();
  const r = spawnSync(bin(runtime), [
    probes[side],
    String(n),
    String(concurrency),
  ], {
    encoding: "utf8",
    timeout: 600_000,
  });
  const after = load1();
  const m = RESULT.exec(r.stdout ?? "");
  if (!m) {
    throw new ProbeError(
      `${runtime} ${side}: no result (exit ${r.status}): ${(r.stderr || r.stdout || "").trim().slice(-500)}`,
    );
  }
  return {
    kind: "probe",
    date: new Date().toISOString(),
    side,
    commit: commits[side],
    runtime,
    n,
    concurrency,
    jobsPerSec: Number(m[1]),
    cpuUsPerJob: Number(m[2]),
    load: { before, after },
  };
}

const runId = new Date().toISOString().replace(/[:.]/g, "-");
const resultsDir = join(benchDir, "results");
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `probe-${runId}.jsonl`);
writeFileSync(file, "");
const command = `node bench/probe_compare.ts ${argv.filter((a) => a !== "--no-report").join(" ")}`.trim();
console.log(
  `probe: ${baseline.rev} (before) vs ${commits.after} (after), ${runs} rounds -> ${file}`,
);
for (let round = 1; round <= runs; round++) {
  const sides = round % 2 === 1 ? (["before", "after"] as const) : (["after", "before"] as const);
  for (const runtime of runtimes as ("node" | "bun")[]) {
    for (const side of sides) {
      const line: ProbeLine = {
        ...probe(runtime, side),
        round,
        runId,
        command,
      };
      await appendFile(file, JSON.stringify(line) + "\n");
      console.log(
        `  ${runtime.padEnd(4)} ${side.padEnd(6)} round ${round}/${runs}: ${line.cpuUsPerJob} µs CPU/job, ` +
          `${line.jobsPerSec} jobs/s (load ${line.load.before.toFixed(2)} -> ${line.load.after.toFixed(2)})`,
      );
    }
  }
}
if (!argv.includes("--no-report")) {
  const { writeReport } = await import("./report.ts");
  console.log(`probe: wrote ${writeReport()}`);
}
