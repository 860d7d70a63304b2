import { test } from "node:test";
import assert from "node:assert/strict";
import { compareKeys } from "../../src/kv.ts";
import { Keyspace, STATE_INDEX } from "../../src/keys.ts";
import { createJob, JOB_STATES, transition } from "../../src/job.ts";
import {
  canonicalBytes,
  chunk,
  decodeRecord,
  decodeValue,
  encodeRecord,
  fromBase64,
  inlineRef,
  toBase64,
  valueBytes,
} from "../../src/payload.ts";
import { LimitError } from "../../src/errors.ts";

const ks = new Keyspace(["app", "jobs"], "mail");

test("Keyspace puts everything under the root prefix and the queue", () => {
  assert.deepEqual(ks.job("J"), ["app", "jobs", "job", "mail", "J"]);
  assert.deepEqual(ks.unique("k"), ["app", "jobs", "unique", "mail", "k"]);
  assert.deepEqual(ks.counts, ["app", "jobs", "meta", "mail", "counts"]);
  assert.deepEqual(ks.blob("J", "p", 2), ["app", "jobs", "blob", "mail", "J", "p", 2]);
  for (const s of JOB_STATES) assert.deepEqual(ks.indexPrefix(s), ["app", "jobs", STATE_INDEX[s], "mail"]);
  assert.throws(() => new Keyspace(["kvq"], ""), TypeError);
});

test("Keyspace ready keys sort by priority (higher first), then id; priority 0 never becomes -0", () => {
  const mk = (id: string, priority: number) =>
    ks.index(createJob({ id, queue: "mail", payload: { json: 1 }, priority }, 0));
  const keys = [mk("B", 0), mk("A", 0), mk("C", -3), mk("D", 10), mk("E", 0.5)];
  const sorted = [...keys].sort(compareKeys).map((k) => k.at(-1));
  assert.deepEqual(sorted, ["D", "E", "A", "B", "C"]);
  assert.ok(!Object.is(mk("Z", 0)[4], -0));
});

test("Keyspace time-ordered indexes carry the time before the id; the lease index is keyed by id", () => {
  const j = createJob({ id: "J", queue: "mail", payload: { json: 1 }, runAt: 500 }, 0);
  assert.deepEqual(ks.index(j), ["app", "jobs", "delayed", "mail", 500, "J"]);
  const active = transition(transition(j, { type: "promote" }, 500), {
    type: "claim",
    token: "t",
    owner: "w",
    leaseMs: 100,
  }, 500);
  // The active job's entry is its lease entry, keyed by id (the expiry is in its value).
  assert.deepEqual(ks.index(active), ["app", "jobs", "lease", "mail", "J"]);
  assert.deepEqual(ks.index(active), ks.lease("J"));
  assert.equal(Keyspace.idOf(ks.index(active)), "J");
  assert.ok(compareKeys(ks.index(active), Keyspace.after(ks.index(active))) < 0);
});

test("payload values: JSON and bytes round-trip inline and through chunks", () => {
  const json = { a: [1, "two", null], b: { c: true } };
  assert.deepEqual(decodeValue(inlineRef(json)), json);
  const bytes = new Uint8Array([0, 255, 7]);
  assert.deepEqual(decodeValue(inlineRef(bytes)), bytes);
  assert.equal(toBase64(bytes), "AP8H");
  assert.deepEqual(fromBase64("AP8H"), bytes);
  const big = valueBytes({ s: "x".repeat(1000) });
  const parts = chunk(big.bytes, 300);
  assert.deepEqual(parts.map((p) => p.length), [300, 300, 300, 108]);
  assert.deepEqual(decodeValue({ chunks: 4, bytes: big.bytes.length, binary: false }, parts), {
    s: "x".repeat(1000),
  });
  assert.throws(() => decodeValue({ chunks: 4, bytes: 1, binary: false }, parts.slice(1)), TypeError);
  assert.deepEqual(canonicalBytes(inlineRef(json)), valueBytes(json).bytes);
  assert.throws(() => valueBytes({ n: 1n }), TypeError);
});

test("encodeRecord drops old stack traces to fit the limit, then refuses with a LimitError", () => {
  let job = createJob({ id: "J", queue: "q", payload: { json: 1 }, maxAttempts: 50 }, 0);
  for (let i = 1; i <= 5; i++) {
    job = transition(job, { type: "claim", token: `t${i}`, owner: "w", leaseMs: 10 }, i);
    job = transition(job, {
      type: "fail",
      token: `t${i}`,
      error: { name: "Error", message: `m${i}`, stack: "s".repeat(1000) },
      backoff: 0,
    }, i);
    job = transition(job, { type: "promote" }, i);
  }
  const full = encodeRecord(job);
  const fitted = encodeRecord(job, full.length - 1500);
  const back = decodeRecord(fitted);
  assert.equal(back.history.length, 5);
  assert.equal(back.history[0].error?.stack, undefined);
  assert.equal(back.history[4].error?.stack?.length, 1000);
  assert.throws(() => encodeRecord(job, 100), LimitError);
});
