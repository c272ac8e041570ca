// Errors meant for people. The CLI maps them to exit codes (docs/conventions.md):
// 2 for bad input or usage, 1 for an operation that failed. Anything else is a bug
// and shows a stack trace only with PODNET_DEBUG=1.

/** Bad input: a flag, field or value that is wrong. The message names it and what would be valid. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The operation failed: kernel, store or network. */
export class OperationError extends Error {
  readonly exitCode = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OperationError';
  }
}

/**
 * An object read from the store is malformed (a field no validation would have let in, written
 * by another tool or an older version). Exit 1: the user's own input was fine; the message
 * names the object and the field, e.g. `Node node-3: spec.podCIDR "10.244.1/24": ...`.
 */
export class DataError extends OperationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataError';
  }
}

/** The store cannot be reached or has no quorum; callers may retry later. */
export class StoreUnavailableError extends OperationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
