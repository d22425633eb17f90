/** An error a user caused (bad flag, unreadable file, ...): printed as one line, no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    /** Process exit status: 2 = bad input/usage (the default), 1 = operation failed. */
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The message of anything thrown, never its stack. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
