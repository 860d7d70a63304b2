/**
 * External leases: the stateless lease API of `Queue.claim()`, `heartbeat()`, `complete()`,
 * `fail()` and `release()`, for consumers that are not a `Worker` (another process, the HTTP
 * sidecar). Nothing is kept in memory between calls: each call re-reads the job and checks its
 * token, then goes through the same fenced writes as a worker (lease.ts).
 *
 * @module
 */

import { errorInfo } from "./job.ts";
import { CanceledError, LeaseLostError } from "./errors.ts";
import type { QueueContext } from "./context.ts";
import { checkNumber } from "./validate.ts";
import { loadValues, read, view } from "./job_store.ts";
import { claim, complete, fail, heartbeat, type Held, progress, release } from "./lease.ts";
import { verify } from "./executor.ts";
import { nextDelayed } from "./maintenance/promoter.ts";
import { runDue } from "./maintenance/run_due.ts";
import type { ClaimedJob, ClaimOptions, FailOptions, HeartbeatOptions, Job } from "./types.ts";

/**
 * `Queue.claim()`: claims up to `limit` ready jobs under external leases, verifies each payload (a
 * bad one goes to dead and is not handed out) and, with `wait`, waits for work. Maintenance that is
 * due runs first (`runDue`: due delayed jobs promoted, expired leases healed at most once per poll
 * interval), so no worker needs to run.
 */
export async function claimExternal<T, R>(
  ctx: QueueContext<T, R>,
  options: ClaimOptions,
): Promise<ClaimedJob<T, R>[]> {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Invalid claim options: expected an object");
  }
  const owner = options.owner ?? "consumer";
  if (typeof owner !== "string" || owner === "") {
    throw new TypeError(`Invalid claim owner: expected a non-empty string, got ${JSON.stringify(owner)}`);
  }
  const leaseMs = options.leaseMs ?? 30_000;
  checkNumber("claim leaseMs", leaseMs, 1);
  const limit = options.limit ?? 1;
  checkNumber("claim limit", limit, 1, true);
  const wait = options.wait ?? 0;
  checkNumber("claim wait", wait, 0);
  const signal = options.signal;
  const clock = ctx.clock;
  const deadline = clock.now() + wait;
  let dueNow = 0;
  for (;;) {
    // Listen before looking, so a job that becomes ready between the look and the wait wakes us.
    const waker: { woken: boolean; wake: (() => void) | null } = { woken: false, wake: null };
    const off = wait > 0
      ? ctx.subscribe((s) => {
        if (s.type !== "ready" && s.type !== "delayed") return;
        waker.woken = true;
        waker.wake?.();
      })
      : () => {};
    try {
      const got = await claimOnce(ctx, limit, owner, leaseMs);
      if (got.length || signal?.aborted || clock.now() >= deadline) return got;
      if (waker.woken) continue;
      const next = await nextDelayed(ctx);
      const now = clock.now();
      if (next !== null && next <= now && dueNow++ < 3) continue; // came due meanwhile: look again
      dueNow = 0;
      let until = Math.min(deadline, now + ctx.settings.pollInterval);
      if (next !== null && next > now) until = Math.min(until, next);
      if (until <= now) continue; // the deadline passed while we looked: the next round returns
      await new Promise<void>((resolve) => {
        const done = () => {
          clock.clearTimer(timer);
          signal?.removeEventListener("abort", done);
          waker.wake = null;
          resolve();
        };
        const timer = clock.setTimer(done, until - now);
        signal?.addEventListener("abort", done, { once: true });
        waker.wake = done;
        if (waker.woken || signal?.aborted) done();
      });
    } finally {
      off();
    }
  }
}

async function claimOnce<T, R>(
  ctx: QueueContext<T, R>,
  limit: number,
  owner: string,
  leaseMs: number,
): Promise<ClaimedJob<T, R>[]> {
  await runDue(ctx, ctx.clock.now(), { heal: "throttled", promote: true });
  const out: ClaimedJob<T, R>[] = [];
  for (let round = 0; out.length < limit && round < 100; round++) {
    const { held, paused, contended } = await claim(ctx, limit - out.length, owner, leaseMs, true);
    if (paused) break;
    let dropped = 0;
    for (const h of held) {
      const bad = await verify(ctx, h);
      if (!bad) {
        out.push({ job: view<T, R>(h.record, h.versionstamp, h.data), token: h.token });
        continue;
      }
      dropped++;
      try {
        await fail(ctx, h, bad);
      } catch (err) {
        ctx.emit("error", view<T, R>(h.record, h.versionstamp, h.data), err);
      }
    }
    // Jobs lost to another claimer, or damaged ones sent to dead: there may be more to take.
    if (!contended && dropped === 0) break;
  }
  return out;
}

/** The held form of a job under an external lease, when `token` is its lease token. */
async function leased<T, R>(
  ctx: QueueContext<T, R>,
  id: string,
  token: string,
  operation: string,
): Promise<Held<T>> {
  if (typeof id !== "string" || id === "") {
    throw new TypeError(`Cannot ${operation} job: expected a job id, got ${JSON.stringify(id)}`);
  }
  if (typeof token !== "string" || token === "") {
    throw new TypeError(`Cannot ${operation} job ${id}: expected the lease token that claim() returned`);
  }
  const e = await read(ctx, id);
  const r = e?.record;
  if (!e || r!.state !== "active" || r!.lease?.token !== token) {
    throw new LeaseLostError(
      id,
      operation,
      r?.state === "canceled" ? { cause: new CanceledError(id) } : undefined,
    );
  }
  const v = (await loadValues(ctx, [e.record])).get(id)!;
  return {
    record: e.record,
    versionstamp: e.versionstamp,
    token,
    data: v.data as T,
    chain: Promise.resolve(),
  };
}

/** `Queue.heartbeat()`: renews an external lease (and stores progress). */
export async function heartbeatExternal<T, R>(
  ctx: QueueContext<T, R>,
  id: string,
  token: string,
  options: HeartbeatOptions = {},
): Promise<Job<T, R>> {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Invalid heartbeat options: expected an object");
  }
  const held = await leased(ctx, id, token, "heartbeat");
  const leaseMs = options.leaseMs ?? held.record.lease?.ms ?? 30_000;
  checkNumber("heartbeat leaseMs", leaseMs, 1);
  if (held.record.cancelRequested || options.progress === undefined) {
    // No handler here to abort: a requested cancel ends the job now, and its holder learns it.
    const canceled = new CanceledError(id);
    const job = await heartbeat(ctx, held, leaseMs, { error: canceled, info: errorInfo(canceled) });
    if (job.state === "canceled") throw new LeaseLostError(id, "heartbeat", { cause: canceled });
    return job;
  }
  const out = await progress(ctx, held, options.progress, leaseMs);
  return view<T, R>(out.record, out.versionstamp, held.data);
}

/** `Queue.complete()`. */
export async function completeExternal<T, R>(
  ctx: QueueContext<T, R>,
  id: string,
  token: string,
  result: R,
): Promise<Job<T, R>> {
  return await complete(ctx, await leased(ctx, id, token, "complete"), result);
}

/** `Queue.fail()`. */
export async function failExternal<T, R>(
  ctx: QueueContext<T, R>,
  id: string,
  token: string,
  error: unknown,
  options: FailOptions = {},
): Promise<Job<T, R>> {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Invalid fail options: expected an object");
  }
  if (options.retry !== undefined && typeof options.retry !== "boolean") {
    throw new TypeError(
      `Invalid fail option retry: expected true or false, got ${JSON.stringify(options.retry)}`,
    );
  }
  return await fail(ctx, await leased(ctx, id, token, "fail"), error, options.retry === false);
}

/** `Queue.release()`. */
export async function releaseExternal<T, R>(
  ctx: QueueContext<T, R>,
  id: string,
  token: string,
): Promise<Job<T, R>> {
  return await release(ctx, await leased(ctx, id, token, "release"));
}
