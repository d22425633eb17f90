/**
 * `openirsa lint FILE... | --config STS-CONFIG [--format text|json|sarif] [--max-size N]`
 * Exit 0: no error findings; 1: at least one error finding; 2: bad input (unreadable file, not JSON/YAML, unknown shape).
 */
import { terminalSafe, terminalSafeJson } from '../escape.js';
import { readFileSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { Log, ReportingDescriptor, Result } from 'sarif';
import { CliError, messageOf } from './errors.js';
import { parseStructured, SyntaxPositionError } from './structured-text.js';
import {
  contextFromConfig,
  IamError,
  LINT_RULES,
  lintInputKind,
  lintRoles,
  lintTrustPolicy,
  rolesFromConfig,
  type LintContext,
  type LintFinding,
  type LintOptions,
  type RoleInput,
} from '../iam/index.js';
import { loadConfig } from '../sts/config.js';
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

interface Located extends LintFinding {
  file: string;
  line?: number;
  column?: number;
}

interface Args {
  files: string[];
  configs: string[];
  format: Format;
  options: LintOptions;
}

function parseArgs(argv: string[]): Args | 'help' {
  const args: Args = { files: [], configs: [], format: 'text', options: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new CliError(`${flag} needs a value`);
      return v;
    };
    if (flag === '-h' || flag === '--help') return 'help';
    else if (flag === '--config') args.configs.push(value());
    else if (flag === '--format') {
      const f = value();
      if (f !== 'text' && f !== 'json' && f !== 'sarif')
        throw new CliError(`--format must be text, json or sarif, not "${f}"`);
      args.format = f;
    } else if (flag === '--max-size') {
      const v = value();
      if (!/^\d+$/.test(v)) throw new CliError(`--max-size must be a number of characters, not "${v}"`);
      args.options.maxSize = Number(v);
    } else if (flag === '--') {
      args.files.push(...argv.slice(i + 1));
      break;
    } else if (flag.startsWith('-') && flag !== '-')
      throw new CliError(`unknown flag "${flag}"; run 'openirsa lint --help'`);
    else args.files.push(a);
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
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      `${file}: cannot read (${code === 'ENOENT' ? 'no such file' : (code ?? messageOf(err))})`,
    );
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

/** `$.a[0]["b:c"] → …` → ['a', 0, 'b:c'] (the part after → is inside a JSON-text document). */
export function pathSegments(path: string): Array<string | number> {
  const outer = path.split(' → ')[0]!;
  const out: Array<string | number> = [];
  const re = /\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/gy;
  re.lastIndex = 1;
  let m: RegExpExecArray | null;
  while ((m = re.exec(outer))) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse(m[3]!) as string);
  }
  return out;
}

/** Line and column (1-based) of a JSON path in the source text; the nearest existing ancestor otherwise. */
function locator(text: string): (path: string) => { line: number; column: number } | undefined {
  const lc = new LineCounter();
  let doc: ReturnType<typeof parseDocument> | undefined;
  try {
    doc = parseDocument(text, { lineCounter: lc, keepSourceTokens: false, uniqueKeys: false });
  } catch {
    doc = undefined;
  }
  return (path) => {
    if (!doc) return undefined;
    const segs = pathSegments(path);
    for (let n = segs.length; n >= 0; n--) {
      const node = doc.getIn(segs.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && Array.isArray(node.range)) {
        const pos = lc.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return undefined;
  };
}

function lintFile(file: string, asConfig: boolean, options: LintOptions): Located[] {
  const text = readInput(file);
  const value = parseContent(file, text);
  const kind = lintInputKind(value);
  let findings: LintFinding[];
  if (asConfig || kind === 'roles') {
    let roles;
    try {
      // A config whose roles all come from the IAM API has no seed roles to lint here.
      const apiOnly =
        asConfig && typeof value === 'object' && value !== null && 'iamApi' in value && !('roles' in value);
      roles = apiOnly ? [] : rolesFromConfig(value);
    } catch (err) {
      if (err instanceof IamError)
        throw new CliError(`${file}: ${err.message}${err.path ? ` (at ${err.path})` : ''}`);
      throw err;
    }
    const context = contextFromConfig(value);
    findings = lintRoles(roles, context ? { ...options, context } : options);
  } else if (kind === 'policy') {
    findings = lintTrustPolicy(value, options);
  } else {
    throw new CliError(`${file}: neither a policy document (no "Statement") nor a config with "roles"`);
  }
  const locate = locator(text);
  const name = file === '-' ? 'stdin' : file;
  return findings.map((f) => ({ ...f, file: name, ...(locate(f.path) ?? {}) }));
}

/**
 * Roles the IAM API created or changed (stored beside the config or in the cluster): linted like the seed's, the
 * finding's file being the state's location and its path the role.
 */
async function lintStoredRoles(file: string, options: LintOptions): Promise<Located[]> {
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
  const roles: RoleInput[] = [...config.roles.values()]
    .filter((r) => {
      const before = seed.roles.get(r.arn);
      return !before || before.trustPolicyText !== r.trustPolicyText;
    })
    .map((r) => ({
      roleName: r.name,
      document: r.trustPolicyText ?? '',
      path: `${r.arn}.AssumeRolePolicyDocument`,
    }));
  const context: LintContext = {
    accountId: config.accountId,
    partition: config.partition,
    providers: config.providers.map((p) => ({ providerId: p.keyPrefix, clientIds: p.clientIds })),
  };
  return lintRoles(roles, { ...options, context }).map((f) => ({ ...f, file: where }));
}

function counts(findings: Located[]): { errors: number; warnings: number; infos: number } {
  return {
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
    infos: findings.filter((f) => f.severity === 'info').length,
  };
}

function formatText(findings: Located[], fileCount: number): string {
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

function artifactUri(file: string): string {
  if (file === 'stdin') return 'stdin';
  const rel = relative(process.cwd(), file);
  const p = rel.startsWith('..') ? file : rel;
  return encodeURI(p.split(sep).join('/'));
}

const SARIF_LEVEL = { error: 'error', warning: 'warning', info: 'note' } as const;

/** SARIF 2.1.0: one run, every rule described, one result per finding. */
export function toSarif(findings: Located[]): Log {
  const rules = Object.values(LINT_RULES);
  const index = new Map(rules.map((r, i) => [r.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'openirsa',
            version: '0.1.0',
            informationUri: 'https://github.com/openirsa/openirsa',
            rules: rules.map((r): ReportingDescriptor => ({
              id: r.id,
              name: r.id.replace(/(^|-)([a-z0-9])/g, (_m, _d, ch: string) => ch.toUpperCase()),
              shortDescription: { text: r.title },
              fullDescription: { text: r.why },
              defaultConfiguration: { level: SARIF_LEVEL[r.severity] },
              help: { text: r.why },
            })),
          },
        },
        results: findings.map((f): Result => ({
          ruleId: f.ruleId,
          ruleIndex: index.get(f.ruleId) ?? 0,
          level: SARIF_LEVEL[f.severity],
          message: { text: `${f.message}. Fix: ${f.fix}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: artifactUri(f.file) },
                ...(f.line ? { region: { startLine: f.line, startColumn: f.column ?? 1 } } : {}),
              },
              logicalLocations: [{ fullyQualifiedName: f.path, kind: 'element' }],
            },
          ],
          properties: { jsonPath: f.path, fix: f.fix, ...(f.role ? { role: f.role } : {}) },
        })),
      },
    ],
  };
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }
  const findings: Located[] = [];
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
    console.log(terminalSafeJson(JSON.stringify(toSarif(findings), null, 2)));
  } else {
    console.log(formatText(findings, fileCount).split('\n').map(terminalSafe).join('\n'));
  }
  return findings.some((f) => f.severity === 'error') ? 1 : 0;
}
