// The README store matrix, from the stores themselves: opens every adapter this runtime runs (in a
// temporary directory, under unique names) and returns what each declares in `info`. Stores that
// need a server (PostgreSQL at 127.0.0.1:5432, Redis at 127.0.0.1:6379) are left out, said so, when
// nothing answers there. readme_test.ts compares the rows with README's table.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import "fake-indexeddb/auto"; // globalThis.indexedDB for the two indexeddb rows
import type { AtomicKv, KvInfo } from "../../src/kv.ts";

/** The runtime the tests run on, as the table's columns name it. */
export const RUNTIME: "Node" | "Bun" | "Deno" = (globalThis as { Deno?: unknown }).Deno
  ? "Deno"
  : (globalThis as { Bun?: unknown }).Bun
  ? "Bun"
  : "Node";

/** Where each row of the table runs ("browser": tests/indexeddb/chromium_test.ts runs it in Chromium). */
export const RUNS_ON: Record<string, readonly ("Node" | "Bun" | "Deno" | "browser")[]> = {
  "memory": ["Node", "Bun", "Deno"],
  "file": ["Node", "Bun", "Deno"],
  "sqlite (node:sqlite)": ["Node", "Deno"],
  "sqlite (bun:sqlite)": ["Bun"],
  "deno-kv (@deno/kv)": ["Node", "Bun"],
  "deno-kv (Deno.openKv)": ["Deno"],
  "postgres": ["Node", "Bun", "Deno"],
  "unstorage (memory)": ["Node", "Bun", "Deno"],
  "unstorage (fs)": ["Node", "Bun", "Deno"],
  "unstorage (redis)": ["Node", "Bun", "Deno"],
  "indexeddb (Chromium)": ["browser"],
  "indexeddb (fake-indexeddb)": ["Node", "Bun", "Deno"],
};

/** Rows opened here only to read what they declare (they run elsewhere: the Chromium row). */
export const INFO_ONLY: readonly string[] = ["indexeddb (Chromium)"];

const yes = (b: boolean | undefined) => (b ? "yes" : "no");

/** The README line of one row. */
export function formatRow(store: string, info: KvInfo): string {
  const on = RUNS_ON[store]!;
  const cells = [
    store,
    ...(["Node", "Bun", "Deno", "browser"] as const).map((r) => (on.includes(r) ? "✓" : "")),
    yes(info.durable),
    info.scope,
    yes(info.watch),
    String(info.maxValueBytes),
    String(info.maxKeyBytes),
    `${info.maxMutations} / ${info.maxChecks}`,
  ];
  return `| ${cells.join(" | ")} |`;
}

/** The table's header lines. */
export const HEADER: readonly string[] = [
  "| store | Node | Bun | Deno | browser | durable | scope | watch | maxValueBytes | maxKeyBytes | maxMutations / maxChecks |",
  "|---|---|---|---|---|---|---|---|---|---|---|",
];

/** One store as opened here: the table's row name and its declared info. */
export interface MatrixRow {
  readonly store: string;
  readonly info: KvInfo;
}

/** What was opened, and what was left out and why. */
export interface Matrix {
  readonly rows: MatrixRow[];
  readonly skipped: { store: string; why: string }[];
}

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

/** Opens every store this runtime runs and reads its info. */
export async function openMatrix(): Promise<Matrix> {
  const dir = mkdtempSync(join(tmpdir(), "kvq-matrix-"));
  const tag = `matrix_${RUNTIME.toLowerCase()}_${Date.now().toString(36)}`;
  const rows: MatrixRow[] = [];
  const skipped: { store: string; why: string }[] = [];
  const take = async (store: string, open: () => Promise<AtomicKv>, cleanup?: () => Promise<void>) => {
    let kv: AtomicKv;
    try {
      kv = await open();
    } catch (e) {
      skipped.push({ store, why: (e as Error).message });
      return;
    }
    rows.push({ store, info: { ...kv.info } });
    await kv.close();
    await cleanup?.();
  };
  try {
    const { MemoryKv } = await import("../../adapters/memory/mod.ts");
    await take("memory", () => Promise.resolve(new MemoryKv()));
    const { FileKv } = await import("../../adapters/file/mod.ts");
    await take("file", () => FileKv.open(join(dir, "file.kvq")));
    const { SqliteKv } = await import("../../adapters/sqlite/mod.ts");
    await take(
      RUNTIME === "Bun" ? "sqlite (bun:sqlite)" : "sqlite (node:sqlite)",
      () => SqliteKv.open(join(dir, "s.db")),
    );
    const { DenoKv } = await import("../../adapters/deno-kv/mod.ts");
    await take(
      RUNTIME === "Deno" ? "deno-kv (Deno.openKv)" : "deno-kv (@deno/kv)",
      () => DenoKv.open(join(dir, "d.sqlite3")),
    );
    const { PostgresKv } = await import("../../adapters/postgres/mod.ts");
    const url = env.KVQ_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
    await take("postgres", () => PostgresKv.open(url, { table: tag }), async () => {
      const postgres = (await import("postgres")).default;
      const sql = postgres(url, { onnotice: () => {} });
      const tables =
        await sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE ${
          tag + "%"
        }`;
      for (const t of tables) await sql.unsafe(`DROP TABLE IF EXISTS public."${t.tablename}"`);
      await sql.unsafe(
        `DROP SEQUENCE IF EXISTS public."${tag}_seq"; DROP FUNCTION IF EXISTS public."${tag}_commit"`,
      );
      await sql.end();
    });
    const { UnstorageKv } = await import("../../adapters/unstorage/mod.ts");
    await take("unstorage (memory)", () => UnstorageKv.open(createStorage(), { base: tag }));
    await take(
      "unstorage (fs)",
      () => UnstorageKv.open(createStorage({ driver: fsDriver({ base: join(dir, "u") }) }), { base: tag }),
    );
    const redisDriver = (await import("unstorage/drivers/redis")).default;
    const redis = createStorage({
      driver: redisDriver({ url: env.KVQ_REDIS_URL ?? "redis://127.0.0.1:6379", lazyConnect: true }),
    });
    await take("unstorage (redis)", async () => {
      const kv = await UnstorageKv.open(redis, { base: tag });
      return kv;
    }, async () => {
      for (const k of await redis.getKeys(tag)) await redis.removeItem(k);
      await redis.dispose();
    });
    const { IndexedDbKv } = await import("../../adapters/indexeddb/mod.ts");
    // What a browser gets (the defaults; tests/indexeddb/chromium_test.ts runs it in Chromium).
    await take("indexeddb (Chromium)", () => IndexedDbKv.open({ dbName: `${tag}_a` }));
    // What the tests use over fake-indexeddb, which keeps data in this process's memory.
    await take(
      "indexeddb (fake-indexeddb)",
      () => IndexedDbKv.open({ dbName: `${tag}_b`, durable: false, scope: "process" }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, skipped };
}

// `node tests/packaging/_matrix.ts` prints this runtime's rows (paste them into README's table).
if (import.meta.main) {
  const { rows, skipped } = await openMatrix();
  for (const line of HEADER) console.log(line);
  for (const r of rows) console.log(formatRow(r.store, r.info));
  for (const s of skipped) console.error(`left out: ${s.store} (${s.why})`);
}
