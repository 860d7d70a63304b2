import { test } from "node:test";
import assert from "node:assert/strict";
import { createJob, errorInfo, isTerminal, JOB_STATES, type JobRecord, transition } from "../../src/job.ts";
import { JobStateError } from "../../src/errors.ts";
import { seededRandom } from "../../src/ids.ts";

const err = { name: "Error", message: "boom" };
const LEASE = 30_000;

function job(over: Partial<Parameters<typeof createJob>[0]> = {}, now = 0): JobRecord {
  return createJob({ id: "J1", queue: "q", payload: { json: { n: 1 } }, ...over }, now);
}
function claimed(j: JobRecord, now = 0, token = "t1"): JobRecord {
  return transition(j, { type: "claim", token, owner: "w1", leaseMs: LEASE }, now);
}

test("JOB_STATES lists the seven states once, terminal ones flagged", () => {
  assert.deepEqual([...JOB_STATES], [
    "scheduled",
    "ready",
    "active",
    "completed",
    "failed",
    "dead",
    "canceled",
  ]);
  assert.deepEqual(JOB_STATES.filter(isTerminal), ["completed", "dead", "canceled"]);
});

test("createJob makes a ready job when runAt is now or past, scheduled when in the future", () => {
  assert.equal(job({}, 100).state, "ready");
  assert.equal(job({ runAt: 100 }, 100).state, "ready");
  const s = job({ runAt: 500 }, 100);
  assert.equal(s.state, "scheduled");
  assert.equal(s.runAt, 500);
  assert.equal(s.attempt, 0);
  assert.equal(s.maxAttempts, 3);
  assert.deepEqual(s.history, []);
});

test("transition() does not change its input", () => {
  const j = job();
  const frozen = JSON.stringify(j);
  claimed(j);
  assert.equal(JSON.stringify(j), frozen);
});

test("promote moves a due scheduled job to ready and refuses one not yet due", () => {
  const s = job({ runAt: 500 }, 0);
  assert.throws(() => transition(s, { type: "promote" }, 499), JobStateError);
  const r = transition(s, { type: "promote" }, 500);
  assert.equal(r.state, "ready");
});

test("promote with early runs a scheduled job or a waiting retry now, keeping its attempt count", () => {
  const s = transition(job({ runAt: 500 }, 0), { type: "promote", early: true }, 10);
  assert.deepEqual([s.state, s.runAt, s.updatedAt, s.attempt], ["ready", 10, 10, 0]);
  const failed = transition(claimed(job({ backoff: 60_000 })), { type: "fail", token: "t1", error: err }, 5);
  assert.equal(failed.state, "failed");
  const retry = transition(failed, { type: "promote", early: true }, 6);
  assert.deepEqual([retry.state, retry.runAt, retry.attempt, retry.history.length], ["ready", 6, 1, 1]);
  assert.throws(() => transition(job(), { type: "promote", early: true }, 0), JobStateError);
});

test("claim makes a ready job active, counts the attempt and records the lease", () => {
  const a = claimed(job(), 1000);
  assert.equal(a.state, "active");
  assert.equal(a.attempt, 1);
  assert.equal(a.startedAt, 1000);
  assert.deepEqual(a.lease, { token: "t1", owner: "w1", expiresAt: 1000 + LEASE, ms: LEASE });
  assert.throws(() => claimed(a), JobStateError, "an active job cannot be claimed again");
});

test("heartbeat extends the lease only for the token holder", () => {
  const a = claimed(job(), 0);
  const h = transition(a, { type: "heartbeat", token: "t1", leaseMs: LEASE }, 20_000);
  assert.equal(h.lease?.expiresAt, 50_000);
  assert.throws(() => transition(a, { type: "heartbeat", token: "other", leaseMs: LEASE }, 1), JobStateError);
});

test("progress stores the value for the token holder only", () => {
  const a = claimed(job());
  assert.equal(transition(a, { type: "progress", token: "t1", value: 50 }, 1).progress, 50);
  assert.throws(() => transition(a, { type: "progress", token: "x", value: 50 }, 1), JobStateError);
});

test("complete ends the attempt as completed, stores the result and drops the lease", () => {
  const c = transition(claimed(job(), 10), { type: "complete", token: "t1", result: { json: "ok" } }, 20);
  assert.equal(c.state, "completed");
  assert.equal(c.finishedAt, 20);
  assert.deepEqual(c.result, { json: "ok" });
  assert.equal(c.lease, undefined);
  assert.deepEqual(c.history, [{ attempt: 1, startedAt: 10, endedAt: 20, outcome: "completed" }]);
});

test("complete with a stale token is refused (fencing)", () => {
  const a = claimed(job(), 0, "new");
  assert.throws(
    () => transition(a, { type: "complete", token: "old" }, 1),
    (e: unknown) => e instanceof JobStateError && e.action === "complete",
  );
});

test("fail with attempts left goes to failed with runAt from the job's backoff", () => {
  const a = claimed(job({ backoff: { type: "exponential", delay: 1000 } }), 0);
  const f = transition(a, { type: "fail", token: "t1", error: err }, 100);
  assert.equal(f.state, "failed");
  assert.equal(f.runAt, 1100);
  assert.deepEqual(f.error, err);
  assert.deepEqual(f.history, [{ attempt: 1, startedAt: 0, endedAt: 100, outcome: "failed", error: err }]);
});

test("fail uses the event's backoff when the job has none, and the default otherwise", () => {
  const a = claimed(job(), 0);
  assert.equal(transition(a, { type: "fail", token: "t1", error: err, backoff: 50 }, 0).runAt, 50);
  assert.equal(transition(a, { type: "fail", token: "t1", error: err }, 0).runAt, 1000); // default: 1 s first
  const fn = (attempt: number, e: unknown) => (e === "cause" ? attempt * 7 : -1);
  assert.equal(
    transition(a, { type: "fail", token: "t1", error: err, backoff: fn, cause: "cause" }, 0).runAt,
    7,
  );
});

test("fail backoff follows the attempt number: exponential 1 s, 2 s, 4 s", () => {
  let j = job({ maxAttempts: 5, backoff: { type: "exponential", delay: 1000 } });
  const delays: number[] = [];
  let now = 0;
  for (let i = 1; i <= 3; i++) {
    j = claimed(j, now, `t${i}`);
    j = transition(j, { type: "fail", token: `t${i}`, error: err }, now);
    delays.push(j.runAt - now);
    now = j.runAt;
    j = transition(j, { type: "promote" }, now);
  }
  assert.deepEqual(delays, [1000, 2000, 4000]);
});

test("fail jitter comes only from the generator the event carries, deterministically", () => {
  const a = claimed(job({ backoff: { type: "fixed", delay: 10_000, jitter: 0.5 } }));
  const one = transition(a, { type: "fail", token: "t1", error: err, random: seededRandom(3) }, 0).runAt;
  const two = transition(a, { type: "fail", token: "t1", error: err, random: seededRandom(3) }, 0).runAt;
  assert.equal(one, two);
  assert.ok(one >= 5000 && one <= 10_000);
  assert.throws(() => transition(a, { type: "fail", token: "t1", error: err }, 0), TypeError);
});

test("fail on the last attempt dead-letters with reason exhausted", () => {
  const a = claimed(job({ maxAttempts: 1 }));
  const d = transition(a, { type: "fail", token: "t1", error: err }, 5);
  assert.equal(d.state, "dead");
  assert.equal(d.reason, "exhausted");
  assert.equal(d.finishedAt, 5);
});

test("fail marked permanent dead-letters at once with reason permanent (or the given reason)", () => {
  const a = claimed(job({ maxAttempts: 10 }));
  const d = transition(a, { type: "fail", token: "t1", error: err, permanent: true }, 5);
  assert.equal(d.state, "dead");
  assert.equal(d.reason, "permanent");
  assert.equal(d.attempt, 1);
  const i = transition(a, { type: "fail", token: "t1", error: err, permanent: true, reason: "integrity" }, 5);
  assert.equal(i.reason, "integrity");
});

test("fail after a cancel request ends canceled, not retried", () => {
  const a = transition(claimed(job({ maxAttempts: 5 })), { type: "cancel" }, 1);
  assert.equal(a.state, "active");
  assert.equal(a.cancelRequested, true);
  const c = transition(a, { type: "fail", token: "t1", error: err }, 2);
  assert.equal(c.state, "canceled");
  assert.equal(c.reason, "canceled");
  assert.equal(c.cancelRequested, undefined);
  assert.equal(c.history.at(-1)?.outcome, "canceled");
});

test("expire makes an expired active job ready again and keeps the attempt counted", () => {
  const a = claimed(job(), 0);
  assert.throws(() => transition(a, { type: "expire" }, LEASE - 1), JobStateError, "lease still valid");
  const r = transition(a, { type: "expire" }, LEASE);
  assert.equal(r.state, "ready");
  assert.equal(r.attempt, 1);
  assert.equal(r.lease, undefined);
  assert.equal(r.history.at(-1)?.outcome, "stalled");
  assert.equal(r.history.at(-1)?.error?.name, "LeaseExpiredError");
});

test("expire on the last attempt dead-letters with reason stalled", () => {
  const d = transition(claimed(job({ maxAttempts: 1 })), { type: "expire" }, LEASE);
  assert.equal(d.state, "dead");
  assert.equal(d.reason, "stalled");
});

test("expire after a cancel request ends canceled", () => {
  const a = transition(claimed(job()), { type: "cancel" }, 0);
  assert.equal(transition(a, { type: "expire" }, LEASE).state, "canceled");
});

test("release on shutdown returns the job to ready without counting the attempt", () => {
  const a = claimed(job({ maxAttempts: 1 }), 0);
  const r = transition(a, { type: "release", token: "t1" }, 10);
  assert.equal(r.state, "ready");
  assert.equal(r.attempt, 0);
  assert.equal(r.history.at(-1)?.outcome, "released");
  assert.equal(claimed(r, 20, "t2").attempt, 1);
});

test("release after a cancel request ends canceled", () => {
  const a = transition(claimed(job()), { type: "cancel" }, 0);
  assert.equal(transition(a, { type: "release", token: "t1" }, 1).state, "canceled");
});

test("cancel ends scheduled, ready and failed jobs at once and refuses terminal ones", () => {
  const s = transition(job({ runAt: 100 }), { type: "cancel" }, 1);
  assert.equal(s.state, "canceled");
  assert.equal(transition(job(), { type: "cancel" }, 1).state, "canceled");
  const f = transition(claimed(job()), { type: "fail", token: "t1", error: err }, 1);
  assert.equal(transition(f, { type: "cancel" }, 2).state, "canceled");
  const done = transition(claimed(job()), { type: "complete", token: "t1" }, 1);
  assert.throws(() => transition(done, { type: "cancel" }, 2), JobStateError);
});

test("cancel of a job under an external lease (Queue.claim) ends it canceled at once", () => {
  const a = transition(job(), { type: "claim", token: "t1", owner: "c1", leaseMs: LEASE, external: true }, 0);
  assert.deepEqual(a.lease, { token: "t1", owner: "c1", expiresAt: LEASE, ms: LEASE, external: true });
  const c = transition(a, { type: "cancel" }, 5);
  assert.equal(c.state, "canceled");
  assert.equal(c.reason, "canceled");
  assert.equal(c.finishedAt, 5);
  assert.equal(c.lease, undefined);
  assert.equal(c.history.at(-1)?.outcome, "canceled");
  assert.throws(() => transition(c, { type: "heartbeat", token: "t1", leaseMs: LEASE }, 6), JobStateError);
});

test("claim and heartbeat keep the lease length", () => {
  const a = claimed(job(), 0);
  assert.equal(a.lease?.ms, LEASE);
  assert.equal(a.lease?.external, undefined);
  const b = transition(a, { type: "heartbeat", token: "t1", leaseMs: 500 }, 10);
  assert.deepEqual(b.lease, { token: "t1", owner: "w1", expiresAt: 510, ms: 500 });
});

test("redrive turns a dead job ready with fresh attempts and keeps its history", () => {
  const d = transition(claimed(job({ maxAttempts: 1 })), { type: "fail", token: "t1", error: err }, 1);
  const r = transition(d, { type: "redrive" }, 50);
  assert.equal(r.state, "ready");
  assert.equal(r.attempt, 0);
  assert.equal(r.reason, undefined);
  assert.equal(r.finishedAt, undefined);
  assert.equal(r.history.length, 1);
  assert.throws(() => transition(job(), { type: "redrive" }, 0), JobStateError);
});

test("overflow dead-letters a new job with reason overflow", () => {
  const d = transition(job(), { type: "overflow" }, 3);
  assert.equal(d.state, "dead");
  assert.equal(d.reason, "overflow");
  assert.throws(() => transition(claimed(job()), { type: "overflow" }, 3), JobStateError);
});

test("errorInfo keeps name, message and stack, and describes non-errors", () => {
  const e = errorInfo(new RangeError("x"));
  assert.equal(e.name, "RangeError");
  assert.equal(e.message, "x");
  assert.ok(e.stack?.includes("RangeError"));
  assert.deepEqual(errorInfo({ code: 1 }), { name: "Error", message: '{"code":1}' });
  assert.equal(errorInfo("x".repeat(10_000)).message.length, 4097);
});
