/**
 * A queue's rate limit: a token bucket (`max` starts per `per` ms, up to `burst` at once) kept in
 * one key of the store (`["meta", queue, "rate"]`), so every worker and consumer of the queue, in
 * every process, draws from the same bucket. A claim takes its tokens first, in a checked commit of
 * its own, then claims at most that many jobs and gives back what it did not use. A claim that
 * finds the bucket empty takes nothing and tells when the next token is due.
 *
 * Exact across processes up to the clocks: the bucket refills by each taker's own clock, so clocks
 * that disagree by `d` ms can start up to `d · max / per` jobs more than the limit.
 *
 * @module
 */

import type { QueueContext } from "./context.ts";
import type { AtomicOp } from "./kv.ts";
import { checkNumber } from "./validate.ts";
import { encodeUtf8 } from "./utf8.ts";

/** A rate limit: at most `max` job starts per `per` ms, and at most `burst` at once. */
export interface RateLimit {
  /** Starts per interval. */
  readonly max: number;
  /** The interval, in ms. */
  readonly per: number;
  /** Most starts at once (the bucket's size). @default max */
  readonly burst?: number;
}

/** The bucket as stored: tokens left at time `at`. */
export interface Bucket {
  /** Tokens left (fractional while it refills). */
  readonly tokens: number;
  /** When `tokens` was measured (ms since the epoch). */
  readonly at: number;
}

const dec = new TextDecoder();

/** Checks a rate limit; a bad one is a `TypeError` or `RangeError` naming the field. */
export function checkRateLimit(limit: RateLimit | undefined): Required<RateLimit> | undefined {
  if (limit === undefined) return undefined;
  if (limit === null || typeof limit !== "object") {
    throw new TypeError("Invalid rateLimit: expected { max, per, burst? }");
  }
  checkNumber("rateLimit.max", limit.max, 1, true);
  checkNumber("rateLimit.per", limit.per, 1);
  const burst = limit.burst ?? limit.max;
  checkNumber("rateLimit.burst", burst, 1, true);
  return { max: limit.max, per: limit.per, burst };
}

/**
 * The tokens in `bucket` at `now` (a missing bucket is full; a clock that went back refills nothing).
 *
 * @example
 * ```ts
 * import { tokensAt } from "./rate_limit.ts";
 * console.log(tokensAt({ tokens: 0, at: 0 }, { max: 10, per: 1000, burst: 10 }, 500)); // 5
 * ```
 */
export function tokensAt(bucket: Bucket | null, limit: Required<RateLimit>, now: number): number {
  if (!bucket) return limit.burst;
  const refill = Math.max(0, now - bucket.at) * limit.max / limit.per;
  return Math.min(limit.burst, bucket.tokens + refill);
}

/** When the bucket, holding `tokens` at `now`, next holds a whole token. */
export function nextTokenAt(tokens: number, limit: Required<RateLimit>, now: number): number {
  return now + Math.ceil((1 - tokens) * limit.per / limit.max);
}

function decode(value: Uint8Array | undefined): Bucket | null {
  if (!value) return null;
  try {
    const b = JSON.parse(dec.decode(value)) as Bucket;
    return typeof b.tokens === "number" && typeof b.at === "number" ? b : null;
  } catch {
    return null; // a damaged bucket starts full again: a limit, not data
  }
}

/**
 * Takes up to `want` tokens: how many it got, and when there is none, when the next is due.
 * A change of the bucket by another taker meanwhile makes it read and try again.
 */
export async function takeTokens<T, R>(
  ctx: QueueContext<T, R>,
  limit: Required<RateLimit>,
  want: number,
): Promise<{ got: number; retryAt: number | null }> {
  const key = ctx.ks.rate;
  for (let round = 0; round < 50; round++) {
    const e = await ctx.kv.get(key);
    const now = ctx.clock.now();
    const tokens = tokensAt(decode(e?.value), limit, now);
    const got = Math.min(want, Math.floor(tokens));
    if (got < 1) return { got: 0, retryAt: nextTokenAt(tokens, limit, now) };
    const op = replaceBucket(ctx, e?.versionstamp ?? null, { tokens: tokens - got, at: now });
    // Tokens lost in a power loss only let a few more jobs start: no fsync needed.
    op.relaxed?.();
    if ((await op.commit()).ok) return { got, retryAt: null };
  }
  return { got: 0, retryAt: ctx.clock.now() + 1 };
}

/** Gives back `n` unused tokens (best effort: a taker that moved the bucket meanwhile wins). */
export async function giveBack<T, R>(
  ctx: QueueContext<T, R>,
  limit: Required<RateLimit>,
  n: number,
): Promise<void> {
  const key = ctx.ks.rate;
  const e = await ctx.kv.get(key);
  const now = ctx.clock.now();
  const tokens = Math.min(limit.burst, tokensAt(decode(e?.value), limit, now) + n);
  await replaceBucket(ctx, e?.versionstamp ?? null, { tokens, at: now }).commit();
}

/** The op that replaces the bucket read at `versionstamp` with `bucket` (checked). */
function replaceBucket<T, R>(ctx: QueueContext<T, R>, versionstamp: string | null, bucket: Bucket): AtomicOp {
  return ctx.kv.atomic().check(ctx.ks.rate, versionstamp).set(
    ctx.ks.rate,
    encodeUtf8(JSON.stringify(bucket)),
  );
}
