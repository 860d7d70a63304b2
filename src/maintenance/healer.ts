/**
 * The healer: every active job whose lease expired becomes ready again (attempt counted) or dead
 * when no attempt remains (canceled when a cancel was requested). Idempotent, safe in several
 * processes at once (each move is checked). Started only by `runDue`.
 *
 * @module
 */

import { type JobRecord, transition } from "../job.ts";
import { publish, type QueueContext } from "../context.ts";
import { applyUnit, type Entry, firstTime, indexed, views } from "../job_store.ts";

/** Recovers every job whose lease expired by `now`. Returns how many. */
export async function heal<T, R>(ctx: QueueContext<T, R>, now: number, limit = 100): Promise<number> {
  let total = 0;
  for (;;) {
    const entries = await indexed(ctx, "active", now, limit);
    const moves: { entry: Entry; next: JobRecord }[] = [];
    for (const e of entries) {
      if (e.record.state === "active" && (e.record.lease?.expiresAt ?? 0) <= now) {
        moves.push({ entry: e, next: transition(e.record, { type: "expire" }, now) });
      }
    }
    if (!moves.length) return total;
    const res = await ctx.committer.writeMany(
      moves.map((m) => applyUnit(ctx, "expire", m.entry, m.next).unit),
    );
    const won: Entry[] = [];
    res.forEach((r, i) => {
      if (r.ok) won.push({ record: moves[i].next, versionstamp: r.versionstamp });
    });
    total += won.length;
    const jobs = await views(ctx, won);
    jobs.forEach((job, i) => publish(ctx, "expire", "active", won[i].record, job));
    if (entries.length < limit || won.length === 0) return total;
  }
}

/** The earliest lease expiry among active jobs, or `null`. */
export function nextExpiry<T, R>(ctx: QueueContext<T, R>): Promise<number | null> {
  return firstTime(ctx, "active");
}
