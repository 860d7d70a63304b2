/**
 * The delivery flags of `kvq serve`: `--app-id`, `--peer NAME=URL`, `--peer-template T` and the
 * key (`--delivery-key` or `KVQ_DELIVERY_KEY`), turned into `createServer` options.
 *
 * @module
 */

import type { DeliveryOptions } from "../server/mod.ts";

/** The flags, as parsed. */
export interface DeliveryFlags {
  "app-id"?: string;
  peer?: string[];
  "peer-template"?: string;
  "delivery-key"?: string;
}

/**
 * The `appId` and `delivery` options of `kvq serve`, or `{}` without `--app-id`.
 *
 * @param flags The parsed flags.
 * @param envKey `KVQ_DELIVERY_KEY`.
 * @returns The server options to spread into `createServer`.
 * @throws {TypeError} For a malformed `--peer`, both `--peer` and `--peer-template`, peers without
 *   `--app-id`, or `--app-id` without a key.
 */
export function deliveryFromFlags(
  flags: DeliveryFlags,
  envKey: string | undefined,
): { appId?: string; delivery?: DeliveryOptions } {
  const appId = flags["app-id"];
  const peers = flags.peer ?? [];
  const template = flags["peer-template"];
  if (appId === undefined) {
    if (peers.length || template !== undefined) {
      throw new TypeError("--peer and --peer-template need --app-id (the id this sidecar sends as)");
    }
    return {};
  }
  if (peers.length && template !== undefined) {
    throw new TypeError("Give --peer NAME=URL (repeatable) or --peer-template, not both");
  }
  const key = flags["delivery-key"] ?? envKey;
  if (!key) throw new TypeError("--app-id needs a delivery key: --delivery-key KEY or KVQ_DELIVERY_KEY");
  const map: Record<string, string> = {};
  for (const p of peers) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new TypeError(`Invalid --peer ${JSON.stringify(p)}: expected NAME=URL`);
    map[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return {
    appId,
    delivery: {
      key,
      peers: template ?? map,
      // With a template any app that knows the shared key may send; with a map, the apps named.
      ...(template !== undefined ? { acceptFrom: "*" as const } : {}),
    },
  };
}
