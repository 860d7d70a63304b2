// The exported conformance suite against the file store: every case gets its own log file in a
// temporary directory, so the durability cases can reopen it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testAdapter } from "../../conformance/mod.ts";
import { FileKv } from "../../adapters/file/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "kvq-file-conformance-"));
const file = (id: string) => join(dir, `${id}.kvq`);

await testAdapter({
  name: "file",
  open: (ctx) => FileKv.open(file(ctx.id)),
  destroy: (ctx) => {
    for (const suffix of ["", ".lock", ".compact", ".new", ".reserve"]) {
      rmSync(file(ctx.id) + suffix, { force: true });
    }
  },
  capabilities: { durable: true, watch: true, spaceReserve: true },
});
