/**
 * Finding a peer's sidecar: a static map of app ids to URLs, a DNS name template, or a function.
 *
 * @module
 */

import { UnknownPeerError } from "./errors.ts";
import type { Resolver } from "./types.ts";

/**
 * The grammar of app ids: 1 to 63 ASCII letters, digits, `-` or `_`, starting with a letter or
 * digit (so an id fits in a DNS label when it uses no `_` or capitals, and in `"app/queue"` route keys).
 */
export const APP_ID: RegExp = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/**
 * Checks an app id against {@linkcode APP_ID}.
 *
 * @param app The id.
 * @param what Where it came from, for the message.
 * @returns The id.
 * @throws {TypeError} When it does not follow the grammar.
 */
export function checkAppId(app: unknown, what: string): string {
  if (typeof app !== "string" || !APP_ID.test(app)) {
    throw new TypeError(
      `Invalid app id ${
        JSON.stringify(app)
      } in ${what}: expected 1 to 63 ASCII letters, digits, "-" or "_", ` +
        `starting with a letter or digit`,
    );
  }
  return app;
}

/** A DNS name template and the values of its other placeholders. */
export interface PeerTemplate {
  /** The URL or `host:port` with `{app}` in it, e.g. `"{app}.{namespace}.svc.cluster.local:{port}"`. */
  template: string;
  /** Values of the other placeholders (`{ namespace: "prod", port: 8787 }`). */
  vars?: Readonly<Record<string, string | number>>;
}

/** The ways to name peers (`DeliveryOptions.peers`). */
export type PeersOption = Readonly<Record<string, string>> | string | PeerTemplate | Resolver;

function baseUrl(url: string, where: string): string {
  const full = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(full);
  } catch {
    throw new TypeError(`Invalid peer URL ${JSON.stringify(url)} in ${where}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(`Invalid peer URL ${JSON.stringify(url)} in ${where}: expected http or https`);
  }
  return full.replace(/\/+$/, "");
}

/**
 * Makes the resolver of `DeliveryOptions.peers`.
 *
 * - a map `{ billing: "http://10.0.0.7:8787" }`: those apps only; any other is unknown (poisoned);
 * - a template string or `{ template, vars }`: `{app}` replaced by the app id, the other
 *   placeholders by `vars`; `http://` is assumed when no scheme is given;
 * - a function: called for every attempt (its answer is not cached).
 *
 * @param peers The option.
 * @returns The resolver and, for a map, the app ids it names.
 * @throws {TypeError} For a malformed map, URL or template.
 *
 * @example A Kubernetes-style DNS template
 * ```ts
 * import { resolverOf } from "./resolver.ts";
 * const { resolve } = resolverOf({
 *   template: "{app}.{namespace}.svc.cluster.local:{port}",
 *   vars: { namespace: "prod", port: 8787 },
 * });
 * console.log(await resolve("billing")); // "http://billing.prod.svc.cluster.local:8787"
 * ```
 */
export function resolverOf(peers: PeersOption | undefined): { resolve: Resolver; named: string[] } {
  if (peers === undefined) {
    return {
      resolve: (app) => Promise.reject(new UnknownPeerError(app, "no peers are configured")),
      named: [],
    };
  }
  if (typeof peers === "function") return { resolve: peers, named: [] };
  if (typeof peers === "string" || (typeof peers === "object" && "template" in peers)) {
    const t = typeof peers === "string" ? { template: peers } : peers as PeerTemplate;
    if (typeof t.template !== "string" || !t.template.includes("{app}")) {
      throw new TypeError(`Invalid peer template ${JSON.stringify(t.template)}: it must contain {app}`);
    }
    let filled = t.template;
    for (const [k, v] of Object.entries(t.vars ?? {})) filled = filled.replaceAll(`{${k}}`, String(v));
    const left = /\{(?!app\})[^}]*\}/.exec(filled);
    if (left) {
      throw new TypeError(`Invalid peer template ${JSON.stringify(t.template)}: no value for ${left[0]}`);
    }
    baseUrl(filled.replaceAll("{app}", "app"), "the peer template");
    return { resolve: (app) => baseUrl(filled.replaceAll("{app}", app), "the peer template"), named: [] };
  }
  if (typeof peers !== "object" || peers === null || Array.isArray(peers)) {
    throw new TypeError(
      "Invalid delivery option peers: expected a map of app ids to URLs, a template or a function",
    );
  }
  const map = new Map<string, string>();
  for (const [app, url] of Object.entries(peers as Record<string, string>)) {
    map.set(checkAppId(app, "peers"), baseUrl(url, `peers.${app}`));
  }
  return {
    resolve: (app) => {
      const url = map.get(app);
      if (url === undefined) throw new UnknownPeerError(app);
      return url;
    },
    named: [...map.keys()],
  };
}
