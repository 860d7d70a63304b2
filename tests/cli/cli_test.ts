// The kvq command: commands in-process on a temporary store directory and through --url, usage
// errors, and `kvq demo --for 3` as a child process of the runtime running this test.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { runCli } from "../../cli/cli.ts";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { createServer, serve } from "../../server/mod.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

async function kvq(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "kvq-cli-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("kvq CLI", () => {
  test("add, counts, list, get, cancel, redrive, pause and queues work on a store directory", () =>
    withDir(async (dir) => {
      const store = join(dir, "data");
      const added = await kvq("add", "mail", '{"to":"a@b.c"}', "--priority", "2", "--store", store);
      assert.equal(added.code, 0, added.err);
      const job = JSON.parse(added.out).job;
      assert.equal(job.priority, 2);
      const later = JSON.parse((await kvq("add", "mail", "1", "--delay", "60000", "--store", store)).out).job;
      assert.equal(later.state, "scheduled");

      const counts = JSON.parse((await kvq("counts", "mail", "--store", store)).out);
      assert.equal(counts.ready, 1);
      assert.equal(counts.scheduled, 1);
      const list = JSON.parse((await kvq("list", "mail", "ready", "--store", store)).out);
      assert.deepEqual(list.jobs.map((j: { id: string }) => j.id), [job.id]);
      const got = JSON.parse((await kvq("get", job.id, "--store", store)).out).job;
      assert.deepEqual(got.data, { to: "a@b.c" });
      const canceled = JSON.parse((await kvq("cancel", later.id, "--queue", "mail", "--store", store)).out);
      assert.equal(canceled.canceled, true);
      const redriven = JSON.parse((await kvq("redrive", "mail", "--store", store)).out);
      assert.deepEqual(redriven, { redriven: 0 });
      assert.equal((await kvq("pause", "mail", "--store", store)).code, 0);
      const queues = JSON.parse((await kvq("queues", "--store", store)).out).queues;
      assert.equal(queues[0].name, "mail");
      assert.equal(queues[0].paused, true);
      assert.equal((await readdir(store)).length > 0, true);
    }));

  test("bad usage exits 2 and a failed operation exits 1 with the error on stderr", () =>
    withDir(async (dir) => {
      const store = join(dir, "data");
      assert.equal((await kvq()).code, 2);
      assert.equal((await kvq("--help")).code, 0);
      assert.equal((await kvq("frobnicate")).code, 2);
      assert.equal((await kvq("add", "q")).code, 2);
      const badJson = await kvq("add", "q", "{nope", "--store", store);
      assert.equal(badJson.code, 2);
      assert.match(badJson.err, /must be JSON/);
      assert.equal((await kvq("add", "q", "1", "--delay", "soon", "--store", store)).code, 2);
      assert.equal((await kvq("counts", "q", "--bogus")).code, 2);
      assert.equal((await kvq("add", "q", "1", "--store", store)).code, 0);
      const missing = await kvq("get", "01NOPE", "--queue", "q", "--store", store);
      assert.equal(missing.code, 1);
      assert.match(missing.err, /JobNotFoundError/);
      const badState = await kvq("list", "q", "sleeping", "--store", store);
      assert.equal(badState.code, 1);
      assert.match(badState.err, /TypeError: .*unknown state/);
    }));

  test("--url talks to a running sidecar with --token", async () => {
    const kv = new MemoryKv();
    const app = createServer({ store: kv, auth: "t0k" });
    const http = await serve(app, { port: 0 });
    try {
      const denied = await kvq("add", "remote", "5", "--url", http.url);
      assert.equal(denied.code, 1);
      assert.match(denied.err, /UnauthorizedError/);
      const ok = await kvq("add", "remote", "5", "--url", http.url, "--token", "t0k");
      assert.equal(ok.code, 0, ok.err);
      assert.equal((await app.queue("remote").counts()).ready, 1);
    } finally {
      await http.close();
      await app.close();
      await kv.close();
    }
  });

  test(
    "kvq demo --for 3 runs workers and the dashboard, processes jobs and exits 0",
    { timeout: 60_000 },
    () =>
      withDir(async (dir) => {
        const g = globalThis as { Deno?: unknown; Bun?: unknown };
        const main = join(root, "cli", "main.ts");
        const args = ["demo", "--for", "3", "--port", "0", "--store", join(dir, "data")];
        const argv = g.Deno ? ["run", "-A", main, ...args] : [main, ...args];
        const child = spawn(process.execPath, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout!.on("data", (d) => (out += d));
        child.stderr!.on("data", (d) => (err += d));
        const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
        assert.equal(code, 0, `stdout:\n${out}\nstderr:\n${err}`);
        assert.match(out, /dashboard on http:\/\/127\.0\.0\.1:\d+\//);
        const m = /added (\d+) jobs, processed (\d+) attempts: (\d+) completed/.exec(out);
        assert.ok(m, out);
        assert.ok(Number(m[1]) > 0, "added jobs");
        assert.ok(Number(m[3]) > 0, "completed jobs");
      }),
  );
});
