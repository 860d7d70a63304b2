// Everywhere a store is named, a postgres:// URL opens the PostgreSQL store: openStore(), the
// kvq command's --store, and the demo's KVQ_STORE (as a child process of this test's runtime).
// Skips only when the server is unreachable (see _pg.ts for KVQ_POSTGRES_URL).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { openStore } from "../../adapters/store/mod.ts";
import { runCli } from "../../cli/cli.ts";
import { dropStore, POSTGRES_URL, tableName, unreachable, withClient } from "./_pg.ts";

const skip = await unreachable();
const tables: string[] = [];
after(() => Promise.all(tables.map((t) => dropStore(t))));
const root = fileURLToPath(new URL("../../", import.meta.url));

/** The test URL with kvq's `table` query parameter, for a table of this run. */
function urlWithTable(what: string): { url: string; table: string } {
  const table = tableName(what);
  tables.push(table);
  return { url: `${POSTGRES_URL}${POSTGRES_URL.includes("?") ? "&" : "?"}table=${table}`, table };
}

async function rowsIn(table: string): Promise<number> {
  const rows = await withClient((sql) =>
    sql.unsafe(`SELECT count(*)::int AS n FROM "public"."${table}"`, [])
  );
  return rows[0].n as number;
}

describe("a postgres:// URL as the store", { skip }, () => {
  test("openStore opens the PostgreSQL store for a postgres:// URL, in the table its query names", async () => {
    const { url, table } = urlWithTable("open_store");
    const kv = await openStore(url);
    try {
      assert.equal(kv.info.name, "postgres");
      assert.equal(kv.info.scope, "cluster");
      assert.equal(kv.choice.adapter, "postgres");
      assert.equal(kv.choice.driver, "postgres");
      assert.match(kv.choice.reason, /PostgreSQL/);
      assert.equal((await kv.atomic().set(["x"], Uint8Array.of(1)).commit()).ok, true);
      assert.equal(await rowsIn(table), 1);
    } finally {
      await kv.close();
    }
    const forced = await openStore(url, { adapter: "postgres", postgres: { watch: false } });
    assert.equal(forced.choice.reason, 'adapter "postgres" was requested');
    assert.equal(forced.info.watch, false);
    assert.deepEqual((await forced.get(["x"]))?.value, Uint8Array.of(1));
    await forced.close();
  });

  test("kvq add and counts with --store postgres://... work on the PostgreSQL store", async () => {
    const { url, table } = urlWithTable("cli");
    const out: string[] = [], err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    assert.equal(await runCli(["add", "mail", '{"to":"a@b.c"}', "--store", url], io), 0, err.join("\n"));
    assert.equal(await runCli(["counts", "mail", "--store", url], io), 0, err.join("\n"));
    assert.equal(JSON.parse(out.at(-1)!).ready, 1);
    assert.ok(await rowsIn(table) > 0, "nothing was written to the table the URL names");
  });

  test(
    "the demo with KVQ_STORE=postgres://... runs its workers on the PostgreSQL store and exits 0",
    { timeout: 60_000 },
    async () => {
      const { url, table } = urlWithTable("demo");
      const g = globalThis as { Deno?: unknown };
      const main = join(root, "cli", "main.ts");
      const args = ["demo", "--for", "3", "--port", "0"];
      const child = spawn(process.execPath, g.Deno ? ["run", "-A", main, ...args] : [main, ...args], {
        cwd: root,
        env: { ...process.env, KVQ_STORE: url },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "", err = "";
      child.stdout!.on("data", (d) => (out += d));
      child.stderr!.on("data", (d) => (err += d));
      const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
      assert.equal(code, 0, `stdout:\n${out}\nstderr:\n${err}`);
      assert.match(out, /kvq demo: postgres store \(postgres\)/);
      const m = /added (\d+) jobs, processed (\d+) attempts: (\d+) completed/.exec(out);
      assert.ok(m && Number(m[3]) > 0, out);
      assert.ok(await rowsIn(table) > 0, "the demo did not write to the table KVQ_STORE names");
    },
  );
});
