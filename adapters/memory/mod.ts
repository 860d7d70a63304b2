/**
 * The memory adapter: the reference implementation of the AtomicKv contract. Fast and
 * transient: everything is lost when the process ends. When two adapters disagree, the contract
 * decides, and this adapter shows the contract in the fewest lines.
 *
 * @example A transient store
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const kv = new MemoryKv();
 * await kv.atomic().set(["greeting"], new TextEncoder().encode("hi")).commit();
 * console.log((await kv.get(["greeting"]))?.versionstamp);
 * await kv.close();
 * ```
 *
 * @module
 */

import {
  type AtomicOp,
  BufferedAtomicOp,
  formatVersionstamp,
  type KvCommitResult,
  type KvInfo,
} from "../../src/kv.ts";
import { KvState, StateKv } from "../_kit/mod.ts";

/** Options of {@link MemoryKv}. */
export interface MemoryKvOptions {
  /** Largest value in bytes. @default 65536 */
  maxValueBytes?: number;
  /** Most mutations per atomic operation. @default 1000 */
  maxMutations?: number;
}

/**
 * An in-process AtomicKv store held in memory.
 *
 * @example
 * ```ts
 * import { MemoryKv } from "@kvq/kvq/memory";
 * const kv = new MemoryKv();
 * const first = await kv.atomic().check(["k"], null).set(["k"], new Uint8Array([1])).commit();
 * const second = await kv.atomic().check(["k"], null).set(["k"], new Uint8Array([2])).commit();
 * console.log(first.ok, second.ok); // true false
 * ```
 */
export class MemoryKv extends StateKv {
  /** {@inheritDoc AtomicKv.info} */
  readonly info: KvInfo;

  /** Creates an empty store. */
  constructor(options: MemoryKvOptions = {}) {
    super(new KvState());
    this.info = {
      name: "memory",
      maxValueBytes: options.maxValueBytes ?? 65536,
      maxKeyBytes: 2048,
      maxMutations: options.maxMutations ?? 1000,
      maxChecks: 1000,
      scope: "process",
      durable: false,
      watch: true,
    };
  }

  /** {@inheritDoc AtomicKv.atomic} */
  atomic(): AtomicOp {
    return new BufferedAtomicOp(this.info, (batch): Promise<KvCommitResult> => {
      this.assertOpen("commit");
      if (!this.state.checksHold(batch)) return Promise.resolve({ ok: false });
      const seq = this.state.seq + 1n;
      this.state.applyBatch(batch, seq);
      return Promise.resolve({ ok: true, versionstamp: formatVersionstamp(seq) });
    });
  }

  /** {@inheritDoc AtomicKv.close} */
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
