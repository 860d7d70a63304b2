/**
 * Conformance cases for stores that declare `watch`: a commit under the watched prefix wakes the
 * watcher, and aborting the signal ends the iteration.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { AtomicKv, KvKey } from "../src/kv.ts";
import { type CaseDef, commitOk, settlesWithin, u8, within } from "./_harness.ts";

/** How long a watcher may take to wake up or to end, in milliseconds. */
const WAIT_MS = 5000;

function watcher(kv: AtomicKv, prefix: KvKey, signal: AbortSignal): AsyncIterator<void> {
  assert.equal(typeof kv.watch, "function", "info.watch is true but watch() is missing");
  return kv.watch!(prefix, signal)[Symbol.asyncIterator]();
}

/** Ends an iterator, bounded in time, so a broken watcher cannot hang the case. */
async function drain(it: AsyncIterator<void>, what: string): Promise<number> {
  let yields = 0;
  await within(
    (async () => {
      while (!(await it.next()).done) if (++yields > 1000) assert.fail(`${what}: the watcher never ends`);
    })(),
    WAIT_MS,
    `${what}: the watcher did not end`,
  );
  return yields;
}

/** The watch cases. */
export const watchCases: readonly CaseDef[] = [
  {
    name: "watch() wakes after a commit under its prefix",
    requires: ["watch"],
    async run(s) {
      const kv = await s.open();
      const ac = new AbortController();
      const it = watcher(kv, s.key("watched"), ac.signal);
      try {
        const next = it.next();
        // A watcher may subscribe asynchronously: commit again until it wakes, within WAIT_MS.
        let woke = false;
        for (let i = 0; i < WAIT_MS / 100 && !woke; i++) {
          await commitOk(kv.atomic().set(s.key("watched", i), u8(i)));
          woke = await settlesWithin(next, 100);
        }
        assert.ok(woke, `no wake-up within ${WAIT_MS} ms of commits under the watched prefix`);
        const r = await next;
        assert.equal(r.done, false, "the watcher ended instead of waking");
      } finally {
        ac.abort();
        await drain(it, "after abort");
      }
    },
  },
  {
    name: "aborting the signal ends a waiting watch() iteration",
    requires: ["watch"],
    async run(s) {
      const kv = await s.open();
      const ac = new AbortController();
      const it = watcher(kv, s.key("watched"), ac.signal);
      const next = it.next();
      await new Promise((r) => setTimeout(r, 10));
      ac.abort();
      const first = await within(next, WAIT_MS, "a waiting watch() did not settle after abort");
      if (!first.done) await drain(it, "after abort");
    },
  },
  {
    name: "watch() with an already aborted signal ends without waiting",
    requires: ["watch"],
    async run(s) {
      const kv = await s.open();
      const it = watcher(kv, s.key("watched"), AbortSignal.abort());
      await drain(it, "an already aborted signal");
    },
  },
];
