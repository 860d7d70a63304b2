// Child of crash_test.ts: opens an unstorage store over the fs driver in argv[2], commits a first
// version of three keys, then starts a second commit whose writes stop at the point named by
// argv[3] (the parent then kills this process with SIGKILL):
//   torn-journal  the write-ahead record is cut short (half of it written), nothing applied
//   journaled     the record is written whole, no entry yet
//   half-applied  the record is written and the first entry write is done, the rest never
// It prints "ready <versionstamp of the first commit>" once the second commit has stopped.
// With argv[3] "probe" it only tries to open the store and prints "opened" or the error's name.
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import { UnstorageKv, type UnstorageStorage } from "../../adapters/unstorage/mod.ts";

const proc = (globalThis as unknown as { process: { argv: string[]; stdout: { write(s: string): void } } })
  .process;
const [dir, mode] = proc.argv.slice(2);
const storage = createStorage({ driver: fsDriver({ base: dir }) });
const never = new Promise<never>(() => {});
let armed = false;
let entryWrites = 0;

const stalling: UnstorageStorage = {
  getItem: (k) => storage.getItem(k),
  setItem: (k, v) => storage.setItem(k, v as string),
  getItemRaw: (k) => storage.getItemRaw(k),
  removeItem: (k) => storage.removeItem(k),
  getKeys: (b) => storage.getKeys(b),
  getMount: (k) => storage.getMount(k),
  async setItemRaw(key, value) {
    if (!armed) return storage.setItemRaw(key, value);
    const journal = key.endsWith(":journal");
    if (journal && mode === "torn-journal") {
      await storage.setItemRaw(key, value.subarray(0, value.length >> 1));
      return stop();
    }
    if (journal) {
      return storage.setItemRaw(key, value).then(() => (mode === "journaled" ? stop() : undefined));
    }
    if (mode === "half-applied" && key.includes(":d:") && entryWrites++ === 0) {
      await storage.setItemRaw(key, value);
      return stop();
    }
    return never;
  },
};

let first = "";
function stop(): Promise<never> {
  proc.stdout.write(`ready ${first}\n`);
  return never;
}

if (mode === "probe") {
  const name = await UnstorageKv.open(storage, { base: "crash" }).then(
    async (kv) => (await kv.close(), "opened"),
    (e) => (e as Error).name,
  );
  proc.stdout.write(`${name}\n`);
  await storage.dispose();
} else {
  await crash();
}

async function crash(): Promise<void> {
  const kv = await UnstorageKv.open(stalling, { base: "crash", leaseMs: 300 });
  const v1 = (s: string) => new TextEncoder().encode(`${s}1`);
  const res = await kv.atomic().set(["k", "a"], v1("a")).set(["k", "b"], v1("b")).set(["k", "c"], v1("c"))
    .commit();
  if (!res.ok) throw new Error("the first commit failed");
  first = res.versionstamp;
  armed = true;
  const v2 = (s: string) => new TextEncoder().encode(`${s}2`);
  await kv.atomic().set(["k", "a"], v2("a")).set(["k", "b"], v2("b")).delete(["k", "c"]).set(
    ["k", "d"],
    v2("d"),
  )
    .commit();
}
