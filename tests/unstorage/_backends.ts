// The unstorage drivers the tests run on: memory, fs (a temporary directory) and Redis at
// 127.0.0.1:6379 (KVQ_REDIS_URL elsewhere). Each test file gets one Storage per driver and a base
// key of its own run; every store of a case lives under `<run base>:<case id>`, so a reopen with
// the same id reaches the same data. `cleanup()` removes everything the run wrote.
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStorage, type Storage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";

/** A driver under test. */
export interface Backend {
  /** `"memory"`, `"fs"` or `"redis"`. */
  readonly name: string;
  /** The Storage every store of the run shares. */
  readonly storage: Storage;
  /** This run's base key. */
  readonly base: string;
  /** Removes what the run wrote and disposes the storage. */
  cleanup(): Promise<void>;
}

/** The drivers these tests run on. */
export const DRIVERS = ["memory", "fs", "redis"] as const;

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
/** Where the Redis tests connect. */
export const REDIS_URL: string = env.KVQ_REDIS_URL ?? "redis://127.0.0.1:6379";

function runBase(): string {
  return `kvqtest-${crypto.getRandomValues(new Uint32Array(1))[0].toString(16)}`;
}

/** Why the Redis tests skip (the server does not answer, or ioredis is not installed), or false. */
export async function redisUnavailable(): Promise<string | false> {
  const url = new URL(REDIS_URL);
  const up = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on("connect", () => done(true));
    socket.on("error", () => done(false));
  });
  if (!up) return `Redis is not reachable at ${REDIS_URL}; start it, or set KVQ_REDIS_URL`;
  try {
    const client = "ioredis"; // not a literal: the package is optional
    await import(client);
  } catch {
    return "ioredis (the client unstorage's redis driver needs) is not installed";
  }
  return false;
}

/** Opens the backend `name` for this run. */
export async function openBackend(name: (typeof DRIVERS)[number]): Promise<Backend> {
  const base = runBase();
  if (name === "memory") {
    const storage = createStorage();
    return { name, storage, base, cleanup: () => storage.dispose() };
  }
  if (name === "fs") {
    const dir = mkdtempSync(join(tmpdir(), "kvq-unstorage-"));
    const storage = createStorage({ driver: fsDriver({ base: dir }) });
    return {
      name,
      storage,
      base,
      cleanup: async () => {
        await storage.dispose();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const { default: redisDriver } = await import("unstorage/drivers/redis");
  const storage = createStorage({ driver: redisDriver({ url: REDIS_URL }) });
  return {
    name,
    storage,
    base,
    cleanup: async () => {
      const keys = [...await storage.getKeys(base), ...await storage.getKeys(`${base}.`)];
      await Promise.all(keys.filter((k) => k.startsWith(base)).map((k) => storage.removeItem(k)));
      await storage.dispose();
    },
  };
}
