// The sidecar's metrics: the Prometheus text has every series and parses; the totals come from the
// store (two servers on one store agree, jobs are counted once they are settleMs old); the callback
// sink is flushed periodically; an OTLP push reaches a local receiver; deliveries and poison per peer.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { readdirSync, readFileSync } from "node:fs";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { openStore } from "../../adapters/store/mod.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AttemptOutcome, FakeClock, type Queue } from "../../mod.ts";
import {
  callbackSink,
  createServer,
  type MetricsSnapshot,
  otlpSink,
  OtlpUnavailableError,
  type QueueMetrics,
  renderPrometheus,
} from "../../server/mod.ts";
import { until } from "./_helpers.ts";
import { sinceRedrive } from "../../server/metrics/ledger.ts";

/** One sample line of the text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (0.0.4) strictly: every line is a comment or a sample. */
function parse(text: string): { samples: Sample[]; types: Map<string, string>; helps: Set<string> } {
  assert.ok(text.endsWith("\n"), "the text ends with a newline");
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const line of text.trimEnd().split("\n")) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (help) {
      helps.add(help[1]);
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      let at = 0;
      while (at < m[2].length) {
        re.lastIndex = at;
        const l = re.exec(m[2]);
        assert.ok(l, `labels of ${line}`);
        labels[l[1]] = l[2];
        at = re.lastIndex;
      }
    }
    const value = Number(m[3]);
    assert.ok(!Number.isNaN(value), `a number in ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, types, helps };
}

/** The totals of a snapshot (what must agree between servers). */
function totals(s: MetricsSnapshot): Omit<QueueMetrics, "counts" | "paused" | "oldestReadyAgeMs">[] {
  return s.queues.map(({ counts: _c, paused: _p, oldestReadyAgeMs: _o, ...rest }) => rest);
}

/**
 * On a fake clock: mail gets one completed job (waited 0.5 s, ran 0.25 s), one dead after one failed
 * attempt, one canceled, one ready since t=1000 and one ready with priority 5 since t=1500.
 */
async function history(q: Queue, clock: FakeClock): Promise<void> {
  const a = await q.add("done");
  const b = await q.add("dies", { maxAttempts: 1 });
  const c = await q.add("canceled");
  await clock.advance(500); // t = 1500
  const claimed = await q.claim({ limit: 2 }); // a and b: same priority, oldest first
  assert.deepEqual(claimed.map((c) => c.job.id), [a.id, b.id]);
  await q.add("waits", { priority: 5 });
  await clock.advance(250); // t = 1750
  await q.complete(a.id, claimed[0].token, "ok");
  await q.fail(b.id, claimed[1].token, new Error("no"), { retry: false });
  await q.cancel(c.id);
}

describe("server metrics", () => {
  test("GET /metrics parses as Prometheus text and has every series", async () => {
    const clock = new FakeClock(1000);
    const store = new MemoryKv();
    const app = createServer({ store, queueOptions: { clock }, metrics: { settleMs: 0 } });
    try {
      await history(app.queue("mail"), clock);
      await app.queue("idle").pause();
      app.metrics.recordDelivery("billing", 3);
      app.metrics.recordPoison("billing");
      app.metrics.recordDelivery('we"ird');
      await clock.advance(250); // t = 2000
      const res = await app.fetch(new Request("http://localhost/metrics"));
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const { samples, types, helps } = parse(await res.text());
      const families: Record<string, string> = {
        kvq_jobs: "gauge",
        kvq_queue_paused: "gauge",
        kvq_oldest_ready_age_seconds: "gauge",
        kvq_jobs_completed_total: "counter",
        kvq_jobs_dead_total: "counter",
        kvq_jobs_canceled_total: "counter",
        kvq_attempts_total: "counter",
        kvq_job_wait_seconds: "histogram",
        kvq_attempt_duration_seconds: "histogram",
        kvq_deliveries_total: "counter",
        kvq_delivery_poison_total: "counter",
      };
      assert.deepEqual(Object.fromEntries(types), families);
      assert.deepEqual([...helps].sort(), Object.keys(families).sort());
      const one = (name: string, labels: Record<string, string>) => {
        const found = samples.filter((s) =>
          s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) &&
          Object.keys(s.labels).length === Object.keys(labels).length
        );
        assert.equal(found.length, 1, `${name} ${JSON.stringify(labels)}`);
        return found[0].value;
      };
      const mail = { queue: "mail" };
      assert.equal(one("kvq_jobs", { queue: "mail", state: "ready" }), 1);
      assert.equal(one("kvq_jobs", { queue: "mail", state: "completed" }), 1);
      assert.equal(one("kvq_jobs", { queue: "mail", state: "dead" }), 1);
      assert.equal(one("kvq_jobs", { queue: "mail", state: "canceled" }), 1);
      assert.equal(one("kvq_queue_paused", { queue: "idle" }), 1);
      assert.equal(one("kvq_queue_paused", mail), 0);
      // The head of priority 5 has waited since 1500, the canceled one is gone: 0.5 s at t = 2000.
      assert.equal(one("kvq_oldest_ready_age_seconds", mail), 0.5);
      assert.equal(one("kvq_oldest_ready_age_seconds", { queue: "idle" }), 0);
      assert.equal(one("kvq_jobs_completed_total", mail), 1);
      assert.equal(one("kvq_jobs_dead_total", mail), 1);
      assert.equal(one("kvq_jobs_canceled_total", mail), 1);
      assert.equal(one("kvq_attempts_total", { queue: "mail", outcome: "completed" }), 1);
      assert.equal(one("kvq_attempts_total", { queue: "mail", outcome: "failed" }), 1);
      assert.equal(one("kvq_attempts_total", { queue: "mail", outcome: "stalled" }), 0);
      // Two jobs started (a and b) after waiting 0.5 s; their attempts ran 0.25 s each.
      assert.equal(one("kvq_job_wait_seconds_count", mail), 2);
      assert.equal(one("kvq_job_wait_seconds_sum", mail), 1);
      assert.equal(one("kvq_job_wait_seconds_bucket", { queue: "mail", le: "0.25" }), 0);
      assert.equal(one("kvq_job_wait_seconds_bucket", { queue: "mail", le: "0.5" }), 2);
      assert.equal(one("kvq_attempt_duration_seconds_count", mail), 2);
      assert.equal(one("kvq_attempt_duration_seconds_sum", mail), 0.5);
      assert.equal(one("kvq_attempt_duration_seconds_bucket", { queue: "mail", le: "0.1" }), 0);
      assert.equal(one("kvq_attempt_duration_seconds_bucket", { queue: "mail", le: "0.25" }), 2);
      for (const name of ["kvq_job_wait_seconds", "kvq_attempt_duration_seconds"]) {
        for (const queue of ["idle", "mail"]) {
          const buckets = samples.filter((s) => s.name === `${name}_bucket` && s.labels.queue === queue);
          assert.equal(buckets.at(-1)?.labels.le, "+Inf");
          for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
          assert.equal(buckets.at(-1)?.value, one(`${name}_count`, { queue }));
        }
      }
      assert.equal(one("kvq_deliveries_total", { peer: "billing" }), 3);
      assert.equal(one("kvq_delivery_poison_total", { peer: "billing" }), 1);
      assert.equal(one("kvq_deliveries_total", { peer: 'we\\"ird' }), 1);
      assert.equal(one("kvq_delivery_poison_total", { peer: 'we\\"ird' }), 0);
    } finally {
      await app.close();
      await store.close();
    }
  });

  test("totals count a job only once its end is settleMs old, and only once", async () => {
    const clock = new FakeClock(1000);
    const store = new MemoryKv();
    const app = createServer({ store, queueOptions: { clock }, metrics: { settleMs: 1000 } });
    try {
      await history(app.queue("mail"), clock); // ended at t = 1750
      const early = (await app.metrics.snapshot()).queues[0];
      assert.equal(early.completed + early.dead + early.canceled, 0);
      await clock.advance(999); // t = 2749: still 1 ms short
      assert.equal((await app.metrics.snapshot()).queues[0].completed, 0);
      await clock.advance(1); // t = 2750
      for (let i = 0; i < 3; i++) {
        const q = (await app.metrics.snapshot()).queues[0];
        assert.deepEqual([q.completed, q.dead, q.canceled, q.run.count], [1, 1, 1, 2]);
      }
    } finally {
      await app.close();
      await store.close();
    }
  });

  test("totals read past one list page exactly, and count a job redriven and dead again twice", async () => {
    const clock = new FakeClock(1000);
    const store = new MemoryKv();
    const app = createServer({ store, queueOptions: { clock }, metrics: { settleMs: 0 } });
    try {
      const q = app.queue("bulk");
      await q.addBulk(Array.from({ length: 450 }, (_, i) => ({ data: i })));
      for (let left = 450; left > 0; left -= 100) {
        for (const c of await q.claim({ limit: 100 })) await q.complete(c.job.id, c.token, null);
        await clock.advance(1);
      }
      assert.equal((await app.metrics.snapshot()).queues[0].completed, 450);
      const d = await q.add("d", { maxAttempts: 1 });
      for (let round = 0; round < 2; round++) {
        const [c] = await q.claim();
        await q.fail(c.job.id, c.token, new Error("no"), { retry: false });
        await clock.advance(1);
        assert.equal((await app.metrics.snapshot()).queues[0].dead, round + 1);
        if (round === 0) await q.redrive(d.id);
      }
      const last = (await app.metrics.snapshot()).queues[0];
      assert.deepEqual([last.completed, last.dead, last.attempts.completed, last.attempts.failed], [
        450,
        2,
        450,
        2,
      ]);
    } finally {
      await app.close();
      await store.close();
    }
  });

  test("sinceRedrive() keeps the attempts after the last redrive; a release does not cut", () => {
    const a = (attempt: number, outcome: AttemptOutcome) => ({ attempt, outcome, startedAt: 0, endedAt: 0 });
    assert.deepEqual(sinceRedrive([]), []);
    const life = [a(1, "failed"), a(2, "released"), a(2, "stalled"), a(3, "completed")];
    assert.deepEqual(sinceRedrive(life), life);
    assert.deepEqual(sinceRedrive([a(1, "failed"), a(2, "failed"), ...life]), life);
    assert.deepEqual(sinceRedrive([a(1, "failed"), a(1, "completed")]), [a(1, "completed")]);
    assert.deepEqual(sinceRedrive([a(1, "released"), a(1, "completed")]), [
      a(1, "released"),
      a(1, "completed"),
    ]);
  });

  test("two servers on one store report the same counter values", async () => {
    const clock = new FakeClock(1000);
    const store = new MemoryKv();
    const a = createServer({ store, queueOptions: { clock }, metrics: { settleMs: 0 } });
    const b = createServer({ store, queueOptions: { clock }, metrics: { settleMs: 0 } });
    try {
      const q = a.queue("mail");
      await history(q, clock);
      // b reads first: it never saw these jobs happen, yet counts them.
      const first = await b.metrics.snapshot();
      assert.deepEqual(totals(await a.metrics.snapshot()), totals(first));
      assert.equal(first.queues[0].completed, 1);
      // More work, then both read at once (their ledger writes conflict; each job still counts once).
      for (let i = 0; i < 20; i++) await q.add(i);
      const qb = b.queue("mail");
      for (const c of await qb.claim({ limit: 20 })) await qb.complete(c.job.id, c.token, c.job.data);
      assert.equal((await q.counts()).completed, 21);
      const [sa, sb] = await Promise.all([a.metrics.snapshot(), b.metrics.snapshot()]);
      const [again] = [await a.metrics.snapshot()];
      assert.deepEqual(totals(sb), totals(again));
      assert.equal(again.queues[0].completed, 21);
      assert.equal(again.queues[0].attempts.completed, 21);
      assert.ok(sa.queues[0].completed <= 21);
      // A third server started now agrees too.
      const c = createServer({ store, queueOptions: { clock }, metrics: { settleMs: 0 } });
      try {
        assert.deepEqual(totals(await c.metrics.snapshot()), totals(again));
      } finally {
        await c.close();
      }
    } finally {
      await a.close();
      await b.close();
      await store.close();
    }
  });

  test("two servers with their own handles on one durable store file report the same counters", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kvq-metrics-"));
    const clock = new FakeClock(1000);
    const one = await openStore(join(dir, "jobs.db"));
    const two = await openStore(join(dir, "jobs.db"));
    const a = createServer({ store: one, queueOptions: { clock }, metrics: { settleMs: 0 } });
    const b = createServer({ store: two, queueOptions: { clock }, metrics: { settleMs: 0 } });
    try {
      await history(a.queue("mail"), clock);
      const [sa, sb] = await Promise.all([a.metrics.snapshot(), b.metrics.snapshot()]);
      const again = await a.metrics.snapshot();
      assert.deepEqual(totals(sb), totals(again));
      assert.deepEqual(totals(sa), totals(again));
      assert.deepEqual([again.queues[0].completed, again.queues[0].dead, again.queues[0].canceled], [
        1,
        1,
        1,
      ]);
    } finally {
      await a.close();
      await b.close();
      await one.close();
      await two.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a callback sink gets periodic flushes, and one more when the server closes", async () => {
    const store = new MemoryKv();
    const seen: MetricsSnapshot[] = [];
    const app = createServer({
      store,
      metrics: { intervalMs: 100, settleMs: 0, sinks: [callbackSink((s) => void seen.push(s))] },
    });
    try {
      await app.queue("mail").add(1);
      await until(() => seen.length >= 2, "two flushes", 5000);
      assert.ok(seen[1].at >= seen[0].at + 90, "flushes are intervalMs apart");
      assert.equal(seen[1].queues.find((q) => q.queue === "mail")?.counts.ready, 1);
    } finally {
      const before = seen.length;
      await app.close();
      assert.equal(seen.length, before + 1, "close flushes once more");
      await store.close();
    }
    const after = seen.length;
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(seen.length, after, "no flush after close");
  });

  test("a sink that throws is reported to onError and the flushes go on", async () => {
    const store = new MemoryKv();
    const errors: unknown[] = [];
    let calls = 0;
    const app = createServer({
      store,
      metrics: {
        intervalMs: 100,
        onError: (e) => void errors.push(e),
        sinks: [callbackSink(() => {
          calls++;
          throw new Error("sink down");
        })],
      },
    });
    try {
      await until(() => calls >= 2, "two flushes");
      assert.ok(errors.length >= 2);
      assert.equal((errors[0] as Error).message, "sink down");
    } finally {
      await app.close();
      await store.close();
    }
  });

  test("an OTLP push reaches a local HTTP receiver with every metric", async () => {
    const bodies: { type: string; body: string }[] = [];
    const receiver = createHttpServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c) => body += c);
      req.on("end", () => {
        bodies.push({ type: String(req.headers["content-type"]), body });
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
    const port = (receiver.address() as { port: number }).port;
    const clock = new FakeClock(1000);
    const store = new MemoryKv();
    const app = createServer({
      store,
      queueOptions: { clock },
      metrics: {
        settleMs: 0,
        intervalMs: 60_000,
        sinks: [otlpSink({ url: `http://127.0.0.1:${port}/v1/metrics`, serviceName: "kvq-test" })],
      },
    });
    try {
      await history(app.queue("mail"), clock);
      app.metrics.recordDelivery("billing", 2);
      app.metrics.recordPoison("billing");
      await app.metrics.flush();
      assert.equal(bodies.length, 1);
      assert.match(bodies[0].type, /^application\/json/);
      const doc = JSON.parse(bodies[0].body);
      const rm = doc.resourceMetrics[0];
      const attrs = (list: { key: string; value: Record<string, unknown> }[]) =>
        Object.fromEntries(list.map((a) => [a.key, Object.values(a.value)[0]]));
      assert.equal(attrs(rm.resource.attributes)["service.name"], "kvq-test");
      // deno-lint-ignore no-explicit-any
      const metrics = new Map<string, any>(
        rm.scopeMetrics[0].metrics.map((m: { name: string }) => [m.name, m]),
      );
      assert.deepEqual([...metrics.keys()].sort(), [
        "kvq.attempt.duration",
        "kvq.attempts",
        "kvq.deliveries",
        "kvq.delivery.poison",
        "kvq.job.wait",
        "kvq.jobs",
        "kvq.jobs.ended",
        "kvq.oldest_ready.age",
        "kvq.queue.paused",
      ]);
      // deno-lint-ignore no-explicit-any
      const value = (p: any) => Number(p.asDouble ?? p.asInt ?? 0);
      // deno-lint-ignore no-explicit-any
      const point = (name: string, kind: string, labels: Record<string, string>): any => {
        const points = metrics.get(name)[kind].dataPoints.filter((p: { attributes: [] }) => {
          const a = attrs(p.attributes);
          return Object.entries(labels).every(([k, v]) => a[k] === v);
        });
        assert.equal(points.length, 1, `${name} ${JSON.stringify(labels)}`);
        return points[0];
      };
      assert.equal(value(point("kvq.jobs", "gauge", { queue: "mail", state: "ready" })), 1);
      assert.equal(value(point("kvq.jobs.ended", "sum", { queue: "mail", state: "completed" })), 1);
      assert.equal(value(point("kvq.jobs.ended", "sum", { queue: "mail", state: "dead" })), 1);
      assert.equal(metrics.get("kvq.jobs.ended").sum.isMonotonic, true);
      assert.equal(value(point("kvq.attempts", "sum", { queue: "mail", outcome: "failed" })), 1);
      assert.equal(value(point("kvq.deliveries", "sum", { peer: "billing" })), 2);
      assert.equal(value(point("kvq.delivery.poison", "sum", { peer: "billing" })), 1);
      const run = point("kvq.attempt.duration", "histogram", { queue: "mail" });
      assert.equal(Number(run.count), 2);
      assert.equal(run.sum, 0.5);
      assert.equal(run.bucketCounts.map(Number).reduce((x: number, y: number) => x + y, 0), 2);
      assert.equal(run.explicitBounds.length + 1, run.bucketCounts.length);
      const wait = point("kvq.job.wait", "histogram", { queue: "mail" });
      assert.equal(wait.sum, 1);
    } finally {
      await app.close();
      await store.close();
      await new Promise<void>((r) => receiver.close(() => r()));
      receiver.closeAllConnections();
    }
    assert.equal(bodies.length, 2, "close pushed once more");
  });

  test("otlpSink() refuses a URL that is not http(s), and names the missing SDK as its own error", () => {
    assert.throws(() => otlpSink({ url: "ftp://x" }), TypeError);
    assert.throws(() => otlpSink({ url: "nope" }), TypeError);
    assert.equal(new OtlpUnavailableError("x").name, "OtlpUnavailableError");
  });

  test("the server loads the OpenTelemetry SDK only through otlpSink's dynamic imports", () => {
    const dir = new URL("../../server/", import.meta.url);
    const files = [
      ...readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => new URL(f, dir)),
      ...readdirSync(new URL("metrics/", dir)).map((f) => new URL(`metrics/${f}`, dir)),
    ];
    for (const file of files) {
      const source = readFileSync(file, "utf8");
      for (const m of source.matchAll(/^\s*(import|export)\b[^;]*?from\s+"(@opentelemetry\/[^"]+)"/gms)) {
        assert.match(m[0], /^\s*import type\b/, `${file.pathname}: a static import of ${m[2]}`);
      }
    }
    const otlp = readFileSync(new URL("metrics/otlp.ts", dir), "utf8");
    assert.equal([...otlp.matchAll(/await import\("@opentelemetry\/|import\("@opentelemetry\//g)].length, 3);
  });

  test("metrics options are checked", () => {
    const store = new MemoryKv();
    assert.throws(() => createServer({ store, metrics: { intervalMs: 10 } }), RangeError);
    assert.throws(() => createServer({ store, metrics: { settleMs: -1 } }), RangeError);
    assert.throws(() => createServer({ store, metrics: { sinks: [{} as never] } }), TypeError);
    const app = createServer({ store });
    assert.throws(() => app.metrics.recordDelivery(""), TypeError);
    return app.close();
  });

  test("renderPrometheus() of an empty snapshot has every family and no samples", () => {
    const { samples, types } = parse(renderPrometheus({ at: 0, queues: [], peers: [] }));
    assert.equal(samples.length, 0);
    assert.equal(types.size, 11);
  });
});
