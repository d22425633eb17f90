import { OpenIrsaError, messageOf, type ErrorCode } from '../errors.js';
import { terminalSafe } from '../escape.js';

/** Process exit statuses: the input was wrong (usage, a flag, a file), or the operation failed. */
export const EXIT_BAD_INPUT = 2;
export const EXIT_FAILED = 1;

/** The codes that mean the user's input was wrong: exit 2, like a bad flag. Every other failure exits 1. */
const BAD_INPUT = new Set<string>([
  'FileUnreadable',
  'SyntaxInvalid',
  'UsageInvalid',
  'FlagInvalid',
  'StsConfigInvalid',
  'IamApiConfigInvalid',
  'IamStateFileInvalid',
  'AgentConfigInvalid',
  'KubeconfigInvalid',
  'RenderUnsupported',
  'ServiceAccountMissing',
  'TrustPolicyRefused',
  'KeyUnreadable',
  'KeyInvalid',
  'KeyUnsupported',
  'KeyExists',
  'UrlInvalid',
  'BadInput',
  'TokenInvalid',
  'DocumentInvalid',
] satisfies ErrorCode[]);

/**
 * An error a command words itself (bad flag, a failure with the command's own context): printed as one line, no
 * stack trace, with the exit status the command chose.
 */
export class CliError extends OpenIrsaError {
  constructor(
    message: string,
    /** Process exit status: 2 = bad input/usage (the default), 1 = operation failed. */
    readonly exitCode = EXIT_BAD_INPUT,
    options?: ErrorOptions,
  ) {
    super(exitCode === EXIT_BAD_INPUT ? 'UsageInvalid' : 'CommandFailed', message, options);
  }
}

/** The one decision of every command's exit status for a thrown error. */
export function exitStatusOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof OpenIrsaError && typeof err.code === 'string' && BAD_INPUT.has(err.code))
    return EXIT_BAD_INPUT;
  return EXIT_FAILED;
}

/** `err` worded in a command's context (`prefix` goes before its message), keeping the exit status its code gives. */
export function inContext(prefix: string, err: unknown, exitCode = exitStatusOf(err)): CliError {
  return new CliError(`${prefix}${messageOf(err)}`, exitCode, { cause: err });
}

/**
 * What the CLI prints for a failure: `openirsa: MESSAGE`. A message may quote input (a flag's value, a file's
 * content), so no line of it reaches the terminal raw.
 */
export function failureText(err: unknown): string {
  return `openirsa: ${messageOf(err).split('\n').map(terminalSafe).join('\n')}`;
}
