/**
 * Placeholder for the sqlite entry point; being built (see the issue tracker).
 *
 * @module
 */
export {};
