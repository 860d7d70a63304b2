import { test } from "node:test";
import assert from "node:assert/strict";
import { deadline, deferred, pooledMap } from "../../src/async.ts";
import { FakeClock, sleep } from "../../src/clock.ts";
import { KvqError, TimeoutError } from "../../src/errors.ts";

test("deferred resolves or rejects from outside, once", async () => {
  const a = deferred<number>();
  a.resolve(1);
  a.resolve(2);
  a.reject(new Error("late"));
  assert.equal(await a.promise, 1);
  const b = deferred<number>();
  const err = new Error("x");
  b.reject(err);
  await assert.rejects(b.promise, (e) => e === err);
});

test("pooledMap keeps at most `concurrency` calls in flight and returns results in input order", async () => {
  const clock = new FakeClock();
  let active = 0, peak = 0;
  const started: number[] = [];
  const delays = [50, 10, 30, 20, 40, 10];
  const run = pooledMap(2, delays.keys(), async (i, index) => {
    assert.equal(i, index);
    started.push(i);
    peak = Math.max(peak, ++active);
    await sleep(clock, delays[i]!);
    active--;
    return `r${i}`;
  });
  await clock.advance(1000);
  assert.deepEqual(await run, ["r0", "r1", "r2", "r3", "r4", "r5"]);
  assert.equal(peak, 2);
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5]);
  assert.equal(clock.pending, 0);
});

test("pooledMap handles empty input, Infinity and synchronous functions", async () => {
  assert.deepEqual(await pooledMap(3, [], () => Promise.resolve(1)), []);
  let peak = 0, active = 0;
  const d = deferred<void>();
  const run = pooledMap(Infinity, [1, 2, 3, 4], async (n) => {
    peak = Math.max(peak, ++active);
    await d.promise;
    return n;
  });
  await Promise.resolve();
  d.resolve();
  assert.deepEqual(await run, [1, 2, 3, 4]);
  assert.equal(peak, 4);
});

test("pooledMap rejects with the first error after in-flight calls settle and starts no new ones", async () => {
  const clock = new FakeClock();
  const started: number[] = [];
  const finished: number[] = [];
  const boom = new Error("boom");
  const run = pooledMap(2, [0, 1, 2, 3], async (i) => {
    started.push(i);
    await sleep(clock, i === 0 ? 10 : 100);
    finished.push(i);
    if (i === 0) throw boom;
    if (i === 1) throw new Error("second");
    return i;
  });
  let settled = false;
  run.catch(() => (settled = true));
  await clock.advance(10);
  assert.equal(settled, false, "waits for the call still in flight");
  await clock.advance(90);
  await assert.rejects(run, (e) => e === boom);
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual(finished, [0, 1]);
  assert.equal(clock.pending, 0);
});

test("pooledMap turns a synchronous throw in fn into a rejection", async () => {
  const err = new Error("sync");
  await assert.rejects(
    pooledMap(
      1,
      [1],
      (() => {
        throw err;
      }) as () => Promise<never>,
    ),
    (e) => e === err,
  );
});

test("pooledMap rejects a bad concurrency with a RangeError", async () => {
  for (const c of [0, -1, 1.5, NaN]) {
    await assert.rejects(pooledMap(c, [1], (x) => Promise.resolve(x)), /concurrency must be an integer >= 1/);
  }
});

test("deadline resolves with the value and clears its timer", async () => {
  const clock = new FakeClock();
  const d = deferred<string>();
  const p = deadline(d.promise, 1000, clock);
  assert.equal(clock.pending, 1);
  d.resolve("ok");
  assert.equal(await p, "ok");
  assert.equal(clock.pending, 0);
});

test("deadline passes a rejection through and clears its timer", async () => {
  const clock = new FakeClock();
  const err = new Error("x");
  await assert.rejects(deadline(Promise.reject(err), 1000, clock), (e) => e === err);
  assert.equal(clock.pending, 0);
});

test("deadline rejects with a TimeoutError when the time runs out", async () => {
  const clock = new FakeClock();
  const d = deferred<string>();
  const p = deadline(d.promise, 1000, clock);
  const seen: unknown[] = [];
  p.catch((e) => seen.push(e));
  await clock.advance(999);
  assert.equal(seen.length, 0);
  await clock.advance(1);
  const outcome = seen[0];
  assert.ok(outcome instanceof TimeoutError);
  assert.ok(outcome instanceof KvqError);
  assert.equal(outcome.name, "TimeoutError");
  assert.equal(outcome.ms, 1000);
  assert.match(outcome.message, /after 1000 ms/);
  d.resolve("late"); // settling later changes nothing
  await assert.rejects(p, TimeoutError);
  assert.equal(clock.pending, 0);
});

test("deadline uses the system clock by default", async () => {
  await assert.rejects(deadline(new Promise(() => {}), 1), TimeoutError);
  assert.equal(await deadline(Promise.resolve(5), 1000), 5);
});

test("deadline rejects a negative limit with a RangeError", async () => {
  await assert.rejects(deadline(Promise.resolve(1), -1), RangeError);
});
