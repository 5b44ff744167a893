// User-facing error handling for the CLI. Three kinds of failure:
//  - the user's (bad input): errors carrying an HTTP-style 4xx `status`, and
//    file-system errors on a path the user gave (unwritable --out, missing
//    file); one `error: ...` line, exit 2;
//  - a command that ran but whose result the user must not miss (an export
//    that failed verification): CommandFailed, one line, its exit code (1);
//  - anything else is a bug: its stack, exit 70 (EX_SOFTWARE).

export class UsageError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A command finished its work but failed what it checks (verification,
 * a target not met). Thrown after the command printed its report, so the
 * failure ends the process with a non-zero code instead of a 0.
 */
export class CommandFailed extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CommandFailed';
    if (!Number.isInteger(exitCode) || exitCode < 1 || exitCode > 125) throw new RangeError(`exit code must be in 1..125, got ${exitCode}`);
    this.exitCode = exitCode;
  }
}

export function isUserError(e: unknown): e is Error & { status: number } {
  const status = (e as { status?: unknown } | null)?.status;
  return e instanceof Error && typeof status === 'number' && status >= 400 && status < 500;
}

/** File-system errors Node raises for a path (ENOENT, EACCES, ENOTDIR, ...): the path is the user's to fix. */
const PATH_ERROR_CODES = new Set(['ENOENT', 'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'EEXIST', 'EROFS', 'ENOSPC', 'ENAMETOOLONG', 'ELOOP', 'EDQUOT']);

export function isPathError(e: unknown): e is NodeJS.ErrnoException & { path: string } {
  const x = e as NodeJS.ErrnoException | null;
  return e instanceof Error && typeof x?.code === 'string' && PATH_ERROR_CODES.has(x.code) && typeof x.path === 'string';
}

/** Print an error the way the CLI does and return the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof CommandFailed) {
    process.stderr.write(`error: ${oneLine(e.message)}\n`);
    return e.exitCode;
  }
  if (isUserError(e) || isPathError(e)) {
    process.stderr.write(`error: ${oneLine(e.message)}\n`);
    return 2;
  }
  process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 70;
}

/** A message on one line (a multi-line message keeps every line, joined). */
function oneLine(s: string): string {
  return s.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).join('; ');
}
