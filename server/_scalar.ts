/**
 * The API reference page's script, served by the sidecar itself (`GET /docs/scalar.js`) so that
 * `/docs` works offline: the standalone browser bundle (UMD, one file, ~5 MB, styles included)
 * of the npm package `@scalar/api-reference`, read from where that package is installed. It is
 * large and has a large dependency tree, so kvq does not inline it (as it does uPlot's 50 KB) nor
 * require it: without the package, `/docs` says how to get it and links `/openapi.json`.
 *
 * The file is read on the first request for it and kept in memory; a failed look-up is not
 * retried (install the package, then restart the server).
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The npm package whose browser bundle the reference page loads. */
export const SCALAR_PACKAGE = "@scalar/api-reference";

/** The reference page's script, as installed. */
export interface ScalarBundle {
  /** The bundle's bytes (JavaScript). */
  readonly body: Uint8Array;
  /** The installed package's version (the bundle's `ETag`). */
  readonly version: string;
}

/** Where the package keeps its standalone bundle when its package.json does not say. */
const DEFAULT_BROWSER_ENTRY = "dist/browser/standalone.js";

async function packageRoot(entry: string): Promise<{ root: string; pkg: Record<string, unknown> }> {
  // The package exports neither its package.json nor its browser build: walk up from its main entry.
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const text = await readFile(join(dir, "package.json"), "utf8").catch(() => undefined);
    if (text === undefined) continue;
    const pkg = JSON.parse(text) as Record<string, unknown>;
    if (pkg.name === SCALAR_PACKAGE) return { root: dir, pkg };
  }
  throw new Error(`no package.json of ${SCALAR_PACKAGE} above ${entry}`);
}

/**
 * Reads the bundle of the `@scalar/api-reference` package that `from` resolves.
 *
 * @param from The file (path or `file:` URL) whose `node_modules` lookup to use. @default this module
 * @returns The bundle, or `undefined` when the package is not installed there.
 * @throws {Error} When the package is installed but its bundle cannot be read.
 */
export async function loadScalarBundle(
  from: string | URL = import.meta.url,
): Promise<ScalarBundle | undefined> {
  let entry: string;
  try {
    entry = createRequire(from).resolve(SCALAR_PACKAGE);
  } catch {
    return undefined; // not installed (or no node_modules to look in, as with a JSR import)
  }
  const { root, pkg } = await packageRoot(entry);
  const browser = typeof pkg.browser === "string" ? pkg.browser : DEFAULT_BROWSER_ENTRY;
  const body = new Uint8Array(await readFile(join(root, browser)));
  return { body, version: String(pkg.version) };
}

let bundle: Promise<ScalarBundle | undefined> | undefined;

/**
 * The installed Scalar bundle, read once per process.
 *
 * @returns The bundle, or `undefined` when `@scalar/api-reference` is not installed where this
 *   module can resolve it.
 * @throws {Error} (through the promise) when the package is installed but its bundle cannot be read.
 */
export function scalarBundle(): Promise<ScalarBundle | undefined> {
  bundle ??= loadScalarBundle();
  return bundle;
}
