/**
 * The `kvq` command: serve the sidecar and dashboard, run the demo, and manage jobs from a shell,
 * either directly on a store (`--store`) or through a running sidecar (`--url`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import process from "node:process";
import { createServer, InsecureBindError, type KvqServer, serve } from "../server/mod.ts";
import { openCliStore } from "./store.ts";
import { ListenError, runDemo } from "./demo.ts";
import { deliveryFromFlags } from "./delivery.ts";

/** Where the CLI writes. */
export interface CliIo {
  /** Standard output lines. */
  out(line: string): void;
  /** Standard error lines. */
  err(line: string): void;
}

/** The usage text. */
export const USAGE: string = `kvq: durable background jobs on Deno, Bun and Node

Usage:
  kvq demo [--port 8787] [--for SECONDS]      the quick start: workers, a producer and the dashboard
  kvq serve [--port 8787] [--host 127.0.0.1] [--token T] [--allow-host NAME] [--insecure]
                                              the HTTP sidecar and dashboard (token also from KVQ_TOKEN);
                                              without a token it listens on loopback only, unless
                                              --insecure (anyone who can reach it may then change jobs)
        [--app-id ID --peer NAME=URL ... | --peer-template T] [--delivery-key K]
                                              app-to-app delivery (POST /send/:app/:queue) as app ID to
                                              peers by map or by template ("{app}.ns.svc:8787"); the
                                              HMAC key also from KVQ_DELIVERY_KEY
  kvq queues                                  every queue with its counts
  kvq add QUEUE JSON [--delay MS] [--priority N] [--max-attempts N] [--key K] [--timeout MS]
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
sidecar refused as invalid, 400). Commands that only read (queues, counts, list, get) never create
a store.`;

class UsageError extends Error {
  override name = "UsageError";
}

const OPTIONS = {
  store: { type: "string" },
  url: { type: "string" },
  token: { type: "string", multiple: true },
  port: { type: "string" },
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
  io: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) },
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
        ...delivery,
      });
      let http;
      try {
        http = await serve(app, { port, hostname, insecure: values.insecure });
      } catch (err) {
        await app.close();
        await store.close();
        throw err instanceof InsecureBindError
          ? new UsageError(err.message)
          : new ListenError(hostname, port, err);
      }
      io.out(
        `kvq: serving ${store.choice.adapter} store (${store.choice.driver}) on ${http.url} ` +
          `(dashboard ${http.url}/, metrics ${http.url}/metrics${
            tokens.length ? ", bearer token required" : ""
          })`,
      );
      const sig = await onStopSignal().signal;
      io.out(`kvq: ${sig}, shutting down`);
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
  switch (command) {
    case "queues":
      path = "/queues";
      break;
    case "add": {
      const [queue, text] = need(args, 2, "add QUEUE JSON");
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        throw new UsageError(`add: the payload must be JSON, got ${text} (quote it: '{"to":"a@b.c"}')`);
      }
      const job: Record<string, unknown> = { data };
      const delay = num(values.delay as string | undefined, "delay");
      const priority = num(values.priority as string | undefined, "priority");
      const maxAttempts = num(values["max-attempts"] as string | undefined, "max-attempts");
      const timeout = num(values.timeout as string | undefined, "timeout");
      if (delay !== undefined) job.delay = delay;
      if (priority !== undefined) job.priority = priority;
      if (maxAttempts !== undefined) job.maxAttempts = maxAttempts;
      if (timeout !== undefined) job.timeout = timeout;
      if (values.key !== undefined) job.key = values.key;
      method = "POST";
      path = `${q(queue)}/jobs`;
      body = job;
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
  try {
    const headers: Record<string, string> = { accept: "application/json" };
    if (tokens.length) headers.authorization = `Bearer ${tokens[0]}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await send(
      new Request(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch { /* not JSON: print as is */ }
    if (!res.ok) {
      const e = (parsed as { error?: { name?: string; message?: string } })?.error;
      io.err(`kvq: ${e?.name ?? res.status}: ${e?.message ?? text}`);
      return res.status === 400 ? 2 : 1;
    }
    io.out(typeof parsed === "string" ? parsed : JSON.stringify(parsed, null, 2));
    return 0;
  } finally {
    await close();
  }
}
