/**
 * Placeholder for the file entry point; being built (see the issue tracker).
 *
 * @module
 */
export {};
