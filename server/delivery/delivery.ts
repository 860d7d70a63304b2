/**
 * App-to-app delivery: the outboxes (durable and transient), the delivery workers that forward
 * their messages to the target apps' sidecars, and the receiving end that verifies and stores what
 * peers send.
 *
 * A persistent message is a job of the `kvq.outbox.<appId>` queue in the sidecar's own store: `send`
 * resolves once it is committed, and the delivery worker (a kvq `Worker`) retries it with the
 * route's policy until the target's sidecar acknowledges it, or poisons it (the job goes `dead`
 * with a `PoisonedError` saying why: the poison queue is the outbox's dead jobs). A transient
 * message is the same job in an in-memory store: no write to disk, lost if this process ends
 * before it is delivered.
 *
 * @module
 */

import {
  type AtomicKv,
  type Clock,
  type Job,
  type JobContext,
  type KvKey,
  Queue,
  systemClock,
  type Worker,
} from "../../mod.ts";
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { checkQueueName } from "../_registry.ts";
import { readLimited } from "../_body.ts";
import { DeliveryRefusedError, PeerUnavailableError, PoisonedError, UnknownPeerError } from "./errors.ts";
import { Keyring } from "./keys.ts";
import { checkAppId, resolverOf } from "./resolver.ts";
import { HEADERS, signWith, verifyWith } from "./signature.ts";
import { type SinkFn, sinkOf } from "./poison.ts";
import type {
  DeliveryEvent,
  DeliveryOptions,
  PeerCounters,
  PoisonedMessage,
  PoisonReason,
  Resolver,
  RetryPolicy,
} from "./types.ts";

/**
 * The name of app `appId`'s outbox queue (in the store, and in the transient memory store):
 * `kvq.outbox.<appId>`, one per app, so sidecars of different apps can share a store.
 *
 * @param appId The app id.
 * @returns The queue name.
 *
 * @example
 * ```ts
 * import { outboxName } from "./delivery.ts";
 * console.log(outboxName("shop")); // "kvq.outbox.shop"
 * ```
 */
export function outboxName(appId: string): string {
  return `kvq.outbox.${appId}`;
}
/** Queue names starting with this are the sidecar's own: peers cannot deliver into them. */
const RESERVED = "kvq.";
const DEFAULT_RETRY: Required<RetryPolicy> = {
  attempts: 10,
  backoff: { type: "exponential", delay: 500, max: 30_000 },
};
const MESSAGE_ID = /^[0-9A-Za-z]{1,64}$/;

/** An outbox job's payload. */
interface OutboxMessage {
  /** The target app. */
  app: string;
  /** The target queue. */
  queue: string;
  /** The payload. */
  data: unknown;
}

/** Options of one {@linkcode Delivery.send}. */
export interface SendOptions {
  /**
   * Keep the message in memory only: faster (no store commit), but lost if this process ends before
   * the target acknowledges it. @default false (persistent: in the durable outbox)
   */
  transient?: boolean;
  /** An idempotency key: a second send with the same key (while the first is kept) returns the first's id. */
  key?: string;
}

/** What {@linkcode Delivery.send} returns. */
export interface SentMessage {
  /** The message id (the receiver dedupes by it). */
  readonly id: string;
  /** Whether it is held in memory only. */
  readonly transient: boolean;
  /** False when `key` matched a message already in the outbox (nothing new was stored). */
  readonly created: boolean;
}

/** What the delivery needs from its server. */
export interface DeliveryDeps {
  /** This sidecar's app id. */
  appId: string;
  /** The store the durable outbox lives in. */
  store: AtomicKv | undefined;
  /** The root prefix of the server's queues. */
  root?: KvKey;
  /** The server's queue `name` (for received messages). */
  queue: (name: string) => Queue;
  /** Largest request body. */
  maxBodyBytes: number;
}

/**
 * App-to-app delivery of one sidecar (created by `createServer({ appId, delivery })`, reached as
 * `server.delivery`).
 *
 * @example Send from one sidecar to another
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * import { createServer } from "@kvq/kvq/server";
 * const apps = new Map<string, { fetch(r: Request): Promise<Response> }>();
 * const route = (r: Request) => apps.get(new URL(r.url).hostname)!.fetch(r);
 * const make = (appId: string) =>
 *   createServer({
 *     store: new MemoryKv(),
 *     appId,
 *     allowedHosts: ["shop", "billing"],
 *     delivery: { key: "shared-secret", peers: "http://{app}", acceptFrom: "*", fetch: route },
 *   });
 * const shop = make("shop");
 * const billing = make("billing");
 * apps.set("shop", shop).set("billing", billing);
 * const sent = await shop.delivery!.send("billing", "invoices", { order: 7 });
 * const invoices = billing.queue("invoices");
 * while ((await invoices.counts()).ready === 0) await new Promise((r) => setTimeout(r, 10));
 * console.log(sent.transient, (await invoices.counts()).ready); // false 1
 * await shop.close();
 * await billing.close();
 * ```
 */
export class Delivery {
  /** This sidecar's app id. */
  readonly appId: string;
  readonly #deps: DeliveryDeps;
  readonly #keys: Keyring;
  readonly #resolve: Resolver;
  readonly #sink: SinkFn | undefined;
  readonly #onEvent: ((event: DeliveryEvent) => void) | undefined;
  readonly #clock: Clock;
  readonly #fetch: (request: Request) => Promise<Response>;
  readonly #retry: Required<RetryPolicy>;
  readonly #routes: ReadonlyMap<string, RetryPolicy>;
  readonly #maxSkew: number;
  readonly #timeout: number;
  readonly #counters = new Map<string, PeerCounters>();
  readonly #durable: Queue<OutboxMessage> | undefined;
  readonly #transient: Queue<OutboxMessage>;
  readonly #workers: Worker<OutboxMessage>[] = [];
  #closed: Promise<void> | undefined;

  /**
   * Creates the delivery and starts its workers (`createServer` does this; call it yourself only to
   * embed delivery in another server).
   *
   * @param options The delivery options.
   * @param deps What it needs from its server.
   * @throws {TypeError} For a malformed option (app id, keys, peers, policy).
   */
  constructor(options: DeliveryOptions, deps: DeliveryDeps) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Invalid delivery options: expected an object");
    }
    this.appId = checkAppId(deps.appId, "appId");
    this.#deps = deps;
    const { resolve, named } = resolverOf(options.peers);
    this.#resolve = resolve;
    const accept = options.acceptFrom ?? [...new Set([...Object.keys(options.peerKeys ?? {}), ...named])];
    this.#keys = new Keyring(options.key, options.peerKeys, accept);
    this.#clock = options.clock ?? systemClock;
    this.#fetch = options.fetch ?? ((r) => fetch(r));
    this.#sink = sinkOf(options.poisonSink, this.#fetch);
    this.#onEvent = options.onEvent;
    this.#retry = policyOf(options.retry, DEFAULT_RETRY, "retry");
    const routes = new Map<string, RetryPolicy>();
    for (const [route, p] of Object.entries(options.routes ?? {})) {
      routes.set(route, policyOf(p, this.#retry, route));
    }
    this.#routes = routes;
    this.#maxSkew = options.maxSkewMs ?? 300_000;
    this.#timeout = options.requestTimeoutMs ?? 10_000;
    const concurrency = options.concurrency ?? 8;
    const leaseMs = options.leaseMs ?? 30_000;
    const root = deps.root ? { root: deps.root } : {};
    const handler = (transient: boolean) => (job: Job<OutboxMessage>, ctx: JobContext) =>
      this.#deliver(job, ctx, transient);
    if (deps.store) {
      this.#durable = new Queue<OutboxMessage>(deps.store, outboxName(this.appId), {
        ...root,
        clock: options.clock,
      });
      this.#workers.push(this.#durable.process(handler(false), { concurrency, leaseMs }));
    }
    this.#transient = new Queue<OutboxMessage>(new MemoryKv(), outboxName(this.appId), {
      clock: options.clock,
    });
    this.#workers.push(this.#transient.process(handler(true), { concurrency, leaseMs }));
  }

  /**
   * Sends `data` to queue `queue` of app `app`. A persistent message is in the durable outbox when
   * this resolves (it survives a crash of this process and is retried until delivered or poisoned);
   * a transient one is only in memory.
   *
   * @param app The target app id.
   * @param queue The target queue.
   * @param data The payload (a JSON value).
   * @param options `transient`, `key`.
   * @returns The message id.
   * @throws {TypeError} For a malformed app id or queue name, or a reserved queue (`kvq.*`).
   * @throws {QueueFullError | StorageError} When the outbox cannot take it.
   */
  async send(app: string, queue: string, data: unknown, options: SendOptions = {}): Promise<SentMessage> {
    checkAppId(app, "the target app");
    checkTarget(queue);
    const transient = options.transient === true;
    const outbox = transient ? this.#transient : this.#durable;
    if (!outbox) {
      throw new TypeError(
        "Cannot send a persistent message: this server has no store (send it with transient: true)",
      );
    }
    const policy = this.#routes.get(`${app}/${queue}`) ?? this.#routes.get(app) ?? this.#retry;
    const job = await outbox.add({ app, queue, data }, {
      maxAttempts: policy.attempts,
      backoff: policy.backoff,
      ...(options.key === undefined ? {} : { key: options.key }),
    });
    return { id: job.id, transient, created: job.created };
  }

  /**
   * The durable outbox queue (its `dead` jobs are the poison queue), or `undefined` without a store.
   */
  get outbox(): Queue | undefined {
    return this.#durable as Queue | undefined;
  }

  /** The transient (in-memory) outbox queue. */
  get transientOutbox(): Queue {
    return this.#transient as Queue;
  }

  /** Counters per peer app since this server started (a copy). */
  counters(): Record<string, PeerCounters> {
    const out: Record<string, PeerCounters> = {};
    for (const [peer, c] of this.#counters) out[peer] = { ...c };
    return out;
  }

  /**
   * Receives one delivery from a peer (`POST /deliver/:queue`): checks the source, the target, the
   * timestamp and the signature, then stores the payload in `queue` keyed by the message id (a
   * resend stores nothing), and only then answers.
   *
   * @param request The peer's request.
   * @param queueName The target queue.
   * @returns 201 (stored) or 200 (already there) with `{ id, job, duplicate }`.
   * @throws {DeliveryRefusedError} (401) When the message is not authentic or not for this app.
   * @throws {QueueFullError} (429) When the queue is full.
   */
  async receive(request: Request, queueName: string): Promise<Response> {
    const h = request.headers;
    const source = h.get(HEADERS.source) ?? "";
    const id = h.get(HEADERS.id) ?? "";
    try {
      checkTarget(queueName);
      return await this.#receive(request, queueName, source, id);
    } catch (err) {
      if (err instanceof DeliveryRefusedError) {
        this.#emit({
          type: "rejected",
          peer: source || "?",
          queue: queueName,
          id: id || undefined,
          detail: err.message,
        });
      }
      throw err;
    }
  }

  async #receive(request: Request, queueName: string, source: string, id: string): Promise<Response> {
    const h = request.headers;
    const target = h.get(HEADERS.target);
    const stamp = h.get(HEADERS.timestamp) ?? "";
    const signature = h.get(HEADERS.signature);
    if (!MESSAGE_ID.test(id) || !/^\d{1,16}$/.test(stamp) || signature === null || target === null) {
      throw new DeliveryRefusedError(
        "unsigned",
        `expected the headers ${Object.values(HEADERS).join(", ")} (a message id of letters and digits)`,
      );
    }
    const verifier = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(source)
      ? this.#keys.verifier(source)
      : undefined;
    if (!verifier) {
      throw new DeliveryRefusedError("unknown-source", `app ${JSON.stringify(source)} is not accepted here`);
    }
    if (target !== this.appId) {
      throw new DeliveryRefusedError(
        "wrong-target",
        `the message is for app ${JSON.stringify(target)}, this is ${this.appId}`,
      );
    }
    const timestamp = Number(stamp);
    const skew = Math.abs(this.#clock.now() - timestamp);
    if (skew > this.#maxSkew) {
      throw new DeliveryRefusedError(
        "stale",
        `the timestamp is ${skew} ms from this clock (at most ${this.#maxSkew})`,
      );
    }
    const body = await readLimited(request, this.#deps.maxBodyBytes);
    const fields = { id, source, target, queue: queueName, timestamp, body };
    if (!(await verifyWith(verifier, fields, signature))) {
      throw new DeliveryRefusedError("signature", "the signature does not match the message");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(body));
    } catch (err) {
      throw new SyntaxError(`Invalid delivery body: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== "object" || !("data" in parsed)) {
      throw new TypeError('Invalid delivery body: expected {"data": ...}');
    }
    const q = this.#deps.queue(queueName);
    const job = await q.add((parsed as { data: unknown }).data, { key: `kvq.delivery:${source}:${id}` });
    this.#emit({ type: "received", peer: source, queue: queueName, id, duplicate: !job.created });
    return new Response(JSON.stringify({ id, job: job.id, duplicate: !job.created }), {
      status: job.created ? 201 : 200,
      headers: { "content-type": "application/json; charset=utf-8" },
    });
  }

  /**
   * Stops the delivery workers (a delivery in flight finishes or is retried after a restart) and
   * drops the transient outbox: transient messages not yet delivered are lost.
   */
  close(): Promise<void> {
    this.#closed ??= Promise.all(this.#workers.map((w) => w.close({ timeout: 5_000 })))
      .then(() => this.#transient.kv.close());
    return this.#closed;
  }

  /** One delivery attempt of an outbox job. */
  async #deliver(job: Job<OutboxMessage>, ctx: JobContext, transient: boolean): Promise<{ status: number }> {
    const { app, queue, data } = job.data;
    const poison = (reason: PoisonReason, detail: string) =>
      this.#poison({
        id: job.id,
        source: this.appId,
        app,
        queue,
        data,
        transient,
        reason,
        detail,
        attempts: ctx.attempt,
      });
    let base: string;
    try {
      base = await this.#resolve(app);
    } catch (err) {
      if (err instanceof UnknownPeerError) return await poison("unresolved", err.message);
      return await this.#retryOrPoison(job, ctx, poison, `cannot resolve: ${(err as Error).message}`);
    }
    const signer = this.#keys.signer(app);
    if (!signer) return await poison("refused", `no key for app ${app}`);
    const body = new TextEncoder().encode(JSON.stringify({ data }));
    const timestamp = this.#clock.now();
    const signature = await signWith(signer, {
      id: job.id,
      source: this.appId,
      target: app,
      queue,
      timestamp,
      body,
    });
    let res: Response;
    try {
      res = await this.#fetch(
        new Request(`${base}/deliver/${encodeURIComponent(queue)}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            [HEADERS.id]: job.id,
            [HEADERS.source]: this.appId,
            [HEADERS.target]: app,
            [HEADERS.timestamp]: String(timestamp),
            [HEADERS.signature]: signature,
          },
          body,
          signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(this.#timeout)]),
        }),
      );
    } catch (err) {
      return await this.#retryOrPoison(job, ctx, poison, (err as Error)?.message ?? String(err));
    }
    const text = await res.text().catch(() => "");
    if (res.ok) {
      this.#emit({ type: "delivered", peer: app, queue, id: job.id, attempt: ctx.attempt });
      return { status: res.status };
    }
    const detail = `${base} answered ${res.status}${text ? `: ${text.slice(0, 300)}` : ""}`;
    if (res.status === 429) return await poison("overflow", detail);
    if (res.status >= 500 || res.status === 408 || res.status === 421) {
      return await this.#retryOrPoison(job, ctx, poison, detail);
    }
    return await poison("refused", detail);
  }

  /** A failed attempt: retried while attempts remain, poisoned (`exhausted`) after the last. */
  async #retryOrPoison(
    job: Job<OutboxMessage>,
    ctx: JobContext,
    poison: (reason: PoisonReason, detail: string) => Promise<never>,
    detail: string,
  ): Promise<never> {
    if (ctx.attempt >= job.maxAttempts) {
      return await poison("exhausted", `${ctx.attempt} attempts, the last: ${detail}`);
    }
    this.#emit({
      type: "retried",
      peer: job.data.app,
      queue: job.data.queue,
      id: job.id,
      attempt: ctx.attempt,
      detail,
    });
    throw new PeerUnavailableError(job.data.app, detail);
  }

  /** Hands the message to the sink (at least once; its failure does not stop the poisoning) and throws. */
  async #poison(m: PoisonedMessage): Promise<never> {
    let sinkError = "";
    if (this.#sink) {
      try {
        await this.#sink(m);
      } catch (err) {
        sinkError = ` (the poison sink failed: ${(err as Error)?.message ?? String(err)})`;
      }
    }
    this.#emit({
      type: "poisoned",
      peer: m.app,
      queue: m.queue,
      id: m.id,
      attempt: m.attempts,
      reason: m.reason,
      detail: m.detail + sinkError,
    });
    throw new PoisonedError(m.reason, m.detail + sinkError);
  }

  #emit(event: DeliveryEvent): void {
    let c = this.#counters.get(event.peer);
    if (!c) {
      c = { delivered: 0, retried: 0, poisoned: 0, received: 0, duplicates: 0, rejected: 0 };
      this.#counters.set(event.peer, c);
    }
    if (event.type === "received" && event.duplicate) c.duplicates++;
    else c[event.type]++;
    try {
      this.#onEvent?.(event);
    } catch { /* a listener's failure is not delivery's */ }
  }
}

/** A queue peers may deliver into, or a `TypeError` (400). */
function checkTarget(queue: string): void {
  checkQueueName(queue);
  if (queue.startsWith(RESERVED)) {
    throw new TypeError(
      `Invalid target queue ${JSON.stringify(queue)}: names starting with "${RESERVED}" are reserved`,
    );
  }
}

function policyOf(
  p: RetryPolicy | undefined,
  base: Required<RetryPolicy>,
  where: string,
): Required<RetryPolicy> {
  if (p === undefined) return base;
  if (p === null || typeof p !== "object") {
    throw new TypeError(`Invalid retry policy ${where}: expected an object`);
  }
  const attempts = p.attempts ?? base.attempts;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 1000) {
    throw new RangeError(
      `Invalid retry policy ${where}: attempts must be an integer from 1 to 1000, got ${attempts}`,
    );
  }
  return { attempts, backoff: p.backoff ?? base.backoff };
}
