import { readFileSync } from 'node:fs';
import { terminalSafeJson } from '../escape.js';
import { parseFlags } from './args.js';
import { CliError, messageOf } from './errors.js';
import { ConfigError, loadConfig } from '../sts/config.js';
import { explainWebIdentity, formatReport } from '../sts/explain.js';
import { KeyStore } from '../oidc/keys.js';
import { liveConfigOf } from './iam-state.js';

const USAGE = `usage: openirsa explain --config FILE --role-arn ARN --token FILE [flags]

Explains offline what AWS STS would decide for AssumeRoleWithWebIdentity with this token into this role:
token checks, trust policy statement by statement, duration — and, with --action, whether the role's
permission policies allow an action on a resource. Exit status: 0 allowed, 3 denied, 2 bad input.

flags:
  --config FILE          the openirsa sts config (YAML or JSON): account, OIDC providers, roles
  --role-arn ARN         the role to assume
  --token FILE           the web identity token (JWT) file, e.g. a pod's projected token
  --action ACTION        also check the role's permission policies for this action (e.g. s3:PutObject)
  --resource ARN         the resource for --action (default *)
  --session-name NAME    RoleSessionName (default openirsa-explain)
  --duration SECONDS     DurationSeconds to check against MaxSessionDuration (default 3600)
  --time ISO8601         evaluate at this time instead of now
  --source-ip IP         aws:SourceIp for conditions (default 127.0.0.1)
  --no-verify-signature  skip the signature check (stated in the output); otherwise keys come from the
                         provider's inline JWKS, or are fetched over HTTPS like the server does
  --json                 print the report as JSON`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags('explain', argv, {
    config: { type: 'string' },
    'role-arn': { type: 'string' },
    token: { type: 'string' },
    action: { type: 'string' },
    resource: { type: 'string' },
    'session-name': { type: 'string' },
    duration: { type: 'string' },
    time: { type: 'string' },
    'source-ip': { type: 'string' },
    'no-verify-signature': { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const str = (k: string) => values[k] as string | undefined;
  for (const k of ['config', 'role-arn', 'token'])
    if (!str(k)) throw new CliError(`--${k} is required; run 'openirsa explain --help'`);
  if (str('resource') && !str('action')) throw new CliError('--resource needs --action');
  let seed;
  try {
    seed = loadConfig(str('config')!);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid config: ${err.message}`);
    throw err;
  }
  // The roles as the IAM API left them (seed + stored changes), the same state `sts serve` answers from.
  const config = await liveConfigOf(seed);
  let token: string;
  try {
    token = readFileSync(str('token')!, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read token file ${str('token')}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`,
    );
  }
  let now = Date.now();
  if (str('time')) {
    now = Date.parse(str('time')!);
    if (Number.isNaN(now)) throw new CliError(`--time ${str('time')} is not an ISO 8601 date`);
  }
  let duration: number | undefined;
  if (str('duration')) {
    duration = Number(str('duration'));
    if (!Number.isInteger(duration) || duration < 900 || duration > 43200)
      throw new CliError('--duration must be an integer from 900 to 43200');
  }
  const sessionName = str('session-name') ?? 'openirsa-explain';
  if (!/^[\w+=,.@-]{2,64}$/.test(sessionName))
    throw new CliError('--session-name must be 2-64 characters of [\\w+=,.@-]');
  const keys = new KeyStore(config.providers, {
    ttlMs: config.jwksCacheSeconds * 1000,
    minRefetchMs: 0,
    onWarning: (w) => console.error(`warning: ${w.message}`),
  });
  const report = await explainWebIdentity({
    config,
    roleArn: str('role-arn')!,
    token,
    sessionName,
    now,
    getKey: keys.getKey,
    verifySignature: !values['no-verify-signature'],
    keySource: (url) =>
      keys.provider(url)?.offline ? 'inline JWKS from the config' : `JWKS fetched from ${url}`,
    durationSeconds: duration,
    sourceIp: str('source-ip') ?? '127.0.0.1',
    action: str('action'),
    resource: str('resource'),
  });
  if (values.json) console.log(terminalSafeJson(JSON.stringify(report, null, 2)));
  else
    console.log(
      formatReport(report, { roleArn: str('role-arn')!, action: str('action'), resource: str('resource') }),
    );
  return report.allowed ? 0 : 3;
}
