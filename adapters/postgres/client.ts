/**
 * The few calls the PostgreSQL adapter makes on a `postgres` (Postgres.js) client, the lazy load
 * of that package, and how its errors map to kvq's `StorageError`. Importing this file loads no
 * client: the package is imported through a non-literal specifier only when a store is opened from
 * a connection string.
 *
 * @module
 */

import { StorageError } from "../../src/errors.ts";

/** A query as the client returns it: a promise of rows, sent when awaited or batched. */
export type PostgresQuery = PromiseLike<readonly Record<string, unknown>[]>;

/**
 * The subset of a Postgres.js `Sql` client the adapter uses; a client made with
 * `postgres(url, options)` has it, so it can be passed to {@link PostgresKv.open}.
 */
export interface PostgresClient {
  /** A query from SQL text with `$n` parameters. */
  unsafe(query: string, params?: unknown[], options?: { prepare?: boolean }): PostgresQuery;
  /**
   * Sends several queries (made by {@link PostgresClient.unsafe}) in one round trip, as one
   * implicit transaction. Typed loosely so that Postgres.js's generic `batch` fits.
   */
  // deno-lint-ignore no-explicit-any
  batch(queries: any[]): Promise<unknown>;
  /** Listens on a channel on a dedicated connection that reconnects on its own. */
  listen(
    channel: string,
    onnotify: (payload: string) => void,
    onlisten?: () => void,
  ): Promise<{ unlisten(): Promise<void> }>;
  /** Closes every connection once the queries in flight settle. */
  end(options?: { timeout?: number }): Promise<void>;
}

/** Options handed to `postgres(url, options)` when the adapter creates the client. */
export type PostgresClientOptions = Record<string, unknown>;

type Factory = (url: string, options?: PostgresClientOptions) => PostgresClient;

/**
 * Creates a Postgres.js client for a connection string, loading the `postgres` package lazily.
 * Rejects with `StorageError` when the package is not installed.
 *
 * @example
 * ```ts
 * import { createPostgresClient } from "./client.ts";
 * const sql = await createPostgresClient("postgres://postgres@127.0.0.1:5432/test");
 * console.log(await sql.unsafe("SELECT 1 AS one")); // Result(1) [ { one: 1 } ]
 * await sql.end();
 * ```
 */
export async function createPostgresClient(
  url: string,
  options: PostgresClientOptions = {},
): Promise<PostgresClient> {
  // Non-literal specifiers: loaded only when used; Deno without node_modules needs "npm:".
  const deno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
  const specifiers = deno ? ["postgres", "npm:postgres"] : ["postgres"];
  let last: unknown;
  for (const specifier of specifiers) {
    try {
      const mod = await import(specifier) as { default: Factory };
      return mod.default(url, options);
    } catch (e) {
      last = e;
    }
  }
  throw new StorageError("postgres", "open", "the postgres package is not installed (npm install postgres)", {
    cause: last,
  });
}

/** Error codes of a lost or refused connection (Node.js socket codes and Postgres.js's own). */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown: pg_terminate_backend, or a fast/immediate server shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: the server is starting up or shutting down
]);

/**
 * True when an error means the connection was lost or could not be made (so a commit's outcome
 * may be unknown, and the client reconnects on the next query).
 *
 * @example
 * ```ts
 * import { isConnectionError } from "./client.ts";
 * console.log(isConnectionError(Object.assign(new Error("gone"), { code: "ECONNRESET" }))); // true
 * ```
 */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  return CONNECTION_CODES.has(code) || code.startsWith("08"); // class 08: connection exception
}

/** Codes of a connection that was never made, so no query on it was sent. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECT_TIMEOUT",
  "CONNECTION_ENDED",
  "57P03",
]);

/**
 * True when an error shows that the query never reached a server (the connection could not be
 * made): a commit that failed so certainly applied nothing.
 *
 * @example
 * ```ts
 * import { neverSent } from "./client.ts";
 * console.log(neverSent(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }))); // true
 * ```
 */
export function neverSent(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && NOT_SENT_CODES.has(code);
}

/**
 * Wraps a client or server error as a `StorageError` naming the operation: code `"CONNECTION"`
 * for a lost or refused connection, `"ENOSPC"` for a full disk (SQLSTATE 53100), otherwise the
 * error's own code (a SQLSTATE such as `"40P01"`, or a Postgres.js code). The error is the cause.
 *
 * @example
 * ```ts
 * import { postgresError } from "./client.ts";
 * const e = postgresError("get", Object.assign(new Error("terminated"), { code: "57P01" }));
 * console.log(e.code, e.message); // "CONNECTION" "postgres: get failed: terminated (connection lost)"
 * ```
 */
export function postgresError(operation: string, e: unknown): StorageError {
  if (e instanceof StorageError) return e;
  const reason = String((e as Error)?.message ?? e);
  const raw = (e as { code?: unknown } | null)?.code;
  if (isConnectionError(e)) {
    return new StorageError("postgres", operation, `${reason} (connection lost)`, {
      cause: e,
      code: "CONNECTION",
    });
  }
  const code = raw === "53100" ? "ENOSPC" : typeof raw === "string" ? raw : undefined;
  return new StorageError("postgres", operation, reason, { cause: e, code });
}
