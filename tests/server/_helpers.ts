// Helpers of the server tests: call a fetch handler as an HTTP client would, and wait for a
// condition that depends on real timers.
import type { KvqServer } from "../../server/mod.ts";

/** A response, read. */
export interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
  text: string;
}

/** A JSON client of `app` (no port): `call(method, path, body?, { token })`. */
export function client(app: Pick<KvqServer, "fetch">, defaultToken?: string) {
  return async (
    method: string,
    path: string,
    body?: unknown,
    options: { token?: string | null; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply> => {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? defaultToken : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined = options.raw;
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await app.fetch(new Request(`http://localhost${path}`, { method, headers, body: payload }));
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };
}

/** Waits (real time) until `cond` holds; throws after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
