/**
 * The pluggable poison sink: where a poisoned message goes besides the poison queue (the outbox's
 * dead jobs).
 *
 * @module
 */

import { Queue } from "../../mod.ts";
import type { PoisonedMessage, PoisonSink } from "./types.ts";

/** A poison sink, as the delivery worker calls it. */
export type SinkFn = (message: PoisonedMessage) => Promise<void>;

/**
 * Makes the sink function of `DeliveryOptions.poisonSink`: a webhook URL gets the message POSTed as
 * JSON (a non-2xx answer is an error), a queue gets it as a job keyed by the message id (so a
 * repeated call adds nothing), a callback is awaited.
 *
 * @param sink The option.
 * @param fetchFn The HTTP client of webhooks.
 * @returns The function, or `undefined` without a sink.
 * @throws {TypeError} For a malformed URL or a sink of another kind.
 */
export function sinkOf(
  sink: PoisonSink | undefined,
  fetchFn: (request: Request) => Promise<Response>,
): SinkFn | undefined {
  if (sink === undefined) return undefined;
  if (sink instanceof Queue) {
    return async (m) => {
      await sink.add(m, { key: `poison:${m.source}:${m.id}` });
    };
  }
  if (typeof sink === "function") return async (m) => await sink(m);
  if (typeof sink === "string") {
    const url = new URL(sink);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`Invalid poisonSink ${JSON.stringify(sink)}: expected an http(s) URL`);
    }
    return async (m) => {
      const res = await fetchFn(
        new Request(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(m),
          signal: AbortSignal.timeout(10_000),
        }),
      );
      await res.body?.cancel();
      if (!res.ok) throw new Error(`poison webhook ${url.host} answered ${res.status}`);
    };
  }
  throw new TypeError("Invalid poisonSink: expected a webhook URL, a function or a Queue");
}
