// The "before and after" section of docs/BENCHMARKS.md: each `run.ts --baseline <rev>` row (the kvq of
// an older commit, `<id>@<rev>`) beside the current row of the same system, scenario and run, as an
// after/before ratio of the medians; and the engine probe's CPU per job on both (bench/probe_compare.ts).
import { median } from "./lib.ts";
import type { RunLoad } from "./load.ts";
import type { ResultLine, RunLine } from "./run.ts";
import { scenarios } from "./scenarios.ts";
import { variants } from "./systems.ts";

/** One engine probe run (a line of results/probe-*.jsonl, written by bench/probe_compare.ts). */
export interface ProbeLine {
  kind: "probe";
  /** The probe session: every line of one `probe_compare.ts` invocation shares it. */
  runId: string;
  date: string;
  /** "after" (this checkout) or "before" (the baseline commit). */
  side: "before" | "after";
  /** The commit measured (abbreviated; the current one may end in -dirty). */
  commit: string;
  runtime: "node" | "bun";
  round: number;
  n: number;
  concurrency: number;
  jobsPerSec: number;
  cpuUsPerJob: number;
  load: RunLoad;
  command: string;
}

/** A verdict on one after/before pair: better, worse beyond noise, or within noise. */
export type Verdict = "faster" | "slower" | "within noise";

/**
 * Compares two sets of runs of one metric. Beyond noise means the medians differ by more than 5% and
 * the runs do not overlap (every run of one side beats every run of the other); else "within noise".
 */
export function verdict(
  before: number[],
  after: number[],
  better: "higher" | "lower",
): Verdict {
  if (before.length === 0 || after.length === 0) return "within noise";
  const mb = median(before), ma = median(after);
  const gain = better === "higher" ? ma / mb : mb / ma;
  if (Math.abs(gain - 1) <= 0.05) return "within noise";
  const up = better === "higher" ? 1 : -1;
  const apart = gain > 1
    ? Math.min(...after.map((x) => x * up)) >
      Math.max(...before.map((x) => x * up))
    : Math.max(...after.map((x) => x * up)) <
      Math.min(...before.map((x) => x * up));
  return apart ? (gain > 1 ? "faster" : "slower") : "within noise";
}

const num = (x: number | undefined): string => {
  if (x === undefined || !Number.isFinite(x)) return "–";
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 100) return String(Math.round(x));
  return x.toPrecision(3);
};
const loads = (ls: RunLoad[] | undefined): string =>
  ls?.length ? ls.map((l) => `${l.before.toFixed(1)}→${l.after.toFixed(1)}`).join(" / ") : "–";
const mark = (v: Verdict): string => v === "slower" ? "**slower**" : v;

interface Row {
  what: string;
  system: string;
  unit: string;
  better: "higher" | "lower";
  before: number[];
  after: number[];
  beforeMedian: number;
  afterMedian: number;
  beforeLoads?: RunLoad[];
  afterLoads?: RunLoad[];
}

/** The pairs (baseline row, current row of the same run) of the newest baseline rev, newest run first. */
function pairs(
  results: ResultLine[],
  rev: string,
): Map<string, [ResultLine, ResultLine]> {
  const out = new Map<string, [ResultLine, ResultLine]>();
  const olds = results.filter((r) => r.baseline?.rev === rev && r.runs.length > 0)
    .sort((a, b) => b.date.localeCompare(a.date));
  for (const old of olds) {
    const key = `${old.baseline!.of}|${old.scenario}`;
    if (out.has(key)) continue;
    const cur = results.find((r) =>
      r.runId === old.runId && r.variant === old.baseline!.of &&
      r.scenario === old.scenario &&
      r.runs.length > 0
    );
    if (cur) out.set(key, [old, cur]);
  }
  return out;
}

function rowsOf(found: Map<string, [ResultLine, ResultLine]>): Row[] {
  const rows: Row[] = [];
  // In the order of systems.ts (default store on Node, on Bun, ..., memory).
  const order = (id: string) => variants.findIndex((v) => v.id === id);
  const systems = [...new Set([...found.values()].map(([, c]) => c.variant))]
    .sort((a, b) => order(a) - order(b));
  for (const s of scenarios) {
    const metrics = [
      s.headline.metric,
      ...(s.id === "e-latency" ? ["p99Ms"] : []),
    ];
    for (const system of systems) {
      const pair = found.get(`${system}|${s.id}`);
      if (!pair) continue;
      const [old, cur] = pair;
      for (const m of metrics) {
        const pick = (r: ResultLine) => r.runs.map((v) => v[m]).filter((x) => Number.isFinite(x));
        rows.push({
          what: `(${s.letter}) ${s.id}${m === s.headline.metric ? "" : ` ${m.replace("Ms", "")}`}`,
          system,
          unit: s.headline.unit,
          better: s.headline.better,
          before: pick(old),
          after: pick(cur),
          beforeMedian: old.median[m],
          afterMedian: cur.median[m],
          beforeLoads: old.loads,
          afterLoads: cur.loads,
        });
      }
    }
  }
  // End to end (c)+(d): adding N jobs in bulk, then draining them, from the two medians.
  for (const system of systems) {
    const c = found.get(`${system}|c-bulk`),
      d = found.get(`${system}|d-drain-best`);
    if (!c || !d) continue;
    const e2e = (bulk: ResultLine, drain: ResultLine) =>
      1 / (1 / bulk.median.opsPerSec + 1 / drain.median.jobsPerSec);
    rows.push({
      what: "(c)+(d) end to end",
      system,
      unit: "jobs/s",
      better: "higher",
      before: [],
      after: [],
      beforeMedian: e2e(c[0], d[0]),
      afterMedian: e2e(c[1], d[1]),
    });
  }
  return rows;
}

function probeTable(probes: ProbeLine[]): string[] {
  const newest = [...probes].sort((a, b) => a.date.localeCompare(b.date)).at(
    -1,
  );
  if (!newest) {
    return [
      "Engine probe: not measured yet (`node bench/probe_compare.ts`).",
      "",
    ];
  }
  const mine = probes.filter((p) => p.runId === newest.runId);
  const out = [
    `Engine probe (\`bench/engine_probe.ts ${newest.n} ${newest.concurrency}\`: ${newest.n} no-op jobs on the ` +
    "memory store, no I/O; the process's CPU time per drained job), before and after, interleaved " +
    `(round r runs before and after on each runtime), ${newest.date.slice(0, 16).replace("T", " ")} UTC. ` +
    `Reproduce: \`${newest.command}\`.`,
    "",
    "| runtime | before µs CPU/job (median) | after µs CPU/job (median) | after / before | before runs | after runs | " +
    "before jobs/s | after jobs/s | load 1-min, before→after, per run (before; after) | verdict |",
    `|${" --- |".repeat(10)}`,
  ];
  for (const rt of ["node", "bun"] as const) {
    const side = (s: "before" | "after") => mine.filter((p) => p.runtime === rt && p.side === s);
    const b = side("before"), a = side("after");
    if (!b.length || !a.length) continue;
    const cb = b.map((p) => p.cpuUsPerJob), ca = a.map((p) => p.cpuUsPerJob);
    out.push(
      `| ${rt} | ${num(median(cb))} | ${num(median(ca))} | ${(median(ca) / median(cb)).toFixed(2)}× | ` +
        `${cb.map(num).join(" / ")} | ${ca.map(num).join(" / ")} | ${
          num(median(b.map((p) => p.jobsPerSec)))
        } | ` +
        `${num(median(a.map((p) => p.jobsPerSec)))} | ${loads(b.map((p) => p.load))}; ${
          loads(a.map((p) => p.load))
        } | ${mark(verdict(cb, ca, "lower"))} |`,
    );
  }
  out.push("");
  return out;
}

/**
 * The section's markdown ("" when no run had a baseline): the table of the newest baseline commit's
 * rows against the current rows measured in the same runs, and the engine probe's before/after.
 */
export function beforeAfterSection(
  results: ResultLine[],
  runs: RunLine[],
  probes: ProbeLine[],
): string {
  const withBaseline = runs.filter((r) => r.baseline).sort((a, b) => a.date.localeCompare(b.date));
  const rev = withBaseline.at(-1)?.baseline;
  if (!rev && probes.length === 0) return "";
  const out = ["## Engine v2: before and after", ""];
  if (rev) {
    const found = pairs(results, rev);
    const used = [...new Set([...found.values()].map(([o]) => o.runId))];
    const cmds = used.map((id) => runs.find((r) => r.runId === id)?.command)
      .filter((c) => c);
    const after = [
      ...new Set(
        used.map((id) => runs.find((r) => r.runId === id)?.commit).filter((c) => c),
      ),
    ];
    const rows = rowsOf(found);
    out.push(
      `"Before" is kvq at \`${rev}\`, "after" is kvq at ${
        after.map((c) => `\`${c}\``).join(", ")
      }: the same ` +
        "harness child runs each system once against each checkout (`--baseline` extracts the old commit into " +
        "`.tmp/baseline-<rev>`), the two rows side by side in every round. Medians of the runs listed; " +
        "after / before is the ratio of the medians (for jobs/s above 1 is faster, for ms below 1 is faster). " +
        "**slower** / faster = the medians differ by more than 5% and the runs do not overlap; else within " +
        "noise. The end-to-end row is derived from the (c) and (d) medians, so it has no runs and no verdict.",
      "",
      `Reproduce: ${cmds.map((c) => `\`${c}\``).join(", ")}.`,
      "",
      "| scenario | system | unit | before (median) | after (median) | after / before | before runs | after runs | " +
        "load 1-min before | load 1-min after | verdict |",
      `|${" --- |".repeat(11)}`,
    );
    for (const r of rows) {
      const v = r.before.length ? mark(verdict(r.before, r.after, r.better)) : "–";
      out.push(
        `| ${r.what} | ${r.system} | ${r.unit} | ${num(r.beforeMedian)} | ${num(r.afterMedian)} | ` +
          `${(r.afterMedian / r.beforeMedian).toFixed(2)}× | ${r.before.map(num).join(" / ") || "–"} | ` +
          `${r.after.map(num).join(" / ") || "–"} | ${loads(r.beforeLoads)} | ${
            loads(r.afterLoads)
          } | ${v} |`,
      );
    }
    const slower = rows.filter((r) => r.before.length && verdict(r.before, r.after, r.better) === "slower");
    out.push(
      "",
      slower.length
        ? `Slower after than before, beyond noise: ${
          slower.map((r) => `${r.what} on ${r.system} (${(r.afterMedian / r.beforeMedian).toFixed(2)}×)`)
            .join(
              "; ",
            )
        }.`
        : "No row is slower after than before beyond noise.",
      "",
    );
  }
  out.push(...probeTable(probes));
  return out.join("\n");
}
