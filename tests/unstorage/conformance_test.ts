// The exported conformance suite against the unstorage adapter on the memory, fs and Redis drivers.
// Every case gets its own base key under this run's (a reopen with the same id reaches the same
// data); the run's keys are removed after. Redis cases skip only when it is unreachable.
import { after, test } from "node:test";
import { testAdapter } from "../../conformance/mod.ts";
import { UnstorageKv } from "../../adapters/unstorage/mod.ts";
import { DRIVERS, openBackend, redisUnavailable } from "./_backends.ts";

for (const driver of DRIVERS) {
  const skip = driver === "redis" ? await redisUnavailable() : false;
  if (skip) {
    test(`unstorage (${driver}): AtomicKv conformance`, { skip }, () => {});
    continue;
  }
  const backend = await openBackend(driver);
  after(() => backend.cleanup());
  await testAdapter({
    name: `unstorage (${driver})`,
    open: (ctx) => UnstorageKv.open(backend.storage, { base: `${backend.base}:${ctx.id}` }),
    capabilities: { durable: false, watch: true },
  });
}
