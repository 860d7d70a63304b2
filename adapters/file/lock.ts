/**
 * The file store's single-writer lock: a lock file created with O_EXCL holding the owner's pid
 * and a random token of the owning process. A lock whose pid is not running is stale and taken
 * over; a lock with this process's pid but another token was left by an earlier process that had
 * the same pid (common in containers) and is stale too; a lock with this process's pid and token
 * is held here. Within one process a registry (shared through `globalThis`, so two copies of this
 * module agree) also refuses a second open.
 *
 * Known limits: if the pid of a crashed owner is reused by an unrelated running process, the lock
 * looks held (the error says to delete the lock file); and two processes taking over the same
 * stale lock at the same instant can both succeed (each removes the stale file, then one of them
 * may remove the other's fresh one). Neither happens with one process per store. Processes in
 * different PID namespaces (containers sharing a volume) cannot see each other's pids, so each
 * takes the other's lock for stale: give each container its own store.
 *
 * @module
 */

import { StorageError, StoreLockedError } from "../../src/errors.ts";
import type { FsLayer } from "./fs.ts";

const REGISTRY = Symbol.for("kvq.file.locks");
const TOKEN = Symbol.for("kvq.file.processToken");

/** A random token of this process, the same for every copy of this module. */
function processToken(): string {
  const g = globalThis as unknown as { [TOKEN]?: string };
  return g[TOKEN] ??= Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

function heldBy(fs: FsLayer): Set<string> {
  const g = globalThis as unknown as { [REGISTRY]?: WeakMap<FsLayer, Set<string>> };
  const all = g[REGISTRY] ??= new WeakMap();
  let held = all.get(fs);
  if (!held) all.set(fs, held = new Set());
  return held;
}

/** A held lock. */
export interface StoreLock {
  /** Removes the lock file and the in-process registration. */
  release(): Promise<void>;
}

async function readLock(fs: FsLayer, path: string): Promise<string | null> {
  let fd: number;
  try {
    fd = await fs.open(path, "r");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return null;
    throw e;
  }
  try {
    const buf = new Uint8Array(128);
    const n = await fs.read(fd, buf, 0, buf.length, 0);
    return new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    await fs.close(fd);
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Takes the lock of the store at `storePath` (lock file `storePath + ".lock"`), or throws
 * {@link StoreLockedError}.
 */
export async function acquireLock(fs: FsLayer, storePath: string, adapter: string): Promise<StoreLock> {
  const lockPath = storePath + ".lock";
  const held = heldBy(fs);
  if (held.has(lockPath)) throw new StoreLockedError(adapter, storePath, fs.pid);
  // Reserved before the first await, so a concurrent open in this process sees it.
  held.add(lockPath);
  try {
    return await takeLockFile(fs, storePath, lockPath, adapter, held);
  } catch (e) {
    held.delete(lockPath);
    throw e;
  }
}

async function takeLockFile(
  fs: FsLayer,
  storePath: string,
  lockPath: string,
  adapter: string,
  held: Set<string>,
): Promise<StoreLock> {
  let unreadable = 0;
  for (let attempt = 0; attempt < 20; attempt++) {
    let fd: number;
    try {
      fd = await fs.open(lockPath, "wx+");
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== "EEXIST") {
        throw new StorageError(adapter, "open", `cannot create lock file ${lockPath}: ${e}`, {
          cause: e,
          code,
        });
      }
      const text = await readLock(fs, lockPath);
      if (text === null) continue; // removed meanwhile: try again
      const m = /^(\d+)\n([0-9a-f]*)\n/.exec(text);
      if (!m) {
        // Being written right now by its creator, or left empty by a crash: wait a little.
        if (++unreadable <= 3) {
          await pause(5);
          continue;
        }
      } else {
        const pid = Number(m[1]);
        const mine = pid === fs.pid;
        // Held by this process (through another path spelling or fs layer), or by a live one.
        if (mine ? m[2] === processToken() : fs.processAlive(pid)) {
          throw new StoreLockedError(adapter, storePath, pid);
        }
      }
      // Stale: its process is gone, or it has our pid but was left by an earlier process.
      try {
        await fs.unlink(lockPath);
      } catch (u) {
        if ((u as { code?: string }).code !== "ENOENT") throw u;
      }
      continue;
    }
    try {
      // Synced, so that after a power loss the lock file is either absent or names its owner.
      const bytes = new TextEncoder().encode(`${fs.pid}\n${processToken()}\n`);
      await fs.write(fd, bytes, 0, bytes.length, 0);
      await fs.fdatasync(fd);
    } catch (e) {
      await fs.close(fd).catch(() => {});
      await fs.unlink(lockPath).catch(() => {});
      throw new StorageError(adapter, "open", `cannot write lock file ${lockPath}: ${e}`, {
        cause: e,
        code: (e as { code?: string }).code,
      });
    }
    await fs.close(fd);
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        held.delete(lockPath);
        try {
          await fs.unlink(lockPath);
        } catch {
          // Best effort: a leftover lock file of a dead process is detected as stale.
        }
      },
    };
  }
  throw new StoreLockedError(adapter, storePath, undefined);
}
