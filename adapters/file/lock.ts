/**
 * The file store's single-writer lock: the file `<store>.lock`, holding the owner's pid, a random
 * token of the owning process and a random nonce of this acquisition.
 *
 * **Taking it** never shows a half-written lock: the content is written to a temporary file of this
 * acquisition (`<store>.lock.<nonce>.tmp`), fsynced, and `link()`ed into place; `link` fails with
 * `EEXIST` when the lock exists, atomically, so of several openers exactly one succeeds and the lock
 * file, whenever it exists, names its owner (also after a power loss).
 *
 * A lock whose pid is not running is stale; so is a lock with this process's pid but another token
 * (left by an earlier process that had the same pid, common in containers) and a lock file that
 * does not parse (written by hand, or by an older kvq that created it empty). A lock with this
 * process's pid and token is held here. Within one process a registry (shared through
 * `globalThis`, so two copies of this module agree) also refuses a second open.
 *
 * **Breaking a stale lock** is itself guarded by a lock one level up, taken the same way: the
 * breaker links its own temporary file (its pid, token and nonce) to the break marker
 * `<store>.lock.break`. Only the holder of the marker may remove the lock, and only after reading
 * it again under the marker and finding the same stale content it saw before (not a fresh lock that
 * replaced it meanwhile); then it removes the marker and starts over. An opener that finds the
 * marker held by a live process waits for it to go; one that finds it held by a dead process (or
 * unparseable) breaks the marker by the same rule one level up (`<store>.lock.break.break`, and so
 * on), then starts over. After taking the lock, an opener also breaks the first marker if a dead
 * breaker left it; a marker further up (left by a second crash while breaking the first) stays
 * until a breaker needs that level, which breaks it then: it names a dead process, so it never
 * blocks an open.
 *
 * Why this is safe: a file of this protocol (lock or marker) is removed only by its owner or by the
 * holder of its marker, and the marker's holder removes it only if it still has the content whose
 * owner it found dead. While a marker is held, nothing else can remove the file below it, so that
 * content cannot change between the check and the removal. Two live processes therefore never hold
 * one file: a lock is taken only when absent, and removed only by its owner or once its owner died.
 *
 * Why a crash at any step recovers on its own: every file a crashed process leaves (a lock, a
 * marker at any level) names that process, which is dead, so the next opener breaks it; the lock
 * file and the markers are never empty or partly written (linked from synced files). A crash
 * before the opener removes its temporary file (right after it took the lock, or gave up) leaves
 * that file behind: harmless (a random name, read by no one), but nothing removes it, as the fs
 * layer cannot list a directory.
 *
 * **Releasing** removes the lock file (one step; a crash before it leaves a stale lock).
 *
 * Known limits: if the pid of a crashed owner (or breaker) is reused by an unrelated running
 * process, its lock looks held: the error names the pid and says to delete the lock file (or the
 * marker). A live breaker that does not finish within about 3 s (a process stopped with SIGSTOP
 * mid-break) makes the opens meanwhile fail with `StoreLockedError` naming it. Processes in
 * different PID namespaces (containers sharing a volume) cannot see each other's pids, so each
 * takes the other's lock for stale: give each container its own store. A tombstone
 * (`<store>.lock.<crc>.stale`) left by an older kvq that died breaking a lock is ignored (and left
 * in place): that older kvq must not share the store with this one.
 *
 * @module
 */

import { StoreLockedError } from "../../src/errors.ts";
import { errorCode, storageError } from "../_kit/errors.ts";
import { type FsLayer, unlinkIfPresent, writeFully } from "./fs.ts";

const REGISTRY = Symbol.for("kvq.file.locks");
const TOKEN = Symbol.for("kvq.file.processToken");
/** Attempts to take the lock before giving up (each one either meets a live lock or makes progress). */
const ATTEMPTS = 20;
/** 10 ms waits for a live process to finish breaking a stale lock, before giving up on it. */
const BREAK_WAITS = 300;
/** Levels of break markers above the lock (each left only by a crash of a breaker one level down). */
const MAX_LEVELS = 8;

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

/** Links `tmp` to `path`: true when made, false when `path` exists. */
async function linkNew(fs: FsLayer, tmp: string, path: string, adapter: string): Promise<boolean> {
  try {
    await fs.link(tmp, path);
    return true;
  } catch (e) {
    if (errorCode(e) === "EEXIST") return false;
    throw storageError(adapter, "open", `cannot create lock file ${path}`, e);
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
      if (await linkNew(fs, tmp, lockPath, adapter)) {
        // Ours. A marker a dead breaker left is removed now rather than at the next break.
        await breakDeadMarker(fs, storePath, lockPath, tmp, adapter);
        return;
      }
      const seen = await readSmall(fs, lockPath);
      if (seen === null) continue; // released meanwhile: try again
      const owner = liveOwner(fs, seen);
      if (owner !== null) throw new StoreLockedError(adapter, storePath, owner);
      await breakStale(fs, storePath, lockPath, seen, tmp, 0, adapter);
    }
    throw new StoreLockedError(adapter, storePath, undefined);
  } finally {
    await unlinkIfPresent(fs, tmp).catch(() => {});
  }
}

/** The pid holding a lock (or marker) with this content, or null when it is stale. */
function liveOwner(fs: FsLayer, content: string): number | null {
  const m = /^(\d+)\n([0-9a-f]*)\n/.exec(content);
  if (!m) return null; // not a lock this version writes: hand-made, or left empty by an older kvq
  const pid = Number(m[1]);
  // Held by this process (through another path spelling or fs layer), or by a live one.
  const live = pid === fs.pid ? m[2] === processToken() : fs.processAlive(pid);
  return live ? pid : null;
}

/**
 * Removes the file `path` (the lock, or a break marker `level` levels up) whose content is the stale
 * `stale`, holding its break marker `<path>.break` meanwhile; the marker is taken by linking `tmp`
 * (this opener's synced candidate) to it. Returns when the caller should look again: the file was
 * removed, or replaced, or another live breaker finished. Throws {@link StoreLockedError} when a
 * live breaker does not finish in time.
 */
async function breakStale(
  fs: FsLayer,
  storePath: string,
  path: string,
  stale: string,
  tmp: string,
  level: number,
  adapter: string,
): Promise<void> {
  const marker = `${path}.break`;
  if (!(await linkNew(fs, tmp, marker, adapter))) {
    await awaitMarker(fs, storePath, path, marker, tmp, level, adapter);
    return;
  }
  // The marker is ours: nothing else can remove `path` now, so if it still holds the stale content
  // its owner is dead and it is removed; if not, it was replaced before we took the marker.
  try {
    if ((await readSmall(fs, path)) === stale) await unlinkIfPresent(fs, path);
  } finally {
    await unlinkIfPresent(fs, marker);
  }
}

/**
 * The break marker `marker` of `path` exists: if its breaker is live, waits until it is gone or
 * changed; if its breaker is dead, breaks the marker (one level up). Either way the caller then
 * looks again.
 */
async function awaitMarker(
  fs: FsLayer,
  storePath: string,
  path: string,
  marker: string,
  tmp: string,
  level: number,
  adapter: string,
): Promise<void> {
  let breaker: number | undefined;
  for (let wait = 0; wait < BREAK_WAITS; wait++) {
    const seen = await readSmall(fs, marker);
    if (seen === null) return; // finished
    const owner = liveOwner(fs, seen);
    if (owner === null) {
      // Its breaker died: break the marker by the same rule one level up.
      if (level + 1 >= MAX_LEVELS) {
        throw new StoreLockedError(adapter, storePath, undefined, {
          cause: new Error(`${MAX_LEVELS} levels of break markers above ${storePath}.lock`),
        });
      }
      await breakStale(fs, storePath, marker, seen, tmp, level + 1, adapter);
      return;
    }
    breaker = owner;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new StoreLockedError(adapter, storePath, breaker, {
    cause: new Error(
      `process ${breaker} is breaking the stale lock ${path} (marker ${marker}) and did not finish; ` +
        `if that process is not a kvq store, delete the marker`,
    ),
  });
}

/** After taking `path`: removes its break marker if a dead breaker left one (best effort). */
async function breakDeadMarker(
  fs: FsLayer,
  storePath: string,
  path: string,
  tmp: string,
  adapter: string,
): Promise<void> {
  const marker = `${path}.break`;
  try {
    // Each round removes the marker, or a dead marker above it (left by a second crash).
    for (let round = 0; round < MAX_LEVELS; round++) {
      const seen = await readSmall(fs, marker);
      if (seen === null || liveOwner(fs, seen) !== null) return;
      await breakStale(fs, storePath, marker, seen, tmp, 1, adapter);
    }
  } catch {
    // Tidying only: a marker left here is broken by the next breaker.
  }
}
