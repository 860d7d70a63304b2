// What the PostgreSQL adapter adds to the contract: the schema and its version, several stores
// (separate connection pools, as separate processes have) on one table, wake-ups between them,
// and faults: a lost connection, a commit whose reply was lost, a server that cannot be reached.
// Skips only when the server is unreachable (see _pg.ts for KVQ_POSTGRES_URL).
import { after, describe, test } from "node:test";
import postgres from "postgres";
import assert from "node:assert/strict";
import { StorageError } from "../../src/errors.ts";
import type { AtomicKv, KvCommitResult, KvEntry, KvKey } from "../../src/kv.ts";
import {
  CommitOutcomeUnknownError,
  PostgresKv,
  type PostgresKvOptions,
  type PostgresQuery,
} from "../../adapters/postgres/mod.ts";
import type { PostgresClient } from "../../adapters/postgres/client.ts";
import { createPostgresClient } from "../../adapters/postgres/client.ts";
import { dropStore, POSTGRES_URL, tableName, unreachable, withClient } from "./_pg.ts";

const skip = await unreachable();
const tables: string[] = [];
after(() => Promise.all(tables.map((t) => dropStore(t))));

/** A table of this run, dropped after the file. */
function newTable(what: string): string {
  const t = tableName(what);
  tables.push(t);
  return t;
}

const u8 = (...b: number[]) => Uint8Array.from(b);
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `kv.get(key)` after the store's connections were terminated: the pool's other connection was
 * terminated too, and an operation the client hands to it before it has noticed fails once with
 * StorageError CONNECTION. No more than once: the store reconnects by itself.
 */
async function getAfterReconnect(kv: AtomicKv, key: KvKey): Promise<KvEntry | null> {
  try {
    return await kv.get(key);
  } catch (e) {
    assert.ok(e instanceof StorageError && e.code === "CONNECTION", String(e));
    return await kv.get(key);
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail("expected a rejection");
}

/** Resolves true when `p` settles within `ms`. */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(() => (clearTimeout(t), resolve(true)), () => (clearTimeout(t), resolve(true)));
  });
}

function open(table: string, options: PostgresKvOptions = {}): Promise<PostgresKv> {
  return PostgresKv.open(POSTGRES_URL, { table, ...options });
}

/**
 * A client whose `batch` the test scripts once the store is open (`script`); until then, and
 * for everything else, it is the real client.
 */
function scripted(real: PostgresClient): {
  client: PostgresClient;
  script(fn: (queries: PostgresQuery[], call: number) => Promise<unknown>): void;
} {
  let calls = 0;
  let fn: ((queries: PostgresQuery[], call: number) => Promise<unknown>) | null = null;
  return {
    client: {
      unsafe: (q, p, o) => real.unsafe(q, p, o),
      batch: (queries) => (fn ? fn(queries, calls++) : real.batch(queries)),
      listen: (c, n, l) => real.listen(c, n, l),
      end: (o) => real.end(o),
    },
    script: (f) => (fn = f),
  };
}

/** Holds an exclusive lock on a store's table for a second, so its queries wait on the server. */
function holdTable(sql: PostgresClient, table: string): Promise<unknown> {
  return Promise.resolve(
    sql.unsafe(`BEGIN; LOCK TABLE "public"."${table}" IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1); COMMIT`),
  );
}

const connectionLost = () => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });

describe("PostgresKv", { skip }, () => {
  test("open() creates the schema once, at version 2, in the schema named by the options", async () => {
    const table = newTable("schema");
    const schema = `kvq_test_schema_${table.slice(-8)}`;
    try {
      const [a, b] = await Promise.all([open(table, { schema }), open(table, { schema })]);
      assert.equal(a.table, `"${schema}"."${table}"`);
      await a.atomic().set(["k"], u8(1)).commit();
      assert.deepEqual((await b.get(["k"]))?.value, u8(1));
      await Promise.all([a.close(), b.close()]);
      const rows = await withClient((sql) =>
        sql.unsafe(`SELECT schema_version FROM "${schema}"."${table}_meta"`, [])
      );
      assert.deepEqual(rows.map((r) => r.schema_version), [2]);
    } finally {
      await withClient((sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`, []));
    }
  });

  test("open() refuses a store of another schema version and a table that is not kvq's", async () => {
    const table = newTable("version");
    await (await open(table)).close();
    await withClient((sql) => sql.unsafe(`UPDATE "public"."${table}_meta" SET schema_version = 3`, []));
    const newer = await rejection(open(table));
    assert.ok(newer instanceof StorageError, String(newer));
    assert.match(newer.message, /schema version 3.*newer kvq/);

    const foreign = newTable("foreign");
    await withClient((sql) => sql.unsafe(`CREATE TABLE "public"."${foreign}" (id int)`, []));
    const e = await rejection(open(foreign));
    assert.ok(e instanceof StorageError, String(e));
    assert.match(e.message, /is not a kvq store/);
  });

  test("open() brings a version-1 store (no commit function) to version 2 and keeps its entries", async () => {
    const table = newTable("v1");
    const kv = await open(table);
    const first = await kv.atomic().set(["kept"], u8(4)).commit();
    await kv.close();
    // What version 1 had: the same tables, no commit function.
    await withClient((sql) =>
      sql.unsafe(
        `DROP FUNCTION "public"."${table}_commit"; UPDATE "public"."${table}_meta" SET schema_version = 1`,
        [],
      )
    );
    const [a, b] = await Promise.all([open(table), open(table)]);
    try {
      assert.deepEqual((await b.get(["kept"]))?.value, u8(4));
      const next = await a.atomic().check(["kept"], (first as { versionstamp: string }).versionstamp)
        .set(["kept"], u8(5)).commit();
      assert.equal(next.ok, true);
      const rows = await withClient((sql) =>
        sql.unsafe(`SELECT schema_version FROM "public"."${table}_meta"`, [])
      );
      assert.deepEqual(rows.map((r) => r.schema_version), [2]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("open() rejects bad table names with TypeError and an unreachable server with StorageError", async () => {
    await assert.rejects(PostgresKv.open(POSTGRES_URL, { table: 'x"; drop table y; --' }), TypeError);
    await assert.rejects(PostgresKv.open(POSTGRES_URL, { schema: "Public" }), TypeError);
    // Checked before connecting: the unreachable URL is never tried.
    await assert.rejects(
      PostgresKv.open("postgres://postgres@127.0.0.1:1/test", { maxMutations: 0 }),
      RangeError,
    );
    await assert.rejects(
      PostgresKv.open("postgres://postgres@127.0.0.1:1/test", { watch: "yes" as unknown as boolean }),
      TypeError,
    );
    const e = await rejection(
      PostgresKv.open("postgres://postgres@127.0.0.1:1/test", { clientOptions: { connect_timeout: 2 } }),
    );
    assert.ok(e instanceof StorageError, String(e));
    assert.equal(e.code, "CONNECTION");
    assert.equal(e.operation, "open");
  });

  test("open() refuses connections that do not run at read committed", async () => {
    const table = newTable("isolation");
    const e = await rejection(
      open(table, { clientOptions: { connection: { default_transaction_isolation: "repeatable read" } } }),
    );
    assert.ok(e instanceof StorageError, String(e));
    assert.match(e.message, /isolation level repeatable read/);
  });

  test("watch() wakes every watcher when its listening connection comes back", async () => {
    const table = newTable("relisten");
    const app = `kvq-test-${table.slice(-8)}`;
    const kv = await open(table, {
      clientOptions: { max: 2, onnotice: false, connection: { application_name: app } },
    });
    const other = await open(table);
    const ac = new AbortController();
    try {
      const it = kv.watch(["q"], ac.signal)[Symbol.asyncIterator]();
      assert.equal((await it.next()).done, false); // listening
      const next = it.next();
      await withClient((sql) =>
        sql.unsafe("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [
          app,
        ])
      );
      assert.equal(
        await settlesWithin(next, 10_000),
        true,
        "no wake-up after the listening connection came back",
      );
      // And notifications flow again.
      const again = it.next();
      for (let i = 0; i < 50 && !(await settlesWithin(again, 100)); i++) {
        await other.atomic().set(["q", i], u8(1)).commit();
      }
      assert.equal(await settlesWithin(again, 0), true, "no wake-up from another store after the reconnect");
    } finally {
      ac.abort();
      await Promise.all([kv.close(), other.close()]);
    }
  });

  test("a client passed in is used and left open by close()", async () => {
    const table = newTable("client");
    const sql = postgres(POSTGRES_URL, { max: 2, onnotice: false });
    try {
      const kv = await PostgresKv.open(sql, { table }); // also checks that a Postgres.js client fits the type
      assert.equal(kv.info.scope, "cluster");
      assert.equal(kv.info.durable, true);
      await kv.atomic().set(["a"], u8(1)).commit();
      await kv.close();
      const rows = await sql.unsafe(`SELECT count(*)::int AS n FROM "public"."${table}"`, []);
      assert.equal(rows[0].n, 1);
    } finally {
      await sql.end();
    }
  });

  test("of 64 commits from 4 stores checking one versionstamp exactly one wins", async () => {
    const table = newTable("contend");
    const stores = await Promise.all([1, 2, 3, 4].map(() => open(table)));
    try {
      const vs = (await stores[0].atomic().set(["c"], u8(0)).commit()) as { versionstamp: string };
      const results = await Promise.all(
        Array.from(
          { length: 64 },
          (_, i) => stores[i % 4].atomic().check(["c"], vs.versionstamp).set(["c"], u8(i + 1)).commit(),
        ),
      );
      const won = results.flatMap((r, i) => (r.ok ? [i] : []));
      assert.equal(won.length, 1, `winners: ${won}`);
      const entry = await stores[3].get(["c"]);
      assert.deepEqual(entry?.value, u8(won[0] + 1));
      assert.equal(entry?.versionstamp, (results[won[0]] as { versionstamp: string }).versionstamp);
      const created = await Promise.all(
        Array.from(
          { length: 64 },
          (_, i) => stores[i % 4].atomic().check(["new"], null).set(["new"], u8(i)).commit(),
        ),
      );
      assert.equal(created.filter((r) => r.ok).length, 1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test("versionstamps follow commit order: no reader sees a commit without every earlier-stamped one", async () => {
    // Each commit writes a new key, and stamps are drawn without gaps, so at every point the
    // visible stamps must be exactly 1..n. A sequence drawn without the commit lock fails this.
    const table = newTable("order");
    const stores = await Promise.all([1, 2, 3].map(() => open(table)));
    const reader = await open(table);
    let writing = true;
    const writers = stores.map(async (kv, w) => {
      for (let i = 0; i < 60; i++) await kv.atomic().set(["k", w, i], u8(1)).commit();
    });
    const all = Promise.all(writers).finally(() => (writing = false));
    let reads = 0;
    try {
      while (writing) {
        const stamps: bigint[] = [];
        for await (const e of reader.list({ prefix: ["k"] })) stamps.push(BigInt("0x" + e.versionstamp));
        stamps.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        stamps.forEach((s, i) =>
          assert.equal(s, BigInt(i + 1), `a reader saw stamp ${stamps.at(-1)} but not ${i + 1}`)
        );
        reads++;
      }
      await all;
      assert.ok(reads > 0);
    } finally {
      await Promise.all([...stores, reader].map((s) => s.close()));
    }
  });

  test("watch() wakes on a commit made through another store, and not on one under another prefix", async () => {
    const table = newTable("watch");
    const [a, b] = await Promise.all([open(table), open(table)]);
    const ac = new AbortController();
    try {
      const it = a.watch(["jobs", "ready"], ac.signal)[Symbol.asyncIterator]();
      // The first wake-up says the LISTEN is in place (every watcher wakes when it is).
      assert.equal((await it.next()).done, false);
      let next = it.next();
      await b.atomic().set(["jobs", "done", 1], u8(1)).commit();
      assert.equal(await settlesWithin(next, 300), false, "woke on a commit under another prefix");
      const started = performance.now();
      await b.atomic().set(["jobs", "ready", "q", 1], u8(1)).commit();
      assert.equal(await settlesWithin(next, 5000), true, "no wake-up from the other store's commit");
      assert.equal((await next).done, false);
      console.log(`wake-up across stores after ${(performance.now() - started).toFixed(1)} ms`);
      next = it.next();
      await b.atomic().set(["jobs"], u8(1)).commit(); // a key above the watched prefix: not under it
      assert.equal(await settlesWithin(next, 300), false, "woke on a commit above the watched prefix");
      ac.abort();
      assert.equal((await next).done, true);
    } finally {
      ac.abort();
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("a read in flight when the connection is terminated rejects with StorageError and the store reconnects", async () => {
    const table = newTable("terminate");
    const app = `kvq-test-${table.slice(-8)}`;
    const kv = await open(table, {
      clientOptions: { max: 2, onnotice: false, connection: { application_name: app } },
    });
    try {
      await kv.atomic().set(["k"], u8(1)).commit();
      await withClient(async (sql) => {
        // Hold the table so the read waits on the server, then terminate the store's backends.
        const locker = await createPostgresClient(POSTGRES_URL, { max: 1, onnotice: false });
        const reserved = holdTable(locker, table);
        await wait(100);
        // Its handler is attached at once: the read can reject while the terminate query runs.
        const read = rejection(kv.get(["k"]));
        await wait(200);
        await sql.unsafe(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
          [app],
        );
        const e = await read;
        assert.ok(e instanceof StorageError, String(e));
        assert.equal(e.code, "CONNECTION");
        assert.equal(e.operation, "get");
        assert.ok(e.cause, "the client's error is the cause");
        await reserved;
        await locker.end();
      });
      assert.deepEqual((await getAfterReconnect(kv, ["k"]))?.value, u8(1), "the store did not reconnect");
      assert.equal((await kv.atomic().set(["k2"], u8(2)).commit()).ok, true);
    } finally {
      await kv.close();
    }
  });

  test("a commit waiting on the server when its connection is terminated rejects, applied nothing", async () => {
    const table = newTable("terminate_commit");
    const app = `kvq-test-${table.slice(-8)}`;
    const kv = await open(table, {
      clientOptions: { max: 2, onnotice: false, connection: { application_name: app } },
    });
    try {
      await withClient(async (sql) => {
        const locker = await createPostgresClient(POSTGRES_URL, { max: 1, onnotice: false });
        const held = holdTable(locker, table);
        await wait(100);
        // Its handler is attached at once: the commit can reject while the terminate query runs.
        const commit = rejection(kv.atomic().set(["k"], u8(1)).commit());
        await wait(200);
        await sql.unsafe(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
          [app],
        );
        const e = await commit;
        assert.ok(e instanceof StorageError && !(e instanceof CommitOutcomeUnknownError), String(e));
        assert.equal(e.code, "CONNECTION");
        await held;
        await locker.end();
      });
      assert.equal(await getAfterReconnect(kv, ["k"]), null, "the rejected commit applied");
      assert.equal((await kv.atomic().set(["k"], u8(2)).commit()).ok, true);
    } finally {
      await kv.close();
    }
  });

  test("a commit that applied but whose reply was lost resolves with its versionstamp", async () => {
    const table = newTable("lost_reply");
    const real = await createPostgresClient(POSTGRES_URL, { max: 2, onnotice: false });
    const { client, script } = scripted(real);
    const kv = await PostgresKv.open(client, { table });
    script(async (queries, call) => {
      const res = await real.batch(queries);
      if (call === 0) throw connectionLost(); // the first commit applied; its reply is lost
      return res;
    });
    try {
      const res = await kv.atomic().check(["k"], null).set(["k"], u8(7)).commit();
      assert.equal(res.ok, true, "a commit that applied was reported failed");
      const entry = await kv.get(["k"]);
      assert.deepEqual(entry?.value, u8(7));
      assert.equal(entry?.versionstamp, (res as { versionstamp: string }).versionstamp);
    } finally {
      await kv.close();
      await real.end();
    }
  });

  test("a commit lost before it ran rejects, and can no longer apply when it reaches the server late", async () => {
    const table = newTable("fenced");
    const real = await createPostgresClient(POSTGRES_URL, { max: 2, onnotice: false });
    let stashed: PostgresQuery[] | null = null;
    const { client, script } = scripted(real);
    const kv = await PostgresKv.open(client, { table });
    script((queries, call) => {
      if (call === 0) {
        stashed = queries; // still "in the network": sent after the adapter gave up on it
        return Promise.reject(connectionLost());
      }
      return real.batch(queries);
    });
    try {
      const e = await rejection(kv.atomic().set(["late"], u8(1)).commit());
      assert.ok(e instanceof StorageError && !(e instanceof CommitOutcomeUnknownError), String(e));
      assert.equal(e.code, "CONNECTION");
      assert.match(e.message, /did not apply/);
      await assert.rejects(real.batch(stashed!), "the late transaction committed despite its fenced id");
      assert.equal(await kv.get(["late"]), null, "the late transaction applied");
    } finally {
      await kv.close();
      await real.end();
    }
  });

  test("a commit whose outcome cannot be learned in outcomeTimeoutMs rejects with CommitOutcomeUnknownError", async () => {
    const table = newTable("unknown");
    const real = await createPostgresClient(POSTGRES_URL, { max: 2, onnotice: false });
    const { client, script } = scripted(real);
    const kv = await PostgresKv.open(client, { table, outcomeTimeoutMs: 200 });
    script(() => Promise.reject(connectionLost()));
    try {
      const e = await rejection(kv.atomic().set(["k"], u8(1)).commit());
      assert.ok(e instanceof CommitOutcomeUnknownError, String(e));
      assert.equal(e.code, "OUTCOME_UNKNOWN");
      assert.match(e.commitId, /^[0-9a-f]{32}$/);
    } finally {
      await kv.close();
      await real.end();
    }
  });

  test("a commit on a connection that could not be made rejects at once with StorageError", async () => {
    const table = newTable("refused");
    const real = await createPostgresClient(POSTGRES_URL, { max: 2, onnotice: false });
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    const { client, script } = scripted(real);
    const kv = await PostgresKv.open(client, { table });
    script(() => Promise.reject(refused));
    try {
      const e = await rejection(kv.atomic().set(["k"], u8(1)).commit());
      assert.ok(e instanceof StorageError && !(e instanceof CommitOutcomeUnknownError), String(e));
      assert.equal(e.code, "CONNECTION");
      assert.equal(e.cause, refused);
    } finally {
      await kv.close();
      await real.end();
    }
  });

  test("a commit the server refuses fails alone; the others of its transaction apply once", async () => {
    // A btree entry must fit a third of a page: with maxKeyBytes raised past that, the server
    // refuses the long key, which fails the shared transaction; each commit then runs alone.
    const table = newTable("refused_key");
    const kv = await open(table, { maxKeyBytes: 9000 });
    try {
      const long = ["k", crypto.getRandomValues(new Uint8Array(8000))];
      const [a, bad, c] = await Promise.allSettled([
        kv.atomic().set(["a"], u8(1)).commit(),
        kv.atomic().set(long, u8(2)).commit(),
        kv.atomic().check(["c"], null).set(["c"], u8(3)).commit(),
      ]);
      assert.equal(a.status === "fulfilled" && a.value.ok, true, String((a as PromiseRejectedResult).reason));
      assert.equal(c.status === "fulfilled" && c.value.ok, true, String((c as PromiseRejectedResult).reason));
      assert.equal(bad.status, "rejected");
      const e = (bad as PromiseRejectedResult).reason;
      assert.ok(e instanceof StorageError, String(e));
      assert.equal(e.operation, "commit");
      assert.equal(await kv.get(long), null);
      const stamps = [a, c].map((r) =>
        (r as PromiseFulfilledResult<{ versionstamp: string }>).value.versionstamp
      );
      assert.deepEqual([(await kv.get(["a"]))?.versionstamp, (await kv.get(["c"]))?.versionstamp], stamps);
    } finally {
      await kv.close();
    }
  });

  test("commits made in one tick share one transaction and each get their own versionstamp", async () => {
    const table = newTable("group");
    const real = await createPostgresClient(POSTGRES_URL, { max: 2, onnotice: false });
    let batches = 0;
    const { client, script } = scripted(real);
    const kv = await PostgresKv.open(client, { table });
    script((queries) => (batches++, real.batch(queries)));
    try {
      const keys: KvKey[] = Array.from({ length: 20 }, (_, i) => ["g", i]);
      const results: KvCommitResult[] = await Promise.all(
        keys.map((k) => kv.atomic().check(k, null).set(k, u8(1)).commit()),
      );
      assert.equal(batches, 1, "the commits did not share one transaction");
      const stamps = new Set(results.map((r) => (r.ok ? r.versionstamp : "")));
      assert.equal(stamps.size, 20);
      // A failed check fails alone, the others of its group still apply.
      const mixed = await Promise.all([
        kv.atomic().check(["g", 0], null).set(["g", 0], u8(2)).commit(),
        kv.atomic().set(["g", 100], u8(2)).commit(),
      ]);
      assert.deepEqual(mixed.map((r) => r.ok), [false, true]);
      assert.deepEqual((await kv.get(["g", 0]))?.value, u8(1));
    } finally {
      await kv.close();
      await real.end();
    }
  });
});
