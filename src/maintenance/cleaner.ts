/**
 * The cleaner: removes ended jobs by age or beyond a count (the queue's `retention`).
 *
 * @module
 */

import { isTerminal } from "../job.ts";
import type { QueueContext } from "../context.ts";
import { checkNumber } from "../validate.ts";
import { dropBlobs } from "../blobs.ts";
import { type Entry, indexed, PAGE, removeUnit } from "../job_store.ts";
import type { RetentionRule } from "../types.ts";

/** Removes ended jobs of `state` older than `rule.age` or beyond the newest `rule.count`. */
export async function clean<T, R>(
  ctx: QueueContext<T, R>,
  state: "completed" | "dead" | "canceled",
  rule: RetentionRule,
): Promise<number> {
  if (!isTerminal(state)) {
    throw new TypeError(`Cannot clean ${state} jobs: only completed, dead and canceled`);
  }
  if (rule.age !== undefined) checkNumber("retention age", rule.age, 0);
  if (rule.count !== undefined) checkNumber("retention count", rule.count, 0, true);
  let removed = 0;
  const sweep = async (entries: Entry[]) => {
    const gone = entries.filter((e) => e.record.state === state);
    const res = await ctx.committer.writeMany(gone.map((e) => removeUnit(ctx, e)));
    if (ctx.blobs) await Promise.all(gone.map((e, i) => res[i]!.ok && dropBlobs(ctx, e.record)));
    const n = res.filter((r) => r.ok).length;
    removed += n;
    return n;
  };
  if (rule.age !== undefined) {
    const until = ctx.clock.now() - rule.age;
    for (;;) {
      const entries = await indexed(ctx, state, until, PAGE);
      if (!entries.length || (await sweep(entries)) === 0) break;
    }
  }
  if (rule.count !== undefined) {
    for (;;) {
      const excess = (await ctx.committer.readCounts())[state] - rule.count;
      if (excess <= 0) break;
      const entries = await indexed(ctx, state, undefined, Math.min(excess, PAGE));
      if (!entries.length || (await sweep(entries)) === 0) break;
    }
  }
  return removed;
}

/** Applies the queue's retention rules. Returns how many jobs were removed. */
export async function applyRetention<T, R>(ctx: QueueContext<T, R>): Promise<number> {
  let n = 0;
  const r = ctx.settings.retention;
  if (!r) return 0;
  for (const s of ["completed", "dead", "canceled"] as const) if (r[s]) n += await clean(ctx, s, r[s]!);
  return n;
}
