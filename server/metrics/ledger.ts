/**
 * Totals kept in the store, so that every server on one store reports the same counters: jobs that
 * ended (`completed`, `dead`, `canceled`), their attempts per outcome and the wait and run-time
 * histograms, all read from the job records themselves.
 *
 * The ledger is one JSON record per queue, `root + ["metrics", queue]`, holding the totals and, per
 * terminal index (`done`, `dead`, `canceled`, keyed by `finishedAt` then id), a cursor: the last
 * index entry counted. {@linkcode advanceLedger} reads the entries after the cursor, folds their
 * records into the totals and writes the ledger back with a check on the versionstamp it read; when
 * another server advanced it meanwhile, it reads again and starts over from the new cursor, so no
 * job is counted twice. Entries are counted only once they are `settleMs` old: a job that ended on a
 * writer with a clock slightly behind, or whose commit was still in flight, is not skipped.
 *
 * What it cannot count: a job with `removeOnComplete` (deleted as it completes), and a job removed
 * by retention (`clean`) or redriven before any server read the index past it. Redrive a dead job
 * and it is counted again when it next ends, with only the attempts made since the redrive.
 *
 * @module
 */

import type { AtomicKv, AttemptOutcome, AttemptRecord, JobState, KvKey } from "../../mod.ts";
import type { JobRecord } from "../../src/job_record.ts";
import type { Keyspace } from "../../src/keys.ts";
import { ATTEMPT_OUTCOMES, emptyHistogram, type Histogram, observe, type QueueTotals } from "./snapshot.ts";

/** The terminal states whose indexes are read. */
const ENDED = ["completed", "dead", "canceled"] as const satisfies readonly JobState[];
type Ended = (typeof ENDED)[number];

/** The stored ledger. */
interface Ledger extends QueueTotals {
  /** Per terminal state, the `[finishedAt, id]` of the last index entry counted. */
  readonly cursors: Partial<Record<Ended, readonly [number, string]>>;
}

/** Index entries read per list call. */
const PAGE = 200;

/** How far one {@linkcode advanceLedger} call reads, at most, across the three indexes. */
const BUDGET = 5000;

/** Attempts at a conflict-free write before the ledger is reported as last read. */
const TRIES = 5;

const enc = new TextEncoder();
const dec = new TextDecoder();

function zeroAttempts(): Record<AttemptOutcome, number> {
  return Object.fromEntries(ATTEMPT_OUTCOMES.map((o) => [o, 0])) as Record<AttemptOutcome, number>;
}

/** An empty ledger. */
export function emptyTotals(): QueueTotals {
  return {
    completed: 0,
    dead: 0,
    canceled: 0,
    attempts: zeroAttempts(),
    wait: emptyHistogram(),
    run: emptyHistogram(),
  };
}

function histogramOf(v: unknown): Histogram {
  const h = v as Histogram | undefined;
  const fresh = emptyHistogram();
  if (
    !h || !Array.isArray(h.bounds) || !Array.isArray(h.buckets) ||
    h.bounds.length !== fresh.bounds.length || h.bounds.some((b, i) => b !== fresh.bounds[i]) ||
    h.buckets.length !== fresh.buckets.length
  ) return fresh;
  return {
    bounds: fresh.bounds,
    buckets: h.buckets.map(Number),
    sum: Number(h.sum) || 0,
    count: Number(h.count) || 0,
  };
}

/** Decodes a stored ledger (absent or unreadable: empty; histograms of other bounds start over). */
function decodeLedger(bytes: Uint8Array | undefined): Ledger {
  let raw: Record<string, unknown> = {};
  if (bytes) {
    try {
      raw = JSON.parse(dec.decode(bytes)) ?? {};
    } catch {
      raw = {};
    }
  }
  const attempts = zeroAttempts();
  const rawAttempts = (raw.attempts ?? {}) as Record<string, unknown>;
  for (const o of ATTEMPT_OUTCOMES) attempts[o] = Number(rawAttempts[o]) || 0;
  return {
    completed: Number(raw.completed) || 0,
    dead: Number(raw.dead) || 0,
    canceled: Number(raw.canceled) || 0,
    attempts,
    wait: histogramOf(raw.wait),
    run: histogramOf(raw.run),
    cursors: (raw.cursors ?? {}) as Ledger["cursors"],
  };
}

/** Where a queue's ledger lives. */
export function ledgerKey(ks: Keyspace): KvKey {
  return [...ks.root, "metrics", ks.queue];
}

/**
 * The attempts since the job last left `dead` by a redrive (which keeps the history and restarts the
 * numbering at 1): an earlier end already counted those before it. A released attempt is followed by
 * one with the same number; any other attempt by a higher one.
 */
export function sinceRedrive(history: readonly AttemptRecord[]): readonly AttemptRecord[] {
  let i = history.length - 1;
  while (i > 0) {
    const prev = history[i - 1];
    const cur = history[i];
    if (cur.attempt < prev.attempt || (cur.attempt === prev.attempt && prev.outcome !== "released")) break;
    i--;
  }
  return history.slice(Math.max(0, i));
}

/** The ledger with one ended job folded in (its record, when it could still be read). */
function fold(l: Ledger, state: Ended, record: JobRecord | undefined): Ledger {
  let { wait, run } = l;
  const attempts = { ...l.attempts };
  if (record) {
    for (const a of sinceRedrive(record.history ?? [])) {
      if (a.outcome in attempts) attempts[a.outcome]++;
      run = observe(run, Math.max(0, a.endedAt - a.startedAt) / 1000);
    }
    if (record.startedAt !== undefined) {
      wait = observe(wait, Math.max(0, record.startedAt - record.runAt) / 1000);
    }
  }
  return { ...l, [state]: l[state] + 1, attempts, wait, run };
}

/**
 * Reads the terminal indexes of one queue past the ledger's cursors (entries at least `settleMs`
 * old, up to a few thousand per call), folds them in and writes the ledger back.
 *
 * @param kv The store.
 * @param ks The queue's keys.
 * @param now The current time (ms since the epoch).
 * @param settleMs How old an index entry must be to be counted.
 * @returns The totals as stored after this call.
 */
export async function advanceLedger(
  kv: AtomicKv,
  ks: Keyspace,
  now: number,
  settleMs: number,
): Promise<QueueTotals> {
  const key = ledgerKey(ks);
  let ledger = emptyTotals() as Ledger;
  for (let tries = 0; tries < TRIES; tries++) {
    const entry = await kv.get(key);
    ledger = decodeLedger(entry?.value);
    let read = 0;
    const cursors = { ...ledger.cursors };
    for (const state of ENDED) {
      const prefix = ks.indexPrefix(state);
      const end = [...prefix, now - settleMs + 1];
      while (read < BUDGET) {
        const at = cursors[state];
        const start = at ? [...prefix, at[0], at[1] + "\u0000"] : prefix;
        const keys: KvKey[] = [];
        for await (const e of kv.list({ prefix, start, end }, { limit: PAGE })) keys.push(e.key);
        if (!keys.length) break;
        read += keys.length;
        const ids = keys.map((k) => String(k[k.length - 1]));
        const records = await kv.getMany(ids.map((id) => ks.job(id)));
        for (const r of records) {
          let record: JobRecord | undefined;
          try {
            record = r ? JSON.parse(dec.decode(r.value)) as JobRecord : undefined;
          } catch {
            record = undefined;
          }
          ledger = fold(ledger, state, record);
        }
        const last = keys[keys.length - 1];
        cursors[state] = [Number(last[last.length - 2]), String(last[last.length - 1])];
        if (keys.length < PAGE) break;
      }
    }
    if (read === 0) return ledger;
    ledger = { ...ledger, cursors };
    const res = await kv.atomic().check(key, entry?.versionstamp ?? null).set(
      key,
      enc.encode(JSON.stringify(ledger)),
    )
      .commit();
    if (res.ok) return ledger;
  }
  return decodeLedger((await kv.get(key))?.value);
}
