/**
 * Repeating schedules: stored under `["cron", queue, name]`; the schedule enqueuer adds each due
 * tick once, as a job with key `<name>@<tick time>`.
 *
 * @module
 */

import type { KvEntry } from "../kv.ts";
import { QueueFullError } from "../errors.ts";
import { decodeValue, inlineRef } from "../payload.ts";
import { nextTick, scheduleInfo, type ScheduleRecord, validateSchedule } from "../scheduler.ts";
import { announce, publish, type QueueContext } from "../context.ts";
import { mergeUnits, view } from "../job_store.ts";
import { prepare, validateAddOptions } from "../producer.ts";
import type { ScheduleInfo, ScheduleOptions } from "../types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** `Queue.schedule()`. */
export async function schedule<T, R>(
  ctx: QueueContext<T, R>,
  name: string,
  options: ScheduleOptions<T>,
): Promise<ScheduleInfo> {
  validateSchedule(name, options);
  if (options.job) validateAddOptions(options.job);
  const now = ctx.clock.now();
  const every = options.every;
  const startAt = every !== undefined ? options.startAt ?? now + every : undefined;
  const base = { cron: options.cron, timezone: options.timezone, every, startAt };
  const next = every !== undefined && startAt! > now ? startAt! : nextTick(base, now);
  const record: ScheduleRecord = {
    name,
    ...JSON.parse(JSON.stringify(base)),
    data: inlineRef(options.data),
    job: options.job ?? {},
    next,
  };
  await ctx.kv.atomic().set(ctx.ks.cron(name), enc.encode(JSON.stringify(record))).commit();
  if (next !== null) ctx.signal({ type: "delayed", at: next });
  return scheduleInfo(record);
}

/** `Queue.unschedule()`. */
export async function unschedule<T, R>(ctx: QueueContext<T, R>, name: string): Promise<boolean> {
  const e = await ctx.kv.get(ctx.ks.cron(name));
  if (!e) return false;
  await ctx.kv.atomic().delete(ctx.ks.cron(name)).commit();
  return true;
}

/** `Queue.schedules()`. */
export async function schedules<T, R>(ctx: QueueContext<T, R>): Promise<ScheduleInfo[]> {
  const out: ScheduleInfo[] = [];
  for await (const e of ctx.kv.list({ prefix: ctx.ks.cronPrefix })) {
    out.push(scheduleInfo(JSON.parse(dec.decode(e.value)) as ScheduleRecord));
  }
  return out;
}

/**
 * The schedule enqueuer: adds every due tick of every schedule, each exactly once (one commit per
 * tick checks the schedule record's versionstamp and the tick's unique key). Returns the earliest
 * next tick.
 */
export async function runSchedules<T, R>(ctx: QueueContext<T, R>): Promise<number | null> {
  let earliest: number | null = null;
  const entries: KvEntry[] = [];
  for await (const e of ctx.kv.list({ prefix: ctx.ks.cronPrefix })) entries.push(e);
  for (const e of entries) {
    const s = JSON.parse(dec.decode(e.value)) as ScheduleRecord;
    const now = ctx.clock.now();
    if (s.next === null) continue;
    if (s.next > now) {
      earliest = earliest === null ? s.next : Math.min(earliest, s.next);
      continue;
    }
    const tick = s.next;
    const following = nextTick(s, now);
    const advance = {
      checks: [[ctx.ks.cron(s.name), e.versionstamp] as const],
      sets: [[ctx.ks.cron(s.name), enc.encode(JSON.stringify({ ...s, next: following }))] as const],
      conflicts: [ctx.ks.cron(s.name)],
    };
    const p = await prepare(ctx, decodeValue(s.data) as T, { ...s.job, key: `${s.name}@${tick}` }, s.name);
    const unit = mergeUnits({ ...p.unit, overflow: undefined }, advance);
    const over = p.overflow ? mergeUnits(p.overflow, advance) : { ...advance, deletes: [] };
    const res = await ctx.committer.write({ ...unit, overflow: over });
    if (res.ok) {
      if (res.overflowed) {
        if (p.overflowRecord) {
          const job = view<T, R>(p.overflowRecord, res.versionstamp, p.data);
          publish(ctx, "overflow", p.record.state, p.overflowRecord, job);
        } else ctx.emit("error", undefined, new QueueFullError(ctx.name, ctx.settings.maxQueued));
      } else announce(ctx, p.record);
    }
    if (following !== null) earliest = earliest === null ? following : Math.min(earliest, following);
  }
  return earliest;
}
