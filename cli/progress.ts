/**
 * Progress bars of long CLI operations (a bulk add from a file, redriving every dead job), drawn
 * with cli-progress on standard error, and only when both standard output and standard error are a
 * terminal: piped output and tests never see one, and `cli-progress` is loaded only then.
 *
 * @module
 */

import process from "node:process";

/** A running progress bar (a no-op one when there is no terminal). */
export interface Progress {
  /** Sets how much is done. */
  update(done: number): void;
  /** Sets the total (it may grow while the operation runs). */
  setTotal(total: number): void;
  /** Removes the bar. */
  stop(): void;
}

const NONE: Progress = { update() {}, setTotal() {}, stop() {} };

/** Whether this process writes to a terminal on both standard output and standard error. */
export function onTerminal(): boolean {
  return process.stdout.isTTY === true && process.stderr.isTTY === true;
}

/**
 * Starts a progress bar on standard error when `show` is true; otherwise returns one that draws
 * nothing.
 *
 * @param show Whether to draw (the CLI passes whether it runs on a terminal).
 * @param label What is being done ("adding", "redriving").
 * @param total How many items there are.
 * @returns The bar.
 *
 * @example A bar that draws nothing
 * ```ts
 * import { startProgress } from "./progress.ts";
 * const bar = await startProgress(false, "adding", 10);
 * bar.update(10);
 * bar.stop();
 * console.log(typeof bar.update); // "function"
 * ```
 */
export async function startProgress(show: boolean, label: string, total: number): Promise<Progress> {
  if (!show) return NONE;
  const { default: cliProgress } = await import("cli-progress");
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `kvq: ${label} [{bar}] {percentage}% {value}/{total} ({eta_formatted} left)`,
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0);
  return {
    update: (done) => bar.update(done),
    setTotal: (t) => bar.setTotal(t),
    stop: () => bar.stop(),
  };
}
