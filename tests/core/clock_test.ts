import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock, sleep, systemClock } from "../../src/clock.ts";

test("FakeClock starts at the given time, 0 by default", () => {
  assert.equal(new FakeClock().now(), 0);
  assert.equal(new FakeClock(1234).now(), 1234);
});

test("FakeClock.advance fires due timers in time order, then insertion order", async () => {
  const clock = new FakeClock(100);
  const seen: string[] = [];
  clock.setTimer(() => seen.push(`c@${clock.now()}`), 30);
  clock.setTimer(() => seen.push(`a@${clock.now()}`), 10);
  clock.setTimer(() => seen.push(`b1@${clock.now()}`), 20);
  clock.setTimer(() => seen.push(`b2@${clock.now()}`), 20);
  clock.setTimer(() => seen.push("late"), 31);
  assert.equal(clock.pending, 5);
  await clock.advance(30);
  assert.deepEqual(seen, ["a@110", "b1@120", "b2@120", "c@130"]);
  assert.equal(clock.now(), 130);
  assert.equal(clock.pending, 1);
  await clock.advance(1);
  assert.deepEqual(seen.at(-1), "late");
  assert.equal(clock.pending, 0);
});

test("FakeClock.clearTimer removes a pending timer and ignores unknown handles", async () => {
  const clock = new FakeClock();
  let fired = 0;
  const h = clock.setTimer(() => fired++, 5);
  clock.clearTimer(h);
  clock.clearTimer(h);
  clock.clearTimer("nope");
  assert.equal(clock.pending, 0);
  await clock.advance(10);
  assert.equal(fired, 0);
});

test("FakeClock.advance lets async code react to a timer and fires timers it sets within the window", async () => {
  const clock = new FakeClock();
  const ticks: number[] = [];
  const controller = new AbortController();
  const loop = (async () => {
    try {
      for (;;) {
        await sleep(clock, 100, controller.signal);
        await Promise.resolve();
        await Promise.resolve();
        ticks.push(clock.now());
      }
    } catch {
      // aborted
    }
  })();
  await clock.advance(350);
  assert.deepEqual(ticks, [100, 200, 300]);
  assert.equal(clock.now(), 350);
  controller.abort();
  await loop;
  assert.equal(clock.pending, 0);
});

test("FakeClock fires a zero-delay timer on advance(0) and treats negative delays as 0", async () => {
  const clock = new FakeClock(50);
  const seen: number[] = [];
  clock.setTimer(() => seen.push(1), 0);
  clock.setTimer(() => seen.push(2), -10);
  assert.deepEqual(seen, []);
  await clock.advance(0);
  assert.deepEqual(seen, [1, 2]);
  assert.equal(clock.now(), 50);
});

test("FakeClock.advance calls made concurrently run one after the other", async () => {
  const clock = new FakeClock();
  const seen: number[] = [];
  clock.setTimer(() => seen.push(clock.now()), 15);
  await Promise.all([clock.advance(10), clock.advance(10)]);
  assert.deepEqual(seen, [15]);
  assert.equal(clock.now(), 20);
});

test("FakeClock.runNext jumps to the next timer", async () => {
  const clock = new FakeClock();
  let fired = false;
  clock.setTimer(() => (fired = true), 5_000);
  assert.equal(clock.nextDue, 5_000);
  await clock.runNext();
  assert.equal(fired, true);
  assert.equal(clock.now(), 5_000);
  assert.equal(clock.nextDue, undefined);
  await clock.runNext();
  assert.equal(clock.now(), 5_000);
});

test("FakeClock rejects bad arguments with RangeError", async () => {
  assert.throws(() => new FakeClock(NaN), RangeError);
  const clock = new FakeClock();
  assert.throws(() => clock.setTimer(() => {}, NaN), /delay must be a number/);
  await assert.rejects(clock.advance(-1), RangeError);
  await assert.rejects(clock.advance(Infinity), RangeError);
});

test("sleep resolves after ms on the clock and clears its timer", async () => {
  const clock = new FakeClock();
  let done = false;
  const p = sleep(clock, 1000).then(() => (done = true));
  await clock.advance(999);
  assert.equal(done, false);
  await clock.advance(1);
  await p;
  assert.equal(done, true);
  assert.equal(clock.pending, 0);
});

test("sleep rejects with the abort reason and clears its timer", async () => {
  const clock = new FakeClock();
  const controller = new AbortController();
  const p = sleep(clock, 1000, controller.signal);
  assert.equal(clock.pending, 1);
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(p, (e) => e === reason);
  assert.equal(clock.pending, 0);
});

test("sleep rejects at once with an AbortError when the signal is already aborted", async () => {
  const clock = new FakeClock();
  await assert.rejects(sleep(clock, 10, AbortSignal.abort()), (e: unknown) => {
    return e instanceof DOMException && e.name === "AbortError";
  });
  assert.equal(clock.pending, 0);
});

test("systemClock tells real time and fires and clears real timers", async () => {
  const before = Date.now();
  assert.ok(Math.abs(systemClock.now() - before) < 1000);
  await sleep(systemClock, 2);
  assert.ok(systemClock.now() >= before + 1);
  let fired = false;
  const h = systemClock.setTimer(() => (fired = true), 1);
  systemClock.clearTimer(h);
  systemClock.clearTimer(h);
  // Longer than setTimeout's 2^31-1 ms limit: must not fire at once.
  const long = systemClock.setTimer(() => (fired = true), 2 ** 32);
  const never = systemClock.setTimer(() => (fired = true), Infinity);
  await sleep(systemClock, 5);
  assert.equal(fired, false);
  systemClock.clearTimer(long);
  systemClock.clearTimer(never);
});

test("FakeClock.advance settles long promise chains started by a timer", async () => {
  const clock = new FakeClock();
  let depth = 0;
  clock.setTimer(async () => {
    for (let i = 0; i < 300; i++) {
      await Promise.resolve();
      depth++;
    }
    clock.setTimer(() => (depth = -1), 10);
  }, 5);
  await clock.advance(5);
  assert.equal(depth, 300);
  assert.equal(clock.pending, 1);
  await clock.advance(10);
  assert.equal(depth, -1);
});

test("FakeClock settleTurns configures how many microtask turns settle yields", async () => {
  const clock = new FakeClock(0, { settleTurns: 0 });
  let ran = false;
  (async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
    ran = true;
  })();
  await clock.settle();
  assert.equal(ran, false);
  await new FakeClock().settle();
  assert.equal(ran, true);
  assert.throws(() => new FakeClock(0, { settleTurns: -1 }), RangeError);
});
