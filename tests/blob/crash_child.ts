// Child of crash_test.ts: a queue on the file store in argv[2]/jobs.kvq with its blob store over
// unstorage's fs driver in argv[2]/blobs. It adds one payload (argv[3]: "bytes" 300 KB, "stream" 9 MiB
// in pieces, "blob" a 5 MiB Blob) and stops the job's commit after every chunk of the blob is written:
// it prints "ready <job id>" and waits for the parent's SIGKILL.
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import { FileKv } from "../../adapters/file/mod.ts";
import { UnstorageBlobStore } from "../../adapters/unstorage/mod.ts";
import { Queue } from "../../mod.ts";
import type { AtomicKv } from "../../mod.ts";

const proc = (globalThis as unknown as { process: { argv: string[]; stdout: { write(s: string): void } } })
  .process;
const [dir, kind] = proc.argv.slice(2) as [string, string];
const kv = await FileKv.open(`${dir}/jobs.kvq`);
const blobs = new UnstorageBlobStore(createStorage({ driver: fsDriver({ base: `${dir}/blobs` }) }));
let jobId = "";
const stalling: AtomicKv = Object.create(kv, {
  atomic: {
    value: () => {
      const op = kv.atomic();
      op.commit = () => {
        setInterval(() => {}, 1000); // an unsettled promise alone would let the process exit
        proc.stdout.write(`ready ${jobId}\n`);
        return new Promise(() => {}); // the parent kills us here: blob written, job not committed
      };
      return op;
    },
  },
});
const queue = new Queue(stalling, "crash", {
  blobs: { store: blobs, threshold: 1024, chunkBytes: 1024 * 1024 },
  ids: (now) => (jobId = `job-${now}-${kind}`),
});
const MiB = 1024 * 1024;
const data = kind === "bytes"
  ? new Uint8Array(300_000).fill(7)
  : kind === "blob"
  ? new Blob([new Uint8Array(5 * MiB).fill(9)])
  : new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < 9; i++) c.enqueue(new Uint8Array(MiB).fill(i));
      c.close();
    },
  });
await queue.add(data);
