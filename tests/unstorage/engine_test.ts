// The engine suite (every job-engine behaviour) on the unstorage adapter over the memory, fs and
// Redis drivers. Every case opens its own store under a base key of this run; the run's keys are
// removed after. Redis cases skip only when it is unreachable.
import { after, test } from "node:test";
import { testEngine } from "../../conformance/mod.ts";
import { UnstorageKv } from "../../adapters/unstorage/mod.ts";
import { DRIVERS, openBackend, redisUnavailable } from "./_backends.ts";

for (const driver of DRIVERS) {
  const skip = driver === "redis" ? await redisUnavailable() : false;
  if (skip) {
    test(`unstorage (${driver}): engine suite`, { skip }, () => {});
    continue;
  }
  const backend = await openBackend(driver);
  after(() => backend.cleanup());
  await testEngine({
    name: `unstorage (${driver})`,
    open: (ctx) => UnstorageKv.open(backend.storage, { base: `${backend.base}:${ctx.id}` }),
    watch: true,
  });
}
