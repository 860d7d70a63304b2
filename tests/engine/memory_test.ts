import { MemoryKv } from "../../adapters/memory/mod.ts";
import { testEngine } from "../../conformance/mod.ts";

await testEngine({ name: "memory", open: () => new MemoryKv(), watch: true });
