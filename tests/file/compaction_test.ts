import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { FileKv } from "../../adapters/file/mod.ts";
import { dec, dump, enc } from "./helpers.ts";
import { SimFs } from "./sim_fs.ts";

const PATH = "/data/store.kvq";

/** A store on a simulated disk with history to compact (overwrites and deletes). */
async function buildStore() {
  const sim = new SimFs();
  const kv = await FileKv.open(PATH, { fs: sim });
  for (let i = 0; i < 100; i++) await kv.atomic().set(["k", i % 8], enc(`v${i}`)).commit();
  await kv.atomic().delete(["k", 0]).set(["big"], new Uint8Array(300).fill(1)).commit();
  const expected = await dump(kv);
  const oldBytes = kv.stats().fileBytes;
  await kv.close();
  return { sim, expected, oldBytes };
}

test("FileKv compaction: a crash at every step leaves the old or the new log, with the same data", async () => {
  const { sim: base, expected, oldBytes } = await buildStore();
  const dry = await FileKv.open(PATH, { fs: base.fork() });
  await dry.compact();
  const newBytes = dry.stats().fileBytes;
  await dry.close();
  assert.ok(newBytes < oldBytes / 2, `${newBytes} vs ${oldBytes}`);
  const outcomes: string[] = [];
  for (let step = 0;; step++) {
    for (const powerLoss of [true, false]) {
      const sim = base.fork();
      const kv = await FileKv.open(PATH, { fs: sim });
      let n = 0;
      let crashedAt = "";
      sim.hook = (op, target) => {
        if (n++ === step) {
          crashedAt = `${op} ${target}`;
          throw sim.kill();
        }
      };
      const finished = await kv.compact().then(() => true, () => false);
      if (finished) {
        // The step is past the last operation of a compaction: every step was tried.
        assert.equal(kv.stats().fileBytes, newBytes);
        await kv.close();
        assert.ok(step >= 6, `a compaction took only ${step} operations`);
        assert.ok(outcomes.some((o) => o.endsWith("old")) && outcomes.some((o) => o.endsWith("new")));
        return;
      }
      const rebooted = powerLoss ? sim.crash() : sim.processCrash();
      const again = await FileKv.open(PATH, { fs: rebooted });
      assert.deepEqual(await dump(again), expected, `crash at ${crashedAt}`);
      const size = again.stats().fileBytes;
      assert.ok(size === oldBytes || size === newBytes, `crash at ${crashedAt}: ${size} bytes`);
      if (process.env.KVQ_FIGURES) {
        console.log(
          `${powerLoss ? "power loss" : "process crash"} at ${crashedAt}: ${
            size === oldBytes ? "old" : "new"
          }`,
        );
      }
      outcomes.push(
        `${powerLoss ? "power loss" : "process crash"} at ${crashedAt}: ${size === oldBytes ? "old" : "new"}`,
      );
      assert.equal(rebooted.exists(PATH + ".compact"), false, "the leftover temporary file was not removed");
      // The store keeps working after the crash.
      const r = await again.atomic().set(["after"], enc("crash")).commit();
      assert.ok(r.ok);
      await again.close();
      const third = await FileKv.open(PATH, { fs: rebooted });
      assert.equal(dec((await third.get(["after"]))?.value), "crash");
      assert.equal(third.recovery.entries, expected.length + 1);
      await third.close();
    }
  }
});

test("FileKv compaction: commits submitted during a compaction land in the new log", async () => {
  const { sim } = await buildStore();
  const kv = await FileKv.open(PATH, { fs: sim });
  const compaction = kv.compact();
  const commits = Array.from({ length: 20 }, (_, i) => kv.atomic().set(["during", i], enc(`${i}`)).commit());
  await compaction;
  assert.ok((await Promise.all(commits)).every((r) => r.ok));
  const expected = await dump(kv);
  await kv.close();
  const again = await FileKv.open(PATH, { fs: sim.crash() });
  assert.deepEqual(await dump(again), expected);
  assert.equal(again.stats().entries, expected.length);
  await again.close();
});

test("FileKv compaction: a failed compaction keeps the old log and the store usable", async () => {
  const { sim, expected } = await buildStore();
  const kv = await FileKv.open(PATH, { fs: sim });
  sim.hook = (op) => {
    if (op === "fdatasync") throw Object.assign(new Error("EIO"), { code: "EIO" });
  };
  await assert.rejects(kv.compact(), (e) => (e as { code?: string }).code === "EIO");
  sim.hook = null;
  assert.equal(sim.exists(PATH + ".compact"), false);
  assert.ok((await kv.atomic().set(["still"], enc("works")).commit()).ok);
  await kv.close();
  const again = await FileKv.open(PATH, { fs: sim.crash() });
  assert.equal((await dump(again)).length, expected.length + 1);
  await again.close();
});
