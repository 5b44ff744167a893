// User-facing error handling for the CLI: errors that carry an HTTP-style 4xx
// `status` are the user's (bad input) and print as one line; anything else is
// a bug and prints its stack.

export class UsageError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function isUserError(e: unknown): e is Error & { status: number } {
  const status = (e as { status?: unknown } | null)?.status;
  return e instanceof Error && typeof status === 'number' && status >= 400 && status < 500;
}

/** Print an error the way the CLI does and return the exit code. */
export function reportError(e: unknown): number {
  if (isUserError(e)) {
    process.stderr.write(`error: ${e.message}\n`);
    return 2;
  }
  process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 70;
}
