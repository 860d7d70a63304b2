/**
 * The adapter kit: what every kvq adapter needs besides the contract, written once. Published in
 * `kvq/kv` (`@kvq/kvq/kv`) for authors of new backends.
 *
 * - {@link KvState} / {@link StateKv}: an ordered in-memory state (reads, checks, list, watch) and
 *   the read side of a store over it; the memory adapter and the file store are built on them.
 * - {@link SortedMap}: the ordered map of binary-string keys under {@link MemoryEntries}.
 * - {@link WatchHub}: watchers by key prefix, woken after the commits that touch them.
 * - {@link WriteQueue}: commits waiting to be written, taken in groups (group commit).
 * - {@link pagedList}: `list()` page by page over a store that reads key ranges.
 * - {@link storageError}, {@link errorCode}, {@link errorMessage}: driver errors as `StorageError`.
 * - {@link startsWith}, {@link plainBytes}, {@link copyBytes}, {@link bytesToBinary}, {@link binaryToBytes}: bytes.
 *
 * @module
 */

export { afterBytes, binaryToBytes, bytesToBinary, copyBytes, plainBytes, startsWith } from "./bytes.ts";
export { LIST_PAGE, pagedList, type PageSource } from "./paged_list.ts";
export { errorCode, errorMessage, storageError } from "./errors.ts";
export { SortedMap } from "./sorted_map.ts";
export { type AppliedMutation, type EntryStore, KvState, MemoryEntries, type StoredValue } from "./state.ts";
export { StateKv } from "./state_kv.ts";
export { type WatchedPrefix, type WatchHooks, WatchHub } from "./watch_hub.ts";
export { type Queued, WriteQueue } from "./write_queue.ts";
