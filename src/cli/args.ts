import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors.js';
import { messageOf } from '../errors.js';
import { programName } from './program.js';

export type FlagOptions = NonNullable<ParseArgsConfig['options']>;
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** node's parseArgs appends a paragraph about positionals to "Unknown option"; the first sentence is the news. */
export function firstSentence(message: string): string {
  return message.split('\n')[0]!.split('. To specify')[0]!;
}

/**
 * Strict node:util parseArgs for a command; a bad flag becomes one CliError line (exit 2) that names what is
 * wrong and points at `openirsa <command> --help`.
 */
export function parseFlags(
  command: string,
  argv: string[],
  options: FlagOptions,
  allowPositionals = false,
): { values: FlagValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals });
    return { values: values as FlagValues, positionals };
  } catch (err) {
    throw new CliError(`${firstSentence(messageOf(err))}; run '${programName()} ${command} --help'`);
  }
}
