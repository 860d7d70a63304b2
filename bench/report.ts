// Writes docs/BENCHMARKS.md from bench/results/*.jsonl (CI files, ci-*.jsonl, and concurrency sweeps,
// sweep-*.jsonl, are not shown as rows). For each
// (system, scenario) it shows the result at the largest scale measured, newest first; a later partial
// run (e.g. only kvq) therefore updates its own rows and keeps the peers' rows.
//
//   node bench/report.ts            (also run at the end of `npm run bench`)
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { beforeAfterSection, type ProbeLine } from "./before_after.ts";
import { median } from "./lib.ts";
import type { ResultLine, RunLine } from "./run.ts";
import { type Scenario, scenarios } from "./scenarios.ts";
import { variants } from "./systems.ts";

const benchDir = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(benchDir, "results");
const docPath = join(benchDir, "..", "docs", "BENCHMARKS.md");

/** Every result, run header and engine probe run in bench/results (not CI runs). */
export function loadResults(
  dir: string = resultsDir,
): { results: ResultLine[]; runs: RunLine[]; probes: ProbeLine[] } {
  const results: ResultLine[] = [];
  const runs: RunLine[] = [];
  const probes: ProbeLine[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) =>
      f.endsWith(".jsonl") && !f.startsWith("ci-") && !f.startsWith("sweep-")
    ).sort();
  } catch { /* no results yet */ }
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as ResultLine | RunLine | ProbeLine;
        if (r.kind === "result") results.push(r);
        else if (r.kind === "run") runs.push(r);
        else if (r.kind === "probe") probes.push(r);
      } catch { /* a torn last line of an interrupted run */ }
    }
  }
  return { results, runs, probes };
}

/** The result shown for each (variant, scenario): largest scale, then newest; failures only if nothing else. */
export function pick(results: ResultLine[]): Map<string, ResultLine> {
  const best = new Map<string, ResultLine>();
  for (const r of results) {
    const key = `${r.variant}|${r.scenario}`;
    const cur = best.get(key);
    const ok = r.runs.length > 0;
    const curOk = cur ? cur.runs.length > 0 : false;
    const better = !cur || (ok && !curOk) ||
      (ok === curOk &&
        (r.scale > cur.scale || (r.scale === cur.scale && r.date > cur.date)));
    if (better) best.set(key, r);
  }
  return best;
}

const num = (x: number | undefined, digits = 3): string => {
  if (x === undefined || !Number.isFinite(x)) return "–";
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 100) return String(Math.round(x));
  return x.toPrecision(digits);
};
const ratio = (
  x: number | undefined,
): string => (x === undefined || !Number.isFinite(x) ? "–" : `${x.toFixed(2)}×`);
const cell = (s: string | undefined): string => (s ?? "").replace(/\|/g, "\\|");

/** Host of each run, and the host of the newest run (the machine the doc describes). */
let hostOf = new Map<string, string>();
/** Each run's header, by run id. */
let runOf = new Map<string, RunLine>();
let currentHost = "";

/** True when a row was measured on another machine than the newest run's: never compared with it. */
function foreign(r: ResultLine): boolean {
  const h = hostOf.get(r.runId);
  return h !== undefined && h !== currentHost;
}

/** The kvq row a peer is compared with: kvq's default store on the peer's runtime (else on Node). */
function referenceFor(
  peer: ResultLine,
  rows: Map<string, ResultLine>,
  s: Scenario,
): ResultLine | undefined {
  const rt = peer.runtime.split(" ")[0];
  // The multi-process scenarios run only on shared stores: kvq there is its PostgreSQL store.
  const store = s.processes ? "pg" : "store";
  const r = rows.get(`kvq-${store}-${rt}|${s.id}`) ??
    rows.get(`kvq-${store}-node|${s.id}`);
  return r && r.runs.length ? r : undefined;
}

function kvqOverPeer(
  kvq: ResultLine | undefined,
  peer: ResultLine,
  s: Scenario,
): number | undefined {
  if (!kvq || foreign(kvq) || foreign(peer)) return undefined;
  const a = kvq.median[s.headline.metric];
  const b = peer.median[s.headline.metric];
  return b ? a / b : undefined;
}

/** "default", "**best**", or "tuned" for kvq (its concurrency is tuned in every row). */
function tuningOf(r: ResultLine): string {
  if (r.group === "kvq") return "tuned";
  if (r.group === "baseline") return "–";
  return r.tuning === "best" ? "**best**" : "default";
}

/** Each run's 1-minute load average before→after, ⚑ where it differs by > 1 from the run beside it. */
function loadCell(r: ResultLine): string {
  if (!r.loads || r.loads.length === 0) return "not recorded";
  return r.loads.map((l, i) => `${l.before.toFixed(1)}→${l.after.toFixed(1)}${r.loadFlags?.[i] ? " ⚑" : ""}`)
    .join(" / ");
}

/** When a row was measured (UTC, to the minute), and whether its runs were interleaved with the others. */
function measured(r: ResultLine): string {
  const run = runOf.get(r.runId);
  return `${r.date.slice(0, 16).replace("T", " ")}${run?.interleaved ? "" : " (runs in a row)"}`;
}

/** The commands of the runs a table's rows come from. */
function reproduceTable(rows: ResultLine[]): string {
  const cmds = [
    ...new Set(rows.map((r) => runOf.get(r.runId)?.command ?? r.command)),
  ];
  return cmds.map((c) => `\`${c}\``).join(", ");
}

function extraColumns(
  s: Scenario,
): { title: string; value: (r: ResultLine) => string }[] {
  if (s.id.startsWith("e-latency")) {
    return [
      { title: "p99 ms", value: (r) => num(r.median.p99Ms) },
      { title: "samples/run", value: (r) => num(r.median.samples) },
    ];
  }
  if (s.id === "g-memory") {
    return [
      { title: "RSS MiB", value: (r) => num(r.median.rssMiB) },
      {
        title: "server bytes/job",
        value: (r) => num(r.median.serverBytesPerJob),
      },
      { title: "fill jobs/s", value: (r) => num(r.median.fillJobsPerSec) },
    ];
  }
  if (s.id.startsWith("d-")) {
    return [{
      title: "drained/run",
      value: (r) => `${num(r.median.drained)}${r.median.complete === 1 ? "" : " (budget hit)"}`,
    }];
  }
  if (s.id === "fsync") {
    return [
      { title: "p50 ms/op", value: (r) => num(r.median.p50Ms) },
      {
        title: "append + fdatasync ops/s",
        value: (r) => num(r.median.appendOpsPerSec),
      },
    ];
  }
  return [];
}

function table(s: Scenario, rows: Map<string, ResultLine>): string {
  const mine = variants.map((v) => rows.get(`${v.id}|${s.id}`)).filter((
    r,
  ): r is ResultLine => !!r);
  const ok = mine.filter((r) => r.runs.length > 0);
  const out: string[] = [];
  const extra = extraColumns(s);
  const h = s.headline;
  out.push(
    `| system | tuning | config | runtime | version | durability | N | c | **${h.unit}** (median) | runs | ` +
      `load 1-min, before→after, per run | measured | ${extra.map((e) => e.title).join(" | ")}${
        extra.length ? " | " : ""
      }kvq / peer |`,
  );
  out.push(`|${" --- |".repeat(13 + extra.length)}`);
  for (const r of ok) {
    const kvq = r.group === "peer" ? referenceFor(r, rows, s) : undefined;
    const runs = r.runs.map((v) => num(v[h.metric])).join(" / ");
    const n = s.id.startsWith("f-")
      ? `${num(r.params.n)} of ${num(r.params.backlog + r.params.n)}`
      : num(r.params.n);
    out.push(
      `| ${r.group === "kvq" ? "**kvq**" : cell(r.system)}${foreign(r) ? " †" : ""} | ${tuningOf(r)} | ${
        cell(r.config)
      } | ${cell(r.runtime)} | ${cell(r.version)} | ${cell(r.durability)} | ${n} | ${
        r.params.concurrency || "–"
      } | **${num(r.median[h.metric])}** | ${runs} | ${loadCell(r)} | ${measured(r)} | ${
        extra.map((e) => e.value(r)).join(" | ")
      }${extra.length ? " | " : ""}${r.group === "peer" ? ratio(kvqOverPeer(kvq, r, s)) : "–"} |`,
    );
  }
  if (ok.length === 0) {
    out.push(`| (not measured yet) |${" |".repeat(12 + extra.length)}`);
  }
  const scales = [...new Set(ok.map((r) => r.scale))];
  const notes = ok.filter((r) => r.notes).map((r) => `\`${r.variant}\`: ${r.notes}`);
  const failed = mine.filter((r) => r.runs.length === 0);
  let text = `### ${s.letter === "-" ? "Baseline" : `(${s.letter})`}: ${s.title}\n\n${out.join("\n")}\n\n`;
  text += `Reproduce: ${reproduceTable(ok)}` +
    (scales.some((x) => x !== 1) ? ` (rows measured at scale ${scales.join(", ")})` : "") +
    `. ${h.better === "higher" ? "Higher is better" : "Lower is better"}; kvq / peer compares the headline ` +
    `median of kvq's default store on the peer's runtime with the peer's row. ⚑ marks a run whose load ` +
    `differs by more than 1 from the run beside it.\n`;
  const others = ok.filter(foreign);
  if (others.length) {
    text += `\n† Measured on another machine (${
      [...new Set(others.map((r) => hostOf.get(r.runId)))].join(", ")
    }, ${
      [...new Set(others.map((r) => r.date.slice(0, 10)))].join(", ")
    }): not comparable with the other rows, ` +
      "so no ratio; kept until that system is measured again here.\n";
  }
  if (notes.length && s.id !== "fsync") {
    text += `\nNotes: ${[...new Set(notes)].join("; ")}.\n`;
  }
  if (failed.length) {
    text += `\nNot measured: ${
      failed.map((r) => `\`${r.variant}\` (${cell(r.errors[0]?.split("\n")[0] ?? "error")})`).join("; ")
    }.\n`;
  }
  return text;
}

interface Target {
  what: string;
  kvq: string;
  against: string;
  need: string;
  status: string;
}

/** A measured row on this machine, or undefined. */
function measuredRow(
  rows: Map<string, ResultLine>,
  variant: string,
  scenario: string,
): ResultLine | undefined {
  const r = rows.get(`${variant}|${scenario}`);
  return r && r.runs.length && !foreign(r) ? r : undefined;
}

/** The peers, in the registry's order, each with its variants. */
function peers(): { system: string; ids: string[] }[] {
  const out: { system: string; ids: string[] }[] = [];
  for (const v of variants.filter((x) => x.group === "peer")) {
    const p = out.find((x) => x.system === v.system);
    if (p) p.ids.push(v.id);
    else out.push({ system: v.system, ids: [v.id] });
  }
  return out;
}

/**
 * A peer's row to compare with in a scenario: the fastest of its best-tuned rows (its documented fast
 * settings) and its default row (the first listed, same durability), so a documented setting that is
 * slower on this machine never makes the peer look slower than its defaults.
 */
function peerBest(
  rows: Map<string, ResultLine>,
  system: string,
  s: Scenario,
): { best?: ResultLine; dflt?: ResultLine } {
  const ids = peers().find((p) => p.system === system)?.ids ?? [];
  const got = ids.map((id) => measuredRow(rows, id, s.id)).filter((
    r,
  ): r is ResultLine => !!r);
  const dflt = got.find((r) => r.variant === ids[0]);
  const value = (r: ResultLine) => r.median[s.headline.metric] * (s.headline.better === "higher" ? 1 : -1);
  const candidates = got.filter((r) => r.tuning === "best" || r === dflt).sort((
    a,
    b,
  ) => value(b) - value(a));
  return { best: candidates[0], dflt };
}

const KVQ_STORES = ["kvq-store-node", "kvq-store-bun"];

/** " (different runs)" when the rows were not measured in the same run, else "". */
function sameRunNote(...rs: (ResultLine | undefined)[]): string {
  const ids = new Set(
    rs.filter((r): r is ResultLine => !!r).map((r) => r.runId),
  );
  return ids.size > 1 ? " (rows from different runs)" : "";
}

/** Median load of a row's runs (mean of before and after), as text. */
function rowLoad(r: ResultLine | undefined): string {
  if (!r?.loads?.length) return "–";
  const m = median(r.loads.map((l) => (l.before + l.after) / 2));
  return `${m.toFixed(1)}${r.loadFlags?.some((f) => f) ? " ⚑" : ""}`;
}

/** The headline: kvq's default stores against each peer's best row, per throughput scenario. */
function headline(rows: Map<string, ResultLine>): string {
  const out: string[] = [];
  for (const id of ["d-drain-best", "d-drain-busy", "c-bulk"]) {
    const s = scenarios.find((x) => x.id === id)!;
    const kvq = KVQ_STORES.map((k) => measuredRow(rows, k, id));
    out.push(`### (${s.letter}) ${s.title}`, "");
    out.push(
      "| peer | its best row | peer " + s.headline.unit +
        " (best) | load | peer default | " +
        KVQ_STORES.map((k) =>
          `${k} ${num(kvq[KVQ_STORES.indexOf(k)]?.median[s.headline.metric])}: kvq / peer`
        )
          .join(" | ") +
        " |",
    );
    out.push(`|${" --- |".repeat(5 + KVQ_STORES.length)}`);
    const used: ResultLine[] = kvq.filter((r): r is ResultLine => !!r);
    for (const p of peers()) {
      const { best, dflt } = peerBest(rows, p.system, s);
      if (!best) continue;
      used.push(best, ...(dflt ? [dflt] : []));
      const b = best.median[s.headline.metric];
      out.push(
        `| ${cell(p.system)} | \`${best.variant}\`: ${cell(best.config)}, c ${
          best.params.concurrency || "–"
        } | **${num(b)}** | ${rowLoad(best)} | ${
          dflt && dflt !== best ? num(dflt.median[s.headline.metric]) : "–"
        } | ` +
          kvq.map((
            k,
          ) => (k ? `**${ratio(k.median[s.headline.metric] / b)}**${sameRunNote(k, best)}` : "–")).join(
            " | ",
          ) + " |",
      );
    }
    out.push(
      "",
      `Reproduce: ${used.length ? reproduceTable(used) : "(not measured yet)"}.`,
      "",
    );
  }
  return out.join("\n");
}

function targets(rows: Map<string, ResultLine>): Target[] {
  const get = (variant: string, scenario: string) => measuredRow(rows, variant, scenario);
  const out: Target[] = [];
  const status = (have: number | undefined, need: number, higher: boolean) =>
    have === undefined || !Number.isFinite(have)
      ? "pending"
      : (higher ? have >= need : have <= need)
      ? "**met**"
      : "**not met**";
  // A ratio of rows not measured side by side is shown but never judged.
  const verdict = (x: number | undefined, need: number, note = "") =>
    x === undefined || !Number.isFinite(x)
      ? "pending"
      : note
      ? `${ratio(x)}, not judged${note}`
      : `${ratio(x)} ${status(x, need, true)}`;
  const scen = (id: string) => scenarios.find((x) => x.id === id)!;
  const vsPeerBest = (
    k: string,
    id: string,
    system: string,
    need: number,
    what: string,
  ) => {
    const mine = get(k, id);
    const { best } = peerBest(rows, system, scen(id));
    const a = mine?.median[scen(id).headline.metric];
    const b = best?.median[scen(id).headline.metric];
    out.push({
      what: `${what}, ${k}`,
      kvq: num(a),
      against: best ? `${system} best row (\`${best.variant}\`) ${num(b)}` : `${system}: pending`,
      need: `≥ ${need}×`,
      status: verdict(
        a && b ? a / b : undefined,
        need,
        sameRunNote(mine, best),
      ),
    });
  };
  for (const k of KVQ_STORES) {
    vsPeerBest(
      k,
      "d-drain-best",
      "graphile-worker",
      2,
      "(d) drain 100,000 queued (jobs/s)",
    );
    vsPeerBest(
      k,
      "d-drain-best",
      "pg-boss",
      2,
      "(d) drain 100,000 queued (jobs/s)",
    );
  }
  for (const k of KVQ_STORES) {
    vsPeerBest(
      k,
      "d-drain-busy",
      "graphile-worker",
      1.5,
      "(d) drain, one core kept busy (jobs/s)",
    );
    vsPeerBest(
      k,
      "d-drain-busy",
      "pg-boss",
      1.5,
      "(d) drain, one core kept busy (jobs/s)",
    );
  }
  for (const k of KVQ_STORES) {
    vsPeerBest(
      k,
      "c-bulk",
      "graphile-worker",
      2,
      "(c) bulk add of 100,000 vs addJobs (jobs/s)",
    );
  }
  const endToEnd = (variant: string) => {
    const c = get(variant, "c-bulk");
    const d = get(variant, "d-drain-best");
    const x = c && d ? 1 / (1 / c.median.opsPerSec + 1 / d.median.jobsPerSec) : undefined;
    return { x, rows: [c, d] };
  };
  const pj = endToEnd("plainjob");
  for (const k of KVQ_STORES) {
    const e = endToEnd(k);
    out.push({
      what: `(c)+(d) bulk add + drain, end to end (jobs/s), ${k}`,
      kvq: num(e.x),
      against: `plainjob default (not power-safe) ${num(pj.x)}`,
      need: "≥ 3×",
      status: verdict(
        e.x && pj.x ? e.x / pj.x : undefined,
        3,
        sameRunNote(...e.rows, ...pj.rows),
      ),
    });
  }
  const fsync = get("fsync", "fsync");
  const rate = fsync?.median.opsPerSec;
  for (const k of KVQ_STORES) {
    const b64 = get(k, "b-add64");
    const b8 = get(k, "b-add8");
    out.push({
      what: `(b) 64 producers, awaited single adds (jobs/s), ${k}`,
      kvq: num(b64?.median.opsPerSec),
      against: `fsync-per-op rate (4 KiB overwrite + fdatasync) ${num(rate)}`,
      need: "≥ 10×",
      status: verdict(
        b64 && rate ? b64.median.opsPerSec / rate : undefined,
        10,
        sameRunNote(b64, fsync),
      ),
    });
    out.push({
      what: `(b) 8 producers, awaited single adds (jobs/s), ${k}`,
      kvq: num(b8?.median.opsPerSec),
      against: `fsync-per-op rate ${num(rate)}`,
      need: "≥ 6.4× (80% of 8×)",
      status: verdict(
        b8 && rate ? b8.median.opsPerSec / rate : undefined,
        6.4,
        sameRunNote(b8, fsync),
      ),
    });
  }
  for (const k of KVQ_STORES) {
    const e = get(k, "e-latency");
    out.push({
      what: `(e) add → handler start, idle worker, p50 / p99 (ms), ${k}`,
      kvq: e ? `${num(e.median.p50Ms)} / ${num(e.median.p99Ms)}` : "–",
      against: "–",
      need: "p50 ≤ 0.5, p99 ≤ 2",
      status: e ? (e.median.p50Ms <= 0.5 && e.median.p99Ms <= 2 ? "**met**" : "**not met**") : "pending",
    });
  }
  for (const k of [...KVQ_STORES, "kvq-store-deno"]) {
    const small = get(k, "f-backlog-1k");
    const large = get(k, "f-backlog-1m");
    const f = small && large ? large.median.jobsPerSec / small.median.jobsPerSec : undefined;
    out.push({
      what: `(f) claim throughput at 1,000,000 / at 1,000 queued, ${k}`,
      kvq: `${num(large?.median.jobsPerSec)} / ${num(small?.median.jobsPerSec)}`,
      against: "–",
      need: "≥ 0.90",
      status: sameRunNote(small, large)
        ? `${f?.toFixed(2)}, not judged${sameRunNote(small, large)}`
        : `${f === undefined ? "" : f.toFixed(2) + " "}${status(f, 0.9, true)}`,
    });
  }
  const g = get("kvq-file-node", "g-memory")?.median.bytesPerJob;
  out.push({
    what: "(g) memory per queued job (bytes, process RSS), file store on Node",
    kvq: num(g),
    against: "–",
    need: "≤ 200",
    status: status(g, 200, false),
  });
  return out;
}

/** The range of the 1-minute load average over the shown rows' runs, and how many runs are flagged. */
function loadSummary(shown: ResultLine[], cores: number): string {
  const loads = shown.flatMap((r) => r.loads ?? []);
  if (loads.length === 0) return "";
  const all = loads.flatMap((l) => [l.before, l.after]);
  const flagged = shown.reduce(
    (n, r) => n + (r.loadFlags?.filter((f) => f).length ?? 0),
    0,
  );
  return `1-minute load average over the ${loads.length} runs that recorded it: ${
    Math.min(...all).toFixed(1)
  }–${Math.max(...all).toFixed(1)} (${cores} cores); ${flagged} runs flagged ⚑. `;
}

/** Writes docs/BENCHMARKS.md from the results; returns its path. */
/** The scenarios of the PostgreSQL section, in its order. */
const PG_SCENARIOS = ["d-drain-p1", "d-drain-p4", "c-bulk", "e-latency-xproc"];
/** The PostgreSQL systems, in the section's order. */
const PG_SYSTEMS = [
  "kvq-pg-node",
  "kvq-pg-bun",
  "graphile-worker-best",
  "graphile-worker",
  "pg-boss-best",
  "pg-boss",
];

/**
 * kvq's PostgreSQL store beside the PostgreSQL peers, from ONE run (the newest that measured kvq-pg-node
 * in d-drain-p1): same server, same run, interleaved; the targets of issue 11 item 7 below the tables.
 */
export function postgresSection(results: ResultLine[]): string {
  const newest = results
    .filter((r) => r.variant === "kvq-pg-node" && r.scenario === "d-drain-p1" && r.runs.length > 0)
    .sort((a, b) => a.date.localeCompare(b.date)).at(-1);
  if (!newest) return "";
  const mine = results.filter((r) => r.runId === newest.runId && !r.baseline);
  const row = (v: string, sc: string) =>
    mine.find((r) => r.variant === v && r.scenario === sc && r.runs.length);
  const out: string[] = [];
  const run = runOf.get(newest.runId);
  out.push("## PostgreSQL: kvq's postgres store beside graphile-worker and pg-boss");
  out.push("");
  out.push(
    `Every row below comes from one run (\`${run?.command ?? newest.command}\`, ${
      newest.runId.slice(0, 16).replace("T", " ")
    } UTC, scale ${newest.scale}): the same PostgreSQL server, its runs interleaved with the peers' runs, ` +
      "each run a fresh schema. The peers run at their defaults and at their best documented settings " +
      "(graphile-worker: concurrency 24, maxPoolSize 25, localQueue 500, completeJobBatchDelay 0, " +
      "failJobBatchDelay 0; pg-boss: 8 workers × batchSize 500 per process); every table is ANALYZEd after the " +
      "fill (the server runs with autovacuum off). **N worker processes** = N child processes of the run's " +
      "process, each opening the same queue with the row's concurrency, started before the clock and told " +
      "to start together; the run's process filled the queue and counts the jobs they report. **Absolute " +
      "figures are from a busy machine** (2 cores shared with ~8 engineers; the load column shows the " +
      "1-minute load average before→after every run): compare rows with each other, not with other machines.",
  );
  out.push("");
  for (const id of PG_SCENARIOS) {
    const s = scenarios.find((x) => x.id === id)!;
    const h = s.headline;
    const latency = id.startsWith("e-");
    const rows = PG_SYSTEMS.map((v) => row(v, id)).filter((r): r is ResultLine => !!r);
    if (!rows.length) continue;
    out.push(`### (${s.letter}) ${s.title}`, "");
    out.push(
      `| system | tuning | config | runtime | N | c | **${h.unit}** (median) | runs | ${
        latency ? "p99 ms (median) | p99 per run | " : ""
      }load 1-min, before→after, per run | kvq-pg-node / row | kvq-pg-bun / row |`,
    );
    out.push(`|${" --- |".repeat(latency ? 13 : 11)}`);
    for (const r of rows) {
      const rel = (k: string) => {
        const kr = row(k, id);
        if (!kr || r.group === "kvq") return "–";
        const a = kr.median[h.metric];
        const b = r.median[h.metric];
        return ratio(latency ? b / a : a / b);
      };
      out.push(
        `| ${r.group === "kvq" ? "**kvq**" : cell(r.system)} | ${tuningOf(r)} | ${cell(r.config)} | ${
          cell(r.runtime)
        } | ${num(r.params.n)} | ${r.params.concurrency || "–"} | **${num(r.median[h.metric])}**${
          r.median.complete === 0 ? " (budget hit)" : ""
        } | ${r.runs.map((x) => num(x[h.metric])).join(" / ")} | ${
          latency ? `${num(r.median.p99Ms)} | ${r.runs.map((x) => num(x.p99Ms)).join(" / ")} | ` : ""
        }${loadCell(r)} | ${rel("kvq-pg-node")} | ${rel("kvq-pg-bun")} |`,
      );
    }
    const failed = mine.filter((r) => r.scenario === id && r.runs.length === 0);
    out.push("");
    out.push(
      (latency
        ? "Lower is better; the ratio columns say how many times kvq is faster (row / kvq, p50)."
        : "Higher is better; the ratio columns are kvq / row.") +
        (s.id === "c-bulk"
          ? " The peers' best rows change consuming only, so (c) has their default rows."
          : "") +
        (failed.length
          ? ` Failed: ${failed.map((r) => `\`${r.variant}\` (${cell(r.errors[0])})`).join("; ")}.`
          : ""),
    );
    out.push("");
  }
  // Targets of issue 11 item 7.
  const bestPeer = (sc: string) =>
    ["graphile-worker-best", "graphile-worker", "pg-boss-best", "pg-boss"].map((v) => row(v, sc))
      .filter((r): r is ResultLine => !!r)
      .sort((a, b) => b.median.jobsPerSec - a.median.jobsPerSec)[0];
  out.push("### Targets (issue 11 item 7)", "");
  out.push("| target | kvq-pg-node | kvq-pg-bun | against | status |");
  out.push("| --- | --- | --- | --- | --- |");
  const status = (ok: boolean[]) =>
    ok.length === 0
      ? "pending"
      : ok.every((x) => x)
      ? "met"
      : "**NOT met**: bench/NOTES.md, PostgreSQL profile";
  for (const sc of ["d-drain-p1", "d-drain-p4"]) {
    const peer = bestPeer(sc);
    const k = ["kvq-pg-node", "kvq-pg-bun"].map((v) => row(v, sc));
    const r = k.map((x) => (x && peer ? x.median.jobsPerSec / peer.median.jobsPerSec : undefined));
    out.push(
      `| drain, ${sc.slice(-1)} worker process${sc.endsWith("1") ? "" : "es"} ≥ 1.5× the fastest peer row | ${
        r.map((x, i) => `${num(k[i]?.median.jobsPerSec)} jobs/s = ${ratio(x)}`).join(" | ")
      } | ${peer ? `\`${peer.variant}\` ${num(peer.median.jobsPerSec)} jobs/s` : "–"} | ${
        status(r.filter((x): x is number => x !== undefined).map((x) => x >= 1.5))
      } |`,
    );
  }
  const lat = ["kvq-pg-node", "kvq-pg-bun"].map((v) => row(v, "e-latency-xproc"));
  out.push(
    `| add → start across processes: p50 ≤ 1 ms | ${
      lat.map((r) => `${num(r?.median.p50Ms)} ms`).join(" | ")
    } | – | ${status(lat.filter((r) => r).map((r) => r!.median.p50Ms <= 1))} |`,
  );
  out.push(
    `| add → start across processes: p99 ≤ 5 ms | ${
      lat.map((r) => `${num(r?.median.p99Ms)} ms`).join(" | ")
    } | – | ${status(lat.filter((r) => r).map((r) => r!.median.p99Ms <= 5))} |`,
  );
  out.push("");
  return out.join("\n");
}

export function writeReport(out: string = docPath): string {
  const { results, runs, probes } = loadResults();
  const describe = (h: RunLine["host"]) => `${h.cpus} cores, ${h.model}`;
  hostOf = new Map(runs.map((r) => [r.runId, describe(r.host)]));
  runOf = new Map(runs.map((r) => [r.runId, r]));
  const newest = [...runs].sort((a, b) => a.date.localeCompare(b.date)).at(-1);
  currentHost = newest ? describe(newest.host) : "";
  const rows = pick(results);
  // The `--baseline` rows (an older commit's kvq) only appear in the before/after section.
  const shown = [...rows.values()].filter((r) => r.runs.length > 0 && !r.baseline);
  const usedRuns = new Set(shown.map((r) => r.runId));
  const hosts = runs.filter((r) => usedRuns.has(r.runId) && hostOf.get(r.runId) === currentHost);
  const host = hosts.at(-1)?.host;
  const commits = [...new Set(hosts.map((r) => r.commit).filter((c) => c))];
  const runtimes = [...new Set(shown.map((r) => r.runtime))].sort().join(", ");
  const dates = shown.filter((r) => !foreign(r)).map((r) => r.date).sort();
  const lines: string[] = [];
  lines.push("# Benchmarks");
  lines.push("");
  lines.push(
    "<!-- Generated by bench/report.ts from bench/results/*.jsonl. Do not edit by hand: run `npm run bench` " +
      "(or `node bench/report.ts` to regenerate from existing results). -->",
  );
  lines.push("");
  lines.push(
    "kvq beside the job queues users would pick instead, through one harness (`bench/`): every (system, scenario) " +
      "pair runs in a fresh child process on the runtime it needs (plainjob and bunqueue on Bun, Deno KV on Deno, " +
      "BullMQ, pg-boss and graphile-worker on Node). Every peer has a row at its **defaults** and a row at its " +
      "**best** documented settings (bench/NOTES.md says where each is documented); the headline ratios are " +
      "against the best row. Where a peer has a setting for it, a third row runs it at kvq's durability (fsync " +
      "before every acknowledgement). Runs are interleaved (round r runs every system once), every figure is the " +
      "median of the runs listed beside it, and every run shows the machine's 1-minute load average before and " +
      "after it.",
  );
  lines.push("");
  lines.push("## Reproduce");
  lines.push("");
  lines.push("```sh");
  lines.push(
    "bash scripts/services.sh   # local Redis (6379) and PostgreSQL (5432), if not running",
  );
  lines.push(
    "npm run bench:install      # the peers, into bench/node_modules only",
  );
  lines.push(
    "npm run bench              # default systems, every scenario, 3 interleaved runs each; rewrites this file",
  );
  lines.push(
    "npm run bench -- --systems all --scenarios a,b --runs 5 --scale 0.1   # any subset",
  );
  lines.push("npm run bench -- --list    # systems and scenarios");
  lines.push("```");
  lines.push("");
  lines.push(
    "Results are JSON lines in `bench/results/` (one line per system and scenario: every run's values, the " +
      "medians, versions, durability, and the command that reproduces it). This file shows, per row, the " +
      "result at the largest scale measured, newest first.",
  );
  lines.push("");
  lines.push("## Machine");
  lines.push("");
  if (host) {
    lines.push(
      `${host.cpus} cores (${host.model}), ${host.memGiB} GiB RAM, Linux ${host.kernel}. Runtimes: ${runtimes}. ` +
        `Measured ${dates[0]?.slice(0, 16).replace("T", " ")} – ${
          dates.at(-1)?.slice(0, 16).replace("T", " ")
        } UTC. ` +
        "The machine is shared (four other engineers ran test suites on it during these runs): compare rows " +
        "measured in the same run, read the per-run values and the load beside each, and mind the ⚑ marks. " +
        loadSummary(shown, host.cpus) +
        (commits.length ? ` kvq commit measured: ${commits.map((c) => `\`${c}\``).join(", ")}.` : ""),
    );
  } else {
    lines.push("No results yet: run `npm run bench`.");
  }
  lines.push("");
  lines.push("## Durability, per row");
  lines.push("");
  lines.push(
    "- **fsync per commit / fsync before ack**: an acknowledged add survives power loss. **Group commit**: " +
      "concurrent commits share one fsync; none is acknowledged before its data is durable.",
  );
  lines.push(
    "- **none on power loss**: survives a process crash but may lose the last acknowledged adds on power loss " +
      "(SQLite WAL with synchronous=NORMAL, Redis appendfsync everysec).",
  );
  lines.push(
    "- **none**: acknowledged before anything reaches the disk (in-memory buffers, Redis without AOF).",
  );
  lines.push("");
  lines.push("## Headline: kvq's default store against each peer's best row");
  lines.push("");
  lines.push(
    "Median jobs/s of each peer's best row (its documented fast settings, or its only row where it has no " +
      "knobs), its load (median 1-min load average over its runs), its default row beside it, and kvq's " +
      "default store on Node and on Bun over it. (c) uses each peer's default row: its settings change " +
      "consuming, not adding.",
  );
  lines.push("");
  lines.push(headline(rows));
  lines.push("## Targets (issue 12)");
  lines.push("");
  lines.push("| target | kvq | against | needed | status |");
  lines.push("| --- | --- | --- | --- | --- |");
  for (const t of targets(rows)) {
    lines.push(
      `| ${t.what} | ${t.kvq} | ${t.against} | ${t.need} | ${t.status} |`,
    );
  }
  lines.push("");
  lines.push(
    "End to end (c)+(d) = 1 / (1/bulk-add rate + 1/best-concurrency drain rate): the rate of adding N jobs in " +
      'bulk and then draining them. "pending" means a row it needs is not measured yet; "rows from different ' +
      'runs" means the two figures were not measured side by side.',
  );
  lines.push("");
  const pgSection = postgresSection(results);
  if (pgSection) lines.push(pgSection);
  const beforeAfter = beforeAfterSection(results, runs, probes);
  if (beforeAfter) lines.push(beforeAfter);
  try {
    const notes = readFileSync(join(benchDir, "NOTES.md"), "utf8").trim();
    if (notes) lines.push("## Notes and profiles", "", notes, "");
  } catch { /* no hand-written notes */ }
  lines.push("## Scenarios");
  lines.push("");
  lines.push(
    "Sizes at scale 1 (`--scale` multiplies them): (a), (b) 10,000 adds; (c) 100,000 jobs in addBulk calls of " +
      "1,000; (d) 100,000 queued jobs drained with a no-op handler (stops after 60 s and reports the rate so " +
      "far); (e) up to 1,000 jobs or 30 s, one at a time into an idle worker; (f) 5,000 jobs claimed and " +
      "completed with 1,000 or 1,000,000 more behind them; (g) 1,000,000 queued jobs, process RSS growth " +
      "per job (for Redis and PostgreSQL peers the server holds the jobs: see server bytes/job).",
  );
  lines.push("");
  for (const s of scenarios) lines.push(table(s, rows));
  writeFileSync(out, lines.join("\n"));
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`wrote ${writeReport()}`);
}
