/**
 * How errors become gRPC status codes: the HTTP API's status of an error (`statusOf`, one table
 * for both protocols) mapped to the code of the same meaning, with the kvq error name in the
 * trailer `kvq-error-name` so a client can tell `LeaseLostError` from `CanceledError`.
 *
 * | HTTP | gRPC |
 * | --- | --- |
 * | 400 bad input | INVALID_ARGUMENT |
 * | 401 | UNAUTHENTICATED |
 * | 403 cross-site | PERMISSION_DENIED |
 * | 404 job or queue | NOT_FOUND |
 * | 409 lost lease, wrong state | FAILED_PRECONDITION |
 * | 413 too large, 429 queue full | RESOURCE_EXHAUSTED |
 * | 421 foreign host | PERMISSION_DENIED |
 * | 503 store down, shutting down | UNAVAILABLE |
 * | anything else | INTERNAL |
 *
 * @module
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { statusOf } from "../_errors.ts";

/** The trailer that names the kvq error behind a status. */
export const ERROR_NAME_TRAILER = "kvq-error-name";

const CODES: Record<number, Code> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  409: Code.FailedPrecondition,
  413: Code.ResourceExhausted,
  415: Code.InvalidArgument,
  421: Code.PermissionDenied,
  429: Code.ResourceExhausted,
  503: Code.Unavailable,
};

/** The gRPC code of an error. */
export function codeOf(err: unknown): Code {
  if (err instanceof ConnectError) return err.code;
  return CODES[statusOf(err)] ?? Code.Internal;
}

/** An error as the `ConnectError` a client receives (a `ConnectError` passes unchanged). */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const name = err instanceof Error ? err.name : "Error";
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectError(message, codeOf(err), { [ERROR_NAME_TRAILER]: name }, undefined, err);
}
