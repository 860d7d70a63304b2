// App-to-app delivery between sidecars in one process: the peers' fetch is routed to the other
// servers' handlers by host name, so every test runs the real HTTP handlers without ports.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { Queue } from "../../mod.ts";
import {
  createServer,
  DELIVERY_HEADERS,
  type DeliveryEvent,
  type DeliveryOptions,
  type KvqServer,
  outboxName,
  type PoisonedMessage,
  resolverOf,
  type ServerOptions,
  signDelivery,
} from "../../server/mod.ts";
import { client, until } from "./_helpers.ts";

const KEY = "shared-delivery-key";

/** A network of in-process sidecars: `net.fetch` routes a request to the server named by its host. */
class Net {
  readonly servers = new Map<string, KvqServer>();
  readonly stores: MemoryKv[] = [];
  /** Host names that answer with a network error (a peer that is down). */
  readonly down = new Set<string>();
  /** Requests seen per host. */
  readonly hits = new Map<string, number>();
  fetch = (request: Request): Promise<Response> => {
    const host = new URL(request.url).hostname;
    this.hits.set(host, (this.hits.get(host) ?? 0) + 1);
    const server = this.servers.get(host);
    if (!server || this.down.has(host)) return Promise.reject(new TypeError(`fetch failed: ${host} is down`));
    return server.fetch(request);
  };

  add(
    appId: string,
    delivery: Partial<DeliveryOptions> = {},
    extra: Partial<ServerOptions> & { store?: MemoryKv } = {},
  ): KvqServer {
    const store = extra.store ?? new MemoryKv();
    if (!extra.store) this.stores.push(store);
    const server = createServer({
      ...extra,
      store,
      appId,
      allowedHosts: [...this.servers.keys(), appId, "a", "b", "c"],
      delivery: {
        key: KEY,
        peers: "http://{app}",
        acceptFrom: "*",
        retry: { attempts: 3, backoff: { type: "fixed", delay: 5 } },
        fetch: this.fetch,
        ...delivery,
      },
    });
    this.servers.set(appId, server);
    return server;
  }

  async close(): Promise<void> {
    for (const s of this.servers.values()) await s.close();
    for (const s of this.stores) await s.close();
    this.servers.clear();
  }
}

let net: Net;
afterEach(async () => await net?.close());

const count = async (server: KvqServer, queue: string): Promise<number> => {
  const c = await server.queue(queue).counts();
  return c.ready + c.scheduled + c.active + c.failed + c.completed + c.dead;
};

/** A signed delivery request to `to` as app `source` would send it, with optional tampering. */
async function signedRequest(
  to: string,
  queue: string,
  init: {
    id?: string;
    source?: string;
    target?: string;
    body?: string;
    key?: string;
    timestamp?: number;
    sendBody?: string;
    sendId?: string;
  } = {},
): Promise<Request> {
  const id = init.id ?? "01JTESTMESSAGE000000000001";
  const source = init.source ?? "a";
  const target = init.target ?? to;
  const body = new TextEncoder().encode(init.body ?? '{"data":{"n":1}}');
  const timestamp = init.timestamp ?? Date.now();
  const signature = await signDelivery(init.key ?? KEY, { id, source, target, queue, timestamp, body });
  return new Request(`http://${to}/deliver/${queue}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      [DELIVERY_HEADERS.id]: init.sendId ?? id,
      [DELIVERY_HEADERS.source]: source,
      [DELIVERY_HEADERS.target]: target,
      [DELIVERY_HEADERS.timestamp]: String(timestamp),
      [DELIVERY_HEADERS.signature]: signature,
    },
    body: init.sendBody ?? init.body ?? '{"data":{"n":1}}',
  });
}

describe("delivery", () => {
  test("a persistent message goes through the durable outbox and lands once in the target queue", async () => {
    net = new Net();
    const events: DeliveryEvent[] = [];
    const a = net.add("a", { onEvent: (e) => events.push(e) });
    const b = net.add("b");
    const call = client(a);
    const res = await call("POST", "/send/b/inbox", { data: { hello: "b" } });
    assert.equal(res.status, 202);
    assert.equal(res.body.message.transient, false);
    const id = res.body.message.id;
    await until(async () => (await count(b, "inbox")) === 1, "the message in b's inbox");
    const [job] = (await b.queue("inbox").list("ready")).jobs;
    assert.deepEqual(job.data, { hello: "b" });
    assert.equal(job.key, `kvq.delivery:a:${id}`);
    await until(async () => (await a.delivery!.outbox!.counts()).completed === 1, "the outbox job completed");
    assert.deepEqual(events.map((e) => [e.type, e.peer, e.id]), [["delivered", "b", id]]);
    assert.equal(a.delivery!.counters().b.delivered, 1);
    assert.equal(b.delivery!.counters().a.received, 1);
    // The server's metrics count it too (kvq_deliveries_total{peer="b"}).
    assert.deepEqual((await a.metrics.snapshot()).peers, [{ peer: "b", deliveries: 1, poison: 0 }]);
  });

  test("a message resent with the same id is acknowledged and stored once (dedupe by message id)", async () => {
    net = new Net();
    const b = net.add("b");
    const first = await b.fetch(await signedRequest("b", "inbox"));
    assert.equal(first.status, 201);
    const again = await b.fetch(await signedRequest("b", "inbox"));
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { duplicate: boolean }).duplicate, true);
    assert.equal(await count(b, "inbox"), 1);
    assert.equal(b.delivery!.counters().a.duplicates, 1);
  });

  test("forged, altered, replayed, foreign, misdirected and stale messages are refused and never stored", async () => {
    net = new Net();
    const b = net.add("b", { acceptFrom: ["a"] });
    const cases: [string, Request][] = [
      ["bad HMAC", await signedRequest("b", "inbox", { key: "not-the-key" })],
      ["altered body", await signedRequest("b", "inbox", { sendBody: '{"data":{"n":999}}' })],
      [
        "replayed with another id",
        await signedRequest("b", "inbox", { sendId: "01JTESTMESSAGE000000000999" }),
      ],
      ["unknown source", await signedRequest("b", "inbox", { source: "mallory" })],
      ["for another app", await signedRequest("b", "inbox", { target: "c" })],
      ["stale timestamp", await signedRequest("b", "inbox", { timestamp: Date.now() - 3_600_000 })],
      [
        "unsigned",
        new Request("http://b/deliver/inbox", {
          method: "POST",
          body: '{"data":1}',
          headers: { "content-type": "application/json" },
        }),
      ],
    ];
    for (const [what, req] of cases) {
      const res = await b.fetch(req);
      const body = (await res.json()) as { error: { name: string } };
      assert.equal(res.status, 401, what);
      assert.equal(body.error.name, "DeliveryRefusedError", what);
    }
    assert.equal(await count(b, "inbox"), 0);
    const counters = b.delivery!.counters();
    assert.equal(Object.values(counters).reduce((n, c) => n + c.rejected, 0), cases.length);
    // The genuine message still goes through.
    assert.equal((await b.fetch(await signedRequest("b", "inbox"))).status, 201);
  });

  test("peers cannot deliver into the sidecar's own queues (kvq.*)", async () => {
    net = new Net();
    const b = net.add("b");
    const res = await b.fetch(await signedRequest("b", outboxName("b")));
    assert.equal(res.status, 400);
    const send = await client(b)("POST", `/send/a/${outboxName("a")}`, { data: 1 });
    assert.equal(send.status, 400);
  });

  test("/send checks the bearer token and its fields; /deliver needs no token, only a signature", async () => {
    net = new Net();
    const b = net.add("b", {}, { auth: "tok" });
    const call = client(b);
    assert.equal((await call("POST", "/send/a/inbox", { data: 1 })).status, 401);
    assert.equal(
      (await call("POST", "/send/a/inbox", { data: 1, trnsient: true }, { token: "tok" })).status,
      400,
    );
    assert.equal(
      (await call("POST", "/send/a/inbox", { data: 1, transient: "yes" }, { token: "tok" })).status,
      400,
    );
    assert.equal((await call("POST", "/send/a/inbox", { nodata: 1 }, { token: "tok" })).status, 400);
    assert.equal((await call("POST", "/send/a%20b/inbox", { data: 1 }, { token: "tok" })).status, 400);
    assert.equal((await b.fetch(await signedRequest("b", "inbox"))).status, 201);
  });

  test("a transient message is delivered from memory and never written to the store", async () => {
    net = new Net();
    const a = net.add("a");
    const b = net.add("b");
    const sent = await a.delivery!.send("b", "inbox", { fast: true }, { transient: true });
    assert.equal(sent.transient, true);
    await until(async () => (await count(b, "inbox")) === 1, "the transient message in b's inbox");
    const durable = await a.delivery!.outbox!.counts();
    assert.equal(durable.completed + durable.ready + durable.active, 0);
    assert.equal((await a.delivery!.transientOutbox.counts()).completed, 1);
    const res = await client(a)("POST", "/send/b/inbox", { data: 2, transient: true });
    assert.equal(res.status, 202);
    assert.equal(res.body.message.transient, true);
    await until(async () => (await count(b, "inbox")) === 2, "the second one");
  });

  test("a crash loses undelivered transient messages and keeps persistent ones", async () => {
    net = new Net();
    const storeA = new MemoryKv(); // outlives the sidecar, as a durable store outlives a crash
    net.stores.push(storeA);
    net.down.add("b");
    const a1 = net.add("a", { retry: { attempts: 1000, backoff: { type: "fixed", delay: 20 } } }, {
      store: storeA,
    });
    const b = net.add("b");
    await a1.delivery!.send("b", "inbox", "persistent");
    await a1.delivery!.send("b", "inbox", "transient", { transient: true });
    await until(() => (net.hits.get("b") ?? 0) >= 4, "attempts against the down peer");
    await a1.close(); // the process ends: its memory (the transient outbox) is gone
    net.down.delete("b");
    const a2 = net.add("a", {}, { store: storeA });
    await until(
      async () => (await count(b, "inbox")) === 1,
      "the persistent message delivered after the restart",
    );
    await new Promise((r) => setTimeout(r, 100));
    const jobs = (await b.queue("inbox").list("ready")).jobs.map((j) => j.data);
    assert.deepEqual(jobs, ["persistent"]);
    assert.equal((await a2.delivery!.transientOutbox.counts()).ready, 0);
  });

  test("receiver overflow (429) poisons at once, with the reason, into the outbox's dead jobs and every sink", async () => {
    net = new Net();
    const hook: unknown[] = [];
    const hookServer = {
      fetch: async (r: Request) => (hook.push(await r.json()), new Response(null, { status: 204 })),
    };
    const seen: PoisonedMessage[] = [];
    const sinkStore = new MemoryKv();
    net.stores.push(sinkStore);
    const sinkQueue = new Queue(sinkStore, "poison");
    const route = net.fetch;
    net.fetch = (r) => new URL(r.url).hostname === "hooks" ? hookServer.fetch(r) : route(r);
    const a = net.add("a", { poisonSink: (m) => void seen.push(m) });
    const a2 = net.add("a2", { poisonSink: "http://hooks/poison" });
    const a3 = net.add("a3", { poisonSink: sinkQueue });
    const b = net.add("b", {}, { queueOptions: { maxQueued: 1 } });
    await b.queue("inbox").add("filler");
    const m1 = await a.delivery!.send("b", "inbox", 1);
    await a2.delivery!.send("b", "inbox", 2);
    await a3.delivery!.send("b", "inbox", 3);
    await until(() => seen.length === 1 && hook.length === 1, "the callback and the webhook");
    await until(async () => (await sinkQueue.counts()).ready === 1, "the sink queue");
    assert.equal(seen[0].reason, "overflow");
    assert.equal(seen[0].id, m1.id);
    assert.equal(seen[0].attempts, 1);
    assert.equal((hook[0] as PoisonedMessage).reason, "overflow");
    await until(async () => (await a.delivery!.outbox!.counts()).dead === 1, "the poison queue");
    const [dead] = (await a.delivery!.outbox!.list("dead")).jobs;
    assert.equal(dead.reason, "permanent");
    assert.equal(dead.error?.name, "PoisonedError");
    assert.match(dead.error!.message, /^Poisoned \(overflow\): http:\/\/b answered 429/);
    assert.equal(a.delivery!.counters().b.poisoned, 1);
    assert.equal((await a.metrics.snapshot()).peers.find((p) => p.peer === "b")?.poison, 1);
    assert.equal(await count(b, "inbox"), 1);
  });

  test("a receiving queue with overflow dead keeps a message that finds it full in its own dead jobs", async () => {
    net = new Net();
    const a = net.add("a");
    const b = net.add("b", {}, { queueOptions: { maxQueued: 1, overflow: "dead" } });
    await b.queue("inbox").add("filler");
    await a.delivery!.send("b", "inbox", "late");
    await until(async () => (await b.queue("inbox").counts()).dead === 1, "the message dead at b");
    const [dead] = (await b.queue("inbox").list("dead")).jobs;
    assert.equal(dead.data, "late");
    assert.equal(dead.reason, "overflow");
    await until(async () => (await a.delivery!.outbox!.counts()).completed === 1, "acknowledged to a");
  });

  test("a peer that keeps failing is retried with the route's policy, then poisoned as exhausted", async () => {
    net = new Net();
    const events: DeliveryEvent[] = [];
    net.down.add("b");
    const a = net.add("a", {
      onEvent: (e) => events.push(e),
      routes: { "b/slow": { attempts: 5 }, b: { attempts: 2 } },
    });
    net.add("b");
    await a.delivery!.send("b", "inbox", 1);
    await a.delivery!.send("b", "slow", 2);
    await until(async () => (await a.delivery!.outbox!.counts()).dead === 2, "both poisoned", 10_000);
    const byQueue = (q: string, type: string) =>
      events.filter((e) => e.queue === q && e.type === type).length;
    assert.equal(byQueue("inbox", "retried"), 1);
    assert.equal(byQueue("slow", "retried"), 4);
    const poisoned = events.filter((e) => e.type === "poisoned");
    assert.deepEqual(poisoned.map((e) => e.reason), ["exhausted", "exhausted"]);
    assert.deepEqual(a.delivery!.counters().b, {
      delivered: 0,
      retried: 5,
      poisoned: 2,
      received: 0,
      duplicates: 0,
      rejected: 0,
    });
  });

  test("an unknown app is poisoned as unresolved; a wrong per-peer key as refused", async () => {
    net = new Net();
    const seen: PoisonedMessage[] = [];
    const a = net.add("a", {
      key: undefined,
      peers: { b: "http://b" },
      peerKeys: { b: "a-b-key", c: "a-c-key" },
      poisonSink: (m) => void seen.push(m),
    });
    net.add("b", {
      key: undefined,
      peers: { a: "http://a" },
      peerKeys: { a: "a-b-key" },
      acceptFrom: undefined,
    });
    await a.delivery!.send("nobody", "inbox", 1);
    await until(() => seen.length === 1, "unresolved");
    assert.equal(seen[0].reason, "unresolved");
    const ok = await a.delivery!.send("b", "inbox", 2);
    await until(
      async () => (await count(net.servers.get("b")!, "inbox")) === 1,
      "delivered with the per-peer key",
    );
    assert.ok(ok.created);
    // b accepts a (named in its peers map) with the a-b key only.
    const forged = await net.servers.get("b")!.fetch(await signedRequest("b", "inbox", { key: "a-c-key" }));
    assert.equal(forged.status, 401);
  });

  test("an idempotency key on /send stores the message once", async () => {
    net = new Net();
    const a = net.add("a");
    const b = net.add("b");
    const one = await a.delivery!.send("b", "inbox", 1, { key: "order-7" });
    const two = await a.delivery!.send("b", "inbox", 1, { key: "order-7" });
    assert.equal(one.id, two.id);
    assert.equal(two.created, false);
    await until(async () => (await count(b, "inbox")) === 1, "delivered");
  });
});

describe("resolverOf", () => {
  test("a static map knows its apps only; a template fills {app} and its vars", async () => {
    const map = resolverOf({ b: "127.0.0.1:9000", c: "https://c.example/" });
    assert.equal(await map.resolve("b"), "http://127.0.0.1:9000");
    assert.equal(await map.resolve("c"), "https://c.example");
    assert.deepEqual(map.named, ["b", "c"]);
    assert.throws(() => map.resolve("d"), { name: "UnknownPeerError" });
    const dns = resolverOf({
      template: "{app}.{namespace}.svc.cluster.local:{port}",
      vars: { namespace: "prod", port: 8787 },
    });
    assert.equal(await dns.resolve("billing"), "http://billing.prod.svc.cluster.local:8787");
    assert.throws(() => resolverOf("http://{app}:{port}"), /no value for \{port\}/);
    assert.throws(() => resolverOf("http://fixed"), /must contain \{app\}/);
    assert.throws(() => resolverOf({ "bad name": "http://x" }), TypeError);
  });

  test("createServer refuses delivery without appId, and delivery without keys", () => {
    const store = new MemoryKv();
    assert.throws(() => createServer({ store, delivery: { key: KEY } }), /needs `appId`/);
    assert.throws(() => createServer({ store, appId: "a", delivery: {} }), /give a shared `key`/);
    assert.throws(() => createServer({ store, appId: "a b", delivery: { key: KEY } }), /Invalid app id/);
  });
});
