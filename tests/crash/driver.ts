// The crash-test parent. For one durable adapter on one runtime it runs kill cycles: start the
// child (tests/crash/child.ts), let it add and process jobs for a random time (seeded), SIGKILL
// it; the next child reopens the store and dumps it before doing anything else, and this parent
// checks the dump against its own record of every acknowledged add and completion. After the
// last kill a final child runs without a kill until every job ended; then the parent checks that
// every acknowledged job ended `completed` and that every repeated run is explained.
//
// CLI (npm run test:crash runs the heavy tier):
//   node tests/crash/driver.ts [--cycles 500] [--seed 1] [--adapter file|sqlite|deno-kv|postgres]
//                              [--runtime node|bun|deno] [--matrix default|all] [--parallel]
//                              [--chaos] [--min-ms 50] [--max-ms 500] [--lease 1000] [--stop-share 0]
//                              [--until <ISO time>]
//   node tests/crash/driver.ts --fleet [--adapter sqlite|deno-kv|postgres] [--cycles 500] [--seed 1]
//                              [--lease 1000] [--stop-share 0.2] [--throwaway] [--server-crash-every 250]
//     4 worker and 2 producer processes on one shared store (each store in turn by default),
//     SIGKILLs of random workers, SIGSTOPs of others past their lease (tests/crash/fleet.ts);
//     --throwaway runs PostgreSQL on a server of its own and crashes it every N kills
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "../../src/ids.ts";
import { Keyspace, STATE_INDEX } from "../../src/keys.ts";
import { JOB_STATES, type JobRecord } from "../../src/job.ts";
import { CRASH_QUEUE, type Dump, parseDump } from "./protocol.ts";
import { dropStore, POSTGRES_URL, tableName } from "../postgres/_pg.ts";
import type { FleetAdapter } from "./fleet.ts";
import type { ThrowawayServer } from "../postgres/_server.ts";

/** A durable adapter under test. */
export type CrashAdapter = "file" | "sqlite" | "deno-kv" | "postgres";
/** A runtime the child runs on. */
export type CrashRuntime = "node" | "bun" | "deno";

/** Options of {@link runCrash}. */
export interface CrashOptions {
  /** The adapter the child opens. */
  adapter: CrashAdapter;
  /** The runtime the child runs on. */
  runtime: CrashRuntime;
  /** Kill cycles. */
  cycles: number;
  /** Stop killing at this time (ms since the epoch) even if fewer cycles ran; the final run and checks follow. */
  deadline?: number;
  /** Seed of the kill schedule. @default 1 */
  seed?: number;
  /** Shortest time the child works before the kill, in ms (from its "go"). @default 50 */
  minMs?: number;
  /** Longest time the child works before the kill, in ms. @default 500 */
  maxMs?: number;
  /** Share of cycles killed 0-100 ms after the child starts opening the store instead (during recovery). @default 0.1 */
  earlyKill?: number;
  /** The workers' lease, in ms. @default 1000 */
  leaseMs?: number;
  /** Progress lines go here. */
  log?: (line: string) => void;
  /** A fault the child injects, to prove the checks catch it (see child.ts). */
  fault?: "ack-early";
  /** Run the final child (to completion) after the last kill. @default true */
  final?: boolean;
  /** Chaos workload: failing, delayed, prioritized and event-loop-blocking jobs (see child.ts). @default false */
  chaos?: boolean;
  /**
   * Share of work cycles in which the child is also SIGSTOPped, at a random moment before its kill,
   * for 1.5-2.5 leases, then resumed (SIGCONT) and killed later. Its leases expire while it is
   * frozen; once it runs again its own healer takes them back and its handlers' late completions
   * must be refused (`LeaseLostError`). @default 0
   */
  stopShare?: number;
}

/** The figures of one run. */
export interface CrashReport {
  readonly adapter: CrashAdapter;
  readonly runtime: CrashRuntime;
  /** The driver the child reported (e.g. "node:sqlite"). */
  readonly driver: string;
  readonly seed: number;
  /** Kill cycles run. */
  readonly cycles: number;
  /** Of those, killed during open/recovery (before the dump was complete). */
  readonly earlyKills: number;
  /** Dumps checked (one per restart that got past its dump, plus the final one). */
  readonly verified: number;
  /** Acknowledged adds. */
  readonly jobs: number;
  /** Jobs found in the store whose add was not acknowledged (killed in between): allowed. */
  readonly unacknowledged: number;
  /** Acknowledged completions. */
  readonly completions: number;
  /** Acknowledged adds missing from a dump (distinct jobs). */
  readonly lost: number;
  /** Acknowledged completions later found not `completed` (distinct jobs). */
  readonly lostCompletions: number;
  /** Index/record/count disagreements (a job in two states or none, counts off). */
  readonly inconsistent: number;
  /** Jobs not `completed` after the final run. */
  readonly notCompleted: number;
  /** Jobs whose handler started more than once. */
  readonly rerunJobs: number;
  /** Extra starts explained by a kill between start and acknowledged completion. */
  readonly explainedByCrash: number;
  /** Extra starts explained by lease expiry in a live process. */
  readonly explainedByLease: number;
  /** Extra starts explained by the handler failing (a retry; chaos workload only). */
  readonly explainedByFailure: number;
  /** Extra starts nothing explains. */
  readonly unexplained: number;
  /** Opens that failed. */
  readonly openErrors: number;
  /** File store: opens refused by a lock no live process held (left by a kill); its files were deleted. */
  readonly stuckLocks: number;
  /** Leases the healer took back (stalled events). */
  readonly stalls: number;
  /** `error` events reported by children (e.g. stale workers' LeaseLostError). */
  readonly errorEvents: number;
  /** Log compactions the children reported (file store). */
  readonly compactions: number;
  /** Cycles in which the child was SIGSTOPped past its lease and resumed before its kill. */
  readonly stops: number;
  /** `LeaseLostError` error events (stale writes refused). */
  readonly leaseLost: number;
  /** Open + first claim after a restart, in ms. */
  readonly recovery: {
    readonly samples: number;
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
  };
  /** Store open alone, in ms. */
  readonly open: {
    readonly samples: number;
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
  };
  /** Wall time of the run, in ms. */
  readonly durationMs: number;
  /** What went wrong (empty when all is well); at most 50. */
  readonly problems: readonly string[];
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));

/** The command that runs a child script (the crash child by default) on a runtime of node_modules/.bin. */
export function command(runtime: CrashRuntime, args: string[], script: string = CHILD): [string, string[]] {
  const bin = join(ROOT, "node_modules", ".bin", runtime);
  if (runtime === "node") return [bin, ["--no-warnings", script, ...args]];
  if (runtime === "bun") return [bin, [script, ...args]];
  return [bin, ["run", "-A", "--quiet", "--unstable-kv", script, ...args]];
}

/**
 * Sends a signal to a child process. Through `process.kill(pid)`, not `ChildProcess.kill()`: under
 * Bun 1.4 and Deno 2.9 a ChildProcess that was sent one signal (SIGSTOP) refuses every later one
 * (`kill()` returns false and sends nothing), so SIGCONT and SIGKILL would never arrive.
 */
export function signal(child: ChildProcess, sig: "SIGKILL" | "SIGSTOP" | "SIGCONT"): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, sig);
  } catch {
    // Already gone.
  }
}

function storeFile(adapter: CrashAdapter): string {
  return adapter === "file" ? "store.kvq" : adapter === "sqlite" ? "store.db" : "store.denokv";
}

/**
 * Where the child's store is: a file in the run's directory, or for postgres a table of the run's
 * own on the server at KVQ_POSTGRES_URL (`drop` removes it after the run).
 */
function storeLocation(adapter: CrashAdapter, dir: string): { path: string; drop: () => Promise<void> } {
  if (adapter !== "postgres") return { path: join(dir, storeFile(adapter)), drop: () => Promise.resolve() };
  const table = tableName("crash");
  return {
    path: `${POSTGRES_URL}${POSTGRES_URL.includes("?") ? "&" : "?"}table=${table}`,
    drop: () => dropStore(table),
  };
}

interface ChildRun {
  lines: string[];
  code: number | null;
  signal: string | null;
  killed: boolean;
  stderr: string;
}

/**
 * Runs one child; `kill` decides when to SIGKILL it (from spawn, or from its "go" line), and
 * `kill.stop` when to SIGSTOP it and for how long first (the kill comes that much later).
 */
function runChild(
  runtime: CrashRuntime,
  args: string[],
  kill: { early: boolean; ms: number; stop?: { at: number; ms: number } } | null,
  watchdogMs: number,
): Promise<ChildRun> {
  const [cmd, argv] = command(runtime, args);
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const run: ChildRun = { lines: [], code: null, signal: null, killed: false, stderr: "" };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const doKill = () => {
    if (run.killed) return;
    run.killed = true;
    signal(child, "SIGKILL");
  };
  const watchdog = setTimeout(() => {
    run.stderr += `\n[crash driver: watchdog killed the child after ${watchdogMs} ms]`;
    doKill();
  }, watchdogMs);
  let partial = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      run.lines.push(line);
      if (kill && timer === undefined && line === (kill.early ? "opening" : "go")) {
        const stop = kill.stop;
        if (!stop) timer = setTimeout(doKill, kill.ms);
        else {
          timer = setTimeout(() => {
            if (run.killed) return;
            signal(child, "SIGSTOP");
            timer = setTimeout(() => {
              if (run.killed) return;
              signal(child, "SIGCONT");
              timer = setTimeout(doKill, kill.ms - stop.at);
            }, stop.ms);
          }, stop.at);
        }
      }
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    run.stderr = (run.stderr + chunk).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    child.on("error", (e) => {
      clearTimeout(watchdog);
      if (timer !== undefined) clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(watchdog);
      if (timer !== undefined) clearTimeout(timer);
      run.code = code;
      run.signal = signal;
      // A line cut by the kill (never happens with whole-line writes) is dropped.
      resolve(run);
    });
  });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function summary(xs: number[]): CrashReport["recovery"] {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 100) / 100;
  return { samples: s.length, p50: r(percentile(s, 50)), p99: r(percentile(s, 99)), max: r(s.at(-1) ?? NaN) };
}

interface Start {
  cycle: number;
  attempt: number;
  seq: number;
}

/**
 * Runs kill cycles on one adapter and runtime, then a final run to completion, and checks
 * everything the parent was told against what the store holds.
 *
 * @param options See {@link CrashOptions}.
 * @returns The figures; `problems` is empty when nothing was lost, inconsistent or unexplained.
 */
export async function runCrash(options: CrashOptions): Promise<CrashReport> {
  const { adapter, runtime } = options;
  let cycles = options.cycles;
  const seed = options.seed ?? 1;
  const minMs = options.minMs ?? 50;
  const maxMs = options.maxMs ?? 500;
  const earlyKill = options.earlyKill ?? 0.1;
  const leaseMs = options.leaseMs ?? 1000;
  const log = options.log ?? (() => {});
  const rnd = seededRandom(seed);
  const began = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `kvq-crash-${adapter}-${runtime}-`));
  const store = storeLocation(adapter, dir);
  const path = store.path;
  const ks = new Keyspace(undefined, CRASH_QUEUE);

  const problems: string[] = [];
  const problem = (s: string) => {
    if (problems.length < 50) problems.push(s);
  };
  // The parent's own record.
  const acked = new Map<number, { id: string; cycle: number }>();
  const nOf = new Map<string, number>();
  const starts = new Map<string, Start[]>();
  const doneAt = new Map<string, { cycle: number; seq: number }>();
  const seenCompleted = new Set<string>();
  const unacked = new Set<string>();
  const killedCycles = new Set<number>();
  const recovery: number[] = [];
  const opens: number[] = [];
  let seq = 0;
  let driver = "";
  const lost = new Set<number>();
  const lostCompletions = new Set<string>();
  let earlyKills = 0, verified = 0, inconsistent = 0, notCompleted = 0;
  let openErrors = 0, stalls = 0, errorEvents = 0, compactions = 0, stops = 0, leaseLost = 0, stuckLocks = 0;
  let cyclesRun = 0;

  const verify = (dump: Dump, label: string) => {
    verified++;
    const { jobs } = dump;
    for (const [n, a] of acked) {
      const job = jobs.get(a.id);
      if (!job) {
        lost.add(n);
        problem(`${label}: job n=${n} id=${a.id}, acknowledged in cycle ${a.cycle}, is missing`);
      } else if (job.n !== n) {
        lost.add(n);
        problem(`${label}: job ${a.id} holds payload n=${job.n}, expected ${n}`);
      }
    }
    for (const [id, d] of doneAt) {
      const job = jobs.get(id);
      if (job && job.state !== "completed") {
        lostCompletions.add(id);
        problem(`${label}: job ${id}, completion acknowledged in cycle ${d.cycle}, is ${job.state}`);
      }
    }
    for (const id of seenCompleted) {
      const job = jobs.get(id);
      if (!job || job.state !== "completed") {
        lostCompletions.add(id);
        problem(`${label}: job ${id} was completed in an earlier dump, now ${job?.state ?? "missing"}`);
      }
    }
    // Every job in exactly one index, the one of its state, under the key its record implies.
    const entries = new Map<string, { idx: string; key: string; v: string }[]>();
    for (const e of dump.index) {
      const id = e.key.at(-1) as string;
      const list = entries.get(id) ?? [];
      list.push({ idx: e.idx, key: JSON.stringify(e.key), v: e.v });
      entries.set(id, list);
    }
    const tally = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<string, number>;
    for (const job of jobs.values()) {
      tally[job.state]++;
      if (job.state === "completed") seenCompleted.add(job.id);
      if (job.n !== null && !nOf.has(job.id)) {
        nOf.set(job.id, job.n);
        unacked.add(job.id);
      }
      const found = entries.get(job.id) ?? [];
      entries.delete(job.id);
      const want = ks.index(job as unknown as JobRecord).slice(ks.indexPrefix(job.state).length);
      const wantIdx = STATE_INDEX[job.state];
      const ok = found.length === 1 && found[0].idx === wantIdx && found[0].key === JSON.stringify(want) &&
        (wantIdx !== "delayed" || found[0].v === job.state);
      if (!ok) {
        inconsistent++;
        problem(
          `${label}: job ${job.id} is ${job.state} (index ${wantIdx} ${JSON.stringify(want)}) ` +
            `but its index entries are ${JSON.stringify(found)}`,
        );
      }
    }
    for (const [id, list] of entries) {
      inconsistent++;
      problem(`${label}: index entries ${JSON.stringify(list)} point to job ${id}, which does not exist`);
    }
    const counts = dump.counts;
    for (const s of JOB_STATES) {
      const stored = counts?.[s] ?? 0;
      if (stored !== tally[s]) {
        inconsistent++;
        problem(`${label}: counts say ${stored} ${s}, the store holds ${tally[s]}`);
      }
    }
  };

  /** Applies a finished child's lines to the record; checks its dump when it got that far. */
  const absorb = (run: ChildRun, cycle: number, dumpFile: string) => {
    let dumped = false;
    for (const line of run.lines) {
      const sp = line.indexOf(" ");
      const word = sp < 0 ? line : line.slice(0, sp);
      const rest = sp < 0 ? "" : line.slice(sp + 1);
      const [a, b] = rest.split(" ");
      switch (word) {
        case "open":
          opens.push(Number(a));
          driver = b;
          break;
        case "dumped":
          dumped = true;
          verify(parseDump(readFileSync(dumpFile, "utf8")), `cycle ${cycle} restart`);
          break;
        case "first":
          recovery.push(Number(a));
          break;
        case "added": {
          const n = Number(a);
          if (acked.has(n)) problem(`cycle ${cycle}: n=${n} acknowledged twice`);
          acked.set(n, { id: b, cycle });
          nOf.set(b, n);
          unacked.delete(b);
          break;
        }
        case "start": {
          const list = starts.get(a) ?? [];
          list.push({ cycle, attempt: Number(b), seq: ++seq });
          starts.set(a, list);
          break;
        }
        case "done":
          if (!doneAt.has(a)) doneAt.set(a, { cycle, seq: ++seq });
          break;
        case "stalled":
          stalls++;
          break;
        case "err":
          errorEvents++;
          if (rest.startsWith("LeaseLostError")) leaseLost++;
          break;
        case "fatal":
          if (rest.startsWith("open")) openErrors++;
          problem(`cycle ${cycle}: child: ${line.slice(0, 2000)}`);
          break;
        case "compactions":
          compactions++;
          break;
        case "opening":
        case "go":
        case "final":
          break;
        default:
          problem(`cycle ${cycle}: unexpected line ${JSON.stringify(line.slice(0, 200))}`);
      }
    }
    return dumped;
  };

  const childArgs = (cycle: number, mode: string, dumpFile: string) => [
    "--adapter",
    adapter,
    "--path",
    path,
    "--dump",
    dumpFile,
    "--mode",
    mode,
    "--base",
    String(cycle * 1_000_000),
    "--seed",
    String((seed * 7919 + cycle) >>> 0),
    "--lease",
    String(leaseMs),
    ...(options.fault ? ["--fault", options.fault] : []),
    ...(options.chaos ? ["--chaos"] : []),
  ];

  let final: Dump | null = null;
  try {
    for (let cycle = 1; cycle <= cycles; cycle++) {
      if (options.deadline !== undefined && Date.now() > options.deadline) {
        log(`${adapter}/${runtime}: deadline reached after ${cycle - 1} cycles`);
        cycles = cycle - 1;
        break;
      }
      const early = rnd() < earlyKill;
      const ms = early ? rnd() * 100 : minMs + rnd() * (maxMs - minMs);
      const stop = !early && rnd() < (options.stopShare ?? 0)
        ? { at: rnd() * ms, ms: leaseMs * (1.5 + rnd()) }
        : undefined;
      if (stop) stops++;
      const dumpFile = join(dir, `dump-${cycle}.jsonl`);
      const run = await runChild(runtime, childArgs(cycle, "work", dumpFile), { early, ms, stop }, 60_000);
      if (!run.killed || run.signal !== "SIGKILL") {
        problem(
          `cycle ${cycle}: the child ended by itself (code ${run.code}, signal ${run.signal}): ` +
            run.stderr.slice(-1500),
        );
      }
      killedCycles.add(cycle);
      cyclesRun = cycle;
      const dumped = absorb(run, cycle, dumpFile);
      // The file store must open after any kill (its lock protocol breaks a dead holder's lock and a dead
      // breaker's marker on its own). A refused open with no live process is a stuck lock: counted (a
      // problem), the files named in the log, then deleted so that the run goes on.
      if (adapter === "file" && run.lines.some((l) => l.startsWith("fatal open StoreLockedError"))) {
        const lockFiles = readdirSync(dir).filter((f) =>
          /\.lock(\.break)*$|\.lock\.[0-9a-f]+\.stale$/.test(f)
        );
        stuckLocks++;
        for (const f of lockFiles) rmSync(join(dir, f), { force: true });
        log(
          `${adapter}/${runtime}: cycle ${cycle}: open refused after a kill; deleted ${lockFiles.join(", ")}`,
        );
      }
      if (!dumped) earlyKills++;
      rmSync(dumpFile, { force: true });
      if (cycle % 25 === 0 || cycle === cycles) {
        log(
          `${adapter}/${runtime}: cycle ${cycle}/${cycles}, ${acked.size} jobs, ${doneAt.size} completions, ` +
            `${problems.length} problems`,
        );
      }
      if (problems.length >= 50) break;
    }

    // The final run: no kill, until every job ended.
    if (options.final !== false) final = await finalRun();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await store.drop().catch((e) => problem(`could not drop the run's table: ${(e as Error).message}`));
  }

  async function finalRun(): Promise<Dump | null> {
    let final: Dump | null = null;
    const last = cyclesRun + 1;
    const dumpFile = join(dir, `dump-${last}.jsonl`);
    const run = await runChild(runtime, childArgs(last, "final", dumpFile), null, 180_000);
    absorb(run, last, dumpFile);
    if (run.code !== 0 || !run.lines.some((l) => l.startsWith("final "))) {
      problem(`final run: exit code ${run.code}, signal ${run.signal}: ${run.stderr.slice(-1500)}`);
    }
    try {
      final = parseDump(readFileSync(dumpFile + ".final", "utf8"));
    } catch (e) {
      problem(`final run: no final dump (${(e as Error).message})`);
    }
    if (final) verify(final, "final");

    // Every job ends completed; every acknowledged one with its own result.
    if (final) {
      for (const [n, a] of acked) {
        const job = final.jobs.get(a.id);
        if (job && job.state === "completed" && job.result !== n) {
          problem(`final: job ${a.id} completed with result ${JSON.stringify(job.result)}, expected ${n}`);
        }
      }
      for (const job of final.jobs.values()) {
        if (job.state !== "completed") {
          notCompleted++;
          problem(`final: job ${job.id} (n=${job.n}) ended ${job.state}, expected completed`);
        }
      }
    }
    return final;
  }

  // Repeated runs: each start but the completing one needs an explanation.
  let rerunJobs = 0, explainedByCrash = 0, explainedByLease = 0, explainedByFailure = 0, unexplained = 0;
  const lastDump: Dump | null = final;
  for (const [id, list] of starts) {
    const job = lastDump?.jobs.get(id);
    if (list.length > 1) rerunJobs++;
    if (!job) continue;
    const outcome = new Map<number, string>();
    for (const [attempt, how] of job.history) outcome.set(attempt, how);
    const attempts = new Set<number>();
    const done = doneAt.get(id);
    list.forEach((s, i) => {
      const isLast = i === list.length - 1;
      if (attempts.has(s.attempt)) {
        unexplained++;
        problem(`job ${id}: attempt ${s.attempt} started twice (cycle ${s.cycle})`);
        return;
      }
      attempts.add(s.attempt);
      if (isLast) {
        if (job.state === "completed" && outcome.get(s.attempt) !== "completed") {
          problem(`job ${id}: its last start (attempt ${s.attempt}) is not the attempt that completed it`);
          unexplained++;
        }
        return;
      }
      if (done && done.seq < list[i + 1].seq) {
        unexplained++;
        problem(
          `job ${id}: started again (cycle ${list[i + 1].cycle}) after its completion was acknowledged`,
        );
        return;
      }
      const how = outcome.get(s.attempt);
      if (how === "failed") explainedByFailure++;
      else if (how === "stalled" || how === "released") {
        const crashed = killedCycles.has(s.cycle) && !(done && done.cycle === s.cycle);
        if (crashed && list[i + 1].cycle > s.cycle) explainedByCrash++;
        else explainedByLease++;
      } else {
        unexplained++;
        problem(
          `job ${id}: attempt ${s.attempt} (cycle ${s.cycle}) ran again, but its history says ${
            how ?? "nothing"
          }`,
        );
      }
    });
  }
  if (lastDump) {
    for (const job of lastDump.jobs.values()) {
      if (job.state === "completed" && !starts.has(job.id)) {
        problem(`job ${job.id} completed, but no child reported starting it`);
      }
    }
  }

  return {
    adapter,
    runtime,
    driver,
    seed,
    cycles: cyclesRun,
    earlyKills,
    verified,
    jobs: acked.size,
    unacknowledged: unacked.size,
    completions: doneAt.size,
    lost: lost.size,
    lostCompletions: lostCompletions.size,
    inconsistent,
    notCompleted,
    rerunJobs,
    explainedByCrash,
    explainedByLease,
    explainedByFailure,
    unexplained,
    openErrors,
    stuckLocks,
    stalls,
    errorEvents,
    compactions,
    stops,
    leaseLost,
    recovery: summary(recovery),
    open: summary(opens),
    durationMs: Date.now() - began,
    problems,
  };
}

/**
 * The figures of a run, as printed by `npm run test:crash`.
 *
 * @param r A report.
 * @returns One block of text.
 */
export function formatReport(r: CrashReport): string {
  const ms = (v: number) => (Number.isNaN(v) ? "-" : `${v.toFixed(1)} ms`);
  return [
    `crash ${r.adapter} on ${r.runtime} (${r.driver}), seed ${r.seed}: ${
      r.problems.length ? "FAILED" : "ok"
    }`,
    `  cycles ${r.cycles} (${r.earlyKills} killed while opening/recovering), dumps checked ${r.verified}`,
    `  jobs ${r.jobs} acknowledged (+${r.unacknowledged} stored but unacknowledged), completions acknowledged ${r.completions}`,
    `  lost ${r.lost}, lost completions ${r.lostCompletions}, inconsistent ${r.inconsistent}, not completed ${r.notCompleted}, open errors ${r.openErrors} (stuck stale locks ${r.stuckLocks})`,
    `  reruns: ${r.rerunJobs} jobs; explained by a kill ${r.explainedByCrash}, by lease expiry ${r.explainedByLease}, by a handler failure ${r.explainedByFailure}; unexplained duplicates ${r.unexplained}`,
    `  recovery (open + first claim) p50 ${ms(r.recovery.p50)}, p99 ${ms(r.recovery.p99)}, max ${
      ms(r.recovery.max)
    } (${r.recovery.samples} restarts); open alone p50 ${ms(r.open.p50)}, p99 ${ms(r.open.p99)}`,
    `  SIGSTOPped past the lease ${r.stops} cycles, stale writes refused (LeaseLostError) ${r.leaseLost}`,
    `  stalled leases healed ${r.stalls}, error events ${r.errorEvents}, compactions ${r.compactions}, wall time ${
      (r.durationMs / 1000).toFixed(1)
    } s`,
    ...r.problems.map((p) => `  problem: ${p}`),
  ].join("\n");
}

/** The (adapter, runtime) pairs of a matrix: "default" is every durable adapter on its native runtimes. */
export function crashMatrix(name: "default" | "all"): [CrashAdapter, CrashRuntime][] {
  if (name === "all") {
    return [
      ["file", "node"],
      ["file", "bun"],
      ["file", "deno"],
      ["sqlite", "node"],
      ["sqlite", "bun"],
      ["sqlite", "deno"],
      ["deno-kv", "deno"],
      ["postgres", "node"],
      ["postgres", "bun"],
      ["postgres", "deno"],
    ];
  }
  return [["file", "node"], ["sqlite", "node"], ["sqlite", "bun"], ["deno-kv", "deno"], ["postgres", "node"]];
}

async function main(argv: string[]): Promise<number> {
  const opt = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
  };
  const cycles = Number(opt("cycles", "500"));
  const seed = Number(opt("seed", "1"));
  if (argv.includes("--fleet")) {
    // Loaded here only: fleet.ts imports this module.
    const { formatFleetReport, runFleet } = await import("./fleet.ts");
    const pick = opt("adapter", "");
    const adapters = (pick ? [pick] : ["sqlite", "deno-kv", "postgres"]) as FleetAdapter[];
    const texts: string[] = [];
    let failed = 0;
    for (const adapter of adapters) {
      // --throwaway: PostgreSQL on a server of this run's own, crashed every --server-crash-every kills.
      let server: ThrowawayServer | undefined;
      if (adapter === "postgres" && argv.includes("--throwaway")) {
        const { startThrowaway, throwawayUnavailable } = await import("../postgres/_server.ts");
        const why = throwawayUnavailable();
        if (why) throw new TypeError(`--throwaway: ${why}`);
        server = await startThrowaway();
      }
      try {
        const report = await runFleet({
          adapter,
          cycles,
          seed,
          leaseMs: Number(opt("lease", "1000")),
          stopShare: Number(opt("stop-share", "0.2")),
          server,
          serverCrashEvery: Number(opt("server-crash-every", "250")),
          ...(opt("until", "") ? { deadline: Date.parse(opt("until", "")) } : {}),
          log: (l) => console.log(l),
        });
        const text = formatFleetReport(report);
        console.log(text);
        texts.push(text);
        if (report.problems.length) failed++;
      } finally {
        await server?.destroy();
      }
    }
    console.log(`\n=== fleet summary (${cycles} kills per store, seed ${seed})\n${texts.join("\n")}`);
    return failed ? 1 : 0;
  }
  const adapter = opt("adapter", "");
  const runtime = opt("runtime", "");
  let matrix = crashMatrix(opt("matrix", "default") as "default" | "all");
  if (adapter) matrix = matrix.filter(([a]) => a === adapter);
  if (runtime) matrix = matrix.filter(([, r]) => r === runtime);
  if (!matrix.length) throw new TypeError(`No crash run matches --adapter ${adapter} --runtime ${runtime}`);
  let failed = 0;
  const reports: string[] = [];
  const one = async ([a, r]: [CrashAdapter, CrashRuntime]) => {
    const report = await runCrash({
      adapter: a,
      runtime: r,
      cycles,
      seed,
      minMs: Number(opt("min-ms", "50")),
      maxMs: Number(opt("max-ms", "500")),
      // --until <ISO time>: as many cycles as fit before then (the report says how many ran).
      ...(opt("until", "") ? { deadline: Date.parse(opt("until", "")) } : {}),
      leaseMs: Number(opt("lease", "1000")),
      chaos: argv.includes("--chaos"),
      stopShare: Number(opt("stop-share", "0")),
      log: (l) => console.log(l),
    });
    const text = formatReport(report);
    console.log(text);
    reports.push(text);
    if (report.problems.length) failed++;
  };
  // --parallel: every run of the matrix at once (each has its own store); else one after another.
  if (argv.includes("--parallel")) await Promise.all(matrix.map(one));
  else for (const run of matrix) await one(run);
  console.log(`\n=== crash summary (${cycles} kill cycles per run, seed ${seed})\n${reports.join("\n")}`);
  return failed ? 1 : 0;
}

const isMain = (import.meta as { main?: boolean }).main ??
  (typeof process !== "undefined" && process.argv[1] === fileURLToPath(import.meta.url));
if (isMain) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error(e);
    process.exit(2);
  });
}
