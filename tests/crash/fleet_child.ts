// One process of a fleet on one shared store (tests/crash/fleet.ts runs it): a producer that adds
// jobs, a worker that runs them, or the checker that reads the store for the parent, each until
// "stop" on stdin (the parent SIGKILLs and SIGSTOPs workers at random meanwhile). Runs unchanged
// under node, bun and deno; the store is SQLite, Deno KV or PostgreSQL (any adapter several
// processes may share).
//
// Usage: <runtime> tests/crash/fleet_child.ts --adapter sqlite|deno-kv|postgres --url <path or postgres://...?table=...>
//          --role producer|worker|checker [--base <n>] [--seed <s>] [--lease <ms>] [--fault double-hold]
//          [--dump <file>] (checker)
//
// --fault double-hold makes a worker also report, every 50 ms, a run of a job that another
// worker holds (it reads an active job and prints start/end for it without claiming it): what a
// broken lease would look like. The parent's checks must catch it (its self-test).
//
// Protocol (stdout, one whole line per event, written synchronously; times are Date.now()):
//   ready                      the store is open and the producer/worker/checker runs
//   added <n> <id>             (producer) add() of payload {n} resolved: the acknowledgement
//   addfail <n> <name>:<code>  (producer) add() of payload {n} rejected (e.g. the server was down): not owed
//   start <id> <attempt> <t>   (worker) a handler started at t, so this process holds the lease
//   end <id> <attempt> <t>     (worker) the handler returned at t, before its completion commit
//   done <id>                  (worker) the completion commit resolved (the `completed` event)
//   err <name>:<code>          an `error` event (a stale worker's refused write is LeaseLostError:undefined)
//   drained                    (checker, after "drain" on stdin) no job is scheduled, ready, active or failed
//   dumped <jobs>              (checker, after "stop") every job record of the queue is in the --dump file
//   stopped <adds>             after "stop": the producer added its last job / the worker closed
//   fatal <text>               something broke; exit code 2
import { createInterface } from "node:readline";
import { writeFileSync } from "node:fs";
import process from "node:process";
import { openStore, type StoreAdapter } from "../../adapters/store/mod.ts";
import { Queue } from "../../src/queue.ts";
import type { QueueEvent } from "../../src/events.ts";
import { seededRandom } from "../../src/ids.ts";
import { Keyspace } from "../../src/keys.ts";
import { storedJobs } from "../../src/lease_entry.ts";
import { arg, exit, oneLine, out, sleep } from "./_child_io.ts";
import { FLEET_QUEUE } from "./protocol.ts";

async function main(): Promise<void> {
  const adapter = arg("adapter", "postgres") as StoreAdapter;
  const url = arg("url");
  const role = arg("role");
  const base = Number(arg("base", "0"));
  const random = seededRandom(Number(arg("seed", "1")));
  const leaseMs = Number(arg("lease", "1000"));
  let stopping = false;
  let draining: (() => void) | undefined;
  const drain = new Promise<void>((resolve) => (draining = resolve));
  const stop = new Promise<void>((resolve) => {
    createInterface({ input: process.stdin }).on("line", (l) => {
      if (l === "stop") (stopping = true, resolve());
      if (l === "drain") draining!();
    });
  });

  const kv = await openStore(url, { adapter });
  const queue = new Queue<{ n: number }, number>(kv, FLEET_QUEUE, { maxAttempts: 1000, pollInterval: 200 });
  queue.addEventListener("error", (e) => {
    const err = (e as QueueEvent).error as { name?: string; code?: string } | undefined;
    out(`err ${err?.name}:${err?.code}`);
  });

  if (role === "producer") {
    out("ready");
    let n = base;
    while (!stopping) {
      const m = ++n;
      try {
        const job = await queue.add({ n: m });
        out(`added ${m} ${job.id}`);
      } catch (e) {
        // Not acknowledged, so not owed (its commit may still have landed: the parent allows that).
        const err = e as { name?: string; code?: string };
        out(`addfail ${m} ${err?.name}:${err?.code}`);
        await sleep(100);
      }
      await sleep(5 + Math.floor(random() * 20));
    }
    out(`stopped ${n - base}`);
  } else if (role === "checker") {
    // Opened first (it makes the schema once, before the fleet), then waits for "drain".
    out("ready");
    await Promise.race([drain, stop]);
    while (!stopping) {
      const c = await queue.counts().catch(() => null);
      if (c && c.scheduled + c.ready + c.active + c.failed === 0) {
        out("drained");
        break;
      }
      await sleep(100);
    }
    await stop;
    const ks = new Keyspace(undefined, FLEET_QUEUE);
    const lines: string[] = [];
    for (const r of (await storedJobs(kv, ks)).values()) {
      lines.push(JSON.stringify({
        id: r.id,
        state: r.state,
        history: r.history.map((h) => ({ attempt: h.attempt, outcome: h.outcome, endedAt: h.endedAt })),
      }));
    }
    writeFileSync(arg("dump"), lines.join("\n") + "\n");
    out(`dumped ${lines.length}`);
  } else {
    queue.addEventListener("completed", (e) => out(`done ${(e as QueueEvent).job!.id}`));
    const worker = queue.process(async (job, ctx) => {
      out(`start ${job.id} ${ctx.attempt} ${Date.now()}`);
      // Mostly short jobs; a few outlive the lease, so heartbeats keep them.
      const r = random();
      await sleep(r < 0.03 ? 300 + Math.floor(random() * 1200) : Math.floor(random() * 15));
      out(`end ${job.id} ${ctx.attempt} ${Date.now()}`);
      return job.data.n;
    }, { concurrency: 4, leaseMs, heartbeatInterval: leaseMs / 4 });
    const fault = arg("fault", "") === "double-hold"
      ? setInterval(async () => {
        const [job] = (await queue.list("active", { limit: 1 }).catch(() => ({ jobs: [] }))).jobs;
        if (job) {
          out(`start ${job.id} ${job.attempt} ${Date.now()}`),
            out(`end ${job.id} ${job.attempt} ${Date.now()}`);
        }
      }, 50)
      : undefined;
    out("ready");
    await stop;
    clearInterval(fault);
    await worker.close({ timeout: 10_000 });
    out("stopped 0");
  }
  await queue.close();
  await kv.close();
  exit(0);
}

main().catch((e) => {
  out(`fatal ${oneLine(e)}`);
  exit(2);
});
