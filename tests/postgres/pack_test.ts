// The PostgreSQL adapter's packed parameters: many byte strings as one bytea and an int4[] of their
// lengths. Pure functions: these tests need no server (the server side is covered by every test
// that commits or reads through the store).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { encodeKey, encodeKeyBinary } from "../../src/kv.ts";
import { int8Array, Packer } from "../../adapters/postgres/pack.ts";

describe("postgres packed parameters", () => {
  test("pack() puts bytes and binary strings end to end and lists their lengths", () => {
    const p = new Packer();
    const key = ["job", 7, new Uint8Array([0, 255])];
    p.add(new Uint8Array([1, 2, 3]));
    p.add(encodeKeyBinary(key));
    p.add(new Uint8Array(0));
    p.add("");
    assert.equal(p.count, 4);
    const { blob, lens } = p.pack();
    const k = encodeKey(key);
    assert.deepEqual(blob, Uint8Array.from([1, 2, 3, ...k]));
    assert.equal(lens, `{3,${k.length},0,0}`);
  });

  test("an empty packer packs to no bytes and an empty array", () => {
    assert.deepEqual(new Packer().pack(), { blob: new Uint8Array(0), lens: "{}" });
  });

  test("int8Array() writes decimal strings and nulls as an array literal", () => {
    assert.equal(int8Array([]), "{}");
    assert.equal(int8Array(["1", null, "9223372036854775807"]), "{1,NULL,9223372036854775807}");
  });
});
