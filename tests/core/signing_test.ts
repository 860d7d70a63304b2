import { test } from "node:test";
import assert from "node:assert/strict";
import { createSigner, decodeBase64Url, encodeBase64Url } from "../../src/signing.ts";

const enc = (s: string) => new TextEncoder().encode(s);

test("createSigner signs with HMAC-SHA256 as base64url (RFC 4231 test case 2)", async () => {
  const signer = createSigner("Jefe");
  const sig = await signer.sign(enc("what do ya want for nothing?"));
  const hex = Array.from(decodeBase64Url(sig), (b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  assert.match(sig, /^[A-Za-z0-9_-]{43}$/);
});

test("Signer.verify accepts its own signature and rejects tampered data, keys and signatures", async () => {
  const signer = createSigner(new Uint8Array([1, 2, 3, 4]));
  const data = enc("job-1");
  const sig = await signer.sign(data);
  assert.equal(await signer.verify(data, sig), true);
  assert.equal(await signer.verify(enc("job-2"), sig), false);
  assert.equal(await createSigner(new Uint8Array([1, 2, 3, 5])).verify(data, sig), false);
  const flipped = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
  assert.equal(await signer.verify(data, flipped), false);
});

test("Signer.verify returns false for malformed signatures instead of throwing", async () => {
  const signer = createSigner("k");
  const data = enc("x");
  for (const bad of ["", "not base64!", "abc", "A".repeat(42), "A".repeat(44), 42 as unknown as string]) {
    assert.equal(await signer.verify(data, bad), false, String(bad));
  }
});

test("createSigner copies the key and a string key equals its UTF-8 bytes", async () => {
  const key = enc("ключ");
  const fromBytes = createSigner(key);
  const fromString = createSigner("ключ");
  const data = enc("payload");
  const sig = await fromBytes.sign(data);
  key.fill(0);
  assert.equal(await fromBytes.sign(data), sig);
  assert.equal(await fromString.sign(data), sig);
});

test("createSigner rejects empty or non-string keys with a TypeError", () => {
  assert.throws(() => createSigner(""), /key is empty/);
  assert.throws(() => createSigner(new Uint8Array()), TypeError);
  assert.throws(() => createSigner(123 as unknown as string), /must be a string or Uint8Array/);
});

test("Signer.sign rejects non-bytes data", async () => {
  await assert.rejects(createSigner("k").sign("text" as unknown as Uint8Array), TypeError);
});

test("encodeBase64Url and decodeBase64Url round-trip bytes of every length", () => {
  for (let n = 0; n < 40; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
    const text = encodeBase64Url(bytes);
    assert.match(text, /^[A-Za-z0-9_-]*$/);
    assert.deepEqual(decodeBase64Url(text), bytes);
  }
  assert.equal(encodeBase64Url(new Uint8Array([251, 255])), "-_8");
  assert.deepEqual(decodeBase64Url("-_8="), new Uint8Array([251, 255]));
  const big = new Uint8Array(200_000).fill(7);
  assert.deepEqual(decodeBase64Url(encodeBase64Url(big)), big);
  assert.throws(() => decodeBase64Url("a+b/"), TypeError);
  assert.throws(() => decodeBase64Url("abcde"), TypeError);
});
