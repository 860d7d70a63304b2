// A fleet on one shared store (SQLite or Deno KV on one file, or PostgreSQL): worker processes and
// producer processes on mixed runtimes (tests/crash/fleet_child.ts), while this parent SIGKILLs a
// random worker again and again and starts a new one in its place, SIGSTOPs other workers past
// their lease and resumes them (SIGCONT), and for PostgreSQL on a throwaway server of its own
// crashes the server itself (immediate shutdown) now and then. The producers run throughout;
// after the last kill the parent stops them, waits until every job ended, stops the workers, has
// the checker process read every job record back, and checks:
//   - no job held by two live workers at once: per job, the hold intervals of its attempts (from
//     the handler's start to its end, to the holder's SIGKILL, or to the heal that took the lease
//     back, whichever comes first) never overlap;
//   - none lost: every acknowledged add is stored and ends `completed` (every stored job does);
//   - each completes once: every start but the completing one is explained by a SIGKILL of its
//     holder or by an expired lease (its attempt ended `stalled` in the store), and no job's
//     completion is reported twice; a SIGSTOPped worker's late completion must be refused
//     (`LeaseLostError`), since the job's completing attempt is another's.
// npm run test:crash runs it on every shared store (driver.ts --fleet); crash_test.ts and
// tests/postgres/fleet_test.ts run short slices.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "../../src/ids.ts";
import type { AttemptOutcome, JobState } from "../../src/job.ts";
import { command, type CrashRuntime, signal } from "./driver.ts";
import { dropStore, POSTGRES_URL, tableName } from "../postgres/_pg.ts";
import type { ThrowawayServer } from "../postgres/_server.ts";

/** A store several processes may share at once. */
export type FleetAdapter = "sqlite" | "deno-kv" | "postgres";

/** Options of {@link runFleet}. */
export interface FleetOptions {
  /** SIGKILLs of a random worker process. */
  cycles: number;
  /** Stop the faults at this time (ms since the epoch) even if fewer kills ran; the drain and checks follow. */
  deadline?: number;
  /** The shared store. @default "postgres" */
  adapter?: FleetAdapter;
  /** Seed of the fault schedule. @default 1 */
  seed?: number;
  /** The worker processes' runtimes, one process each. @default per adapter, see {@link fleetRuntimes} */
  workers?: CrashRuntime[];
  /** The producer processes' runtimes. @default per adapter, see {@link fleetRuntimes} */
  producers?: CrashRuntime[];
  /** Shortest time between two kills, in ms. @default 150 */
  minMs?: number;
  /** Longest time between two kills, in ms. @default 600 */
  maxMs?: number;
  /** The workers' lease, in ms. @default 1000 */
  leaseMs?: number;
  /**
   * Chance, per kill, of also SIGSTOPping a worker (one at a time; the next one to start a handler,
   * so it holds a lease) for 1.5-2.5 leases and resuming it with SIGCONT: its leases expire while it lives, others heal and rerun its jobs, and
   * its late completions must be refused. @default 0
   */
  stopShare?: number;
  /**
   * PostgreSQL only: a throwaway server of the caller's own (tests/postgres/_server.ts), used
   * instead of KVQ_POSTGRES_URL; with `serverCrashEvery` the fleet crashes it. Never the shared one.
   */
  server?: ThrowawayServer;
  /** With `server`: every this many kills, crash the server (immediate shutdown), wait 1 s, start it. */
  serverCrashEvery?: number;
  /** Progress lines go here. */
  log?: (line: string) => void;
  /** A fault every worker injects, to prove the checks catch it (see fleet_child.ts). */
  fault?: "double-hold";
}

/** The figures of one fleet run. */
export interface FleetReport {
  readonly adapter: FleetAdapter;
  readonly seed: number;
  /** Workers SIGKILLed. */
  readonly kills: number;
  /** Workers SIGSTOPped past their lease, then resumed. */
  readonly stops: number;
  /** Times the PostgreSQL server was crashed (immediate shutdown) and restarted. */
  readonly serverCrashes: number;
  /** Worker processes started (the first ones and every replacement). */
  readonly workerProcesses: number;
  /** Acknowledged adds. */
  readonly jobs: number;
  /** Adds that rejected (not acknowledged, so not owed). */
  readonly addFailures: number;
  /** Stored jobs no producer acknowledged (an add whose commit landed but whose caller saw an error). */
  readonly unacknowledged: number;
  /** Acknowledged adds missing from the store. */
  readonly lost: number;
  /** Stored jobs not `completed` at the end. */
  readonly notCompleted: number;
  /** Pairs of hold intervals of one job that overlap (two live holders at once). */
  readonly overlaps: number;
  /** Handlers that started after their lease had been healed (frozen between claim and start): held nothing. */
  readonly lateStarts: number;
  /** Jobs whose handler started more than once. */
  readonly rerunJobs: number;
  /** Extra starts explained by a SIGKILL of the holder. */
  readonly explainedByCrash: number;
  /** Extra starts explained by a lease that expired while its holder lived. */
  readonly explainedByLease: number;
  /** Of those, the holder was SIGSTOPped during the attempt. */
  readonly explainedByStop: number;
  /** Extra starts of one attempt number explained by a server crash that lost a relaxed claim. */
  readonly explainedByServerCrash: number;
  /** Extra starts or completions nothing explains. */
  readonly unexplained: number;
  /** Completions reported by a live worker. */
  readonly completions: number;
  /** Stale writes refused (`LeaseLostError` error events: late completions and heartbeats). */
  readonly leaseLost: number;
  /** Handler starts per worker runtime. */
  readonly startsByRuntime: Readonly<Record<string, number>>;
  /** SIGKILLs per worker runtime. */
  readonly killsByRuntime: Readonly<Record<string, number>>;
  /** `error` events by kind. */
  readonly errorEvents: Readonly<Record<string, number>>;
  /** Wall time, in ms. */
  readonly durationMs: number;
  /** What went wrong (empty when all is well); at most 50. */
  readonly problems: readonly string[];
}

const FLEET_CHILD = fileURLToPath(new URL("./fleet_child.ts", import.meta.url));

/**
 * The default runtimes of a fleet: Deno KV's workers are Deno (the only runtime with
 * `Deno.openKv`), SQLite's are Node (`node:sqlite`) and Bun (`bun:sqlite`) on one file, and
 * PostgreSQL's all three.
 *
 * @param adapter The shared store.
 * @returns The workers' and the producers' runtimes, and the checker's.
 */
export function fleetRuntimes(
  adapter: FleetAdapter,
): { workers: CrashRuntime[]; producers: CrashRuntime[]; checker: CrashRuntime } {
  if (adapter === "deno-kv") {
    return { workers: ["deno", "deno", "deno", "deno"], producers: ["deno", "deno"], checker: "deno" };
  }
  if (adapter === "sqlite") {
    return { workers: ["node", "bun", "node", "bun"], producers: ["bun", "node"], checker: "node" };
  }
  return { workers: ["node", "bun", "deno", "node"], producers: ["bun", "deno"], checker: "node" };
}

/** One process of the fleet. */
interface Member {
  readonly name: string;
  readonly runtime: CrashRuntime;
  readonly child: ChildProcess;
  /** When the parent sent SIGKILL (Date.now()), if it did. */
  killedAt?: number;
  /** When the parent SIGSTOPped it and sent SIGCONT again. */
  readonly stops: { from: number; to: number }[];
  stopped: boolean;
  readonly ready: Promise<void>;
  readonly closed: Promise<{ code: number | null; signal: string | null; stderr: string }>;
}

interface Hold {
  readonly member: Member;
  readonly attempt: number;
  readonly start: number;
  end?: number;
}

interface StoredJob {
  readonly id: string;
  readonly state: JobState;
  readonly history: readonly { attempt: number; outcome: AttemptOutcome; endedAt: number }[];
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a fleet with faults, then checks what every process reported against the store.
 *
 * @param options See {@link FleetOptions}.
 * @returns The figures; `problems` is empty when nothing was lost, held twice or unexplained.
 */
export async function runFleet(options: FleetOptions): Promise<FleetReport> {
  const adapter = options.adapter ?? "postgres";
  const seed = options.seed ?? 1;
  const rnd = seededRandom(seed);
  const defaults = fleetRuntimes(adapter);
  const workerRuntimes = options.workers ?? defaults.workers;
  const producerRuntimes = options.producers ?? defaults.producers;
  const minMs = options.minMs ?? 150, maxMs = options.maxMs ?? 600;
  const leaseMs = options.leaseMs ?? 1000;
  const stopShare = options.stopShare ?? 0;
  const server = options.server;
  const crashEvery = server ? options.serverCrashEvery ?? 0 : 0;
  const log = options.log ?? (() => {});
  const began = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `kvq-fleet-${adapter}-`));
  let url: string, drop: () => Promise<void>;
  if (adapter === "postgres") {
    const table = tableName("fleet");
    const base = server?.url ?? POSTGRES_URL;
    url = `${base}${base.includes("?") ? "&" : "?"}table=${table}`;
    // A throwaway server is removed whole by its owner.
    drop = server ? () => Promise.resolve() : () => dropStore(table);
  } else {
    url = join(dir, adapter === "sqlite" ? "fleet.db" : "fleet.denokv");
    drop = () => Promise.resolve();
  }

  const problems: string[] = [];
  // At most 50 problems, but the first of each kind always (up to 100): many problems of one kind
  // (a fault that starts jobs twice) must not hide another (a job held twice).
  const kinds = new Set<string>();
  const problem = (s: string) => {
    const kind = s.replace(/[0-9A-Za-z]*\d[0-9A-Za-z]*/g, "#").slice(0, 48);
    if (problems.length < 50 || (!kinds.has(kind) && problems.length < 100)) problems.push(s);
    kinds.add(kind);
  };
  const acked = new Map<string, number>();
  const holds = new Map<string, Hold[]>();
  const doneBy = new Map<string, Member[]>();
  const errorEvents: Record<string, number> = {};
  const startsByRuntime: Record<string, number> = {};
  const killsByRuntime: Record<string, number> = {};
  let addFailures = 0;
  let markDrained!: () => void;
  const drained = new Promise<void>((r) => (markDrained = r));

  const onLine = (m: Member, line: string) => {
    const [word, a, b, c] = line.split(" ");
    switch (word) {
      case "added":
        acked.set(b, Number(a));
        break;
      case "addfail":
        addFailures++;
        break;
      case "start": {
        const list = holds.get(a) ?? [];
        list.push({ member: m, attempt: Number(b), start: Number(c) });
        holds.set(a, list);
        startsByRuntime[m.runtime] = (startsByRuntime[m.runtime] ?? 0) + 1;
        // A stop is due: freeze this worker now, while it holds this job's lease.
        if (stopDue > 0 && current.has(m) && !m.stopped && m.killedAt === undefined) {
          freeze(m, stopDue);
          stopDue = 0;
        }
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
      case "drained":
        markDrained();
        break;
      case "ready":
      case "stopped":
      case "dumped":
        break;
      default:
        problem(`${m.name}: ${line.slice(0, 1500)}`);
    }
  };

  const startMember = (name: string, runtime: CrashRuntime, args: string[]): Member => {
    const [cmd, argv] = command(runtime, ["--adapter", adapter, "--url", url, ...args], FLEET_CHILD);
    const child = spawn(cmd, argv, { stdio: ["pipe", "pipe", "pipe"] });
    let partial = "", stderr = "";
    let markReady!: () => void;
    const member: Member = {
      name,
      runtime,
      child,
      stops: [],
      stopped: false,
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
  /** The workers in their slots now (not the killed ones). */
  const current = new Set<Member>();
  /** A SIGSTOP of this many ms is due: the next worker to start a handler gets it. */
  let stopDue = 0;
  let kills = 0, stops = 0, serverCrashes = 0;
  /** When each server crash began and when the server accepted connections again. */
  const crashTimes: [number, number][] = [];
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
    current.add(m);
    return m;
  };

  // SIGSTOP a worker for 1.5-2.5 leases, then SIGCONT: resolves once it runs again.
  const pendingStops: Promise<void>[] = [];
  const freeze = (m: Member, ms: number) => {
    m.stopped = true;
    const from = Date.now();
    signal(m.child, "SIGSTOP");
    stops++;
    pendingStops.push(
      wait(ms).then(() => {
        signal(m.child, "SIGCONT");
        m.stops.push({ from, to: Date.now() });
        m.stopped = false;
      }),
    );
  };

  const dumpFile = join(dir, "final.jsonl");
  // The checker opens the store first (the schema, once, before the fleet) and reads it at the end.
  const checker = startMember(`checker(${defaults.checker})`, defaults.checker, [
    "--role",
    "checker",
    "--dump",
    dumpFile,
  ]);
  const final = new Map<string, StoredJob>();
  try {
    await checker.ready;
    if (checker.child.exitCode !== null) {
      const { stderr } = await checker.closed;
      throw new Error(`the checker did not start: ${stderr.slice(-1500)}`);
    }
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
      if (options.deadline !== undefined && Date.now() > options.deadline) {
        log(`fleet ${adapter}: deadline reached after ${kills} kills`);
        break;
      }
      await wait(minMs + rnd() * (maxMs - minMs));
      // The victim: a random worker that is not frozen (SIGKILL would end a stopped one too).
      let slot = Math.floor(rnd() * workers.length);
      while (workers[slot].stopped) slot = (slot + 1) % workers.length;
      const victim = workers[slot];
      victim.killedAt = Date.now();
      signal(victim.child, "SIGKILL");
      const { signal: how } = await victim.closed;
      if (how !== "SIGKILL") problem(`${victim.name} ended by itself before its kill (${how})`);
      current.delete(victim);
      kills++;
      killsByRuntime[victim.runtime] = (killsByRuntime[victim.runtime] ?? 0) + 1;
      workers[slot] = newWorker(slot);
      if (stopShare > 0 && rnd() < stopShare && stopDue === 0 && !workers.some((w) => w.stopped)) {
        stopDue = leaseMs * (1.5 + rnd());
      }
      if (crashEvery > 0 && cycle % crashEvery === 0) {
        // Not while a process opens the store: an open during the outage fails (ECONNREFUSED), as it should.
        await Promise.all(workers.map((w) => w.ready));
        const down = Date.now();
        await server!.crash();
        await wait(1000);
        await server!.start();
        crashTimes.push([down, Date.now()]);
        serverCrashes++;
        log(`fleet ${adapter}: server crashed and restarted after kill ${cycle}`);
      }
      if (cycle % 50 === 0 || cycle === options.cycles) {
        log(
          `fleet ${adapter}: kill ${cycle}/${options.cycles}, ${stops} stops, ${acked.size} jobs acknowledged, ` +
            `${problems.length} problems`,
        );
      }
      if (problems.length >= 50) break;
    }
    stopDue = 0;
    await Promise.all(pendingStops);
    await Promise.all(producers.map(stopMember));

    // Every job ends; the workers left standing finish the work.
    checker.child.stdin!.write("drain\n");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 180_000))),
    ]);
    clearTimeout(timer);
    if (timedOut) problem("jobs left 180 s after the last kill");
    await Promise.all(workers.map(stopMember));
    await stopMember(checker);
    for (const line of readFileSync(dumpFile, "utf8").split("\n")) {
      if (!line) continue;
      const job = JSON.parse(line) as StoredJob;
      final.set(job.id, job);
    }
  } finally {
    for (const m of [...all, checker]) {
      if (m.child.exitCode === null && m.child.signalCode === null) {
        signal(m.child, "SIGCONT");
        signal(m.child, "SIGKILL");
      }
    }
    rmSync(dir, { recursive: true, force: true });
    await drop().catch((e) => problem(`could not drop the fleet's table: ${(e as Error).message}`));
  }

  // The checks.
  let lost = 0, notCompleted = 0, overlaps = 0, rerunJobs = 0, unacknowledged = 0, lateStarts = 0;
  let explainedByCrash = 0, explainedByLease = 0, explainedByStop = 0, unexplained = 0, completions = 0;
  let explainedByServerCrash = 0;
  for (const [id, n] of acked) {
    if (!final.has(id)) {
      lost++;
      problem(`job ${id} (n=${n}) was acknowledged and is missing`);
    }
  }
  for (const [id, job] of final) {
    if (!acked.has(id)) {
      unacknowledged++;
      if (addFailures === 0) {
        problem(`job ${id} is stored, but no producer acknowledged it and no add failed`);
      }
    }
    if (job.state !== "completed") {
      notCompleted++;
      problem(`job ${id} (n=${acked.get(id)}) ended ${job.state}`);
    }
    const history = new Map(job.history.map((h) => [h.attempt, h]));
    const list = holds.get(id) ?? [];
    // Hold intervals: to the handler's end, the holder's kill, or the heal, whichever is first.
    const intervals = list.map((h) => {
      const healed = history.get(h.attempt);
      const ends = [h.end ?? Infinity, h.member.killedAt ?? Infinity];
      if (healed?.outcome === "stalled") ends.push(healed.endedAt);
      return { h, from: h.start, to: Math.min(...ends) };
    })
      // A handler that started after its lease was already healed held nothing: its process was
      // frozen (SIGSTOP) between the claim and the handler's start. Its completion must be refused.
      .filter((x) => x.to > x.from || (lateStarts++, false))
      .sort((x, y) => x.from - y.from);
    // A claim lost in a server crash (see below) leaves its first holder running while the job is
    // claimed again under the same attempt number: that overlap is the documented cost of relaxed
    // claims (docs/GUARANTEES.md), explained by the crash; the first holder's writes are refused.
    const lostClaim = (a: Hold, b: Hold) =>
      a.attempt === b.attempt &&
      crashTimes.some(([down, up]) => a.start >= down - 1000 && a.start <= up && b.start >= down);
    for (let i = 1; i < intervals.length; i++) {
      const prev = intervals[i - 1], cur = intervals[i];
      if (cur.from < prev.to && !lostClaim(prev.h, cur.h)) {
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
        // A claim is a relaxed commit (PostgreSQL: synchronous_commit = off): it resolves before its
        // WAL flush, so a server crash right after can lose it, and the job is claimed again under
        // the same attempt number. Explained when the first start came at most 1 s before a crash
        // ended (the WAL writer flushes within 3 x wal_writer_delay = 600 ms) and the other after it.
        const first = list.find((x) => x.attempt === h.attempt)!;
        if (lostClaim(first, h)) {
          explainedByServerCrash++;
          continue;
        }
        unexplained++;
        const both = list.filter((x) => x.attempt === h.attempt).map((x) =>
          `${x.member.name} at ${x.start}${x.end !== undefined ? ` (ended ${x.end})` : ""}${
            x.member.killedAt !== undefined ? ` (killed ${x.member.killedAt})` : ""
          }`
        );
        problem(
          `job ${id}: attempt ${h.attempt} started twice: ${both.join(", ")}; history ` +
            `${JSON.stringify(job.history)}; server crashes at ${JSON.stringify(crashTimes)}`,
        );
        continue;
      }
      seen.add(h.attempt);
      if (h.attempt === completing) continue;
      const ended = history.get(h.attempt);
      // By a kill when the heal came after the holder's SIGKILL; else the lease expired in a live holder.
      if (
        ended?.outcome === "stalled" && h.member.killedAt !== undefined && ended.endedAt >= h.member.killedAt
      ) {
        explainedByCrash++;
      } else if (ended?.outcome === "stalled") {
        explainedByLease++;
        if (h.member.stops.some((s) => s.from < ended.endedAt && s.to > h.start)) explainedByStop++;
      } else {
        unexplained++;
        problem(
          `job ${id}: attempt ${h.attempt} on ${h.member.name} ran again, its history says ${ended?.outcome}`,
        );
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
    if (!final.has(id)) problem(`job ${id} ran on ${list[0].member.name}, but it is not in the store`);
  }
  if (holds.size === 0) problem("no handler ever started");

  return {
    adapter,
    seed,
    kills,
    stops,
    serverCrashes,
    workerProcesses: all.length,
    jobs: acked.size,
    addFailures,
    unacknowledged,
    lost,
    notCompleted,
    overlaps,
    lateStarts,
    rerunJobs,
    explainedByCrash,
    explainedByLease,
    explainedByStop,
    explainedByServerCrash,
    unexplained,
    completions,
    leaseLost: Object.entries(errorEvents).filter(([k]) => k.startsWith("LeaseLostError")).reduce(
      (s, [, v]) => s + v,
      0,
    ),
    startsByRuntime,
    killsByRuntime,
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
    `fleet on ${r.adapter}, seed ${r.seed}: ${r.problems.length ? "FAILED" : "ok"}`,
    `  ${r.kills} SIGKILLs of random workers ${
      JSON.stringify(r.killsByRuntime)
    }, ${r.stops} SIGSTOPs past the ` +
    `lease, ${r.serverCrashes} server crashes; ${r.workerProcesses} worker processes in all; ` +
    `handler starts by runtime ${JSON.stringify(r.startsByRuntime)}`,
    `  jobs ${r.jobs} acknowledged (+${r.unacknowledged} stored unacknowledged, ${r.addFailures} adds rejected), ` +
    `completions reported ${r.completions}; lost ${r.lost}, not completed ${r.notCompleted}, ` +
    `overlapping holds ${r.overlaps} (handlers started after their lease was healed: ${r.lateStarts})`,
    `  reruns: ${r.rerunJobs} jobs; explained by a kill ${r.explainedByCrash}, by lease expiry ` +
    `${r.explainedByLease} (holder SIGSTOPped: ${r.explainedByStop}), by a server crash losing a relaxed claim ` +
    `${r.explainedByServerCrash}; unexplained ${r.unexplained}; ` +
    `stale writes refused (LeaseLostError) ${r.leaseLost}`,
    `  error events ${JSON.stringify(r.errorEvents)}, wall time ${(r.durationMs / 1000).toFixed(1)} s`,
    ...r.problems.map((p) => `  problem: ${p}`),
  ].join("\n");
}
