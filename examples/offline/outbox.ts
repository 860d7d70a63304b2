// An offline-first outbox for a browser app: every outgoing request is a kvq job in IndexedDB, and
// a worker sends it, retrying with backoff while the network is down, until the server answers
// (what workbox-background-sync does). Requests survive a reload or a closed tab: the next page
// load's worker sends what is still waiting, and several tabs share one outbox without sending a
// request twice at once. Each request carries its job id as `Idempotency-Key`, so a server can
// drop the duplicate that at-least-once delivery may send after a crash between the send and the
// commit that records it.
//
// Bundle it for the page: deno bundle --platform=browser -o outbox.js examples/offline/outbox.ts
// and open index.html (tests/indexeddb/offline_example_test.ts does that in Chromium, offline and
// back online).
import { IndexedDbKv } from "../../adapters/indexeddb/mod.ts";
import { Queue } from "../../mod.ts";

/** One outgoing request. */
export interface OutgoingRequest {
  /** Where to send it. */
  readonly url: string;
  /** The JSON body. */
  readonly body: unknown;
}

/** The outbox a page talks to. */
export interface Outbox {
  /** Queues a request; resolves once it is stored (it is sent when the network allows). */
  send(request: OutgoingRequest): Promise<string>;
  /** How many requests wait, and how many were sent. */
  status(): Promise<{ waiting: number; sent: number }>;
  /** Stops the worker and closes the store. */
  close(): Promise<void>;
}

/** Opens the outbox in the IndexedDB database `dbName` and starts its worker. */
export async function openOutbox(dbName = "kvq-outbox"): Promise<Outbox> {
  const kv = await IndexedDbKv.open({ dbName });
  const queue = new Queue<OutgoingRequest>(kv, "outbox", {
    maxAttempts: 10_000, // keep trying while offline; the backoff caps the pace
    backoff: { type: "exponential", delay: 250, max: 2_000 },
  });
  const worker = queue.process(async (job) => {
    const response = await fetch(job.data.url, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": job.id },
      body: JSON.stringify(job.data.body),
    });
    if (!response.ok) throw new Error(`${job.data.url} answered ${response.status}`);
  });
  return {
    async send(request) {
      return (await queue.add(request)).id;
    },
    async status() {
      const c = await queue.counts();
      return { waiting: c.ready + c.scheduled + c.active + c.failed, sent: c.completed };
    },
    async close() {
      await worker.close({ timeout: 5_000 });
      await kv.close();
    },
  };
}

// On the example page: wire the form and show the outbox's state.
const doc = (globalThis as unknown as { document?: { getElementById(id: string): unknown } }).document;
const form = doc?.getElementById("compose") as
  | { addEventListener(t: string, f: (e: { preventDefault(): void }) => void): void }
  | null
  | undefined;
if (doc && form) {
  const outbox = await openOutbox();
  const message = doc.getElementById("message") as { value: string };
  const status = doc.getElementById("status") as { textContent: string };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void outbox.send({ url: "/api/messages", body: { text: message.value } });
    message.value = "";
  });
  setInterval(async () => {
    const s = await outbox.status();
    status.textContent = `${s.waiting} waiting, ${s.sent} sent`;
  }, 500);
  (globalThis as unknown as { outbox: Outbox }).outbox = outbox;
}
