// A child process of multiprocess_test.ts (not a test itself). Usage, with the URL in argv[2]:
//   child.ts <url> <table> claim <id> <keys>  after "go" on stdin, claim ["claim", 0..keys) with get,
//                                             then check(null)+set; prints {"id","wins","lost"}
//   child.ts <url> <table> worker             runs a worker on queue "mp" that polls once a minute,
//                                             prints "ready", then "done <job data>" per job
import process from "node:process";
import { createInterface } from "node:readline";
import { Queue } from "../../mod.ts";
import { PostgresKv } from "../../adapters/postgres/mod.ts";

const [url, table, mode, arg1, arg2] = process.argv.slice(2);
const kv = await PostgresKv.open(url, { table });
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

if (mode === "claim") {
  const id = Number(arg1), keys = Number(arg2);
  console.log("ready");
  await lines.next(); // "go"
  const wins: number[] = [];
  let lost = 0;
  for (let k = 0; k < keys; k++) {
    if (await kv.get(["claim", k])) continue;
    const res = await kv.atomic().check(["claim", k], null).set(["claim", k], Uint8Array.of(id)).commit();
    if (res.ok) wins.push(k);
    else lost++;
  }
  console.log(JSON.stringify({ id, wins, lost }));
} else if (mode === "worker") {
  const queue = new Queue<string>(kv, "mp", { pollInterval: 60_000 });
  const worker = queue.process((job) => {
    console.log(`done ${job.data}`);
  });
  console.log("ready");
  await lines.next(); // "stop"
  await worker.close({ timeout: 5000 });
}
await kv.close();
process.exit(0);
