import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors.js';
import { messageOf } from '../errors.js';
import { programName } from './program.js';

export type FlagOptions = NonNullable<ParseArgsConfig['options']>;
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

type FlagOption = FlagOptions[string];
type FlagValue<O extends FlagOption> = O['type'] extends 'string'
  ? O['multiple'] extends true
    ? string[]
    : string
  : O['multiple'] extends true
    ? boolean[]
    : boolean;
/**
 * The values of a command's flags, typed by its option table: a string flag is a string, a repeatable one an array
 * (and still indexable by name, for helpers that take the flag's name).
 */
export type TypedFlagValues<T extends FlagOptions> = {
  -readonly [K in keyof T]?: FlagValue<T[K]>;
} & FlagValues;

/** What was wrong with the command line, for a command that words it its own way. */
export interface FlagProblem {
  /** The first sentence of node's message. */
  message: string;
  /** `unknown` flag, a `missing-value`, or something `other`. */
  kind: 'unknown' | 'missing-value' | 'other';
  /** The flag as written (`--x`, `-x`), when node names it. */
  flag?: string;
}

/** node's parseArgs appends a paragraph about positionals to "Unknown option"; the first sentence is the news. */
export function firstSentence(message: string): string {
  return message.split('\n')[0]!.split('. To specify')[0]!;
}

function problemOf(err: unknown): FlagProblem {
  const message = firstSentence(messageOf(err));
  const code = (err as { code?: unknown }).code;
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown)
    return { message, kind: 'unknown', flag: unknown[1] };
  const missing = /^Option '(?:-\w, )?(--?[^ ']+)(?: <value>)?' argument missing/.exec(message);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && missing)
    return { message, kind: 'missing-value', flag: missing[1] };
  return { message, kind: 'other' };
}

export interface ParseFlagsOptions {
  allowPositionals?: boolean;
  /** The one-line error for a bad command line; by default it points at `openirsa <command> --help`. */
  describe?: (problem: FlagProblem) => string;
}

/**
 * Strict node:util parseArgs for a command; a bad flag becomes one CliError line (exit 2) that names what is
 * wrong and points at `openirsa <command> --help`.
 */
export function parseFlags<const T extends FlagOptions>(
  command: string,
  argv: string[],
  options: T,
  how: boolean | ParseFlagsOptions = false,
): { values: TypedFlagValues<T>; positionals: string[] } {
  const { allowPositionals = false, describe } = typeof how === 'boolean' ? { allowPositionals: how } : how;
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals });
    return { values: values, positionals };
  } catch (err) {
    const problem = problemOf(err);
    throw new CliError(
      describe ? describe(problem) : `${problem.message}; run '${programName()} ${command} --help'`,
    );
  }
}
