/**
 * How errors become HTTP responses: every error is answered as JSON `{ error: { name, message } }`
 * with a status chosen by its class.
 *
 * @module
 */

import {
  CanceledError,
  JobNotFoundError,
  JobStateError,
  KvqError,
  LeaseLostError,
  LimitError,
  QueueFullError,
  StorageError,
  StoreClosedError,
} from "../mod.ts";
import { HTTPException } from "hono/http-exception";

/** An error that carries its own HTTP status (routing and request errors of the server). */
export class HttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** Creates the error. */
  constructor(status: number, name: string, message: string) {
    super(message);
    this.status = status;
    this.name = name;
  }
}

/**
 * The status for an error.
 *
 * | error | status |
 * | --- | --- |
 * | {@linkcode HttpError}, Hono's `HTTPException` | its own |
 * | `TypeError`, `RangeError`, `SyntaxError` (bad input) | 400 |
 * | `JobNotFoundError` | 404 |
 * | `JobStateError`, `LeaseLostError`, `CanceledError` | 409 |
 * | `LimitError` | 413 |
 * | `QueueFullError` | 429 |
 * | `StoreClosedError`, `StorageError` | 503 |
 * | anything else | 500 |
 */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError || err instanceof HTTPException) return err.status;
  if (err instanceof QueueFullError) return 429;
  if (err instanceof LimitError) return 413;
  if (err instanceof JobNotFoundError) return 404;
  if (err instanceof JobStateError || err instanceof LeaseLostError || err instanceof CanceledError) {
    return 409;
  }
  if (err instanceof StoreClosedError || err instanceof StorageError) return 503;
  if (err instanceof KvqError) return 500;
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) return 400;
  return 500;
}

/** The JSON body for an error. */
export function errorBody(err: unknown): { error: { name: string; message: string } } {
  if (err instanceof HTTPException) {
    const name = err.status === 415
      ? "UnsupportedMediaTypeError"
      : err.status === 400
      ? "TypeError"
      : "HttpError";
    return { error: { name, message: err.message } };
  }
  if (err instanceof Error) return { error: { name: err.name, message: err.message } };
  return { error: { name: "Error", message: String(err) } };
}

/** The full response for an error. */
export function errorResponse(err: unknown): Response {
  const status = statusOf(err);
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (status === 429 || status === 503) headers["retry-after"] = "1";
  if (status === 401) headers["www-authenticate"] = 'Bearer realm="kvq"';
  return new Response(JSON.stringify(errorBody(err)), { status, headers });
}
