// The memory adapter, the reference implementation, passes the whole conformance suite. A
// variant that keeps one MemoryKv per context id and declares `durable` runs the durability
// cases too (close a handle, open the same id again, everything is there).
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { testAdapter } from "../../conformance/mod.ts";
import { reopenableMemory } from "./_adapters.ts";

await testAdapter({
  name: "memory",
  open: () => new MemoryKv(),
  capabilities: { watch: true, durable: false },
});

await testAdapter({
  name: "memory reopened by id",
  ...reopenableMemory(),
  capabilities: { watch: true, durable: true },
});
