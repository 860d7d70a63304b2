/**
 * Placeholder for the deno-kv entry point; being built (see the issue tracker).
 *
 * @module
 */
export {};
