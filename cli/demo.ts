/**
 * The quick start: a durable store, two queues with workers (some attempts fail and are retried,
 * a few jobs fail for good), a producer that adds jobs every second through the HTTP API, and the
 * dashboard on http://127.0.0.1:8787.
 *
 * @module
 */

import { type Job, PermanentError, Queue, type QueueEvent } from "../mod.ts";
import { createServer, serve, type Served } from "../server/mod.ts";
import { openCliStore } from "./store.ts";

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  /** The data directory or store file. @default "kvq-data" */
  store?: string;
  /** The dashboard's port (0: any free one). @default 8787 */
  port?: number;
  /** The dashboard's interface. @default "127.0.0.1" */
  hostname?: string;
  /** Listen beyond loopback without a token (see `serve()`'s `insecure`). @default false */
  insecure?: boolean;
  /** Stop by itself after this many seconds. @default run until `signal` aborts */
  seconds?: number;
  /** Stops the demo. */
  signal?: AbortSignal;
  /** Where lines go. @default console.log */
  log?: (line: string) => void;
}

/** What the demo did. */
export interface DemoSummary {
  /** Jobs added. */
  added: number;
  /** Jobs completed. */
  completed: number;
  /** Failed attempts (retried or dead). */
  failed: number;
  /** Jobs that went dead. */
  dead: number;
}

/** The demo (or `kvq serve`) could not listen: the port is taken, not a port, or not allowed. */
export class ListenError extends Error {
  override name = "ListenError";
  /** The port asked for. */
  readonly port: number;
  /** True when the port or interface was not valid (bad usage rather than a busy port). */
  readonly invalid: boolean;
  /** Creates the error from what `serve()` threw. */
  constructor(hostname: string, port: number, cause: unknown) {
    const code = (cause as { code?: string })?.code;
    const why = code === "EADDRINUSE" || /in use/i.test(String((cause as Error)?.message))
      ? "the address is already in use (another kvq or program listens there; try --port 0 for any free one)"
      : String((cause as Error)?.message ?? cause);
    super(`Cannot listen on ${hostname}:${port}: ${why}`, { cause });
    this.port = port;
    this.invalid = cause instanceof RangeError || cause instanceof TypeError ||
      (cause as Error)?.name === "InsecureBindError";
  }
}

const FIRST_NAMES = ["ada", "grace", "alan", "edsger", "barbara", "donald", "margaret", "linus"];

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)];
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs the demo until `seconds` pass or `signal` aborts, then shuts down gracefully.
 *
 * @param options See {@linkcode DemoOptions}.
 * @returns Counts of what happened.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const store = await openCliStore(options.store);
  const summary: DemoSummary = { added: 0, completed: 0, failed: 0, dead: 0 };
  const emails = new Queue<{ to: string; subject: string }, string>(store, "emails", {
    maxAttempts: 3,
    backoff: { type: "exponential", delay: 500 },
  });
  const reports = new Queue<{ report: string; pages: number }, { pages: number }>(store, "reports", {
    maxAttempts: 2,
    backoff: 1000,
  });
  const short = (job: Job | undefined) => `${job?.queue}/${job?.id.slice(-6)}`;
  for (const q of [emails, reports] as Queue[]) {
    q.addEventListener("completed", (e) => {
      summary.completed++;
      const job = (e as QueueEvent).job;
      log(`  done   ${short(job)} attempt ${job?.attempt}`);
    });
    q.addEventListener("failed", (e) => {
      summary.failed++;
      const ev = e as QueueEvent;
      log(`  failed ${short(ev.job)} attempt ${ev.job?.attempt}: ${(ev.error as Error)?.message}`);
    });
    q.addEventListener("dead", () => summary.dead++);
  }

  // Listen before any worker starts: when the port is taken or invalid, the demo ends here, with
  // the store closed and nothing left running.
  const app = createServer({ store, queues: [emails, reports] as Queue[] });
  const port = options.port ?? 8787;
  const hostname = options.hostname ?? "127.0.0.1";
  let http: Served;
  try {
    http = await serve(app, { port, hostname, insecure: options.insecure });
  } catch (err) {
    await app.close();
    await store.close();
    throw new ListenError(hostname, port, err);
  }
  const emailWorker = emails.process(async (job, ctx) => {
    await pause(50 + Math.random() * 400, ctx.signal);
    const roll = Math.random();
    if (job.data.to.startsWith("bounce")) throw new PermanentError(`Mailbox ${job.data.to} does not exist`);
    if (roll < 0.25) throw new Error("SMTP 451: temporary failure, try again later");
    return `sent "${job.data.subject}" to ${job.data.to}`;
  }, { concurrency: 4 });
  const reportWorker = reports.process(async (job, ctx) => {
    for (let page = 1; page <= job.data.pages; page++) {
      await pause(150, ctx.signal);
      await ctx.progress({ page, of: job.data.pages });
    }
    if (Math.random() < 0.2) throw new Error("Renderer crashed");
    return { pages: job.data.pages };
  }, { concurrency: 2 });

  log(`kvq demo: ${store.choice.adapter} store (${store.choice.driver}), dashboard on ${http.url}/`);
  log(options.seconds === undefined ? "Press Ctrl-C to stop." : `Stopping after ${options.seconds} s.`);

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  const timer = options.seconds === undefined
    ? undefined
    : setTimeout(() => stop.abort(), Math.max(0, options.seconds * 1000));

  const post = async (path: string, body: unknown) => {
    const res = await app.fetch(
      new Request(`${http.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
    if (!res.ok) log(`  add failed: ${res.status} ${await res.text()}`);
    return res;
  };
  let tick = 0;
  try {
    while (!stop.signal.aborted) {
      const n = 1 + Math.floor(Math.random() * 3);
      const jobs = Array.from({ length: n }, () => {
        const name = Math.random() < 0.08 ? "bounce" : pick(FIRST_NAMES);
        return {
          data: { to: `${name}@example.com`, subject: `Welcome #${tick}` },
          priority: pick([0, 0, 0, 5]),
        };
      });
      if ((await post("/queues/emails/jobs/bulk", { jobs })).ok) summary.added += n;
      if (tick % 3 === 0) {
        const res = await post("/queues/reports/jobs", {
          data: { report: `weekly-${tick}`, pages: 2 + Math.floor(Math.random() * 4) },
          delay: 2000,
        });
        if (res.ok) summary.added++;
      }
      tick++;
      await pause(1000, stop.signal).catch(() => {});
    }
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    log("kvq demo: stopping (waiting up to 5 s for running jobs)...");
    await Promise.all([emailWorker.close({ timeout: 5000 }), reportWorker.close({ timeout: 5000 })]);
    await http.close();
    await app.close();
    await store.close();
  }
  log(
    `kvq demo: added ${summary.added} jobs, processed ${summary.completed + summary.failed} attempts: ` +
      `${summary.completed} completed, ${summary.failed} failed (retried or dead), ${summary.dead} dead`,
  );
  return summary;
}
