// What bounds a drain on a PostgreSQL store: fills one queue of a PostgreSQL system (kvq-pg-node,
// graphile-worker-best, ...), drains it with N worker processes (bench/worker.ts, as d-drain-p<N> does)
// and, while they run, samples every 20 ms on its own connection what the drain's server backends are
// doing (pg_stat_activity: state and wait event, for backends whose last statement names the run's
// schema; for kvq only the worker processes' backends, by application_name) and how many of their
// advisory-lock requests wait (pg_locks). Prints the drain rate, the share of backend samples per state /
// wait event, the lock-wait share, the worker processes' CPU time (/proc) and for kvq the atomic commits
// per drained job (kvq_commits rows).
// Not part of `npm run bench`: the evidence behind bench/NOTES.md.
//
//   node bench/pg_profile.ts --variant kvq-pg-node --procs 1,4 --jobs 10000 [--concurrency 64]
//        [--cpu-prof <dir>]   (node worker processes write V8 CPU profiles there: NODE_OPTIONS)
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { type Instance, now, sleep, type SystemModule } from "./lib.ts";
import { startWorkers } from "./procs.ts";
import { fill } from "./scenarios.ts";
import { variant } from "./systems.ts";
import { withPg } from "./systems/_pg.ts";

const opt = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};

/** One drain of `jobs` jobs in `procs` worker processes, sampled; returns the printed summary's figures. */
async function profile(id: string, procs: number, jobs: number, concurrency: number): Promise<void> {
  const v = variant(id);
  const dir = mkdtempSync(join(tmpdir(), "kvqbench-prof-"));
  const name = `kvqbench_${Date.now().toString(36)}_${process.pid}`;
  const mod = await import(`./systems/${v.module}`) as SystemModule;
  const opened = await mod.open({ dir, name, options: v.options });
  const inst: Instance = opened.instance;
  try {
    await fill(inst, jobs, opened.info.bulkChunk ?? 1000);
    await inst.afterFill?.();
    let ran = 0;
    const group = await startWorkers({ variant: id, name, dir }, procs, concurrency, "drain", {
      onJobs: (k) => (ran += k),
    });
    const states = new Map<string, number>();
    let backendSamples = 0;
    let lockWaitSamples = 0;
    let samples = 0;
    // Every applied atomic operation of kvq's store leaves one row in kvq_commits (pruned after an hour).
    const before = id.startsWith("kvq-")
      ? await withPg(async (c) =>
        (await c.query(`SELECT count(*)::int AS n FROM "${name}"."kvq_commits"`)).rows[0].n as number
      )
      : 0;
    // CPU seconds (user + system) a process has used, from /proc (Linux; clock ticks of 10 ms).
    const cpu = (pid: number) => {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      return (Number(f[11]) + Number(f[12])) / 100;
    };
    const cpu0 = group.pids.map(cpu);
    await withPg(async (c) => {
      const t0 = now();
      await group.go();
      while (ran < jobs && now() - t0 < 120_000) {
        const rows = (await c.query(
          "SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE pid <> pg_backend_pid() " +
            "AND query LIKE $1 AND query NOT LIKE 'LISTEN%' AND (application_name = 'kvqbench_worker' OR $2)",
          [`%${name}%`, !id.startsWith("kvq-")],
        )).rows;
        const locks = (await c.query(
          "SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid " +
            "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.query LIKE $1",
          [`%${name}%`],
        )).rows[0].n as number;
        samples++;
        for (const r of rows) {
          const key = `${r.state}${r.wait_event ? ` / ${r.wait_event_type}:${r.wait_event}` : ""}`;
          states.set(key, (states.get(key) ?? 0) + 1);
          backendSamples++;
        }
        lockWaitSamples += locks;
        await sleep(20);
      }
      const ms = now() - t0;
      const used = group.pids.map((p, i) => cpu(p) - cpu0[i]);
      const sum = used.reduce((a, b) => a + b, 0);
      console.log(
        `\n${id}, ${procs} worker process(es) × c ${concurrency}: ${ran} of ${jobs} jobs in ${
          Math.round(ms)
        } ms = ${Math.round((ran / ms) * 1000)} jobs/s; ${samples} samples, ` +
          `${(backendSamples / samples).toFixed(1)} drain backends per sample; worker processes used ` +
          `${sum.toFixed(2)} CPU s (${used.map((u) => u.toFixed(2)).join(", ")}) = ${
            ((sum * 1e6) / ran).toFixed(0)
          } CPU µs per job, ${((sum * 1000) / ms).toFixed(2)} cores busy on average`,
      );
      console.log("| backend state / wait event | share of backend samples |");
      console.log("|---|---|");
      for (const [k, n] of [...states].sort((a, b) => b[1] - a[1])) {
        console.log(`| ${k} | ${((n / backendSamples) * 100).toFixed(1)}% |`);
      }
      console.log(
        `advisory-lock requests waiting: ${(lockWaitSamples / samples).toFixed(2)} per sample ` +
          `(${((lockWaitSamples / backendSamples) * 100).toFixed(1)}% of backend samples)`,
      );
      if (id.startsWith("kvq-")) {
        const commits = (await c.query(`SELECT count(*)::int AS n FROM "${name}"."kvq_commits"`)).rows[0]
          .n as number;
        console.log(
          `atomic commits (rows of kvq_commits: the fill's and the drain's): ${commits}, ` +
            `${((commits - before) / ran).toFixed(3)} per drained job`,
        );
      }
    });
    await group.stop();
  } finally {
    await inst.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const prof = opt("cpu-prof", "");
if (prof) process.env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${prof}`;
const id = opt("variant", "kvq-pg-node");
for (const procs of opt("procs", "1,4").split(",").map(Number)) {
  await profile(
    id,
    procs,
    Number(opt("jobs", "10000")),
    Number(opt("concurrency", String(variant(id).best))),
  );
}
