// A simulated disk implementing the file store's FsLayer, for crash and fault tests.
//
// It keeps two copies of everything: what the running process sees (volatile: file contents and
// directory entries as written) and what survives a power loss (durable: file contents as of the
// last fdatasync, directory entries as of the last fsyncDir). crash() returns a new SimFs over the
// durable state (optionally with a torn, partly-written tail), and kills the old one: every call
// on it fails, as if the process died. It is a strict POSIX model: a rename or a new file is not
// durable until its directory is fsynced.
import type { FsLayer, OpenMode } from "../../adapters/file/fs.ts";

interface Inode {
  data: Uint8Array;
  len: number;
  durable: Uint8Array;
}

/** A hook called before each operation; it may throw to inject a fault. */
export type SimHook = (op: SimOp, target: string) => void;

export type SimOp =
  | "open"
  | "close"
  | "read"
  | "write"
  | "fdatasync"
  | "ftruncate"
  | "size"
  | "rename"
  | "link"
  | "unlink"
  | "fsyncDir";

export function fsError(code: string, message: string = code): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

export interface CrashOptions {
  /**
   * Keep a random part of the data written since the last fdatasync (a torn write), with some
   * 512-byte sectors zeroed, instead of dropping it all. Uses `random`.
   */
  torn?: boolean;
  random?: () => number;
}

export class SimFs implements FsLayer {
  readonly pid: number;
  /** Space left on the disk in bytes (Infinity: unlimited). Writes past it fail with ENOSPC. */
  capacity: number = Infinity;
  /** Called before every operation; throw from it to inject a fault. */
  hook: SimHook | null = null;
  /** Every operation in order, as "op target". */
  readonly ops: string[] = [];
  alive: (pid: number) => boolean = () => false;
  #inodes: Inode[];
  #names: Map<string, number>;
  #durableNames: Map<string, number>;
  #fds = new Map<number, { ino: number; path: string; mode: OpenMode }>();
  #nextFd = 100;
  #dead = false;

  constructor(pid: number = 4242, inodes: Inode[] = [], names: Map<string, number> = new Map()) {
    this.pid = pid;
    this.#inodes = inodes;
    this.#names = new Map(names);
    this.#durableNames = new Map(names);
  }

  processAlive(pid: number): boolean {
    return this.alive(pid);
  }

  #enter(op: SimOp, target: string): void {
    if (this.#dead) throw fsError("ECRASHED", "the simulated process has crashed");
    this.ops.push(`${op} ${target}`);
    this.hook?.(op, target);
  }

  #fd(fd: number): { ino: number; path: string; mode: OpenMode } {
    const f = this.#fds.get(fd);
    if (!f) throw fsError("EBADF");
    return f;
  }

  #used(): number {
    let n = 0;
    for (const ino of new Set(this.#names.values())) n += this.#inodes[ino].len;
    return n;
  }

  open(path: string, mode: OpenMode): Promise<number> {
    try {
      this.#enter("open", path);
      let ino = this.#names.get(path);
      if (mode === "wx+" && ino !== undefined) throw fsError("EEXIST", path);
      if (ino === undefined) {
        if (mode === "r" || mode === "r+") throw fsError("ENOENT", path);
        ino = this.#inodes.length;
        this.#inodes.push({ data: new Uint8Array(64), len: 0, durable: new Uint8Array(0) });
        this.#names.set(path, ino);
      } else if (mode === "w+") {
        this.#inodes[ino].len = 0;
      }
      const fd = this.#nextFd++;
      this.#fds.set(fd, { ino, path, mode });
      return Promise.resolve(fd);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  close(fd: number): Promise<void> {
    try {
      this.#enter("close", String(fd));
      this.#fd(fd);
      this.#fds.delete(fd);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    try {
      const f = this.#fd(fd);
      this.#enter("read", f.path);
      const node = this.#inodes[f.ino];
      const n = Math.max(0, Math.min(length, node.len - position));
      buffer.set(node.data.subarray(position, position + n), offset);
      return Promise.resolve(n);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    // Not logged in `ops` and not hooked: the store reads values back synchronously at any time,
    // and the crash tests count the asynchronous operations only.
    if (this.#dead) throw fsError("ECRASHED", "the simulated process has crashed");
    const node = this.#inodes[this.#fd(fd).ino];
    const n = Math.max(0, Math.min(length, node.len - position));
    buffer.set(node.data.subarray(position, position + n), offset);
    return n;
  }

  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    try {
      const f = this.#fd(fd);
      this.#enter("write", f.path);
      if (f.mode === "r") throw fsError("EBADF");
      const node = this.#inodes[f.ino];
      const grow = Math.max(0, position + length - node.len);
      const free = this.capacity - this.#used();
      let n = length;
      if (grow > free) {
        n = Math.max(0, free - Math.max(0, position - node.len));
        if (n === 0) throw fsError("ENOSPC", "no space left on device");
      }
      if (position + n > node.data.length) {
        const next = new Uint8Array(Math.max(node.data.length * 2, position + n));
        next.set(node.data.subarray(0, node.len));
        node.data = next;
      }
      if (position > node.len) node.data.fill(0, node.len, position);
      node.data.set(buffer.subarray(offset, offset + n), position);
      node.len = Math.max(node.len, position + n);
      return Promise.resolve(n);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  fdatasync(fd: number): Promise<void> {
    try {
      const f = this.#fd(fd);
      this.#enter("fdatasync", f.path);
      const node = this.#inodes[f.ino];
      node.durable = node.data.slice(0, node.len);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  ftruncate(fd: number, length: number): Promise<void> {
    try {
      const f = this.#fd(fd);
      this.#enter("ftruncate", f.path);
      const node = this.#inodes[f.ino];
      if (length > node.len) {
        const next = new Uint8Array(length);
        next.set(node.data.subarray(0, node.len));
        node.data = next;
      }
      node.len = length;
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  size(fd: number): Promise<number> {
    try {
      const f = this.#fd(fd);
      this.#enter("size", f.path);
      return Promise.resolve(this.#inodes[f.ino].len);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  rename(from: string, to: string): Promise<void> {
    try {
      this.#enter("rename", `${from} -> ${to}`);
      const ino = this.#names.get(from);
      if (ino === undefined) throw fsError("ENOENT", from);
      this.#names.delete(from);
      this.#names.set(to, ino);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  link(from: string, to: string): Promise<void> {
    try {
      this.#enter("link", `${from} -> ${to}`);
      const ino = this.#names.get(from);
      if (ino === undefined) throw fsError("ENOENT", from);
      if (this.#names.has(to)) throw fsError("EEXIST", to);
      this.#names.set(to, ino);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  unlink(path: string): Promise<void> {
    try {
      this.#enter("unlink", path);
      if (!this.#names.delete(path)) throw fsError("ENOENT", path);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  fsyncDir(path: string): Promise<void> {
    try {
      this.#enter("fsyncDir", path);
      for (const [name, ino] of this.#durableNames) {
        if (dirOf(name) === path && this.#names.get(name) !== ino) this.#durableNames.delete(name);
      }
      for (const [name, ino] of this.#names) if (dirOf(name) === path) this.#durableNames.set(name, ino);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // ---- test helpers (not part of FsLayer) ----

  /** The process dies and the machine loses power: returns the disk as it boots again. */
  crash(options: CrashOptions = {}): SimFs {
    this.#dead = true;
    const random = options.random ?? Math.random;
    const inodes = this.#inodes.map((node): Inode => {
      let data = node.durable.slice();
      if (options.torn && node.len > data.length) {
        // Part of the unsynced appended data reached the disk, sector by sector, in any order.
        const keep = data.length + Math.floor(random() * (node.len - data.length + 1));
        const torn = node.data.slice(0, keep);
        torn.set(data);
        for (let s = data.length - (data.length % 512); s < keep; s += 512) {
          if (random() < 0.25) torn.fill(0, Math.max(s, data.length), Math.min(s + 512, keep));
        }
        data = torn;
      }
      return { data: data.length ? data : new Uint8Array(64), len: data.length, durable: data.slice() };
    });
    // A new boot runs a new process: another pid, so the old lock file is seen as stale.
    return new SimFs(this.pid + 1, inodes, this.#durableNames);
  }

  /** The process dies but the OS keeps running: everything written stays (page cache). */
  processCrash(): SimFs {
    const next = this.fork(this.pid + 1);
    this.#dead = true;
    next.capacity = Infinity;
    return next;
  }

  /** An independent copy of this disk (both its volatile and durable state), alive. */
  fork(pid: number = this.pid): SimFs {
    const inodes = this.#inodes.map((node): Inode => ({
      data: node.data.slice(),
      len: node.len,
      durable: node.durable.slice(),
    }));
    const next = new SimFs(pid, inodes, this.#names);
    next.#durableNames = new Map(this.#durableNames);
    next.capacity = this.capacity;
    return next;
  }

  /** The process dies now: this and every later call fails. */
  kill(): Error {
    this.#dead = true;
    return fsError("ECRASHED", "the simulated process has crashed");
  }

  /** Bytes the files on the disk hold (what `capacity` is compared with). */
  usedBytes(): number {
    return this.#used();
  }

  exists(path: string): boolean {
    return this.#names.has(path);
  }

  /** A file's current content (as the process sees it). */
  file(path: string): Uint8Array {
    const ino = this.#names.get(path);
    if (ino === undefined) throw fsError("ENOENT", path);
    const node = this.#inodes[ino];
    return node.data.slice(0, node.len);
  }

  /** Replaces a file's content, durably (for corruption tests on a closed store). */
  setFile(path: string, bytes: Uint8Array): void {
    let ino = this.#names.get(path);
    if (ino === undefined) {
      ino = this.#inodes.length;
      this.#inodes.push({ data: new Uint8Array(0), len: 0, durable: new Uint8Array(0) });
      this.#names.set(path, ino);
      this.#durableNames.set(path, ino);
    }
    const node = this.#inodes[ino];
    node.data = bytes.slice();
    node.len = bytes.length;
    node.durable = bytes.slice();
  }

  names(): string[] {
    return [...this.#names.keys()].sort();
  }
}
