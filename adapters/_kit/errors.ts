/**
 * Turning what a driver or the file system threw into the contract's typed errors, written once:
 * an adapter reports every failure as a {@link StorageError} naming itself, the operation, what it
 * was doing and the underlying message, with the cause and its string `code` (`"ENOSPC"`, ...).
 *
 * @module
 */

import { StorageError } from "../../src/errors.ts";

/**
 * The string `code` of a thrown value (`"ENOENT"`, `"EIO"`, ...), or undefined.
 *
 * @example
 * ```ts
 * import { errorCode } from "@kvq/kvq/kv";
 * console.log(errorCode(Object.assign(new Error("full"), { code: "ENOSPC" }))); // "ENOSPC"
 * ```
 */
export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * The message of a thrown value (its `message`, or the value itself as a string).
 *
 * @example
 * ```ts
 * import { errorMessage } from "@kvq/kvq/kv";
 * console.log(errorMessage(new Error("boom")), errorMessage("plain")); // "boom" "plain"
 * ```
 */
export function errorMessage(e: unknown): string {
  return String((e as Error | null)?.message ?? e);
}

/**
 * `e` as a {@link StorageError} of `adapter` and `operation`: a StorageError (or subclass) is
 * returned as it is; anything else becomes one whose message is `"<doing>: <e's message>"`, with
 * `e` as its cause and e's `code`.
 *
 * @param adapter The adapter's name (`info.name`).
 * @param operation The contract operation that failed (`"open"`, `"commit"`, ...).
 * @param doing What the adapter was doing, e.g. `"cannot write 4096 bytes to /data/jobs.kvq"`.
 * @param e What was thrown.
 *
 * @example
 * ```ts
 * import { storageError } from "@kvq/kvq/kv";
 * const err = storageError("my-store", "commit", "cannot write", Object.assign(new Error("disk full"), { code: "ENOSPC" }));
 * console.log(err.message, err.code); // "... cannot write: disk full" "ENOSPC"
 * ```
 */
export function storageError(adapter: string, operation: string, doing: string, e: unknown): StorageError {
  if (e instanceof StorageError) return e;
  return new StorageError(adapter, operation, `${doing}: ${errorMessage(e)}`, {
    cause: e,
    code: errorCode(e),
  });
}
