import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../src/clock.ts";
import { TimerWheel } from "../../src/timer_wheel.ts";

test("TimerWheel fires each callback at its due time, in due order, on one clock timer", async () => {
  const clock = new FakeClock(1_000);
  const wheel = new TimerWheel(clock);
  const fired: [string, number][] = [];
  wheel.add(() => fired.push(["c", clock.now()]), 30);
  wheel.add(() => fired.push(["a", clock.now()]), 10);
  wheel.add(() => fired.push(["b", clock.now()]), 20);
  wheel.add(() => fired.push(["a2", clock.now()]), 10);
  assert.equal(clock.pending, 1);
  assert.equal(wheel.size, 4);
  await clock.advance(25);
  assert.deepEqual(fired, [["a", 1_010], ["a2", 1_010], ["b", 1_020]]);
  await clock.advance(5);
  assert.deepEqual(fired.at(-1), ["c", 1_030]);
  assert.equal(wheel.size, 0);
  assert.equal(clock.pending, 0);
});

test("TimerWheel cancel drops a callback, and an empty wheel leaves no clock timer", async () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock);
  let fired = 0;
  const a = wheel.add(() => fired++, 10);
  const b = wheel.add(() => fired++, 20);
  wheel.cancel(a);
  assert.equal(clock.pending, 1);
  await clock.advance(15);
  assert.equal(fired, 0);
  wheel.cancel(b);
  wheel.cancel(b);
  assert.equal(clock.pending, 0);
  await clock.advance(100);
  assert.equal(fired, 0);
});

test("TimerWheel re-arms earlier for an entry due before the head, and runs adds made by a callback", async () => {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock);
  const fired: number[] = [];
  wheel.add(() => fired.push(clock.now()), 100);
  wheel.add(() => {
    fired.push(clock.now());
    wheel.add(() => fired.push(clock.now()), 0);
  }, 10);
  await clock.advance(10);
  assert.deepEqual(fired, [10, 10]);
  await clock.advance(90);
  assert.deepEqual(fired, [10, 10, 100]);
  assert.equal(clock.pending, 0);
});

test("TimerWheel add rejects a delay that is not a number", () => {
  const wheel = new TimerWheel(new FakeClock());
  assert.throws(() => wheel.add(() => {}, NaN), RangeError);
});
