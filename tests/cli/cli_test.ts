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

/** Runs `kvq ...args` as a child process of the runtime running this test. */
async function child(
  args: string[],
  ms = 30_000,
): Promise<{ code: number | null; out: string; err: string }> {
  const g = globalThis as { Deno?: unknown };
  const main = join(root, "cli", "main.ts");
  const argv = g.Deno ? ["run", "-A", main, ...args] : [main, ...args];
  const proc = spawn(process.execPath, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (err += d));
  const timer = setTimeout(() => proc.kill("SIGKILL"), ms);
  const code = await new Promise<number | null>((resolve) => proc.on("close", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, out, err };
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
      assert.equal(badState.code, 2);
      assert.match(badState.err, /unknown state "sleeping"/);
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

  test("kvq demo on a busy port exits 1 at once with a clear message; an invalid port exits 2", {
    timeout: 90_000,
  }, () =>
    withDir(async (dir) => {
      const busy = await serve(() => new Response("taken"), { port: 0 });
      try {
        const started = Date.now();
        const res = await child(["demo", "--port", String(busy.port), "--store", join(dir, "data")]);
        assert.equal(res.code, 1, `stdout:\n${res.out}\nstderr:\n${res.err}`);
        assert.match(res.err, /Cannot listen on 127\.0\.0\.1:\d+: the address is already in use/);
        assert.ok(Date.now() - started < 25_000, "it did not hang");
      } finally {
        await busy.close();
      }
      const invalid = await child(["demo", "--port", "99999", "--store", join(dir, "data")]);
      assert.equal(invalid.code, 2, invalid.err);
      assert.match(invalid.err, /port must be an integer from 0 to 65535/);
    }));

  test("kvq serve refuses --host 0.0.0.0 without a token: exit 2, naming the risk", () =>
    withDir(async (dir) => {
      const res = await kvq("serve", "--host", "0.0.0.0", "--port", "0", "--store", join(dir, "data"));
      assert.equal(res.code, 2);
      assert.match(res.err, /without a token/);
    }));

  test("--delay -5 and --priority -5 parse as values (the sidecar then judges them)", () =>
    withDir(async (dir) => {
      const store = join(dir, "data");
      const low = await kvq("add", "q", "1", "--priority", "-5", "--store", store);
      assert.equal(low.code, 0, low.err);
      assert.equal(JSON.parse(low.out).job.priority, -5);
      const past = await kvq("add", "q", "1", "--delay", "-5", "--store", store);
      assert.equal(past.code, 2, "a delay below 0 is bad input");
      assert.match(past.err, /Invalid delay/);
      assert.doesNotMatch(past.err, /ambiguous|Unknown option/);
    }));

  test("kvq counts on an unknown queue is a clear error, exit 1", () =>
    withDir(async (dir) => {
      const store = join(dir, "data");
      await kvq("add", "real", "1", "--store", store);
      const res = await kvq("counts", "nosuchqueue", "--store", store);
      assert.equal(res.code, 1);
      assert.match(res.err, /QueueNotFoundError: Queue "nosuchqueue" does not exist/);
      assert.equal(res.out, "");
    }));

  test("read-only commands never create a store", () =>
    withDir(async (dir) => {
      const store = join(dir, "kvq-data");
      for (const argv of [["queues"], ["counts", "q"], ["list", "q", "ready"], ["get", "01ABC"]]) {
        const res = await kvq(...argv, "--store", store);
        assert.equal(res.code, 1, argv.join(" "));
        assert.match(res.err, /No kvq store at/);
        assert.deepEqual(await readdir(dir), [], `${argv.join(" ")} created nothing`);
      }
      // A store file path that does not exist yet.
      const res = await kvq("queues", "--store", join(dir, "sub", "jobs.db"));
      assert.equal(res.code, 1);
      assert.deepEqual(await readdir(dir), []);
    }));
});
