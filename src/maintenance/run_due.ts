/**
 * `runDue`: the one entry to maintenance that every caller uses — a worker's rounds, external
 * claims (`Queue.claim()`), `Queue.heal()` (which the sidecar runs on a timer). It runs, in this
 * order, what the caller asks for: the healer, the schedule enqueuer, the delta fold (and with it, when
 * the queue has a blob store, the blob sweep), the cleaner, the promoter.
 *
 * @module
 */

import type { QueueContext } from "../context.ts";
import { applyRetention } from "./cleaner.ts";
import { heal } from "./healer.ts";
import { promote } from "./promoter.ts";
import { sweepBlobs } from "../blobs.ts";
import { runSchedules } from "./schedules.ts";

/** What `runDue` runs. */
export interface DueWork {
  /** The healer; `"throttled"`: at most once per poll interval for this queue object. */
  readonly heal?: boolean | "throttled";
  /** The schedule enqueuer. */
  readonly schedules?: boolean;
  /** Fold count deltas into the base record. */
  readonly fold?: boolean;
  /** Apply the queue's retention. */
  readonly retention?: boolean;
  /** Promote due delayed jobs. */
  readonly promote?: boolean;
}

/** What `runDue` did. */
export interface DueResult {
  /** Jobs the healer recovered. */
  readonly healed: number;
  /** Jobs promoted. */
  readonly promoted: number;
  /** The earliest next schedule tick (when the enqueuer ran). */
  readonly nextSchedule: number | null;
}

/**
 * Runs the maintenance `work` asks for, at time `now`.
 *
 * @example
 * ```ts
 * import { MemoryKv } from "../../adapters/memory/mod.ts";
 * import { createContext } from "../context.ts";
 * import { runDue } from "./run_due.ts";
 * const ctx = createContext(new MemoryKv(), "q", {}, new EventTarget());
 * console.log((await runDue(ctx, Date.now(), { heal: true, promote: true })).healed); // 0
 * ```
 */
export async function runDue<T, R>(ctx: QueueContext<T, R>, now: number, work: DueWork): Promise<DueResult> {
  let healed = 0;
  let promoted = 0;
  let nextSchedule: number | null = null;
  if (work.heal === true || (work.heal === "throttled" && now >= ctx.lastHeal + ctx.settings.pollInterval)) {
    ctx.lastHeal = now;
    healed = await heal(ctx, now);
  }
  if (work.schedules) nextSchedule = await runSchedules(ctx);
  if (work.fold) await ctx.committer.foldDeltas();
  if (work.fold && ctx.blobs) await sweepBlobs(ctx, now); // at most once a minute (src/blobs.ts)
  if (work.retention) await applyRetention(ctx);
  if (work.promote) promoted = await promote(ctx, ctx.clock.now());
  return { healed, promoted, nextSchedule };
}
