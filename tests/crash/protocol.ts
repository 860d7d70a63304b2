// What the crash-test children and their parents share: the queue names, the index names, and the dump
// format (one JSON value per line: the jobs as stored, every index entry, the stored counts).
import type { Counts } from "../../src/committer.ts";
import type { JobRecord, JobState } from "../../src/job.ts";
import { STATE_INDEX } from "../../src/keys.ts";

/** The queue every crash child uses. */
export const CRASH_QUEUE = "crash";

/** The queue every fleet process uses (tests/crash/fleet.ts). */
export const FLEET_QUEUE = "fleet";

/** The distinct state indexes of the keyspace (scheduled and failed share "delayed"). */
export const INDEXES: readonly string[] = [...new Set(Object.values(STATE_INDEX))];

/** The part of a job record the parent checks. */
export interface DumpJob {
  readonly id: string;
  readonly state: JobState;
  /** The payload's job number (`null` when the payload is not `{ n }`). */
  readonly n: number | null;
  /** The stored result (the handler returns n). */
  readonly result: unknown;
  readonly attempt: number;
  readonly priority: number;
  readonly runAt: number;
  readonly updatedAt: number;
  readonly finishedAt?: number;
  readonly lease?: { readonly expiresAt: number };
  /** The ended attempts: [attempt, outcome]. */
  readonly history: readonly (readonly [number, string])[];
}

/** One index entry: index name, key after [root, index, queue], value as text. */
export interface DumpIndexEntry {
  readonly idx: string;
  readonly key: readonly unknown[];
  readonly v: string;
}

/** A parsed dump. */
export interface Dump {
  readonly jobs: Map<string, DumpJob>;
  readonly index: DumpIndexEntry[];
  readonly counts: Counts | null;
}

function slim(r: JobRecord): DumpJob {
  const payload = r.payload as { json?: { n?: unknown } };
  const result = r.result as { json?: unknown } | undefined;
  return {
    id: r.id,
    state: r.state,
    n: typeof payload.json?.n === "number" ? payload.json.n : null,
    result: result?.json,
    attempt: r.attempt,
    priority: r.priority,
    runAt: r.runAt,
    updatedAt: r.updatedAt,
    ...(r.finishedAt !== undefined ? { finishedAt: r.finishedAt } : {}),
    ...(r.lease ? { lease: { expiresAt: r.lease.expiresAt } } : {}),
    history: r.history.map((h) => [h.attempt, h.outcome] as const),
  };
}

/** Encodes a dump. */
export function dumpLines(records: JobRecord[], index: DumpIndexEntry[], counts: Counts): string {
  const lines: string[] = [];
  for (const r of records) lines.push(JSON.stringify({ job: slim(r) }));
  for (const e of index) lines.push(JSON.stringify({ idx: e }));
  lines.push(JSON.stringify({ counts }));
  return lines.join("\n") + "\n";
}

/** Decodes a dump. */
export function parseDump(text: string): Dump {
  const jobs = new Map<string, DumpJob>();
  const index: DumpIndexEntry[] = [];
  let counts: Counts | null = null;
  for (const line of text.split("\n")) {
    if (!line) continue;
    const v = JSON.parse(line) as { job?: DumpJob; idx?: DumpIndexEntry; counts?: Counts };
    if (v.job) jobs.set(v.job.id, v.job);
    else if (v.idx) index.push(v.idx);
    else if (v.counts) counts = v.counts;
  }
  return { jobs, index, counts };
}
