/**
 * Placeholder for the store entry point; being built (see the issue tracker).
 *
 * @module
 */
export {};
