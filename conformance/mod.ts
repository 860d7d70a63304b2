/**
 * Placeholder for the conformance suite entry point; being built.
 *
 * @module
 */
export {};
