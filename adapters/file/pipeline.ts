/**
 * The file store's commit pipeline: checks each commit against the durable state plus the commits
 * queued before it, queues it, and writes queued commits in groups (one record, one write, one
 * fdatasync: group commit), then applies them to the index and acknowledges them. Between group
 * writes it runs compaction; a full disk drives low-space mode; a failed sync stops it for good
 * (the store must be reopened).
 *
 * @module
 */

import { LimitError, StorageError, StoreClosedError } from "../../src/errors.ts";
import { type AtomicBatch, formatVersionstamp, type KvCommitResult } from "../../src/kv.ts";
import { bytesToBinary } from "../_kit/bytes.ts";
import { storageError } from "../_kit/errors.ts";
import type { AppliedMutation, KvState } from "../_kit/state.ts";
import { type Queued, WriteQueue } from "../_kit/write_queue.ts";
import { type Compactor, rewriteLog } from "./compaction.ts";
import {
  COMMITS_HEADER_BYTES,
  commitValueOffsets,
  encodeCommit,
  encodeCommitsRecord,
  MAX_COMMIT_BYTES,
} from "./format.ts";
import { writeFully } from "./fs.ts";
import type { FileIndex } from "./index.ts";
import type { LowSpaceMode } from "./low_space.ts";
import { ENTRY_OVERHEAD, type LogFile } from "./types.ts";

/** A group write stops taking commits past this size (one commit is always taken). */
const GROUP_BYTES = 4 * 1024 * 1024;

interface Commit {
  readonly batch: AtomicBatch;
  readonly mutations: AppliedMutation[];
  readonly encoded: Uint8Array;
}

interface OverlayEntry {
  /** Pending commits writing this key. */
  n: number;
  /** Whether the latest pending write deletes it. */
  deleted: boolean;
}

const encodedSize = (c: Commit) => c.encoded.length;

/** What the pipeline counts (the store reports them in `stats()`). */
export interface PipelineCounters {
  /** Commits acknowledged. */
  commits: number;
  /** Group writes. */
  writes: number;
  /** fdatasync calls on the log. */
  syncs: number;
}

/**
 * The commit pipeline of one open file store. Reads see only applied (durable) commits; checks see
 * the queued ones too, so concurrent commits serialize exactly as if they ran one by one.
 */
export class CommitPipeline {
  readonly #name: string;
  readonly #log: LogFile;
  readonly #state: KvState<FileIndex>;
  readonly #sync: boolean;
  readonly #lowSpace: LowSpaceMode;
  readonly #compactor: Compactor;
  readonly #closing: () => boolean;
  readonly #queue = new WriteQueue<Commit>();
  readonly #overlay = new Map<string, OverlayEntry>();
  #running: Promise<void> | null = null;
  #nextSeq: bigint;
  /** Estimated bytes the live entries need in a compacted log. */
  liveBytes: number;
  /** Counters since open. */
  readonly counters: PipelineCounters = { commits: 0, writes: 0, syncs: 0 };

  /**
   * The pipeline of store `name` over `log` and `state`; `sync` fdatasyncs each group; `closing`
   * tells when the store is closing (no automatic compaction then).
   */
  constructor(
    name: string,
    log: LogFile,
    state: KvState<FileIndex>,
    sync: boolean,
    lowSpace: LowSpaceMode,
    compactor: Compactor,
    closing: () => boolean,
  ) {
    this.#name = name;
    this.#log = log;
    this.#state = state;
    this.#sync = sync;
    this.#lowSpace = lowSpace;
    this.#compactor = compactor;
    this.#closing = closing;
    this.#nextSeq = state.seq + 1n;
    this.liveBytes = state.map.bytes() + state.map.size * ENTRY_OVERHEAD;
  }

  /** Commits waiting to be written. */
  get queued(): number {
    return this.#queue.length;
  }

  /** The error of an operation refused because a sync failed earlier. */
  brokenError(operation: string): StorageError {
    const b = this.#log.broken!;
    return new StorageError(
      this.#name,
      operation,
      `the store stopped accepting commits after a failed sync (${b.message}); reopen it to recover`,
      { cause: b, code: b.code },
    );
  }

  /** Queues a commit; resolves once it is durable (or its checks failed). */
  commit(batch: AtomicBatch): Promise<KvCommitResult> {
    if (this.#closing()) return Promise.reject(new StoreClosedError(this.#name, "commit"));
    if (this.#log.broken) return Promise.reject(this.brokenError("commit"));
    if (this.#lowSpace.refusesNow(batch)) return Promise.reject(this.#lowSpace.error());
    if (!this.#checksHold(batch)) {
      // Answer after the queued commits settle, so a caller retrying on { ok: false } does not
      // spin while the write that made its check fail is in flight.
      const idle = this.#queue.length === 0 && this.#running === null;
      return idle ? Promise.resolve({ ok: false }) : this.#queue.settled().then(() => ({ ok: false }));
    }
    const mutations = this.#state.resolve(batch);
    const encoded = encodeCommit(
      batch.mutations.map((m) => ({ keyBytes: m.keyBytes, value: m.type === "set" ? m.value : null })),
    );
    if (encoded.length > MAX_COMMIT_BYTES) {
      return Promise.reject(new LimitError(this.#name, "payloadBytes", encoded.length, MAX_COMMIT_BYTES));
    }
    this.#addOverlay(mutations);
    const promise = this.#queue.push({ batch, mutations, encoded });
    this.kick();
    return promise;
  }

  /** Requests a compaction; resolves when the compacted log is in place. */
  compact(): Promise<void> {
    if (this.#closing()) return Promise.reject(new StoreClosedError(this.#name, "compact"));
    if (this.#log.broken) return Promise.reject(this.brokenError("compact"));
    const done = this.#compactor.request();
    this.kick();
    return done;
  }

  /** Waits until every queued commit settled and the pipeline stopped; fails waiting compactions. */
  async drain(): Promise<void> {
    await this.#queue.settled();
    while (this.#running) await this.#running;
    this.#compactor.closed();
  }

  /** Starts the pipeline when there is work and it is not running. */
  kick(): void {
    if (this.#running) return;
    if (this.#queue.length === 0 && !this.#compactor.pending) return;
    this.#running = this.#run().finally(() => {
      this.#running = null;
      // Work that arrived while the loop was finishing.
      if (!this.#log.broken && (this.#queue.length > 0 || this.#compactor.requested)) this.kick();
    });
  }

  async #run(): Promise<void> {
    const log = this.#log;
    while (!log.broken) {
      if (this.#compactor.wanted(this.#closing())) {
        await this.#compactor.run(
          log,
          () => rewriteLog(this.#name, log, this.#state),
          () => this.#lowSpace.afterCompaction(),
        );
        continue;
      }
      if (this.#queue.length === 0) return;
      await this.#writeGroup(this.#queue.take(GROUP_BYTES, encodedSize));
    }
    // Broken: fail everything that is still waiting.
    this.#queue.rejectAll(this.brokenError("commit"));
    this.#overlay.clear();
    this.#compactor.rejectAll(this.brokenError("compact"));
  }

  /** True when every check holds against the durable state plus the commits queued so far. */
  #checksHold(batch: AtomicBatch): boolean {
    for (const c of batch.checks) {
      const k = c.keyBinary ?? bytesToBinary(c.keyBytes);
      const o = this.#overlay.get(k);
      if (o) {
        // A queued write's versionstamp is not known to anyone yet, so only "absent" can match.
        if (!(o.deleted && c.versionstamp === null)) return false;
        continue;
      }
      const seq = this.#state.map.seqOf(k);
      if ((seq === undefined ? null : formatVersionstamp(seq)) !== c.versionstamp) return false;
    }
    return true;
  }

  #addOverlay(mutations: readonly AppliedMutation[]): void {
    for (const m of mutations) {
      const o = this.#overlay.get(m.key);
      if (o) {
        o.n++;
        o.deleted = m.value === null;
      } else {
        this.#overlay.set(m.key, { n: 1, deleted: m.value === null });
      }
    }
  }

  #removeOverlay(mutations: readonly AppliedMutation[]): void {
    for (const m of mutations) {
      const o = this.#overlay.get(m.key);
      if (o && --o.n === 0) this.#overlay.delete(m.key);
    }
  }

  async #writeGroup(group: Queued<Commit>[]): Promise<void> {
    // Checked first so that a group write outside low-space mode awaits nothing extra.
    if (this.#lowSpace.low && (await this.#lowSpace.refusesGroup(group))) return this.#refuseGrowth(group);
    const log = this.#log;
    const fs = log.fs;
    const firstSeq = this.#nextSeq;
    this.#nextSeq += BigInt(group.length);
    const record = encodeCommitsRecord(log.salt, firstSeq, group.map((p) => p.encoded));
    const at = log.size;
    try {
      await writeFully(fs, log.fd, record, at);
    } catch (e) {
      // Disk full or an I/O error: cut any partial write so the next record starts clean.
      const error = storageError(
        this.#name,
        "commit",
        `cannot write ${record.length} bytes to ${log.path}`,
        e,
      );
      try {
        await fs.ftruncate(log.fd, at);
      } catch (t) {
        log.broken = storageError(this.#name, "commit", `cannot cut a failed write from ${log.path}`, t);
      }
      // Out of space with the reserve still held: free it (low-space mode) and retry this group,
      // without its new data.
      if (!log.broken && (await this.#lowSpace.enterOnFull(error.code))) return this.#refuseGrowth(group);
      for (const p of group) p.reject(error);
      this.#requeue();
      return;
    }
    if (this.#sync) {
      this.counters.syncs++;
      try {
        await fs.fdatasync(log.fd);
      } catch (e) {
        // fsyncgate: after a failed fsync the kernel may have dropped the dirty pages, so nothing
        // written since the last good sync can be trusted. Stop acknowledging until reopened.
        log.broken = storageError(this.#name, "commit", `fdatasync of ${log.path} failed`, e);
        // Best effort, so that a reopen in this boot does not replay what was reported failed.
        await fs.ftruncate(log.fd, at).catch(() => {});
        for (const p of group) p.reject(log.broken);
        return;
      }
    }
    log.size = at + record.length;
    this.counters.writes++;
    this.counters.commits += group.length;
    this.#apply(group, firstSeq, at + COMMITS_HEADER_BYTES);
    for (let i = 0; i < group.length; i++) {
      group[i].resolve({ ok: true, versionstamp: formatVersionstamp(firstSeq + BigInt(i)) });
    }
    this.#compactor.afterWrite(log.size, this.liveBytes);
  }

  /** Applies a written group to the index (values at `base`...) and wakes watchers. */
  #apply(group: readonly Commit[], firstSeq: bigint, base: number): void {
    const state = this.#state;
    const index = state.map;
    for (let i = 0; i < group.length; i++) {
      const { mutations: muts, encoded } = group[i];
      const seq = firstSeq + BigInt(i);
      const offsets = commitValueOffsets(encoded);
      let delta = 0;
      for (let j = 0; j < muts.length; j++) {
        const m = muts[j];
        // One lookup per mutation: put/remove return the replaced value's length (-1: absent).
        const old = m.value
          ? index.put(m.key, Number(seq), base + offsets[j], m.value.length)
          : index.remove(m.key);
        if (old >= 0) delta -= m.key.length + old + ENTRY_OVERHEAD;
        if (m.value) delta += m.key.length + m.value.length + ENTRY_OVERHEAD;
      }
      base += encoded.length;
      this.liveBytes += delta;
      state.seq = seq;
      state.notify(muts);
      this.#removeOverlay(muts);
    }
  }

  /** Refuses the group's growth commits; puts the others back at the head of the queue. */
  #refuseGrowth(group: Queued<Commit>[]): void {
    const error = this.#lowSpace.error();
    const kept: Queued<Commit>[] = [];
    for (const p of group) {
      if (p.batch.growth) p.reject(error);
      else kept.push(p);
    }
    this.#queue.putBack(kept);
    this.#requeue();
  }

  /** After a failed write: re-evaluate the queued commits' checks without the failed group. */
  #requeue(): void {
    this.#overlay.clear();
    this.#queue.retain((p) => {
      if (!this.#checksHold(p.batch)) {
        p.resolve({ ok: false });
        return false;
      }
      this.#addOverlay(p.mutations);
      return true;
    });
  }
}
