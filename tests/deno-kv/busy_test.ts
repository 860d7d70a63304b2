// Deno KV with several processes on one file: a commit that finds the database locked is retried
// inside the adapter, with backoff, within busyTimeoutMs (issue 16: 2,939 add() rejections with
// "database is locked" in 60 s from two processes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { StorageError } from "../../src/errors.ts";
import { DenoKv, type DenoKvHandle } from "../../adapters/deno-kv/mod.ts";

/** An in-memory engine whose next `busy` commits fail the way SQLite's lock does. */
function lockedHandle(busy: number): { handle: DenoKvHandle; attempts: () => number } {
  const data = new Map<string, Uint8Array>();
  let seq = 0;
  let attempts = 0;
  const hex = (k: Uint8Array) => [...k].map((b) => b.toString(16).padStart(2, "0")).join("");
  const handle = {
    get: () => Promise.reject(new Error("not used")),
    getMany: () => Promise.reject(new Error("not used")),
    list: () => {
      throw new Error("not used");
    },
    atomic() {
      const sets: [Uint8Array, Uint8Array][] = [];
      const op = {
        check: () => op,
        set: (key: [Uint8Array], value: Uint8Array) => (sets.push([key[0], value]), op),
        delete: () => op,
        commit: () => {
          attempts++;
          if (busy-- > 0) return Promise.reject(new TypeError("database is locked"));
          for (const [k, v] of sets) data.set(hex(k), v);
          return Promise.resolve({ ok: true, versionstamp: String(++seq).padStart(20, "0") });
        },
      };
      return op;
    },
    close: () => {},
  } as unknown as DenoKvHandle;
  return { handle, attempts: () => attempts };
}

test("DenoKv commit that finds the database locked is retried until it is free, and applied once", async () => {
  const { handle, attempts } = lockedHandle(6);
  const kv = DenoKv.fromHandle(handle, { scope: "process" });
  const r = await kv.atomic().set(["job", 1], new Uint8Array([1])).commit();
  assert.equal(r.ok, true);
  assert.equal(attempts(), 7);
  assert.equal(r.ok && r.versionstamp, "00000000000000000001");
  await kv.close();
});

test("DenoKv commit that stays locked past busyTimeoutMs rejects with StorageError code BUSY", async () => {
  const { handle, attempts } = lockedHandle(Infinity);
  const kv = DenoKv.fromHandle(handle, { scope: "process", busyTimeoutMs: 60 });
  const started = Date.now();
  await assert.rejects(
    kv.atomic().set(["job", 1], new Uint8Array([1])).commit(),
    (e) => e instanceof StorageError && e.code === "BUSY" && /database is locked/.test(e.message),
  );
  assert.ok(Date.now() - started < 1000, "the bound is kept");
  assert.ok(attempts() > 2, `only ${attempts()} attempts`);
  await kv.close();
});

test("DenoKv busyTimeoutMs 0 does not retry; a negative one is a RangeError", async () => {
  const { handle, attempts } = lockedHandle(1);
  const kv = DenoKv.fromHandle(handle, { scope: "process", busyTimeoutMs: 0 });
  await assert.rejects(kv.atomic().set(["a"], new Uint8Array([1])).commit(), { code: "BUSY" });
  assert.equal(attempts(), 1);
  assert.throws(() => DenoKv.fromHandle(handle, { busyTimeoutMs: -1 }), RangeError);
  await assert.rejects(DenoKv.open(":memory:", { busyTimeoutMs: -1 }), RangeError);
  await kv.close();
});
