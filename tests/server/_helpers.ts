// Helpers of the server tests: a fresh store and server per test, call a fetch handler as an HTTP
// client would, and wait for a condition that depends on real timers.
import { MemoryKv } from "../../adapters/memory/mod.ts";
import { createServer, type KvqServer } from "../../server/mod.ts";

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

/** A fresh memory store, a server on it and a client of it. */
export interface Setup {
  store: MemoryKv;
  app: ReturnType<typeof createServer>;
  call: ReturnType<typeof client>;
}

/** Runs `fn` with a fresh memory store and server (its token, if any, sent by `call`), closing both afterwards. */
export async function withServer(
  options: Omit<Parameters<typeof createServer>[0], "store">,
  fn: (s: Setup) => Promise<void>,
): Promise<void> {
  const store = new MemoryKv();
  const app = createServer({ store, ...options });
  try {
    await fn({ store, app, call: client(app, typeof options.auth === "string" ? options.auth : undefined) });
  } finally {
    await app.close();
    await store.close();
  }
}
