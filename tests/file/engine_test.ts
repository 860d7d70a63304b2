// The engine suite on the file store (append-only log, fsync before ack), each case in a fresh log.
import { after } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileKv } from "../../adapters/file/mod.ts";
import { testEngine } from "../../conformance/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "kvq-engine-file-"));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

await testEngine({ name: "file", open: () => FileKv.open(join(dir, `case-${++n}.kvq`)), watch: true });
