/**
 * Caller-driven changes: cancel, promote (run a delayed job or a waiting retry now), redrive, remove,
 * pause and resume, and the lookup of a job by its idempotency key. Each change is the
 * `transition` of its event, stored through the job store's units, retried on conflicts.
 *
 * @module
 */

import { dropBlobs } from "./blobs.ts";
import type { JobEvent, JobRecord } from "./job.ts";
import { transition } from "./job.ts";
import { JobNotFoundError, JobStateError, StorageError } from "./errors.ts";
import { announce, publish, type QueueContext } from "./context.ts";
import { applyUnit, byKey, type Entry, indexed, PAGE, read, views } from "./job_store.ts";
import type { Job } from "./types.ts";

const enc = new TextEncoder();

/** Applies `event` to job `id` with retries on conflicts; `null` when the job is absent. */
async function change<T, R>(
  ctx: QueueContext<T, R>,
  id: string,
  event: JobEvent,
): Promise<{ before: Entry; after: JobRecord; versionstamp: string } | null> {
  for (let round = 0; round < 100; round++) {
    const entry = await read(ctx, id);
    if (!entry) return null;
    const next = transition(entry.record, event, ctx.clock.now());
    const res = await ctx.committer.write(applyUnit(ctx, event.type, entry, next).unit);
    if (res.ok) return { before: entry, after: next, versionstamp: res.versionstamp };
  }
  throw new StorageError(
    ctx.kv.info.name,
    "commit",
    `cannot ${event.type} job ${id}: it kept changing under us`,
  );
}

/** `Queue.cancel()`. */
export async function cancel<T, R>(ctx: QueueContext<T, R>, id: string): Promise<boolean> {
  let done;
  try {
    done = await change(ctx, id, { type: "cancel" });
  } catch (e) {
    if (e instanceof JobStateError) return false;
    throw e;
  }
  if (!done) throw new JobNotFoundError(id, ctx.name);
  if (done.after.state === "active") ctx.signal({ type: "cancel", id });
  else {
    const [job] = await views(ctx, [{ record: done.after, versionstamp: done.versionstamp }]);
    publish(ctx, "cancel", done.before.record.state, done.after, job);
  }
  return true;
}

/** `Queue.promote()`: a scheduled job, or a failed one waiting for its retry, becomes ready now. */
export async function promote<T, R>(ctx: QueueContext<T, R>, id: string): Promise<Job<T, R>> {
  const done = await change(ctx, id, { type: "promote", early: true });
  if (!done) throw new JobNotFoundError(id, ctx.name);
  announce(ctx, done.after);
  return (await views(ctx, [{ record: done.after, versionstamp: done.versionstamp }]))[0];
}

/** `Queue.getJobByKey()`. */
export function getJobByKey<T, R>(ctx: QueueContext<T, R>, key: string): Promise<Job<T, R> | null> {
  if (typeof key !== "string" || key === "") {
    throw new TypeError(`Invalid idempotency key: expected a non-empty string, got ${JSON.stringify(key)}`);
  }
  return byKey(ctx, key);
}

/** `Queue.redrive()`. */
export async function redrive<T, R>(ctx: QueueContext<T, R>, id: string): Promise<Job<T, R>> {
  const done = await change(ctx, id, { type: "redrive" });
  if (!done) throw new JobNotFoundError(id, ctx.name);
  announce(ctx, done.after);
  return (await views(ctx, [{ record: done.after, versionstamp: done.versionstamp }]))[0];
}

/** `Queue.redriveAll()`. */
export async function redriveAll<T, R>(ctx: QueueContext<T, R>): Promise<number> {
  let n = 0;
  for (;;) {
    const entries = await indexed(ctx, "dead", undefined, PAGE);
    if (!entries.length) return n;
    const now = ctx.clock.now();
    const units = entries.filter((e) => e.record.state === "dead").map((e) =>
      applyUnit(ctx, "redrive", e, transition(e.record, { type: "redrive" }, now)).unit
    );
    const res = await ctx.committer.writeMany(units);
    n += res.filter((r) => r.ok).length;
    ctx.signal({ type: "ready" });
  }
}

/** `Queue.remove()`: `false` when there is no such job; an active job is a `JobStateError`. */
export async function remove<T, R>(ctx: QueueContext<T, R>, id: string): Promise<boolean> {
  const done = await change(ctx, id, { type: "remove" });
  if (!done) return false;
  await dropBlobs(ctx, done.before.record);
  ctx.signal({ type: "ended", id });
  return true;
}

/** `Queue.pause()` / `Queue.resume()`. */
export async function setPaused<T, R>(ctx: QueueContext<T, R>, paused: boolean): Promise<void> {
  const op = ctx.kv.atomic();
  if (paused) op.set(ctx.ks.paused, enc.encode("1"));
  else op.delete(ctx.ks.paused);
  await op.commit();
  ctx.signal({ type: "paused", paused });
}

/** `Queue.isPaused()`. */
export async function isPaused<T, R>(ctx: QueueContext<T, R>): Promise<boolean> {
  return (await ctx.kv.get(ctx.ks.paused)) !== null;
}
