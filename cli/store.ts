/**
 * Where the CLI keeps its data: `--store PATH` (or `KVQ_STORE`) names a data directory (default
 * `./kvq-data`) holding the runtime's default embedded store, an existing store file, or a
 * `postgres://` URL (the PostgreSQL store, table `kvq` or the URL's `?table=`, shared by every
 * process that names it).
 *
 * @module
 */

import { mkdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import process from "node:process";
import { isPostgresUrl, type OpenedStore, openStore, storePreference } from "../adapters/store/mod.ts";

/** The default data directory. */
export const DEFAULT_STORE_DIR = "kvq-data";

/**
 * The store for `--store PATH`: a `postgres://` URL is used as it is, and so is an existing file;
 * otherwise PATH is a directory (created when missing) and the file inside is named after the
 * runtime's default adapter (`sqlite.db` on Node and Bun, `deno-kv.db` on Deno), since the two
 * formats differ.
 *
 * @param path The `--store` value. @default "kvq-data"
 * @param create Create the directory when missing; `false`: a missing store is an error instead.
 * @returns The store file's path, or the URL.
 * @throws {StoreMissingError} With `create: false`, when there is no store file.
 */
export async function storeFile(path: string = DEFAULT_STORE_DIR, create = true): Promise<string> {
  if (isPostgresUrl(path)) return path;
  const info = await stat(path).catch(() => null);
  if (info?.isFile()) return path;
  const file = !info && /\.[a-z0-9]+$/i.test(basename(path)) // a new file path like jobs.db
    ? path
    : join(path, `${storePreference()[0]}.db`);
  if (!create) {
    if (!(await stat(file).catch(() => null))?.isFile()) throw new StoreMissingError(path);
    return file;
  }
  if (file !== path) await mkdir(path, { recursive: true });
  return file;
}

/** A command that only reads found no store where `--store` points (and made none). */
export class StoreMissingError extends Error {
  override name = "StoreMissingError";
  /** The `--store` value. */
  readonly path: string;
  /** Creates the error. */
  constructor(path: string) {
    super(`No kvq store at ${path} (add a job first, or point --store at an existing one)`);
    this.path = path;
  }
}

/**
 * Opens the store for `--store PATH`: PATH, else the `KVQ_STORE` environment variable, else
 * `./kvq-data`.
 *
 * @param path The `--store` value.
 * @param create Create the store when missing (commands that write); `false` for commands that
 *   only read, so they never leave an empty store behind.
 * @returns The open store (close it when done).
 * @throws {StoreMissingError} With `create: false`, when there is no store.
 */
export async function openCliStore(path?: string, create = true): Promise<OpenedStore> {
  return await openStore(await storeFile(path ?? (process.env.KVQ_STORE || undefined), create));
}
