// The lifecycle rules that live in job.ts beside transition: permanent failures, unstorable
// results, remove, a cancel seen by an external heartbeat, disposition, the capacity rule and the
// one mapping from a change to the queue events it emits.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  admits,
  createJob,
  disposition,
  errorInfo,
  eventsOf,
  isPermanent,
  type JobRecord,
  transition,
  unfinished,
  zeroCounts,
} from "../../src/job.ts";
import { IntegrityError, JobStateError, PermanentError, RateLimitedError } from "../../src/errors.ts";

const err = { name: "Error", message: "boom" };

function active(over: Partial<Parameters<typeof createJob>[0]> = {}): JobRecord {
  const j = createJob({ id: "J1", queue: "q", payload: { json: 1 }, ...over }, 0);
  return transition(j, { type: "claim", token: "t", owner: "w", leaseMs: 1000 }, 0);
}

test("isPermanent: PermanentError, IntegrityError and retry: false are permanent, other errors not", () => {
  assert.equal(isPermanent(new PermanentError("x")), true);
  assert.equal(isPermanent(new IntegrityError("J1", "bad")), true);
  assert.equal(isPermanent({ message: "x", retry: false }), true);
  assert.equal(isPermanent(new Error("x")), false);
  assert.equal(isPermanent({ retry: true }), false);
  assert.equal(isPermanent("x"), false);
});

test("fail decides permanence from its cause: dead at once, reason integrity for an IntegrityError", () => {
  const j = active();
  const p = transition(j, { type: "fail", token: "t", error: err, cause: new PermanentError("x") }, 5);
  assert.deepEqual([p.state, p.reason], ["dead", "permanent"]);
  const i = transition(
    j,
    { type: "fail", token: "t", error: err, cause: new IntegrityError("J1", "bad") },
    5,
  );
  assert.deepEqual([i.state, i.reason], ["dead", "integrity"]);
  const r = transition(j, { type: "fail", token: "t", error: err, retry: false }, 5);
  assert.deepEqual([r.state, r.reason], ["dead", "permanent"]);
  assert.equal(
    transition(j, { type: "fail", token: "t", error: err, cause: new Error("x") }, 5).state,
    "failed",
  );
});

test("complete with an unstorable result fails the attempt permanently with that error", () => {
  const unstorable = { name: "PermanentError", message: "Cannot store the result" };
  const d = transition(active(), { type: "complete", token: "t", result: { json: 1 }, unstorable }, 7);
  assert.deepEqual([d.state, d.reason, d.result], ["dead", "permanent", undefined]);
  assert.deepEqual(d.history.at(-1), {
    attempt: 1,
    startedAt: 0,
    endedAt: 7,
    outcome: "failed",
    error: unstorable,
  });
  assert.deepEqual(eventsOf("complete", "active", d), ["failed", "dead"]);
});

test("remove is refused for an active job and returns any other record as it was", () => {
  assert.throws(() => transition(active(), { type: "remove" }, 1), JobStateError);
  const ready = createJob({ id: "J2", queue: "q", payload: { json: 1 } }, 0);
  assert.equal(transition(ready, { type: "remove" }, 1), ready);
  assert.equal(disposition("remove", ready), "remove");
});

test("a heartbeat carrying canceled ends a job whose cancel was requested; without a request it renews", () => {
  const canceled = { name: "CanceledError", message: "Job J1 was canceled" };
  const j = active();
  const renewed = transition(j, { type: "heartbeat", token: "t", leaseMs: 500, canceled }, 10);
  assert.deepEqual([renewed.state, renewed.lease?.expiresAt], ["active", 510]);
  const requested = { ...j, cancelRequested: true };
  const worker = transition(requested, { type: "heartbeat", token: "t", leaseMs: 500 }, 10);
  assert.equal(worker.state, "active", "a worker's heartbeat renews: its handler is aborted instead");
  const ended = transition(requested, { type: "heartbeat", token: "t", leaseMs: 500, canceled }, 10);
  assert.deepEqual([ended.state, ended.reason, ended.history.at(-1)?.error], [
    "canceled",
    "canceled",
    canceled,
  ]);
  assert.deepEqual(eventsOf("heartbeat", "active", ended), ["failed", "canceled"]);
  assert.deepEqual(eventsOf("heartbeat", "active", renewed), []);
});

test("disposition removes a completed job added with removeOnComplete, and writes everything else", () => {
  const done = transition(active({ removeOnComplete: true }), { type: "complete", token: "t" }, 3);
  assert.equal(disposition("complete", done), "remove");
  assert.equal(disposition("complete", transition(active(), { type: "complete", token: "t" }, 3)), "write");
  const dead = transition(active({ removeOnComplete: true }), {
    type: "fail",
    token: "t",
    error: err,
    retry: false,
  }, 3);
  assert.equal(disposition("fail", dead), "write", "only a completion removes");
});

test("admits: the capacity rule counts unfinished jobs only, and an ended add always fits", () => {
  const c = { ...zeroCounts(), scheduled: 1, ready: 2, active: 3, failed: 4, completed: 100, dead: 5 };
  assert.equal(unfinished(c), 10);
  assert.equal(admits(unfinished(c), 1, 11), true);
  assert.equal(admits(unfinished(c), 1, 10), false);
  assert.equal(admits(unfinished(c), 0, 10), true);
  assert.equal(admits(0, 1, 0), false);
});

test("eventsOf maps each change to its queue events, in order", () => {
  const j = active({ maxAttempts: 1 });
  const at = (e: Parameters<typeof transition>[1], r = j) =>
    eventsOf(e.type, r.state, transition(r, e, 2000));
  assert.deepEqual(at({ type: "complete", token: "t" }), ["completed"]);
  assert.deepEqual(at({ type: "fail", token: "t", error: err }), ["failed", "dead"]);
  assert.deepEqual(at({ type: "fail", token: "t", error: err }, active()), ["failed", "retrying"]);
  assert.deepEqual(at({ type: "fail", token: "t", error: err }, { ...j, cancelRequested: true }), [
    "failed",
    "canceled",
  ]);
  assert.deepEqual(at({ type: "expire" }), ["stalled", "dead"]);
  assert.deepEqual(at({ type: "expire" }, active()), ["stalled"]);
  assert.deepEqual(at({ type: "expire" }, { ...j, cancelRequested: true }), ["stalled", "canceled"]);
  assert.deepEqual(at({ type: "release", token: "t" }), []);
  assert.deepEqual(at({ type: "release", token: "t" }, { ...j, cancelRequested: true }), ["canceled"]);
  assert.deepEqual(at({ type: "cancel" }), [], "an active job's cancel is only a request");
  const ready = createJob({ id: "J3", queue: "q", payload: { json: 1 } }, 0);
  assert.deepEqual(at({ type: "cancel" }, ready), ["canceled"]);
  assert.deepEqual(at({ type: "overflow" }, ready), ["dead"]);
  assert.deepEqual(at({ type: "claim", token: "u", owner: "w", leaseMs: 5 }, ready), []);
  assert.deepEqual(at({ type: "remove" }, ready), []);
  assert.deepEqual(at({ type: "heartbeat", token: "t", leaseMs: 5 }), []);
});

test("rule: a RateLimitedError cause is not a failure: scheduled at now + retryAfterMs, attempt not counted, no event", () => {
  const ready = createJob({ id: "r", queue: "q", payload: { json: 1 }, maxAttempts: 1 }, 0);
  const active = transition(ready, { type: "claim", token: "t", owner: "w", leaseMs: 1000 }, 10);
  const cause = new RateLimitedError(250);
  const next = transition(active, { type: "fail", token: "t", error: errorInfo(cause), cause }, 20);
  assert.equal(next.state, "scheduled");
  assert.equal(next.runAt, 270);
  assert.equal(next.attempt, 0);
  assert.equal(next.history.at(-1)?.outcome, "released");
  assert.deepEqual(eventsOf("fail", "active", next), []);
  // retry: false still means "do not retry": the job dies.
  assert.equal(
    transition(active, { type: "fail", token: "t", error: errorInfo(cause), cause, retry: false }, 20).state,
    "dead",
  );
});
