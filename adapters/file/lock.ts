/**
 * The file store's single-writer lock: the file `<store>.lock`, holding the owner's pid, a random
 * token of the owning process and a random nonce of this acquisition.
 *
 * Taking it never shows a half-written lock: the content is written to a temporary file of this
 * acquisition, fsynced, and `link()`ed into place; `link` fails with `EEXIST` when the lock exists,
 * atomically, so of several openers exactly one succeeds and the lock file, whenever it exists,
 * names its owner (also after a power loss).
 *
 * A lock whose pid is not running is stale; so is a lock with this process's pid but another token
 * (left by an earlier process that had the same pid, common in containers) and a lock file that
 * does not parse (written by hand, or by an older kvq that created it empty). A lock with this
 * process's pid and token is held here. Within one process a registry (shared through
 * `globalThis`, so two copies of this module agree) also refuses a second open.
 *
 * Breaking a stale lock without a race: the breaker links the lock to a tombstone named after the
 * stale lock's content (`<store>.lock.<crc>.stale`). Of several breakers of one stale lock exactly
 * one creates the tombstone; it then reads the tombstone back, and only if it is the stale lock it
 * saw (not a fresh lock that replaced it meanwhile) removes the lock, then the tombstone. The
 * others retry from the start and meet either no lock or the winner's fresh one. Nothing else
 * removes a lock but its owner.
 *
 * Known limits: if the pid of a crashed owner is reused by an unrelated running process, the lock
 * looks held (the error says to delete the lock file). A process killed between creating a
 * tombstone and removing it leaves the stale lock guarded by that tombstone: the next opens fail
 * with `StoreLockedError` naming both files to delete. Processes in different PID namespaces
 * (containers sharing a volume) cannot see each other's pids, so each takes the other's lock for
 * stale: give each container its own store.
 *
 * @module
 */

import { StoreLockedError } from "../../src/errors.ts";
import { crc32c } from "./crc32c.ts";
import { errorCode, storageError } from "../_kit/errors.ts";
import { type FsLayer, unlinkIfPresent, writeFully } from "./fs.ts";

const REGISTRY = Symbol.for("kvq.file.locks");
const TOKEN = Symbol.for("kvq.file.processToken");
/** Attempts to take the lock before giving up (each one either meets a live lock or makes progress). */
const ATTEMPTS = 20;
/** 10 ms waits for another process to finish breaking a stale lock, before deciding it died doing so. */
const BREAK_WAITS = 50;

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** A random token of this process, the same for every copy of this module. */
function processToken(): string {
  const g = globalThis as unknown as { [TOKEN]?: string };
  return g[TOKEN] ??= randomHex(8);
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

/** The content of a file, or null when it does not exist. */
async function readSmall(fs: FsLayer, path: string): Promise<string | null> {
  let fd: number;
  try {
    fd = await fs.open(path, "r");
  } catch (e) {
    if (errorCode(e) === "ENOENT") return null;
    throw e;
  }
  try {
    const buf = new Uint8Array(256);
    const n = await fs.read(fd, buf, 0, buf.length, 0);
    return new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    await fs.close(fd);
  }
}

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
    await takeLockFile(fs, storePath, lockPath, adapter);
  } catch (e) {
    held.delete(lockPath);
    // StoreLockedError passes as it is; an I/O error while reading or breaking a lock is a
    // StorageError like any other of open().
    throw storageError(adapter, "open", `cannot take the lock ${lockPath}`, e);
  }
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

/** Writes this acquisition's lock content to a temporary file, fsynced; returns its path. */
async function writeCandidate(fs: FsLayer, lockPath: string, adapter: string): Promise<string> {
  const nonce = randomHex(8);
  const tmp = `${lockPath}.${nonce}.tmp`;
  let fd = -1;
  try {
    fd = await fs.open(tmp, "wx+");
    const bytes = new TextEncoder().encode(`${fs.pid}\n${processToken()}\n${nonce}\n`);
    await writeFully(fs, fd, bytes, 0);
    // Synced before it is linked, so that the lock file is either absent or names its owner.
    await fs.fdatasync(fd);
    await fs.close(fd);
    return tmp;
  } catch (e) {
    if (fd >= 0) await fs.close(fd).catch(() => {});
    await unlinkIfPresent(fs, tmp).catch(() => {});
    throw storageError(adapter, "open", `cannot write lock file ${tmp}`, e);
  }
}

async function takeLockFile(
  fs: FsLayer,
  storePath: string,
  lockPath: string,
  adapter: string,
): Promise<void> {
  const tmp = await writeCandidate(fs, lockPath, adapter);
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        await fs.link(tmp, lockPath);
        return;
      } catch (e) {
        if (errorCode(e) !== "EEXIST") {
          throw storageError(adapter, "open", `cannot create lock file ${lockPath}`, e);
        }
      }
      const seen = await readSmall(fs, lockPath);
      if (seen === null) continue; // released meanwhile: try again
      const owner = liveOwner(fs, seen);
      if (owner !== null) throw new StoreLockedError(adapter, storePath, owner);
      await breakStale(fs, storePath, lockPath, seen, adapter);
    }
    throw new StoreLockedError(adapter, storePath, undefined);
  } finally {
    await unlinkIfPresent(fs, tmp).catch(() => {});
  }
}

/** The pid holding a lock with this content, or null when the lock is stale. */
function liveOwner(fs: FsLayer, content: string): number | null {
  const m = /^(\d+)\n([0-9a-f]*)\n/.exec(content);
  if (!m) return null; // not a lock this version writes: hand-made, or left empty by an older kvq
  const pid = Number(m[1]);
  // Held by this process (through another path spelling or fs layer), or by a live one.
  const live = pid === fs.pid ? m[2] === processToken() : fs.processAlive(pid);
  return live ? pid : null;
}

/**
 * Removes the stale lock whose content is `stale`, unless another breaker is at it or it was
 * replaced meanwhile (then the caller's next attempt sees the current lock).
 */
async function breakStale(
  fs: FsLayer,
  storePath: string,
  lockPath: string,
  stale: string,
  adapter: string,
): Promise<void> {
  const crc = crc32c(0, new TextEncoder().encode(stale)).toString(16).padStart(8, "0");
  const tomb = `${lockPath}.${crc}.stale`;
  try {
    await fs.link(lockPath, tomb);
  } catch (e) {
    const code = errorCode(e);
    if (code === "ENOENT") return; // the lock is gone: take it
    if (code !== "EEXIST") throw e;
    // Another process is breaking this stale lock: wait for it to finish. If the stale lock and
    // its tombstone are still there after a while, its breaker died between its two steps.
    for (let wait = 0; wait < BREAK_WAITS; wait++) {
      await new Promise((r) => setTimeout(r, 10));
      if ((await readSmall(fs, lockPath)) !== stale || (await readSmall(fs, tomb)) !== stale) return;
    }
    throw new StoreLockedError(adapter, storePath, undefined, {
      cause: new Error(
        `the stale lock ${lockPath} is guarded by ${tomb}, left by a process that died while removing it; ` +
          `delete both files if no process has the store open`,
      ),
    });
  }
  // This process made the tombstone: remove the lock only if it is still the stale one it saw.
  if ((await readSmall(fs, tomb)) === stale) await unlinkIfPresent(fs, lockPath);
  await unlinkIfPresent(fs, tomb);
}
