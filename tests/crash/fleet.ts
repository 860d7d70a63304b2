// A fleet on one PostgreSQL store: worker processes and producer processes on mixed runtimes
// (tests/crash/fleet_child.ts), while this parent SIGKILLs a random worker again and again and
// starts a new one in its place. The producers run throughout; after the last kill the parent
// stops them, waits until every acknowledged job ended, stops the workers, and checks:
//   - no job held by two live workers at once: per job, the hold intervals of its attempts (from
//     the handler's start to its end, to the holder's SIGKILL, or to the heal that took the lease
//     back, whichever comes first) never overlap;
//   - none lost: every acknowledged add is stored and ends `completed`;
//   - each completes once: every start but the completing one is explained by a SIGKILL of its
//     holder or by an expired lease (its attempt ended `stalled` in the store), and no job's
//     completion is reported twice.
// npm run test:crash runs it with 500 kills (driver.ts --fleet); tests/postgres/fleet_test.ts with 20.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { seededRandom } from "../../src/ids.ts";
import { Queue } from "../../src/queue.ts";
import { openStore } from "../../adapters/store/mod.ts";
import type { AttemptRecord, JobState } from "../../src/job.ts";
import { command, type CrashRuntime } from "./driver.ts";
import { FLEET_QUEUE } from "./protocol.ts";
import { dropStore, POSTGRES_URL, tableName } from "../postgres/_pg.ts";

/** Options of {@link runFleet}. */
export interface FleetOptions {
  /** SIGKILLs of a random worker process. */
  cycles: number;
  /** Seed of the kill schedule. @default 1 */
  seed?: number;
  /** The worker processes' runtimes, one process each. @default ["node", "bun", "deno", "node"] */
  workers?: CrashRuntime[];
  /** The producer processes' runtimes. @default ["bun", "deno"] */
  producers?: CrashRuntime[];
  /** Shortest time between two kills, in ms. @default 150 */
  minMs?: number;
  /** Longest time between two kills, in ms. @default 600 */
  maxMs?: number;
  /** The workers' lease, in ms. @default 1000 */
  leaseMs?: number;
  /** Progress lines go here. */
  log?: (line: string) => void;
  /** A fault every worker injects, to prove the checks catch it (see fleet_child.ts). */
  fault?: "double-hold";
}

/** The figures of one fleet run. */
export interface FleetReport {
  readonly seed: number;
  /** Workers SIGKILLed. */
  readonly kills: number;
  /** Worker processes started (the first ones and every replacement). */
  readonly workerProcesses: number;
  /** Acknowledged adds. */
  readonly jobs: number;
  /** Acknowledged adds missing from the store. */
  readonly lost: number;
  /** Acknowledged jobs not `completed` at the end. */
  readonly notCompleted: number;
  /** Pairs of hold intervals of one job that overlap (two live holders at once). */
  readonly overlaps: number;
  /** Jobs whose handler started more than once. */
  readonly rerunJobs: number;
  /** Extra starts explained by a SIGKILL of the holder. */
  readonly explainedByCrash: number;
  /** Extra starts explained by a lease that expired while its holder lived. */
  readonly explainedByLease: number;
  /** Extra starts or completions nothing explains. */
  readonly unexplained: number;
  /** Completions reported by a live worker. */
  readonly completions: number;
  /** Handler starts per worker runtime. */
  readonly startsByRuntime: Readonly<Record<string, number>>;
  /** `error` events by kind. */
  readonly errorEvents: Readonly<Record<string, number>>;
  /** Wall time, in ms. */
  readonly durationMs: number;
  /** What went wrong (empty when all is well); at most 50. */
  readonly problems: readonly string[];
}

const FLEET_CHILD = fileURLToPath(new URL("./fleet_child.ts", import.meta.url));

/** One process of the fleet. */
interface Member {
  readonly name: string;
  readonly runtime: CrashRuntime;
  readonly child: ChildProcess;
  /** When the parent sent SIGKILL (Date.now()), if it did. */
  killedAt?: number;
  readonly ready: Promise<void>;
  readonly closed: Promise<{ code: number | null; signal: string | null; stderr: string }>;
}

interface Hold {
  readonly member: Member;
  readonly attempt: number;
  readonly start: number;
  end?: number;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a fleet with kills, then checks what every process reported against the store.
 *
 * @param options See {@link FleetOptions}.
 * @returns The figures; `problems` is empty when nothing was lost, held twice or unexplained.
 */
export async function runFleet(options: FleetOptions): Promise<FleetReport> {
  const seed = options.seed ?? 1;
  const rnd = seededRandom(seed);
  const workerRuntimes = options.workers ?? ["node", "bun", "deno", "node"];
  const producerRuntimes = options.producers ?? ["bun", "deno"];
  const minMs = options.minMs ?? 150, maxMs = options.maxMs ?? 600;
  const leaseMs = options.leaseMs ?? 1000;
  const log = options.log ?? (() => {});
  const began = Date.now();
  const table = tableName("fleet");
  const url = `${POSTGRES_URL}${POSTGRES_URL.includes("?") ? "&" : "?"}table=${table}`;

  const problems: string[] = [];
  const problem = (s: string) => {
    if (problems.length < 50) problems.push(s);
  };
  const acked = new Map<string, number>();
  const holds = new Map<string, Hold[]>();
  const doneBy = new Map<string, Member[]>();
  const errorEvents: Record<string, number> = {};
  const startsByRuntime: Record<string, number> = {};

  const onLine = (m: Member, line: string) => {
    const [word, a, b, c] = line.split(" ");
    switch (word) {
      case "added":
        acked.set(b, Number(a));
        break;
      case "start": {
        const list = holds.get(a) ?? [];
        list.push({ member: m, attempt: Number(b), start: Number(c) });
        holds.set(a, list);
        startsByRuntime[m.runtime] = (startsByRuntime[m.runtime] ?? 0) + 1;
        break;
      }
      case "end": {
        const h = holds.get(a)?.findLast((h) => h.member === m && h.attempt === Number(b));
        if (h) h.end = Number(c);
        else problem(`${m.name}: "end" of ${a} attempt ${b} without its start`);
        break;
      }
      case "done":
        doneBy.set(a, [...(doneBy.get(a) ?? []), m]);
        break;
      case "err":
        errorEvents[a] = (errorEvents[a] ?? 0) + 1;
        break;
      case "ready":
      case "stopped":
        break;
      default:
        problem(`${m.name}: ${line.slice(0, 1500)}`);
    }
  };

  const startMember = (name: string, runtime: CrashRuntime, args: string[]): Member => {
    const [cmd, argv] = command(runtime, ["--url", url, ...args], FLEET_CHILD);
    const child = spawn(cmd, argv, { stdio: ["pipe", "pipe", "pipe"] });
    let partial = "", stderr = "";
    let markReady!: () => void;
    const member: Member = {
      name,
      runtime,
      child,
      ready: new Promise<void>((r) => (markReady = r)),
      closed: new Promise((resolve) => {
        child.on("close", (code, signal) => (markReady(), resolve({ code, signal, stderr })));
      }),
    };
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        if (line === "ready") markReady();
        onLine(member, line);
      }
    });
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => (stderr = (stderr + d).slice(-3000)));
    child.stdin!.on("error", () => {}); // a killed child's stdin
    return member;
  };
  const stopMember = async (m: Member) => {
    m.child.stdin!.write("stop\n");
    const { code, signal, stderr } = await m.closed;
    if (code !== 0) problem(`${m.name} exited ${code} (${signal}) when stopped: ${stderr.slice(-1500)}`);
  };

  const all: Member[] = [];
  let kills = 0;
  const newWorker = (slot: number) => {
    const m = startMember(`w${slot}.${all.length}(${workerRuntimes[slot]})`, workerRuntimes[slot], [
      "--role",
      "worker",
      "--seed",
      String((seed * 7919 + all.length) >>> 0),
      "--lease",
      String(leaseMs),
      ...(options.fault ? ["--fault", options.fault] : []),
    ]);
    all.push(m);
    return m;
  };

  const kv = await openStore(url, { adapter: "postgres" }); // the schema, once, before the fleet
  const queue = new Queue<{ n: number }, number>(kv, FLEET_QUEUE);
  let final: Map<string, { state: JobState; history: readonly AttemptRecord[] } | null> = new Map();
  try {
    const workers = workerRuntimes.map((_, slot) => newWorker(slot));
    const producers = producerRuntimes.map((rt, i) =>
      startMember(`p${i}(${rt})`, rt, [
        "--role",
        "producer",
        "--base",
        String(i * 10_000_000),
        "--seed",
        String(i),
      ])
    );
    await Promise.all([...workers, ...producers].map((m) => m.ready));
    for (let cycle = 1; cycle <= options.cycles; cycle++) {
      await wait(minMs + rnd() * (maxMs - minMs));
      const slot = Math.floor(rnd() * workers.length);
      const victim = workers[slot];
      victim.killedAt = Date.now();
      victim.child.kill("SIGKILL");
      const { signal } = await victim.closed;
      if (signal !== "SIGKILL") problem(`${victim.name} ended by itself before its kill (${signal})`);
      kills++;
      workers[slot] = newWorker(slot);
      if (cycle % 50 === 0 || cycle === options.cycles) {
        log(
          `fleet: kill ${cycle}/${options.cycles}, ${acked.size} jobs acknowledged, ${problems.length} problems`,
        );
      }
      if (problems.length >= 50) break;
    }
    await Promise.all(producers.map(stopMember));

    // Every acknowledged job ends; the workers left standing finish the work.
    const deadline = Date.now() + 180_000;
    for (;;) {
      const c = await queue.counts();
      if (c.scheduled + c.ready + c.active + c.failed === 0) break;
      if (Date.now() > deadline) {
        problem(`jobs left 180 s after the last kill: ${JSON.stringify(c)}`);
        break;
      }
      await wait(100);
    }
    await Promise.all(workers.map(stopMember));
    const ids = [...acked.keys()];
    const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
    final = new Map(
      ids.map((id, i) => [id, jobs[i] ? { state: jobs[i]!.state, history: jobs[i]!.history } : null]),
    );
  } finally {
    for (const m of all) {
      if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill("SIGKILL");
    }
    await queue.close().catch(() => {});
    await kv.close().catch(() => {});
    await dropStore(table).catch((e) => problem(`could not drop the fleet's table: ${(e as Error).message}`));
  }

  // The checks.
  let lost = 0, notCompleted = 0, overlaps = 0, rerunJobs = 0;
  let explainedByCrash = 0, explainedByLease = 0, unexplained = 0, completions = 0;
  for (const [id, n] of acked) {
    const job = final.get(id);
    if (!job) {
      lost++;
      problem(`job ${id} (n=${n}) was acknowledged and is missing`);
      continue;
    }
    if (job.state !== "completed") {
      notCompleted++;
      problem(`job ${id} (n=${n}) ended ${job.state}`);
    }
    const history = new Map(job.history.map((h) => [h.attempt, h]));
    const list = holds.get(id) ?? [];
    // Hold intervals: to the handler's end, the holder's kill, or the heal, whichever is first.
    const intervals = list.map((h) => {
      const healed = history.get(h.attempt);
      const ends = [h.end ?? Infinity, h.member.killedAt ?? Infinity];
      if (healed?.outcome === "stalled") ends.push(healed.endedAt);
      return { h, from: h.start, to: Math.min(...ends) };
    }).sort((x, y) => x.from - y.from);
    for (let i = 1; i < intervals.length; i++) {
      const prev = intervals[i - 1], cur = intervals[i];
      if (cur.from < prev.to) {
        overlaps++;
        problem(
          `job ${id}: ${cur.h.member.name} started attempt ${cur.h.attempt} at ${cur.from} while ` +
            `${prev.h.member.name} held attempt ${prev.h.attempt} until ${prev.to}`,
        );
      }
    }
    if (list.length > 1) rerunJobs++;
    const seen = new Set<number>();
    const completing = job.history.find((h) => h.outcome === "completed")?.attempt;
    for (const h of list) {
      if (seen.has(h.attempt)) {
        unexplained++;
        problem(`job ${id}: attempt ${h.attempt} started twice`);
        continue;
      }
      seen.add(h.attempt);
      if (h.attempt === completing) continue;
      const outcome = history.get(h.attempt)?.outcome;
      if (outcome === "stalled" && h.member.killedAt !== undefined) explainedByCrash++;
      else if (outcome === "stalled") explainedByLease++;
      else {
        unexplained++;
        problem(`job ${id}: attempt ${h.attempt} on ${h.member.name} ran again, its history says ${outcome}`);
      }
    }
    if (job.state === "completed" && !seen.has(completing!)) {
      unexplained++;
      problem(`job ${id} completed in attempt ${completing}, which no worker reported starting`);
    }
    const reporters = doneBy.get(id) ?? [];
    completions += reporters.length;
    if (reporters.length > 1) {
      unexplained++;
      problem(`job ${id}: completion reported by ${reporters.map((m) => m.name).join(" and ")}`);
    }
    if (job.state === "completed" && reporters.length === 0) {
      // Only a holder killed between its completion commit and the line explains that.
      const holder = list.find((h) => h.attempt === completing)?.member;
      if (holder?.killedAt === undefined) {
        unexplained++;
        problem(`job ${id} completed, but its live worker never reported the completion`);
      }
    }
  }
  for (const [id, list] of holds) {
    if (!acked.has(id)) problem(`job ${id} ran on ${list[0].member.name}, but no producer acknowledged it`);
  }
  if (holds.size === 0) problem("no handler ever started");

  return {
    seed,
    kills,
    workerProcesses: all.length,
    jobs: acked.size,
    lost,
    notCompleted,
    overlaps,
    rerunJobs,
    explainedByCrash,
    explainedByLease,
    unexplained,
    completions,
    startsByRuntime,
    errorEvents,
    durationMs: Date.now() - began,
    problems,
  };
}

/**
 * The figures of a fleet run, as printed by `npm run test:crash`.
 *
 * @param r A report.
 * @returns One block of text.
 */
export function formatFleetReport(r: FleetReport): string {
  return [
    `fleet on postgres, seed ${r.seed}: ${r.problems.length ? "FAILED" : "ok"}`,
    `  ${r.kills} SIGKILLs of random workers, ${r.workerProcesses} worker processes in all; ` +
    `handler starts by runtime ${JSON.stringify(r.startsByRuntime)}`,
    `  jobs ${r.jobs} acknowledged, completions reported ${r.completions}; lost ${r.lost}, ` +
    `not completed ${r.notCompleted}, overlapping holds ${r.overlaps}`,
    `  reruns: ${r.rerunJobs} jobs; explained by a kill ${r.explainedByCrash}, by lease expiry ` +
    `${r.explainedByLease}; unexplained ${r.unexplained}`,
    `  error events ${JSON.stringify(r.errorEvents)}, wall time ${(r.durationMs / 1000).toFixed(1)} s`,
    ...r.problems.map((p) => `  problem: ${p}`),
  ].join("\n");
}
