/**
 * The `kvq` command: serve the sidecar and dashboard, run the demo, and manage jobs from a shell,
 * either directly on a store (`--store`) or through a running sidecar (`--url`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import process from "node:process";
import { readFile } from "node:fs/promises";
import {
  createServer,
  InsecureBindError,
  type KvqServer,
  otlpSink,
  serve,
  type Served,
} from "../server/mod.ts";
import { openCliStore } from "./store.ts";
import { ListenError, runDemo } from "./demo.ts";
import { onTerminal, startProgress } from "./progress.ts";
import { deliveryFromFlags } from "./delivery.ts";

/** Where the CLI writes. */
export interface CliIo {
  /** Standard output lines. */
  out(line: string): void;
  /** Standard error lines. */
  err(line: string): void;
  /**
   * Draw progress bars of long operations on standard error. The default io draws them when both
   * standard output and standard error are a terminal. @default false
   */
  progress?: boolean;
}

/** The usage text. */
export const USAGE: string = `kvq: durable background jobs on Deno, Bun and Node

Usage:
  kvq demo [--port 8787] [--for SECONDS]      the quick start: workers, a producer and the dashboard
  kvq serve [--port 8787] [--host 127.0.0.1] [--token T] [--allow-host NAME] [--insecure]
            [--grpc-port N] [--otlp-endpoint URL]
                                              the HTTP sidecar and dashboard (token also from KVQ_TOKEN);
                                              without a token it listens on loopback only, unless
                                              --insecure (anyone who can reach it may then change jobs);
                                              --grpc-port: also gRPC, gRPC-Web and Connect over HTTP/2
                                              (proto/kvq/v1/queue.proto) on that port, same token;
                                              --otlp-endpoint: push metrics there (OTLP/HTTP) every 15 s
        [--app-id ID --peer NAME=URL ... | --peer-template T] [--delivery-key K]
                                              app-to-app delivery (POST /send/:app/:queue) as app ID to
                                              peers by map or by template ("{app}.ns.svc:8787"); the
                                              HMAC key also from KVQ_DELIVERY_KEY
  kvq queues                                  every queue with its counts
  kvq add QUEUE JSON [--delay MS] [--priority N] [--max-attempts N] [--key K] [--timeout MS]
  kvq add QUEUE --file JOBS.ndjson [--delay MS] [--priority N] [--max-attempts N] [--timeout MS]
                                              one JSON payload per line (blank lines skipped), every
                                              line checked before any is added
  kvq counts QUEUE                            jobs per state
  kvq list QUEUE STATE [--limit N] [--cursor C]
  kvq get ID [--queue QUEUE]
  kvq cancel ID [--queue QUEUE]
  kvq redrive QUEUE [ID]                      every dead job of QUEUE (or one) back to ready
  kvq pause QUEUE | kvq resume QUEUE

Where the jobs are:
  --store PATH    data directory or store file (default $KVQ_STORE, else ./kvq-data): the runtime's
                  embedded store; or a postgres:// URL: the PostgreSQL store shared by many processes
  --url URL       a running sidecar instead (with --token or KVQ_TOKEN)

Output is JSON. Exit status: 0 ok, 1 the operation failed, 2 bad usage (including a request the
sidecar refused as invalid, 400, and a line of --file that is not JSON). Commands that only read
(queues, counts, list, get) never create a store. On a terminal, add --file and redrive QUEUE
show a progress bar on standard error.`;

class UsageError extends Error {
  override name = "UsageError";
}

const OPTIONS = {
  store: { type: "string" },
  url: { type: "string" },
  token: { type: "string", multiple: true },
  port: { type: "string" },
  "grpc-port": { type: "string" },
  host: { type: "string" },
  for: { type: "string" },
  delay: { type: "string" },
  priority: { type: "string" },
  "max-attempts": { type: "string" },
  key: { type: "string" },
  timeout: { type: "string" },
  limit: { type: "string" },
  cursor: { type: "string" },
  queue: { type: "string" },
  "allow-host": { type: "string", multiple: true },
  file: { type: "string" },
  "otlp-endpoint": { type: "string" },
  "app-id": { type: "string" },
  peer: { type: "string", multiple: true },
  "peer-template": { type: "string" },
  "delivery-key": { type: "string" },
  insecure: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Job states, to refuse a misspelt one before any store is opened. */
const STATES = ["scheduled", "ready", "active", "failed", "completed", "dead", "canceled"];
/** Commands that only read: they never create a store. */
const READ_ONLY = new Set(["queues", "counts", "list", "get"]);

/**
 * `--delay -5` as `--delay=-5`: `parseArgs` takes a value starting with `-` for an option, so a
 * negative number after an option that takes a value is joined to it.
 */
function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const def = a.startsWith("--") && !a.includes("=")
      ? (OPTIONS as Record<string, { type: string }>)[a.slice(2)]
      : undefined;
    if (def?.type === "string" && i + 1 < argv.length && /^-\d/.test(argv[i + 1])) {
      out.push(`${a}=${argv[++i]}`);
    } else out.push(a);
  }
  return out;
}

function num(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(`--${what} expects a number, got "${value}"`);
  }
  return n;
}

function need(positionals: string[], count: number, usage: string): string[] {
  if (positionals.length < count) throw new UsageError(`usage: kvq ${usage}`);
  return positionals;
}

/** Resolves on SIGINT or SIGTERM; `dispose` removes the listeners. */
function onStopSignal(): { signal: Promise<string>; dispose(): void } {
  let dispose = () => {};
  const signal = new Promise<string>((resolve) => {
    const onInt = () => (dispose(), resolve("SIGINT"));
    const onTerm = () => (dispose(), resolve("SIGTERM"));
    dispose = () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    };
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
  return { signal, dispose };
}

/**
 * Runs one `kvq` command.
 *
 * @param argv The arguments after `kvq`.
 * @param io Where to write. @default the console
 * @returns The exit status (0 ok, 1 failed, 2 bad usage).
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l), progress: onTerminal() },
): Promise<number> {
  let values: {
    [K in keyof typeof OPTIONS]?: K extends "token" | "allow-host" | "peer" ? string[]
      : K extends "help" | "insecure" ? boolean
      : string;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: joinNegativeValues(argv),
      options: OPTIONS,
      allowPositionals: true,
    }));
  } catch (err) {
    io.err(`kvq: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === "help") {
    io.out(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  const envToken = process.env.KVQ_TOKEN;
  const tokens = values.token ?? (envToken ? [envToken] : []);
  try {
    if (command === "demo") {
      const seconds = num(values.for, "for");
      const ac = new AbortController();
      const stop = onStopSignal();
      void stop.signal.then(() => ac.abort());
      try {
        await runDemo({
          store: values.store,
          port: num(values.port, "port") ?? 8787,
          hostname: values.host,
          insecure: values.insecure,
          seconds,
          signal: ac.signal,
          log: io.out,
        });
      } finally {
        stop.dispose();
      }
      return 0;
    }
    if (command === "serve") {
      const port = num(values.port, "port") ?? 8787;
      const hostname = values.host ?? "127.0.0.1";
      const otlp = values["otlp-endpoint"];
      let sinks;
      try {
        sinks = otlp === undefined ? [] : [otlpSink({ url: otlp })];
      } catch (err) {
        throw new UsageError(`--otlp-endpoint: ${(err as Error).message}`);
      }
      let delivery;
      try {
        delivery = deliveryFromFlags(values, process.env.KVQ_DELIVERY_KEY);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const store = await openCliStore(values.store);
      const app = createServer({
        store,
        auth: tokens.length ? tokens : undefined,
        allowedHosts: values["allow-host"],
        metrics: { sinks },
        ...delivery,
      });
      const grpcPort = num(values["grpc-port"], "grpc-port");
      let http;
      let grpc: { served: Served; close(): void } | undefined;
      let at = port;
      try {
        http = await serve(app, { port, hostname, insecure: values.insecure });
        if (grpcPort !== undefined) {
          at = grpcPort;
          // Loaded only here: Connect and protobuf-es stay out of every other command.
          const { createGrpcService, serveGrpc } = await import("../server/grpc/mod.ts");
          const service = createGrpcService(app);
          const served = await serveGrpc(service, { port: grpcPort, hostname, insecure: values.insecure })
            .catch((err) => {
              service.close();
              throw err;
            });
          grpc = { served, close: () => service.close() };
        }
      } catch (err) {
        await http?.close();
        await app.close();
        await store.close();
        throw err instanceof InsecureBindError
          ? new UsageError(err.message)
          : new ListenError(hostname, at, err);
      }
      io.out(
        `kvq: serving ${store.choice.adapter} store (${store.choice.driver}) on ${http.url} ` +
          `(dashboard ${http.url}/, metrics ${http.url}/metrics${otlp ? ` and pushed to ${otlp}` : ""}${
            grpc ? `, gRPC ${grpc.served.url}` : ""
          }${tokens.length ? ", bearer token required" : ""})`,
      );
      const sig = await onStopSignal().signal;
      io.out(`kvq: ${sig}, shutting down`);
      grpc?.close();
      await grpc?.served.close();
      await http.close();
      await app.close();
      await store.close();
      return 0;
    }
    return await runRequestCommand(command, rest, values, tokens, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`kvq: ${err.message}`);
      return 2;
    }
    if (err instanceof ListenError) {
      io.err(`kvq: ${err.message}`);
      return err.invalid ? 2 : 1;
    }
    const e = err as Error;
    io.err(`kvq: ${e?.name ?? "Error"}: ${e?.message ?? String(err)}`);
    return 1;
  }
}

type Values = { [k: string]: string | string[] | boolean | undefined };

/** A request's answer, read. */
interface Answer {
  res: Response;
  text: string;
  parsed: unknown;
}

/** Sends requests to a sidecar (`--url`) or to an in-process server on the store. */
interface Client {
  call(method: string, path: string, body?: unknown): Promise<Answer>;
  close(): Promise<void>;
}

async function openClient(command: string, values: Values, tokens: string[]): Promise<Client> {
  let server: KvqServer | undefined;
  let close = async () => {};
  let base = "http://localhost";
  let send: (req: Request) => Promise<Response>;
  if (typeof values.url === "string") {
    base = values.url.replace(/\/+$/, "");
    send = (req) => fetch(req);
  } else {
    const store = await openCliStore(values.store as string | undefined, !READ_ONLY.has(command));
    server = createServer({ store });
    send = (req) => server!.fetch(req);
    close = async () => {
      await server!.close();
      await store.close();
    };
  }
  const headers: Record<string, string> = { accept: "application/json" };
  if (tokens.length) headers.authorization = `Bearer ${tokens[0]}`;
  return {
    async call(method, path, body) {
      const res = await send(
        new Request(base + path, {
          method,
          headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch { /* not JSON: print as is */ }
      return { res, text, parsed };
    },
    close,
  };
}

/** Writes a refused answer to stderr; returns the exit status (2 for a 400, else 1). */
function refused(a: Answer, io: CliIo, context = ""): number {
  const e = (a.parsed as { error?: { name?: string; message?: string } })?.error;
  io.err(`kvq: ${e?.name ?? a.res.status}: ${e?.message ?? a.text}${context}`);
  return a.res.status === 400 ? 2 : 1;
}

/** The add options given on the command line (`--delay`, `--priority`, ...), as a job's fields. */
function addOptions(values: Values): Record<string, unknown> {
  const job: Record<string, unknown> = {};
  const delay = num(values.delay as string | undefined, "delay");
  const priority = num(values.priority as string | undefined, "priority");
  const maxAttempts = num(values["max-attempts"] as string | undefined, "max-attempts");
  const timeout = num(values.timeout as string | undefined, "timeout");
  if (delay !== undefined) job.delay = delay;
  if (priority !== undefined) job.priority = priority;
  if (maxAttempts !== undefined) job.maxAttempts = maxAttempts;
  if (timeout !== undefined) job.timeout = timeout;
  if (values.key !== undefined) job.key = values.key;
  return job;
}

/** Jobs per bulk request of `add --file`, at most (and about 1 MiB of JSON at most). */
const FILE_BATCH = 500;
const FILE_BATCH_BYTES = 1 << 20;

/**
 * Reads and parses every line of an NDJSON file (blank lines skipped) before anything is added: a
 * line that is not JSON is a usage error naming it.
 */
async function readJobsFile(path: string): Promise<{ data: unknown; bytes: number }[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new UsageError(`add --file: cannot read ${path} (${(err as Error).message})`);
  }
  const jobs: { data: unknown; bytes: number }[] = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === "") continue;
    try {
      jobs.push({ data: JSON.parse(line), bytes: line.length });
    } catch (err) {
      throw new UsageError(
        `add --file: line ${i + 1} of ${path} is not JSON (${(err as Error).message}); nothing was added`,
      );
    }
  }
  return jobs;
}

/** `kvq add QUEUE --file F`: every line parsed first, then added in bulk batches. */
async function addFile(queue: string, values: Values, tokens: string[], io: CliIo): Promise<number> {
  if (values.key !== undefined) throw new UsageError("add --file: --key would give every line the same key");
  const options = addOptions(values);
  const jobs = await readJobsFile(String(values.file));
  const batches: { data: unknown }[][] = [];
  let batch: { data: unknown }[] = [];
  let bytes = 0;
  for (const job of jobs) {
    if (batch.length && (batch.length >= FILE_BATCH || bytes + job.bytes > FILE_BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push({ ...options, data: job.data });
    bytes += job.bytes;
  }
  if (batch.length) batches.push(batch);
  const client = await openClient("add", values, tokens);
  const bar = await startProgress(io.progress === true, "adding", jobs.length);
  let added = 0;
  try {
    for (const b of batches) {
      const a = await client.call("POST", `/queues/${encodeURIComponent(queue)}/jobs/bulk`, { jobs: b });
      if (!a.res.ok) {
        bar.stop();
        // Earlier batches were added; a bulk add may commit part of the refused batch too.
        return refused(a, io, ` (the batches before it were added: ${added} of ${jobs.length} jobs)`);
      }
      added += b.length;
      bar.update(added);
    }
  } finally {
    bar.stop();
    await client.close();
  }
  io.out(JSON.stringify({ added }, null, 2));
  return 0;
}

/**
 * `kvq redrive QUEUE` on a terminal: the same single request, with a bar fed by the dead count
 * read while it runs.
 */
async function redriveAllWithProgress(client: Client, path: string, queue: string): Promise<Answer> {
  const counts = `/queues/${encodeURIComponent(queue)}/counts`;
  const dead = async () => {
    const a = await client.call("GET", counts);
    return a.res.ok ? Number((a.parsed as { dead?: number }).dead ?? 0) : 0;
  };
  const total = await dead();
  const bar = await startProgress(true, "redriving", total);
  let done = false;
  const poll = (async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, 200));
      if (!done) bar.update(Math.max(0, total - (await dead())));
    }
  })();
  try {
    return await client.call("POST", path);
  } finally {
    done = true;
    await poll.catch(() => {});
    bar.stop();
  }
}

async function runRequestCommand(
  command: string,
  args: string[],
  values: Values,
  tokens: string[],
  io: CliIo,
): Promise<number> {
  const q = (name: string) => `/queues/${encodeURIComponent(name)}`;
  let method = "GET";
  let path: string;
  let body: unknown;
  let redriveAll: string | undefined;
  switch (command) {
    case "queues":
      path = "/queues";
      break;
    case "add": {
      if (values.file !== undefined) {
        const [queue, extra] = need(args, 1, "add QUEUE --file JOBS.ndjson");
        if (extra !== undefined) throw new UsageError("add: give a JSON payload or --file, not both");
        return await addFile(queue, values, tokens, io);
      }
      const [queue, text] = need(args, 2, "add QUEUE JSON");
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        throw new UsageError(`add: the payload must be JSON, got ${text} (quote it: '{"to":"a@b.c"}')`);
      }
      method = "POST";
      path = `${q(queue)}/jobs`;
      body = { data, ...addOptions(values) };
      break;
    }
    case "counts":
      path = `${q(need(args, 1, "counts QUEUE")[0])}/counts`;
      break;
    case "list": {
      const [queue, state] = need(args, 2, "list QUEUE STATE");
      if (!STATES.includes(state)) {
        throw new UsageError(`list: unknown state "${state}" (expected ${STATES.join(", ")})`);
      }
      const params = new URLSearchParams({ state, payloads: "true" });
      if (values.limit !== undefined) params.set("limit", String(values.limit));
      if (values.cursor !== undefined) params.set("cursor", String(values.cursor));
      path = `${q(queue)}/jobs?${params}`;
      break;
    }
    case "get":
    case "cancel": {
      const [id] = need(args, 1, `${command} ID [--queue QUEUE]`);
      const base = values.queue ? `${q(String(values.queue))}/jobs/` : "/jobs/";
      path = base + encodeURIComponent(id);
      if (command === "cancel") method = "DELETE";
      break;
    }
    case "redrive": {
      const [queue, id] = need(args, 1, "redrive QUEUE [ID]");
      method = "POST";
      path = id === undefined
        ? `${q(queue)}/dead/redrive`
        : `${q(queue)}/jobs/${encodeURIComponent(id)}/redrive`;
      if (id === undefined) redriveAll = queue;
      break;
    }
    case "pause":
    case "resume":
      method = "POST";
      path = `${q(need(args, 1, `${command} QUEUE`)[0])}/${command}`;
      break;
    default:
      throw new UsageError(`unknown command "${command}" (try kvq --help)`);
  }

  const client = await openClient(command, values, tokens);
  try {
    const a = redriveAll !== undefined && io.progress === true
      ? await redriveAllWithProgress(client, path, redriveAll)
      : await client.call(method, path, body);
    if (!a.res.ok) return refused(a, io);
    io.out(typeof a.parsed === "string" ? a.parsed : JSON.stringify(a.parsed, null, 2));
    return 0;
  } finally {
    await client.close();
  }
}
