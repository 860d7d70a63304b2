/**
 * Conformance cases: closing a store, and bad arguments. After close() every operation rejects
 * with `StoreClosedError` (a `StorageError`); a commit started before close() settles; invalid
 * keys and values reject with `TypeError`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { StoreClosedError } from "../src/errors.ts";
import type { KvKey } from "../src/kv.ts";
import { type CaseDef, collect, commitOk, rejectsWith, u8 } from "./_harness.ts";

/** The lifecycle and argument cases. */
export const lifecycleCases: readonly CaseDef[] = [
  {
    name: "after close() every operation rejects with StoreClosedError",
    async run(s) {
      const kv = await s.open();
      await commitOk(kv.atomic().set(s.key("k"), u8(1)));
      await s.close(kv);
      await rejectsWith(() => kv.get(s.key("k")), StoreClosedError, "get() after close()");
      await rejectsWith(() => kv.getMany([s.key("k")]), StoreClosedError, "getMany() after close()");
      await rejectsWith(
        () => collect(kv.list({ prefix: s.key() })),
        StoreClosedError,
        "list() after close()",
      );
      await rejectsWith(
        () => kv.atomic().set(s.key("x"), u8(1)).commit(),
        StoreClosedError,
        "commit() after close()",
      );
      await rejectsWith(
        () => kv.atomic().check(s.key("k"), null).commit(),
        StoreClosedError,
        "check-only commit() after close()",
      );
      if (kv.info.watch && kv.watch) {
        // Bounded: a watcher that ignores close() would otherwise wait forever.
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), 1000);
        try {
          await rejectsWith(
            async () => {
              for await (const _ of kv.watch!(s.key(), ac.signal)) break;
            },
            StoreClosedError,
            "watch() after close()",
          );
        } finally {
          clearTimeout(timer);
          ac.abort();
        }
      }
    },
  },
  {
    name: "close() lets a commit started before it settle",
    async run(s) {
      const kv = await s.open();
      const pending = kv.atomic().set(s.key("late"), u8(1)).commit();
      let settled = false;
      pending.then(() => (settled = true), () => (settled = true));
      await s.close(kv);
      await new Promise((r) => setTimeout(r, 0));
      assert.ok(settled, "close() resolved before a commit started earlier settled");
      assert.equal((await pending).ok, true, "a commit started before close() did not succeed");
    },
  },
  {
    name: "invalid keys, values and versionstamps reject with TypeError",
    async run(s) {
      const kv = await s.open();
      const bad: [string, unknown][] = [
        ["an object part", {}],
        ["undefined", undefined],
        ["null", null],
        ["a symbol", Symbol("x")],
        ["a lone surrogate", "\ud800"],
        ["a lone low surrogate", "a\udc00b"],
      ];
      for (const [what, part] of bad) {
        const key = s.key(part as string);
        await rejectsWith(() => kv.atomic().set(key, u8(1)).commit(), TypeError, `set() with ${what}`);
        await rejectsWith(() => kv.get(key), TypeError, `get() with ${what}`);
        await rejectsWith(() => kv.atomic().delete(key).commit(), TypeError, `delete() with ${what}`);
        await rejectsWith(() => kv.atomic().check(key, null).commit(), TypeError, `check() with ${what}`);
        await rejectsWith(() => kv.getMany([s.key("v"), key]), TypeError, `getMany() with ${what}`);
        await rejectsWith(() => collect(kv.list({ prefix: key })), TypeError, `list() with ${what}`);
      }
      for (const [what, vs] of [["a number", 1], ["undefined", undefined], ["an object", {}]] as const) {
        await rejectsWith(
          () => kv.atomic().check(s.key("v"), vs as unknown as string).commit(),
          TypeError,
          `check() with ${what} as the versionstamp`,
        );
      }
      await rejectsWith(
        () => kv.atomic().set(s.key("v"), "text" as unknown as Uint8Array).commit(),
        TypeError,
        "set() with a string value",
      );
      await rejectsWith(
        () => kv.get("not an array" as unknown as KvKey),
        TypeError,
        "get() with a string key",
      );
      assert.equal(await kv.get(s.key("v")), null);
    },
  },
];
