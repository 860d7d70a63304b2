// The memory adapter, the reference implementation, passes the whole conformance suite.
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { testAdapter } from "../../conformance/mod.ts";

await testAdapter({
  name: "memory",
  open: () => new MemoryKv(),
  capabilities: { watch: true, durable: false },
});
