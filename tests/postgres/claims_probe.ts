// Do claims from many processes collide? Fills one PostgreSQL store with jobs, then drains it
// with 1, 2, 4 and 8 worker processes (each: one Queue, one worker of `--concurrency` handlers,
// a no-op handler) started together, and reports per run: the commits whose checks failed per
// completed job (nearly all of them lost claim races), all commits per job, and the drain rate.
// The generic AtomicKv path only (no claim capability). Not a test: it measures (see _claims.ts).
//
// Usage: node tests/postgres/claims_probe.ts [--jobs 4000] [--procs 1,2,4,8] [--concurrency 8]
//          [--runtime node|bun|deno]            (KVQ_POSTGRES_URL names the server, see _pg.ts)
import process from "node:process";
import type { CrashRuntime } from "../crash/driver.ts";
import { runClaims } from "./_claims.ts";
import { POSTGRES_URL } from "./_pg.ts";

async function main(argv: string[]): Promise<void> {
  const opt = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
  };
  const jobs = Number(opt("jobs", "4000"));
  const concurrency = Number(opt("concurrency", "8"));
  const runtime = opt("runtime", "node") as CrashRuntime;
  console.log(
    `claims probe: ${jobs} no-op jobs, ${concurrency} handlers per process, ${runtime}, ${POSTGRES_URL}`,
  );
  console.log(
    "| worker processes | drain (jobs/s) | failed commits per completed job | commits per job | jobs per process |",
  );
  console.log("|---|---|---|---|---|");
  for (const procs of opt("procs", "1,2,4,8").split(",").map(Number)) {
    const r = await runClaims(procs, jobs, concurrency, runtime);
    console.log(
      `| ${procs} | ${Math.round(r.jobs / r.seconds)} | ${r.failedPerJob.toFixed(3)} | ${
        r.commitsPerJob.toFixed(2)
      } | ${r.ranPerProcess.join(", ")} |`,
    );
  }
}

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? process.argv.slice(2);
main(args).catch((e) => {
  console.error(e);
  process.exit(1);
});
