// The crash-test child: opens a durable store (a file, or a postgres:// URL with ?table=), dumps what it finds (the parent checks it against
// its own record), then runs producers and workers until the parent SIGKILLs it. Runs unchanged
// under node, bun and deno; the adapter comes from the arguments, the runtime is whichever runs it.
//
// Usage: <runtime> tests/crash/child.ts --adapter file|sqlite|deno-kv|postgres --path <store> --dump <file>
//          [--mode work|final] [--base <n>] [--seed <s>] [--lease <ms>] [--fault ack-early] [--chaos]
//
// --chaos widens the workload: 5% of handlers throw (retried after 20 ms), 10% of adds are delayed
// 0-300 ms, priorities vary, and 1% of handlers block the event loop for 1.3 leases, so the
// healer can take a lease back from a live worker whose late completion must then change nothing.
//
// --fault ack-early wraps the store so that every commit resolves at once and is applied 150 ms
// later: a store that acknowledges before it writes. The driver must catch it (its self-test).
//
// Protocol (stdout, one line per event, written with a synchronous write so a line the parent
// reads was written before the kill; a line is always whole, it is shorter than PIPE_BUF):
//   opening                   open() is about to be called (the driver may kill from here)
//   open <ms> <driver>        the store opened in <ms> (recovery of the store itself)
//   dumped <jobs>             the dump file is complete (written before any work started)
//   go                        producers and workers started
//   first <ms>                the first handler started: open + first claim, in ms
//   added <n> <id>            add() of payload {n} RESOLVED (the acknowledgement)
//   start <id> <attempt>      a handler started
//   done <id>                 the completion commit resolved (the queue's `completed` event)
//   stalled <id> <attempt>    the healer took back an expired lease
//   err <text>                an `error` event (e.g. a stale worker's LeaseLostError)
//   compactions <n>           the file store compacted its log (n since open)
//   final <jobs>              (final mode) every job ended and the final dump is complete
//   fatal <text>              the store did not open, or something else broke; exit code 2
import { writeFileSync } from "node:fs";
import { arg, exit, flag, oneLine, out, sleep } from "./_child_io.ts";
import { openStore, type StoreAdapter } from "../../adapters/store/mod.ts";
import type { AtomicKv, AtomicOp, KvCommitResult } from "../../src/kv.ts";
import { Queue } from "../../src/queue.ts";
import type { QueueEvent } from "../../src/events.ts";
import { seededRandom } from "../../src/ids.ts";
import { storedJobs } from "../../src/lease_entry.ts";
import { CRASH_QUEUE, dumpLines, INDEXES } from "./protocol.ts";
import { Keyspace } from "../../src/keys.ts";

/** The ack-early fault: commits resolve at once (a fake versionstamp) and happen 150 ms later. */
function ackEarly(inner: AtomicKv): AtomicKv {
  return {
    info: inner.info,
    get: (key) => inner.get(key),
    getMany: (keys) => inner.getMany(keys),
    list: (selector, options) => inner.list(selector, options),
    close: () => inner.close(),
    atomic(): AtomicOp {
      const op = inner.atomic();
      const lazy = {
        check: (k, v) => (op.check(k, v), lazy),
        set: (k, v) => (op.set(k, v), lazy),
        delete: (k) => (op.delete(k), lazy),
        commit: (): Promise<KvCommitResult> => {
          setTimeout(() => op.commit().catch(() => {}), 150);
          return Promise.resolve({ ok: true, versionstamp: "0".repeat(20) });
        },
      } as AtomicOp;
      return lazy;
    },
  };
}

/** Reads the whole keyspace of the crash queue into dump lines (nothing else runs meanwhile). */
async function dump(kv: AtomicKv, queue: Queue<{ n: number }, number>, file: string): Promise<number> {
  const ks = new Keyspace(undefined, CRASH_QUEUE);
  const records = [...(await storedJobs(kv, ks)).values()];
  const index: { idx: string; key: unknown[]; v: string }[] = [];
  const dec = new TextDecoder();
  for (const idx of INDEXES) {
    const prefix = [...ks.root, idx, CRASH_QUEUE];
    for await (const e of kv.list({ prefix })) {
      index.push({ idx, key: e.key.slice(prefix.length) as unknown[], v: dec.decode(e.value) });
    }
  }
  const counts = await queue.counts();
  writeFileSync(file, dumpLines(records, index, counts));
  return records.length;
}

async function main(): Promise<void> {
  const adapter = arg("adapter") as StoreAdapter;
  const path = arg("path");
  const dumpFile = arg("dump");
  const mode = arg("mode", "work");
  const base = Number(arg("base", "0"));
  const random = seededRandom(Number(arg("seed", "1")));
  const leaseMs = Number(arg("lease", "1000"));
  const fault = arg("fault", "");
  const chaos = flag("chaos");

  // Load the adapter's module first, so the open time below is the store's own recovery.
  if (adapter === "file") await import("../../adapters/file/mod.ts");
  else if (adapter === "sqlite") await import("../../adapters/sqlite/mod.ts");
  else if (adapter === "postgres") await import("../../adapters/postgres/mod.ts");
  else await import("../../adapters/deno-kv/mod.ts");
  out("opening");
  const t0 = performance.now();
  let kv;
  try {
    kv = await openStore(path, {
      adapter,
      // Compact often, so kills land during compaction too.
      file: { compactMinBytes: 256 * 1024, compactRatio: 2 },
    });
  } catch (e) {
    out(`fatal open ${oneLine(e)}`);
    exit(2);
  }
  const openMs = performance.now() - t0;
  out(`open ${openMs.toFixed(2)} ${kv.choice.driver}`);
  if (!kv.info.durable) {
    out(`fatal the ${adapter} store is not durable`);
    exit(2);
  }
  const queue = new Queue<{ n: number }, number>(fault === "ack-early" ? ackEarly(kv) : kv, CRASH_QUEUE, {
    maxAttempts: 1000,
    pollInterval: 50,
    backoff: 20,
  });
  out(`dumped ${await dump(kv, queue, dumpFile)}`);

  queue.addEventListener("completed", (e) => out(`done ${(e as QueueEvent).job!.id}`));
  queue.addEventListener("stalled", (e) => {
    const job = (e as QueueEvent).job!;
    out(`stalled ${job.id} ${job.history.at(-1)?.attempt ?? 0}`);
  });
  queue.addEventListener("error", (e) => {
    const err = (e as QueueEvent).error as Error | undefined;
    out(`err ${String(err?.name ?? "")}: ${String(err?.message ?? err).replace(/\s+/g, " ")}`);
  });

  // Report the file store's compactions, so the driver can tell kills landed around them.
  const stats = (kv as { stats?: () => { compactions: number } }).stats?.bind(kv);
  if (stats) {
    let seen = 0;
    setInterval(() => {
      const n = stats().compactions;
      if (n !== seen) out(`compactions ${seen = n}`);
    }, 20);
  }

  const tStart = performance.now();
  let first = true;
  const handler = async (job: { id: string; data: { n: number } }, ctx: { attempt: number }) => {
    out(`start ${job.id} ${ctx.attempt}`);
    if (first) {
      first = false;
      out(`first ${(openMs + performance.now() - tStart).toFixed(2)}`);
    }
    if (chaos) {
      const c = random();
      if (c < 0.05) throw new Error(`chaos: attempt ${ctx.attempt} of job ${job.id} fails`);
      if (c < 0.06) {
        const until = performance.now() + leaseMs * 1.3;
        while (performance.now() < until) { /* block the event loop: no heartbeat, no healer */ }
      }
    }
    // Mostly short jobs; a few outlive the lease, so heartbeats keep them.
    const r = random();
    await sleep(r < 0.03 ? 300 + Math.floor(random() * 1200) : Math.floor(random() * 15));
    return job.data.n;
  };
  const workers = [1, 2].map(() =>
    queue.process(handler, { concurrency: 4, leaseMs, heartbeatInterval: leaseMs / 4, pollInterval: 50 })
  );

  if (mode === "work") {
    let next = base;
    const producer = async () => {
      for (;;) {
        const n = ++next;
        const job = await queue.add(
          { n },
          chaos ? { priority: Math.floor(random() * 3), delay: random() < 0.1 ? random() * 300 : 0 } : {},
        );
        out(`added ${n} ${job.id}`);
        await sleep(5 + Math.floor(random() * 20));
      }
    };
    out("go");
    producer().catch((e) => out(`fatal producer ${oneLine(e)}`));
    producer().catch((e) => out(`fatal producer ${oneLine(e)}`));
    // Never killed (a broken parent): leave after a while.
    await sleep(120_000);
    out("fatal not killed within 120 s");
    exit(2);
  }

  // Final mode: no producers; run until every job ended, then dump again.
  out("go");
  const deadline = Date.now() + 120_000;
  for (;;) {
    const c = await queue.counts();
    if (c.scheduled + c.ready + c.active + c.failed === 0) break;
    if (Date.now() > deadline) {
      out(`fatal jobs left after 120 s: ${JSON.stringify(c)}`);
      exit(2);
    }
    await sleep(50);
  }
  await Promise.all(workers.map((w) => w.close()));
  out(`final ${await dump(kv, queue, dumpFile + ".final")}`);
  await kv.close();
  exit(0);
}

main().catch((e) => {
  out(`fatal ${oneLine(e)}`);
  exit(2);
});
