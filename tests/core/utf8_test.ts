import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeUtf8 } from "../../src/utf8.ts";

const enc = new TextEncoder();

test("encodeUtf8 gives TextEncoder's bytes, for ASCII, multi-byte and surrogate pairs", () => {
  for (const s of ["", "a", "héllo", "日本語", "😀x", "\u0000", "x".repeat(20_000)]) {
    assert.deepEqual([...encodeUtf8(s)], [...enc.encode(s)]);
  }
});

test("encodeUtf8 never hands out bytes that a later call overwrites (slab rollover included)", () => {
  const kept: [string, Uint8Array][] = [];
  for (let i = 0; i < 5_000; i++) {
    const s = `{"n":${i},"pad":"${"é".repeat(i % 300)}"}`;
    kept.push([s, encodeUtf8(s)]);
  }
  for (const [s, b] of kept) assert.equal(new TextDecoder().decode(b), s);
});
