// Long CLI operations: `kvq add --file` (every line parsed before any is added, then batched bulk
// adds), `kvq redrive QUEUE` with and without a progress bar (same output), no bar in piped output,
// and `kvq serve --otlp-endpoint` pushing metrics to a receiver.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { runCli } from "../../cli/cli.ts";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { createServer, serve } from "../../server/mod.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

async function kvq(argv: string[], progress = false): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), progress });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "kvq-bulk-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts `kvq ...args` as a child process of this runtime, its output piped. */
function start(args: string[]) {
  const g = globalThis as { Deno?: unknown };
  const main = join(root, "cli", "main.ts");
  const argv = g.Deno ? ["run", "-A", main, ...args] : [main, ...args];
  const proc = spawn(process.execPath, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  const io = { out: "", err: "" };
  proc.stdout!.on("data", (d) => (io.out += d));
  proc.stderr!.on("data", (d) => (io.err += d));
  const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  const done = new Promise<number | null>((resolve) =>
    proc.on("close", (c) => {
      clearTimeout(timer);
      resolve(c);
    })
  );
  return { proc, io, done };
}

/** A sidecar on a memory store with `dead` dead jobs in queue "q". */
async function withDeadJobs(
  dead: number,
  fn: (url: string, app: ReturnType<typeof createServer>) => Promise<void>,
) {
  const kv = new MemoryKv();
  const app = createServer({ store: kv });
  const http = await serve(app, { port: 0 });
  try {
    const q = app.queue("q");
    await q.addBulk(Array.from({ length: dead }, (_, i) => ({ data: i, options: { maxAttempts: 1 } })));
    for (const c of await q.claim({ limit: dead })) {
      await q.fail(c.job.id, c.token, new Error("x"), { retry: false });
    }
    assert.equal((await q.counts()).dead, dead);
    await fn(http.url, app);
  } finally {
    await http.close();
    await app.close();
    await kv.close();
  }
}

describe("kvq bulk operations", () => {
  test("add --file adds every line in batches, with the add options on each job", () =>
    withDir(async (dir) => {
      const file = join(dir, "jobs.ndjson");
      const lines = Array.from({ length: 1203 }, (_, i) => JSON.stringify({ n: i, to: `u${i}@x` }));
      await writeFile(
        file,
        lines.slice(0, 600).join("\n") + "\n\n  \n" + lines.slice(600).join("\r\n") + "\n",
      );
      const store = join(dir, "data");
      const res = await kvq(["add", "mail", "--file", file, "--priority", "3", "--store", store]);
      assert.equal(res.code, 0, res.err);
      assert.equal(res.out, '{\n  "added": 1203\n}');
      assert.equal(res.err, "");
      const counts = JSON.parse((await kvq(["counts", "mail", "--store", store])).out);
      assert.equal(counts.ready, 1203);
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const args = ["list", "mail", "ready", "--limit", "1000", "--store", store];
        if (cursor) args.push("--cursor", cursor);
        const page = JSON.parse((await kvq(args)).out);
        for (const j of page.jobs) {
          assert.equal(j.priority, 3);
          seen.push(j.data.n);
        }
        cursor = page.cursor;
      } while (cursor);
      assert.deepEqual(seen, lines.map((_, i) => i), "every line, in file order");
    }));

  test("add --file with a line that is not JSON exits 2 naming the line, and adds nothing", () =>
    withDir(async (dir) => {
      const store = join(dir, "data");
      assert.equal((await kvq(["add", "mail", "0", "--store", store])).code, 0);
      const file = join(dir, "bad.ndjson");
      await writeFile(file, '{"a":1}\n\n{"a":2}\n{"a":\n{"a":4}\n');
      const res = await kvq(["add", "mail", "--file", file, "--store", store]);
      assert.equal(res.code, 2);
      assert.match(res.err, /^kvq: add --file: line 4 of .*bad\.ndjson is not JSON .*nothing was added$/);
      assert.equal(res.out, "");
      assert.equal(JSON.parse((await kvq(["counts", "mail", "--store", store])).out).ready, 1);
      const missing = await kvq(["add", "mail", "--file", join(dir, "nope.ndjson"), "--store", store]);
      assert.equal(missing.code, 2);
      assert.match(missing.err, /cannot read/);
      const both = await kvq(["add", "mail", "1", "--file", file, "--store", store]);
      assert.equal(both.code, 2);
      const keyed = await kvq(["add", "mail", "--file", file, "--key", "k", "--store", store]);
      assert.equal(keyed.code, 2);
      assert.match(keyed.err, /--key/);
    }));

  test("add --file through a sidecar stops at a refused batch and says how many were added", () =>
    withDir(async (dir) => {
      const file = join(dir, "jobs.ndjson");
      await writeFile(file, Array.from({ length: 700 }, (_, i) => String(i)).join("\n"));
      const kv = new MemoryKv();
      const app = createServer({ store: kv, queueOptions: { maxQueued: 600 } });
      const http = await serve(app, { port: 0 });
      try {
        const res = await kvq(["add", "q", "--file", file, "--url", http.url]);
        assert.equal(res.code, 1, res.err);
        assert.match(res.err, /QueueFullError: .*\(the batches before it were added: 500 of 700 jobs\)$/);
        assert.equal((await app.queue("q").counts()).ready, 600, "the full queue took what it could");
      } finally {
        await http.close();
        await app.close();
        await kv.close();
      }
    }));

  test("redrive QUEUE prints the same output with and without a progress bar", () =>
    withDeadJobs(30, async (url, app) => {
      const plain = await kvq(["redrive", "q", "--url", url]);
      assert.equal(plain.code, 0, plain.err);
      assert.equal(plain.out, '{\n  "redriven": 30\n}');
      assert.equal(plain.err, "");
      const q = app.queue("q");
      for (const c of await q.claim({ limit: 30 })) {
        await q.fail(c.job.id, c.token, new Error("x"), { retry: false });
      }
      // The bar draws on this process's stderr only when it is a terminal; stdout is the same either way.
      const barred = await kvq(["redrive", "q", "--url", url], true);
      assert.equal(barred.code, 0, barred.err);
      assert.equal(barred.out, plain.out);
      assert.equal((await q.counts()).ready, 30);
    }));

  test("in piped output there is no progress bar: stderr stays empty, stdout is the JSON alone", () =>
    withDir(async (dir) => {
      const file = join(dir, "jobs.ndjson");
      await writeFile(file, Array.from({ length: 1500 }, (_, i) => JSON.stringify({ i })).join("\n"));
      const child = start(["add", "mail", "--file", file, "--store", join(dir, "data")]);
      assert.equal(await child.done, 0, child.io.err);
      assert.equal(child.io.out, '{\n  "added": 1500\n}\n');
      assert.equal(child.io.err, "");
      const redrive = start(["redrive", "mail", "--store", join(dir, "data")]);
      assert.equal(await redrive.done, 0, redrive.io.err);
      assert.equal(redrive.io.out, '{\n  "redriven": 0\n}\n');
      assert.equal(redrive.io.err, "");
    }));

  test("kvq serve --otlp-endpoint pushes metrics there (once more on shutdown); a bad URL exits 2", {
    timeout: 90_000,
  }, () =>
    withDir(async (dir) => {
      const bad = await kvq([
        "serve",
        "--otlp-endpoint",
        "not a url",
        "--port",
        "0",
        "--store",
        join(dir, "x"),
      ]);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /--otlp-endpoint: Invalid OTLP endpoint/);
      const bodies: string[] = [];
      const receiver = createHttpServer((req, res) => {
        let body = "";
        req.on("data", (c) => body += c);
        req.on("end", () => {
          bodies.push(body);
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        });
      });
      await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
      const port = (receiver.address() as { port: number }).port;
      try {
        const endpoint = `http://127.0.0.1:${port}/v1/metrics`;
        const child = start([
          "serve",
          "--port",
          "0",
          "--store",
          join(dir, "data"),
          "--otlp-endpoint",
          endpoint,
        ]);
        const end = Date.now() + 30_000;
        while (!/serving/.test(child.io.out) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
        assert.match(child.io.out, new RegExp(`pushed to ${endpoint.replaceAll(".", "\\.")}`));
        const url = /on (http:\/\/\S+) /.exec(child.io.out)![1];
        const added = await fetch(`${url}/queues/mail/jobs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ data: 1 }),
        });
        assert.equal(added.status, 201);
        child.proc.kill("SIGTERM");
        const code = await child.done;
        assert.match(child.io.out, /SIGTERM, shutting down/);
        // Deno's node:child_process reports a child that handled SIGTERM and exited as killed by it.
        if (!(globalThis as { Deno?: unknown }).Deno) assert.equal(code, 0, child.io.err);
        assert.ok(bodies.length >= 1, "a push arrived");
        const doc = JSON.parse(bodies.at(-1)!);
        const metrics = doc.resourceMetrics[0].scopeMetrics[0].metrics;
        const jobs = metrics.find((m: { name: string }) => m.name === "kvq.jobs");
        const ready = jobs.gauge.dataPoints.find((
          p: { attributes: { key: string; value: { stringValue: string } }[] },
        ) =>
          p.attributes.some((a) => a.key === "state" && a.value.stringValue === "ready") &&
          p.attributes.some((a) => a.key === "queue" && a.value.stringValue === "mail")
        );
        assert.equal(Number(ready.asDouble ?? ready.asInt), 1);
      } finally {
        await new Promise<void>((r) => receiver.close(() => r()));
        receiver.closeAllConnections();
      }
    }));
});
