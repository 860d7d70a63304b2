import { MemoryKv } from "../../adapters/memory/mod.ts";
import { engineSuite } from "./suite.ts";

engineSuite({ name: "memory", open: () => new MemoryKv(), watch: true });
