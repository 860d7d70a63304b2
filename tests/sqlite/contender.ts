// A child process of multiprocess_test.ts (not a test itself). Usage:
//   contender.ts <db> claim <id> <keys>   claim keys ["claim", 0..keys) with get, then check(null)+set
//   contender.ts <db> count <id> <n>      increment ["counter"] n times with check+set retries
//   contender.ts <db> hold <ms>           hold the write lock (BEGIN IMMEDIATE) for <ms>, then commit
// Each mode waits for the file <db>.go before starting, so that all children start together.
import { existsSync } from "node:fs";
import process from "node:process";
import { SqliteKv } from "../../adapters/sqlite/mod.ts";
import { openSqliteDatabase } from "../../adapters/sqlite/driver.ts";

const [path, mode, arg1, arg2] = process.argv.slice(2);
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function barrier(): Promise<void> {
  console.log("ready");
  while (!existsSync(path + ".go")) await wait(2);
}

if (mode === "hold") {
  const db = await openSqliteDatabase(path);
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("BEGIN IMMEDIATE");
  db.exec("UPDATE kv_meta SET seq = seq WHERE id = 0");
  console.log("locked");
  await wait(Number(arg1));
  db.exec("COMMIT");
  console.log("released");
  db.close();
} else {
  const kv = await SqliteKv.open(path, { busyTimeoutMs: 10000 });
  const id = Number(arg1);
  const n = Number(arg2);
  await barrier();
  if (mode === "claim") {
    // Each process walks the keys in its own order and reads before it claims, with a pause in
    // between, so that processes race on the same keys from different starting points.
    const order = Array.from({ length: n }, (_, i) => (i * (id * 2 + 1) + id * 37) % n);
    const wins: number[] = [];
    let lost = 0;
    for (const i of order) {
      if (await kv.get(["claim", i])) continue;
      await wait(0);
      const r = await kv.atomic().check(["claim", i], null).set(["claim", i], Uint8Array.of(id)).commit();
      if (r.ok) wins.push(i);
      else lost++;
    }
    console.log(JSON.stringify({ id, wins, lost }));
  } else if (mode === "count") {
    let conflicts = 0;
    for (let i = 0; i < n; i++) {
      for (;;) {
        const cur = await kv.get(["counter"]);
        await wait(0);
        const value = cur ? new DataView(cur.value.buffer, cur.value.byteOffset).getUint32(0) : 0;
        const next = new Uint8Array(4);
        new DataView(next.buffer).setUint32(0, value + 1);
        const r = await kv.atomic().check(["counter"], cur?.versionstamp ?? null).set(["counter"], next)
          .commit();
        if (r.ok) break;
        conflicts++;
      }
    }
    console.log(JSON.stringify({ id, conflicts }));
  }
  await kv.close();
}
