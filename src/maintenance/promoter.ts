/**
 * The promoter: due scheduled and failed jobs become ready.
 *
 * @module
 */

import { transition } from "../job.ts";
import type { QueueContext } from "../context.ts";
import { applyUnit, firstTime, indexed } from "../job_store.ts";

/** Moves due scheduled and failed jobs to ready. Returns how many moved. */
export async function promote<T, R>(ctx: QueueContext<T, R>, now: number, limit = 256): Promise<number> {
  const entries = await indexed(ctx, "scheduled", now, limit);
  const units = [];
  for (const e of entries) {
    if ((e.record.state === "scheduled" || e.record.state === "failed") && e.record.runAt <= now) {
      units.push(applyUnit(ctx, "promote", e, transition(e.record, { type: "promote" }, now)).unit);
    }
  }
  if (!units.length) return 0;
  const n = (await ctx.committer.writeMany(units)).filter((r) => r.ok).length;
  if (n) ctx.signal({ type: "ready" });
  return n;
}

/** The earliest runAt among scheduled and failed jobs, or `null`. */
export function nextDelayed<T, R>(ctx: QueueContext<T, R>): Promise<number | null> {
  return firstTime(ctx, "scheduled");
}
