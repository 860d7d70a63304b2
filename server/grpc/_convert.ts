/**
 * Between kvq's objects and the messages of `proto/kvq/v1/queue.proto`: jobs, job states, leases,
 * counts, and values (a payload, result or progress: JSON as `google.protobuf.Value`, a top-level
 * `Uint8Array` as bytes, nested bytes as `{ "$bytes": "<base64>" }` as in the HTTP API).
 *
 * @module
 */

import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { ValueSchema as JsonValueSchema } from "@bufbuild/protobuf/wkt";
import type { Counts, Job, JobState } from "../../mod.ts";
import type { Claimed } from "../_consumer.ts";
import {
  type Counts as CountsMessage,
  CountsSchema,
  type Job as JobMessage,
  JobSchema,
  JobState as JobStateEnum,
  type Lease,
  LeaseSchema,
  type Value,
  ValueSchema,
} from "./gen/kvq/v1/queue_pb.ts";

/** kvq's job states by their proto enum value (index 0 is JOB_STATE_UNSPECIFIED). */
const STATES: Record<JobStateEnum, JobState | undefined> = {
  [JobStateEnum.UNSPECIFIED]: undefined,
  [JobStateEnum.SCHEDULED]: "scheduled",
  [JobStateEnum.READY]: "ready",
  [JobStateEnum.ACTIVE]: "active",
  [JobStateEnum.FAILED]: "failed",
  [JobStateEnum.COMPLETED]: "completed",
  [JobStateEnum.DEAD]: "dead",
  [JobStateEnum.CANCELED]: "canceled",
};
const ENUM_OF = new Map(
  Object.entries(STATES).flatMap(([n, s]) => (s ? [[s, Number(n) as JobStateEnum] as const] : [])),
);

/** The kvq state of a proto state; `undefined` for JOB_STATE_UNSPECIFIED. */
export function stateOf(state: JobStateEnum): JobState | undefined {
  if (!(state in STATES)) throw new RangeError(`Invalid state: ${state} is not a JobState`);
  return STATES[state];
}

/** A number of ms from an int64 field (`undefined` stays `undefined`). */
export function ms(v: bigint | undefined): number | undefined {
  return v === undefined ? undefined : Number(v);
}

function big(v: number): bigint;
function big(v: number | undefined): bigint | undefined;
function big(v: number | undefined): bigint | undefined {
  return v === undefined ? undefined : BigInt(Math.trunc(v));
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** A kvq value as a `Value` message; `undefined` stays unset. */
export function toValue(v: unknown): Value | undefined {
  if (v === undefined) return undefined;
  if (v instanceof Uint8Array) return create(ValueSchema, { kind: { case: "binary", value: v } });
  // The same JSON as the HTTP API: nested bytes as { $bytes }, dates as strings, and so on.
  const json = JSON.parse(
    JSON.stringify(v, (_k, x) => x instanceof Uint8Array ? { $bytes: toBase64(x) } : x) ?? "null",
  ) as JsonValue;
  return create(ValueSchema, { kind: { case: "json", value: fromJson(JsonValueSchema, json) } });
}

/** A `Value` message as a kvq value: JSON, a `Uint8Array`, or `undefined` when unset. */
export function fromValue(v: Value | undefined): unknown {
  if (v === undefined) return undefined;
  if (v.kind.case === "binary") return v.kind.value;
  if (v.kind.case === "json") return toJson(JsonValueSchema, v.kind.value);
  return null;
}

/** A job as a message; without `payloads`, its data, result and progress are left out. */
export function toJob(job: Job, payloads = true): JobMessage {
  return create(JobSchema, {
    id: job.id,
    queue: job.queue,
    state: ENUM_OF.get(job.state) ?? JobStateEnum.UNSPECIFIED,
    data: payloads ? toValue(job.data) : undefined,
    priority: job.priority,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    runAtMs: big(job.runAt),
    createdAtMs: big(job.createdAt),
    updatedAtMs: big(job.updatedAt),
    startedAtMs: big(job.startedAt),
    finishedAtMs: big(job.finishedAt),
    progress: payloads ? toValue(job.progress) : undefined,
    result: payloads ? toValue(job.result) : undefined,
    error: job.error && { ...job.error },
    reason: job.reason,
    history: job.history.map((h) => ({
      attempt: h.attempt,
      startedAtMs: big(h.startedAt),
      endedAtMs: big(h.endedAt),
      outcome: h.outcome,
      error: h.error && { ...h.error },
    })),
    key: job.key,
    timeoutMs: big(job.timeout),
    cancelRequested: job.cancelRequested === true,
    leaseOwner: job.lease?.owner,
    leaseExpiresAtMs: big(job.lease?.expiresAt),
    schedule: job.schedule,
  });
}

/** A claimed job as a `Lease` message. */
export function toLease(c: Claimed): Lease {
  return create(LeaseSchema, {
    job: toJob(c.job),
    token: c.token,
    leaseMs: big(c.leaseMs),
    expiresAtMs: big(c.expiresAt),
  });
}

/** Jobs per state as a `Counts` message. */
export function toCounts(c: Counts): CountsMessage {
  return create(CountsSchema, {
    scheduled: big(c.scheduled),
    ready: big(c.ready),
    active: big(c.active),
    failed: big(c.failed),
    completed: big(c.completed),
    dead: big(c.dead),
    canceled: big(c.canceled),
  });
}
