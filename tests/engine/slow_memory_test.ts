// The engine suite on the memory store behind 1 ms of latency per read, list and commit, with
// watch off: nothing may assume that I/O finishes within a microtask flush between fake-clock steps.
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { slowKv } from "../../conformance/engine/_helpers.ts";
import { testEngine } from "../../conformance/mod.ts";

await testEngine({ name: "slow memory", open: () => slowKv(new MemoryKv(), 1) });
