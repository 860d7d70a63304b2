// UnstorageBlobStore (kvq/unstorage) on the memory, fs and Redis drivers: the BlobStore contract
// (bytes round-trip exactly, delete, keys by prefix under a base), and a queue's large payload
// through each driver end to end. The Redis cases skip, saying so, when no server answers.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { UnstorageBlobStore } from "../../adapters/unstorage/mod.ts";
import { Queue } from "../../mod.ts";
import { DRIVERS, openBackend, redisUnavailable } from "./_backends.ts";

const redisSkip = await redisUnavailable();

for (const driver of DRIVERS) {
  const skip = driver === "redis" ? redisSkip : false;
  describe(`UnstorageBlobStore on ${driver}`, { skip }, () => {
    test("bytes round-trip exactly; delete removes; keys lists by prefix under the base", async () => {
      const b = await openBackend(driver);
      try {
        const store = new UnstorageBlobStore(b.storage, { base: b.base });
        const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
        await store.set("kvq:q:a:p-1-x:000000", bytes);
        await store.set("kvq:q:a:p-1-x:000001", new Uint8Array(0));
        await store.set("kvq:r:b:p-1-y:000000", new Uint8Array([1]));
        assert.deepEqual(await store.get("kvq:q:a:p-1-x:000000"), bytes);
        assert.equal(await store.get("kvq:q:nope:000000"), null);
        assert.deepEqual((await store.keys("kvq:q:")).sort(), [
          "kvq:q:a:p-1-x:000000",
          "kvq:q:a:p-1-x:000001",
        ]);
        await store.delete("kvq:q:a:p-1-x:000000");
        await store.delete("kvq:q:a:p-1-x:000000"); // absent: nothing happens
        assert.deepEqual(await store.keys("kvq:q:"), ["kvq:q:a:p-1-x:000001"]);
        assert.equal(store.info.durable, driver !== "memory");
        assert.match(store.info.name, new RegExp(`unstorage-blob\\(${driver}\\)`));
      } finally {
        await b.cleanup();
      }
    });

    test("a queue's 3 MiB payload goes through the driver in chunks and comes back verified", async () => {
      const b = await openBackend(driver);
      try {
        const store = new UnstorageBlobStore(b.storage, { base: b.base });
        const queue = new Queue<unknown, unknown>(new MemoryKv(), "q", {
          blobs: { store, chunkBytes: 1024 * 1024 },
        });
        const data = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => i % 253);
        const job = await queue.add(new Blob([data]));
        assert.equal((await store.keys("kvq:q:")).length, 4);
        let seen: unknown;
        const w = queue.process((j) => void (seen = j.data), { pollInterval: 5 });
        await queue.result(job.id);
        await w.close();
        assert.deepEqual(seen, data);
        await queue.remove(job.id);
        assert.deepEqual(await store.keys("kvq:q:"), []);
        await queue.close();
      } finally {
        await b.cleanup();
      }
    });
  });
}
