// The PostgreSQL adapter's NOTIFY payload: built once per transaction, read by every listener.
// Pure functions: these tests need no server.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { encodeKey, encodeKeyBinary, type KvKey } from "../../src/kv.ts";
import { MAX_PAYLOAD, notifyPayload, parseNotification, wakes } from "../../adapters/postgres/notify.ts";

const mutated = (...keys: KvKey[]) => keys.map((key) => ({ key, keyBytes: encodeKey(key) }));
const read = (payload: string) => {
  const n = parseNotification(payload);
  assert.ok(n, `unreadable payload ${payload}`);
  return n;
};

describe("postgres notify payload", () => {
  test("names each key prefix once, truncated keys marked, whole short keys as they are", () => {
    const payload = notifyPayload(
      "tok",
      mutated(["kvq", "ready", "q", 1], ["kvq", "ready", "q", 2], ["a"]),
      3,
    );
    const n = read(payload);
    assert.equal(n.token, "tok");
    assert.equal(n.all, false);
    assert.deepEqual(n.truncated, [encodeKey(["kvq", "ready", "q"])]);
    assert.deepEqual(n.keys, [encodeKey(["a"])]);
  });

  test("wakes watchers under a mutated key, not beside or below a whole key", () => {
    const n = read(notifyPayload("t", mutated(["jobs", "ready", "q", 1], ["meta"]), 3));
    assert.equal(wakes(n, encodeKey(["jobs", "ready"])), true, "above the truncated key");
    assert.equal(wakes(n, encodeKey(["jobs", "ready", "q"])), true, "at the truncated key");
    assert.equal(
      wakes(n, encodeKey(["jobs", "ready", "q", 1])),
      true,
      "below the truncated key: may be hidden",
    );
    assert.equal(wakes(n, encodeKey(["jobs", "done"])), false, "beside it");
    assert.equal(wakes(n, encodeKey(["meta"])), true, "the whole key itself");
    assert.equal(wakes(n, encodeKey(["meta", "x"])), false, "below a whole key: nothing under it changed");
  });

  test("a payload that would pass MAX_PAYLOAD becomes * and wakes every watcher", () => {
    const keys = mutated(...Array.from({ length: 2000 }, (_, i): KvKey => [`key-${i}`]));
    const payload = notifyPayload("t", keys, 3);
    assert.ok(payload.length <= MAX_PAYLOAD);
    const n = read(payload);
    assert.equal(n.all, true);
    assert.equal(wakes(n, encodeKey(["anything"])), true);
  });

  test("keys given with their binary encoding give the same payload as keys given as bytes", () => {
    const keys: KvKey[] = [
      ["kvq", "q", "idx", "ready", 0, "b"],
      ["kvq", "q", "job", "b"],
      ["kvq", "q", "idx", "ready", 0, "a"],
      ["kvq", "q2", "job", "a"],
      ["kvq", "q"],
      ["kvq", "q", "job"],
      ["x", new Uint8Array([0, 1]), 2n, true, -1.5],
    ];
    const binary = keys.map((key) => ({ key, keyBytes: encodeKey(key), keyBinary: encodeKeyBinary(key) }));
    for (const depth of [1, 2, 3, 5]) {
      assert.equal(
        notifyPayload("t", binary, depth),
        notifyPayload("t", mutated(...keys), depth),
        `depth ${depth}`,
      );
    }
  });

  test("a payload that is not the adapter's reads as null and wakes nobody", () => {
    for (const foreign of ["", "hello", "t zz", "t 0g", "t 123"]) {
      assert.equal(parseNotification(foreign), null, JSON.stringify(foreign));
    }
    assert.deepEqual(read("t ").keys, [], "a commit with no mutations names no key");
  });
});
