// Real Chromium for the page tests (the Debian package, driven by playwright-core): where it is,
// why a test skips without it, and a headless browser with a fresh profile and no background
// traffic of its own.
import process from "node:process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";

/** The browser's path (KVQ_CHROMIUM overrides it). */
export const CHROMIUM: string = process.env.KVQ_CHROMIUM ?? "/usr/bin/chromium";

/** Why a Chromium test skips (`false`: it runs). */
export const noChromium: string | false = existsSync(CHROMIUM)
  ? false
  : `chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;

/** A headless Chromium with a fresh profile; `close()` ends it and removes the profile. */
export async function launchChromium(
  name: string,
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), `kvq-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
