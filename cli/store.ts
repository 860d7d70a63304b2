/**
 * Where the CLI keeps its data: `--store PATH` names a data directory (default `./kvq-data`) holding
 * the runtime's default embedded store, or an existing store file.
 *
 * @module
 */

import { mkdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { type OpenedStore, openStore, storePreference } from "../adapters/store/mod.ts";

/** The default data directory. */
export const DEFAULT_STORE_DIR = "kvq-data";

/**
 * The store file for `--store PATH`: an existing file is used as it is; otherwise PATH is a
 * directory (created when missing) and the file inside is named after the runtime's default
 * adapter (`sqlite.db` on Node and Bun, `deno-kv.db` on Deno), since the two formats differ.
 *
 * @param path The `--store` value. @default "kvq-data"
 * @returns The store file's path.
 */
export async function storeFile(path: string = DEFAULT_STORE_DIR): Promise<string> {
  const info = await stat(path).catch(() => null);
  if (info?.isFile()) return path;
  if (!info && /\.[a-z0-9]+$/i.test(basename(path))) return path; // a new file path like jobs.db
  await mkdir(path, { recursive: true });
  return join(path, `${storePreference()[0]}.db`);
}

/**
 * Opens the runtime's default durable store for `--store PATH`.
 *
 * @param path The `--store` value. @default "kvq-data"
 * @returns The open store (close it when done).
 */
export async function openCliStore(path?: string): Promise<OpenedStore> {
  return await openStore(await storeFile(path));
}
