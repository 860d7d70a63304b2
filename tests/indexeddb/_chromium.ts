// Helpers of the Chromium tests: where chromium is, bundling a module for the page with
// `deno bundle`, a static server on 127.0.0.1, and a fresh headless profile driven by playwright-core.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext } from "playwright-core";

/** The chromium binary: `KVQ_CHROMIUM`, or the Debian package's. */
export const CHROMIUM: string = process.env.KVQ_CHROMIUM ?? "/usr/bin/chromium";

/** Why the Chromium tests skip, or false when chromium is installed. */
export const skipWithoutChromium: string | false = existsSync(CHROMIUM)
  ? false
  : `chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** Bundles `entry` (a path under the root) for the browser; the JavaScript. */
export function bundle(entry: string, importMap?: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "kvq-bundle-"));
  try {
    const out = join(dir, "bundle.js");
    execFileSync(join(ROOT, "node_modules/.bin/deno"), [
      "bundle",
      "--quiet",
      "--platform=browser",
      ...(importMap ? [`--import-map=${join(ROOT, importMap)}`] : []),
      `--output=${out}`,
      join(ROOT, entry),
    ], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A page and its scripts by path; anything else goes to `fallback` (or is a 404). */
export type Routes = Record<string, { type: string; body: string | Buffer }>;

/** A browser profile with a static server; `close()` ends both and removes the profile. */
export interface Browser {
  /** The persistent context (one profile: its pages are tabs sharing IndexedDB). */
  readonly context: BrowserContext;
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** Closes the browser and the server, and removes the profile. */
  close(): Promise<void>;
}

/** Serves `routes` on 127.0.0.1 and launches headless chromium with a fresh `--user-data-dir`. */
export async function launch(
  routes: Routes,
  fallback?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  const server = createServer((req, res) => {
    const route = routes[req.url ?? ""];
    if (route) res.writeHead(200, { "content-type": route.type }).end(route.body);
    else if (fallback) fallback(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const profile = mkdtempSync(join(tmpdir(), "kvq-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
    ],
  });
  return {
    context,
    origin: `http://127.0.0.1:${port}`,
    async close() {
      await context.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
