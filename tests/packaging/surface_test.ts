// The public surface, pinned: the sorted names each entry point exports at run time. A new export
// (or a lost one) fails here, so it is a decision made in review, not an accident of `export *`.
// Types are not listed (they do not exist at run time); `deno doc --lint` in scripts/check.mjs
// covers them.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const root = new URL("../../", import.meta.url);
const entries = JSON.parse(readFileSync(new URL("deno.json", root), "utf8")).exports as Record<
  string,
  string
>;

/** What each entry point exports, sorted (code-unit order, as `Array.prototype.sort`). */
const SURFACE: Record<string, string[]> = {
  ".": [
    "BlobChecksumError",
    "CanceledError",
    "CompletionNotCommittedError",
    "CorruptionError",
    "DEFAULT_BACKOFF",
    "DEFAULT_ROOT",
    "FakeClock",
    "IntegrityError",
    "JOB_STATES",
    "JobFailedError",
    "JobNotFoundError",
    "JobStateError",
    "KvqError",
    "LeaseLostError",
    "LimitError",
    "PayloadTooLargeError",
    "PermanentError",
    "QUEUE_EVENTS",
    "Queue",
    "QueueEvent",
    "QueueFullError",
    "RateLimitedError",
    "ShutdownError",
    "StorageError",
    "StoreClosedError",
    "StoreLockedError",
    "TERMINAL_STATES",
    "TimeoutError",
    "Worker",
    "backoffDelay",
    "backoffSchedule",
    "isTerminal",
    "isUlid",
    "monotonicUlid",
    "seededRandom",
    "systemClock",
    "ulidTime",
  ],
  "./kv": [
    "BufferedAtomicOp",
    "CorruptionError",
    "KvState",
    "KvqError",
    "LIST_PAGE",
    "LimitError",
    "MemoryEntries",
    "SortedMap",
    "StateKv",
    "StorageError",
    "StoreClosedError",
    "StoreLockedError",
    "WatchHub",
    "WriteQueue",
    "afterBytes",
    "binaryToBytes",
    "bytesToBinary",
    "checkListOptions",
    "compareBytes",
    "compareKeys",
    "copyBytes",
    "decodeKey",
    "encodeKey",
    "errorCode",
    "errorMessage",
    "formatVersionstamp",
    "pagedList",
    "plainBytes",
    "selectorRange",
    "startsWith",
    "storageError",
  ],
  "./testing": [
    "conformanceCases",
    "testAdapter",
    "testEngine",
  ],
  "./memory": [
    "MemoryKv",
  ],
  "./file": [
    "FileKv",
    "nodeFs",
  ],
  "./sqlite": [
    "SqliteKv",
    "defaultSqliteDriver",
    "openSqliteKv",
  ],
  "./deno-kv": [
    "DenoKv",
    "openDenoKv",
  ],
  "./postgres": [
    "CommitOutcomeUnknownError",
    "PostgresKv",
    "openPostgresKv",
  ],
  "./unstorage": [
    "UnstorageBlobStore",
    "UnstorageKv",
    "openUnstorageKv",
  ],
  "./indexeddb": [
    "IndexedDbKv",
    "openIndexedDbKv",
  ],
  "./store": [
    "detectRuntime",
    "detectStoreFormat",
    "isPostgresUrl",
    "openStore",
    "storePreference",
  ],
  "./server": [
    "APP_ID",
    "DELIVERY_HEADERS",
    "Delivery",
    "DeliveryRefusedError",
    "InsecureBindError",
    "OtlpExportError",
    "OtlpUnavailableError",
    "PeerUnavailableError",
    "PoisonedError",
    "UnknownPeerError",
    "callbackSink",
    "createServer",
    "otlpSink",
    "outboxName",
    "renderPrometheus",
    "resolverOf",
    "serve",
    "signDelivery",
    "verifyDelivery",
  ],
  "./grpc": [
    "ERROR_NAME_TRAILER",
    "createGrpcService",
    "serveGrpc",
  ],
};

/** Sorted run-time export names of one entry point. */
async function exportsOf(entry: string): Promise<string[]> {
  return Object.keys(await import(new URL(entries[entry], root).href)).sort();
}

describe("public surface", () => {
  test("every entry point in deno.json has a pinned export list, and no other is pinned", () => {
    assert.deepEqual(Object.keys(SURFACE).sort(), Object.keys(entries).sort());
  });

  for (const entry of Object.keys(SURFACE)) {
    test(`"${entry}" exports exactly its pinned names`, async () => {
      assert.deepEqual(await exportsOf(entry), SURFACE[entry]);
    });
  }

  test("the main entry point exports no engine internal and no adapter-author tool", async () => {
    const names = await exportsOf(".");
    const internals = [
      "Keyspace",
      "STATE_INDEX",
      "transition",
      "createJob",
      "isPermanent",
      "disposition",
      "admits",
      "eventsOf",
      "zeroCounts",
      "unfinished",
      "validateBackoff",
      "sleep",
      "BufferedAtomicOp",
      "KvState",
      "SortedMap",
      "encodeKey",
      "decodeKey",
    ];
    assert.deepEqual(internals.filter((name) => names.includes(name)), []);
  });

  test("the adapter-author tools are in kvq/kv, and the memory adapter exports only MemoryKv", async () => {
    const kv = await exportsOf("./kv");
    for (const name of ["BufferedAtomicOp", "encodeKey", "KvState", "StateKv", "SortedMap", "WatchHub"]) {
      assert.ok(kv.includes(name), name);
    }
    assert.deepEqual(await exportsOf("./memory"), ["MemoryKv"]);
  });
});
