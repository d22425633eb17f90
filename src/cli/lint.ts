import { CliError } from './errors.js';

export async function run(_argv: string[]): Promise<number> {
  throw new CliError('"lint" is not implemented yet', 1);
}
