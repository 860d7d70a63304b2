/**
 * Repeating schedules: a cron expression (5 fields, UTC or a named time zone) or a fixed interval,
 * stored per queue. Workers' maintenance enqueues each due tick as a job in one atomic commit that
 * checks the schedule record's versionstamp and uses a unique key per tick, so each tick is enqueued
 * exactly once even when several processes run the scheduler. Ticks missed while no worker ran are
 * collapsed into one.
 *
 * @module
 */

import { nextCronRun, nextIntervalRun, validateCron } from "./cron.ts";
import type { ValueRef } from "./job.ts";
import type { AddOptions, ScheduleInfo, ScheduleOptions } from "./types.ts";

/** A stored schedule. */
export interface ScheduleRecord {
  /** Its name. */
  readonly name: string;
  /** Cron expression. */
  readonly cron?: string;
  /** Time zone of `cron`. */
  readonly timezone?: string;
  /** Interval in ms. */
  readonly every?: number;
  /** Anchor of the interval. */
  readonly startAt?: number;
  /** Payload of every tick. */
  readonly data: ValueRef;
  /** Options of every tick's job. */
  readonly job: Omit<AddOptions, "key" | "delay" | "runAt" | "atomic">;
  /** The next tick, or `null` when there is none. */
  readonly next: number | null;
}

/**
 * Checks schedule options and throws `TypeError`/`RangeError` saying what is wrong.
 *
 * @example
 * ```ts
 * import { validateSchedule } from "./scheduler.ts";
 * validateSchedule("nightly", { cron: "0 2 * * *", timezone: "Europe/Berlin" }); // a valid one: no error
 * try {
 *   validateSchedule("nightly", { cron: "61 * * * *" });
 * } catch (e) {
 *   console.log(e instanceof TypeError || e instanceof RangeError); // true
 * }
 * ```
 */
export function validateSchedule(name: string, options: ScheduleOptions): void {
  if (typeof name !== "string" || name === "") {
    throw new TypeError(`Invalid schedule name: expected a non-empty string, got ${JSON.stringify(name)}`);
  }
  const hasCron = options.cron !== undefined;
  const hasEvery = options.every !== undefined;
  if (hasCron === hasEvery) {
    throw new TypeError(`Invalid schedule ${name}: give exactly one of cron or every`);
  }
  if (hasCron) validateCron(options.cron!, options.timezone);
  if (
    hasEvery && (typeof options.every !== "number" || !Number.isFinite(options.every) || options.every <= 0)
  ) {
    throw new RangeError(
      `Invalid schedule ${name}: every must be a finite number of ms > 0, got ${options.every}`,
    );
  }
  if (options.startAt !== undefined && !Number.isFinite(options.startAt)) {
    throw new RangeError(`Invalid schedule ${name}: startAt must be a finite time in ms`);
  }
}

/**
 * The first tick strictly after `after` of a schedule.
 *
 * @example
 * ```ts
 * import { nextTick } from "./scheduler.ts";
 * console.log(nextTick({ every: 1000, startAt: 0 }, 1500)); // 2000
 * ```
 */
export function nextTick(
  s: { cron?: string; timezone?: string; every?: number; startAt?: number },
  after: number,
): number | null {
  if (s.cron !== undefined) return nextCronRun(s.cron, after, s.timezone);
  return nextIntervalRun(s.every!, s.startAt ?? after, after + 1);
}

/**
 * The public view of a stored schedule.
 *
 * @example
 * ```ts
 * import { scheduleInfo } from "./scheduler.ts";
 * console.log(scheduleInfo({ name: "n", every: 5, data: { json: null }, job: {}, next: 5 }).next); // 5
 * ```
 */
export function scheduleInfo(s: ScheduleRecord): ScheduleInfo {
  const info: { -readonly [K in keyof ScheduleInfo]: ScheduleInfo[K] } = { name: s.name, next: s.next };
  if (s.cron !== undefined) info.cron = s.cron;
  if (s.timezone !== undefined) info.timezone = s.timezone;
  if (s.every !== undefined) info.every = s.every;
  return info;
}
