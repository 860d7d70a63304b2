// Three sidecar processes on loopback ports (tests/server/_delivery_sidecar.ts, run by Node 24
// whatever runtime runs this file): A sends a stream of persistent messages to B and C; B is
// SIGKILLed mid-stream and restarted on the same port and store. Then: every message A
// acknowledged (202) reached its app; B's and C's queues hold each message once (the receiver
// dedupes A's resends by message id); a message B's app handled twice was handled first by the
// killed B and again by the restarted one (its completion was lost with the process: at-least-once),
// and C's app handled nothing twice. Forged and altered messages sent to B are refused and never
// reach its app.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DELIVERY_HEADERS, signDelivery } from "../../server/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NODE = join(ROOT, "node_modules/.bin/node");
const CHILD = join(ROOT, "tests/server/_delivery_sidecar.ts");
const KEY = "three-process-key";
const PER_PEER = 120;

interface Sidecar {
  child: ChildProcess;
  port: number;
  url: string;
  stderr: () => string;
}

/** Starts one sidecar and resolves once it listens. */
function start(args: string[]): Promise<Sidecar> {
  const child = spawn(NODE, [CHILD, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`sidecar did not start: ${out} ${err}`)), 30_000);
    child.stdout!.on("data", (d) => {
      out += d;
      const ready = /ready (\d+)/.exec(out);
      if (ready) {
        clearTimeout(timer);
        const port = Number(ready[1]);
        resolve({ child, port, url: `http://127.0.0.1:${port}`, stderr: () => err });
      } else if (out.includes("fatal")) {
        clearTimeout(timer);
        reject(new Error(`sidecar failed: ${out} ${err}`));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`sidecar exited with ${code}: ${out} ${err}`));
    });
  });
}

function stop(s: Sidecar | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null || s.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    s.child.once("exit", () => resolve());
    s.child.kill("SIGKILL");
  });
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Lines of an app log: [incarnation, seq, job id]. */
function handled(log: string): { incarnation: number; seq: number; job: string }[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8").split("\n").filter((l) => l).map((l) => {
    const [i, s, j] = l.split(" ");
    return { incarnation: Number(i), seq: Number(s), job: j };
  });
}

async function getJson(url: string): Promise<Record<string, number>> {
  const res = await fetch(url);
  return await res.json() as Record<string, number>;
}

describe("delivery between three sidecar processes", () => {
  test(
    "A streams to B and C; B is killed and restarted: nothing acknowledged is lost, nothing forged gets in",
    {
      timeout: 180_000,
    },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "kvq-delivery-"));
      const logB = join(dir, "b.log");
      const logC = join(dir, "c.log");
      let a: Sidecar | undefined, b: Sidecar | undefined, c: Sidecar | undefined;
      try {
        const common = ["--key", KEY];
        const bArgs = (incarnation: number, port: number) => [
          "--app",
          "b",
          "--store",
          join(dir, "b.db"),
          "--port",
          String(port),
          "--consume",
          logB,
          "--incarnation",
          String(incarnation),
          ...common,
        ];
        b = await start(bArgs(1, 0));
        const bPort = b.port;
        c = await start(["--app", "c", "--store", join(dir, "c.db"), "--consume", logC, ...common]);
        a = await start([
          "--app",
          "a",
          "--store",
          join(dir, "a.db"),
          "--peers",
          JSON.stringify({ b: b.url, c: c.url }),
          ...common,
        ]);

        // The stream: seq n goes to B when even, to C when odd. Acknowledged = answered 202.
        const acked = { b: new Set<number>(), c: new Set<number>() };
        let killed = false;
        let sentAfterKill = 0;
        let restarted: Promise<void> | undefined;
        for (let n = 0; n < 2 * PER_PEER; n++) {
          const to = n % 2 === 0 ? "b" : "c";
          const res: Response = await fetch(`${a!.url}/send/${to}/inbox`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ data: { seq: n } }),
          });
          assert.equal(res.status, 202, await res.text());
          acked[to].add(n);
          if (killed && to === "b") sentAfterKill++;
          // Mid-stream, once B's app has handled a few: SIGKILL B, restart it 300 ms later.
          if (!killed && handled(logB).length >= 20) {
            killed = true;
            await stop(b);
            restarted = new Promise((r) => setTimeout(r, 300)).then(async () => {
              b = await start(bArgs(2, bPort));
            });
          }
        }
        assert.ok(killed, "B was killed mid-stream");
        assert.ok(sentAfterKill > 0, "messages to B were sent while it was down");
        await restarted;

        // Everything A acknowledged is delivered, and the outbox drains with nothing poisoned.
        await until(async () => {
          const counts = await getJson(`${a!.url}/queues/kvq.outbox.a/counts`);
          return counts.completed === 2 * PER_PEER;
        }, "A's outbox to drain");
        assert.equal((await getJson(`${a.url}/queues/kvq.outbox.a/counts`)).dead, 0);
        const seqs = (log: string) => new Set(handled(log).map((h) => h.seq));
        await until(() => seqs(logB).size === PER_PEER && seqs(logC).size === PER_PEER, "B's and C's apps");
        assert.deepEqual([...seqs(logB)].sort((x, y) => x - y), [...acked.b].sort((x, y) => x - y));
        assert.deepEqual([...seqs(logC)].sort((x, y) => x - y), [...acked.c].sort((x, y) => x - y));

        // Each message is one job in its queue, however often A had to resend it.
        await until(
          async () => (await getJson(`${b!.url}/queues/inbox/counts`)).completed === PER_PEER,
          "B done",
        );
        const bCounts = await getJson(`${b.url}/queues/inbox/counts`);
        const cCounts = await getJson(`${c.url}/queues/inbox/counts`);
        assert.equal(bCounts.completed, PER_PEER, JSON.stringify(bCounts));
        assert.equal(cCounts.completed, PER_PEER, JSON.stringify(cCounts));

        // Duplicates at B's app: only a message the killed B handled whose completion died with it,
        // handled again (same job) by the restarted B; at most its worker's concurrency (4) of them.
        const bySeq = new Map<number, { incarnation: number; job: string }[]>();
        for (const h of handled(logB)) bySeq.set(h.seq, [...(bySeq.get(h.seq) ?? []), h]);
        const dups = [...bySeq].filter(([, hs]) => hs.length > 1);
        for (const [seq, hs] of dups) {
          assert.equal(hs.length, 2, `seq ${seq} handled ${hs.length} times`);
          assert.deepEqual(
            hs.map((h) => h.incarnation),
            [1, 2],
            `seq ${seq}: first by the killed B, then the restarted one`,
          );
          assert.equal(hs[0].job, hs[1].job, `seq ${seq}: the same job both times (not a second delivery)`);
        }
        assert.ok(dups.length <= 4, `${dups.length} duplicates, more than B's concurrency explains`);
        assert.equal(handled(logC).length, PER_PEER, "C was never killed: no duplicates");

        // The kill was felt: some deliveries to B needed more than one attempt.
        const outbox = await fetch(
          `${a.url}/queues/kvq.outbox.a/jobs?state=completed&limit=1000&payloads=true`,
        );
        const { jobs } = await outbox.json() as { jobs: { attempt: number; data: { app: string } }[] };
        const retried = jobs.filter((j) => j.data.app === "b" && j.attempt > 1).length;
        assert.ok(retried > 0, "some deliveries to B were retried");
        console.log(
          `# delivery: ${sentAfterKill} sent to B after the kill, ${retried} retried, ` +
            `${dups.length} handled twice by B's app (explained by the kill)`,
        );

        // Forged or altered messages to B are refused and never reach its app.
        const queue = "inbox";
        const send = async (
          o: { id: string; source?: string; key?: string; body?: string; sentBody?: string; sentId?: string },
        ) => {
          const body = o.body ?? JSON.stringify({ data: { seq: 9000 } });
          const timestamp = Date.now();
          const source = o.source ?? "a";
          const signature = await signDelivery(o.key ?? KEY, {
            id: o.id,
            source,
            target: "b",
            queue,
            timestamp,
            body: new TextEncoder().encode(body),
          });
          const res = await fetch(`${b!.url}/deliver/${queue}`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              [DELIVERY_HEADERS.id]: o.sentId ?? o.id,
              [DELIVERY_HEADERS.source]: source,
              [DELIVERY_HEADERS.target]: "b",
              [DELIVERY_HEADERS.timestamp]: String(timestamp),
              [DELIVERY_HEADERS.signature]: signature,
            },
            body: o.sentBody ?? body,
          });
          await res.body?.cancel();
          return res.status;
        };
        assert.equal(await send({ id: "01JFORGED00000000000000001", key: "guessed-key" }), 401, "bad HMAC");
        assert.equal(
          await send({ id: "01JFORGED00000000000000002", sentBody: JSON.stringify({ data: { seq: 9001 } }) }),
          401,
          "altered body",
        );
        assert.equal(
          await send({ id: "01JFORGED00000000000000003", sentId: "01JFORGED00000000000000004" }),
          401,
          "replayed with another id",
        );
        assert.equal(
          await send({ id: "01JFORGED00000000000000005", source: "mallory" }),
          401,
          "unknown source",
        );
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(handled(logB).filter((h) => h.seq >= 9000).length, 0, "nothing forged reached B's app");
        assert.equal((await getJson(`${b.url}/queues/inbox/counts`)).completed, PER_PEER);
      } finally {
        await Promise.all([stop(a), stop(b), stop(c)]);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
