/**
 * `openirsa lint FILE... | --config STS-CONFIG [--format text|json|sarif] [--max-size N]`
 * Exit 0: no error findings; 1: at least one error finding; 2: bad input (unreadable file, not JSON/YAML, unknown shape).
 */
import { cannotRead } from '../file-errors.js';
import { terminalSafe, terminalSafeJson } from '../escape.js';
import { readFileSync } from 'node:fs';
import { parseFlags } from './args.js';
import { CliError } from './errors.js';
import { parseStructured, SyntaxPositionError } from './structured-text.js';
import {
  IamError,
  lintRoles,
  locator,
  toSarif,
  type LintOptions,
  type LocatedFinding,
} from '../iam/index.js';
import { loadConfig } from '../sts/config.js';
import { changedRoles, contextOfConfig, lintInput } from '../sts/lint-input.js';
import { liveState } from './iam-state.js';

const USAGE = `usage: openirsa lint [flags] FILE...
       openirsa lint [flags] --config STS-CONFIG

Static checks on IRSA role trust policies. FILE is a trust policy (JSON or YAML), the output of
'aws iam get-role' or 'aws iam list-roles', or an sts config with a "roles" array; '-' reads stdin.

flags:
  --config FILE        lint every role of an openirsa sts config (YAML or JSON); repeatable
  --format FORMAT      text (default), json, or sarif (SARIF 2.1.0 for code-scanning tools)
  --max-size N         trust-policy size quota in characters (default 2048; 4096 when raised)
  -h, --help           show this help

exit status: 0 no error findings, 1 error findings, 2 bad input`;

type Format = 'text' | 'json' | 'sarif';

interface Args {
  files: string[];
  configs: string[];
  format: Format;
  options: LintOptions;
}

function parseArgs(argv: string[]): Args | 'help' {
  const { values, positionals } = parseFlags(
    'lint',
    argv,
    {
      config: { type: 'string', multiple: true },
      format: { type: 'string' },
      'max-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    {
      allowPositionals: true,
      describe: (p) =>
        p.kind === 'unknown'
          ? `unknown flag "${p.flag}"; run 'openirsa lint --help'`
          : p.kind === 'missing-value'
            ? `${p.flag} needs a value`
            : `${p.message}; run 'openirsa lint --help'`,
    },
  );
  if (values.help) return 'help';
  const args: Args = { files: positionals, configs: values.config ?? [], format: 'text', options: {} };
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json' && format !== 'sarif')
    throw new CliError(`--format must be text, json or sarif, not "${format}"`);
  args.format = format;
  const maxSize = values['max-size'];
  if (maxSize !== undefined) {
    if (!/^\d+$/.test(maxSize))
      throw new CliError(`--max-size must be a number of characters, not "${maxSize}"`);
    args.options.maxSize = Number(maxSize);
  }
  if (args.files.length === 0 && args.configs.length === 0) {
    throw new CliError(`no input: give trust-policy files or --config FILE; run 'openirsa lint --help'`);
  }
  return args;
}

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(cannotRead('', file, err));
  }
}

function parseContent(file: string, text: string): unknown {
  if (text.trim() === '') throw new CliError(`${file}: empty file`);
  try {
    return parseStructured(file, text);
  } catch (err) {
    if (err instanceof SyntaxPositionError) throw new CliError(`${file}:${err.message}`);
    throw err;
  }
}

function lintFile(file: string, asConfig: boolean, options: LintOptions): LocatedFinding[] {
  const text = readInput(file);
  const value = parseContent(file, text);
  let findings;
  try {
    findings = lintInput(value, asConfig, options);
  } catch (err) {
    if (err instanceof IamError)
      throw new CliError(`${file}: ${err.message}${err.path ? ` (at ${err.path})` : ''}`);
    throw err;
  }
  if (!findings)
    throw new CliError(`${file}: neither a policy document (no "Statement") nor a config with "roles"`);
  const locate = locator(text);
  const name = file === '-' ? 'stdin' : file;
  return findings.map((f) => ({ ...f, file: name, ...(locate(f.path) ?? {}) }));
}

/**
 * Roles the IAM API created or changed (stored beside the config or in the cluster): linted like the seed's, the
 * finding's file being the state's location and its path the role.
 */
async function lintStoredRoles(file: string, options: LintOptions): Promise<LocatedFinding[]> {
  let seed;
  try {
    seed = loadConfig(file);
  } catch {
    return []; // an invalid config is linted as a file above; the state needs a valid one
  }
  if (!seed.iamApi) return [];
  const live = await liveState(seed);
  const where = live.store.backend.where;
  const config = live.config();
  await live.stop();
  return lintRoles(changedRoles(seed, config), { ...options, context: contextOfConfig(config) }).map((f) => ({
    ...f,
    file: where,
  }));
}

function counts(findings: LocatedFinding[]): { errors: number; warnings: number; infos: number } {
  return {
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
    infos: findings.filter((f) => f.severity === 'info').length,
  };
}

function formatText(findings: LocatedFinding[], fileCount: number): string {
  const out: string[] = [];
  for (const f of findings) {
    const where = `${f.file}${f.line ? `:${f.line}:${f.column}` : ''}`;
    out.push(`${where}: ${f.severity} [${f.ruleId}]${f.role ? ` role ${f.role}` : ''} at ${f.path}`);
    out.push(`  ${f.message}`);
    out.push(`  why: ${f.why}`);
    out.push(`  fix: ${f.fix}`);
  }
  const c = counts(findings);
  out.push(
    findings.length === 0
      ? `no findings in ${fileCount} file(s)`
      : `${c.errors} error(s), ${c.warnings} warning(s), ${c.infos} info in ${fileCount} file(s)`,
  );
  return out.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }
  const findings: LocatedFinding[] = [];
  for (const c of args.configs) {
    findings.push(...lintFile(c, true, args.options));
    findings.push(...(await lintStoredRoles(c, args.options)));
  }
  for (const f of args.files) findings.push(...lintFile(f, false, args.options));
  const fileCount = args.configs.length + args.files.length;
  if (args.format === 'json') {
    console.log(
      terminalSafeJson(
        JSON.stringify({ findings, summary: { files: fileCount, ...counts(findings) } }, null, 2),
      ),
    );
  } else if (args.format === 'sarif') {
    console.log(terminalSafeJson(JSON.stringify(toSarif(findings, process.cwd()), null, 2)));
  } else {
    console.log(formatText(findings, fileCount).split('\n').map(terminalSafe).join('\n'));
  }
  return findings.some((f) => f.severity === 'error') ? 1 : 0;
}
