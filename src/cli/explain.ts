import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeJwt } from 'jose';
import { FileReadError, cannotRead } from '../file-errors.js';
import { terminalSafe, terminalSafeJson } from '../escape.js';
import { parseFlags } from './args.js';
import { CliError } from './errors.js';
import { ConfigError, loadConfig } from '../sts/config.js';
import { explainWebIdentity, formatReport } from '../sts/explain.js';
import { KeyStore } from '../oidc/keys.js';
import { liveConfigOf } from './iam-state.js';
import { parseStructured, SyntaxPositionError } from './structured-text.js';
import { configForRole } from '../sts/role-input.js';

/** The token's iss, read without verifying (the verification comes after, against that provider). */
function issuerOf(token: string): string | undefined {
  try {
    const iss = decodeJwt(token.trim()).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

const USAGE = `usage: openirsa explain --config FILE --role-arn ARN --token FILE [flags]
       openirsa explain --role GET-ROLE.json [--issuer URL] [--client-id ID]... --token FILE [flags]

Explains offline what AWS STS would decide for AssumeRoleWithWebIdentity with this token into this role:
token checks, trust policy statement by statement, duration — and, with --action, whether the role's
permission policies allow an action on a resource. Exit status: 0 allowed, 3 denied, 2 bad input.

flags:
  --config FILE          the openirsa sts config (YAML or JSON): account, OIDC providers, roles
  --role-arn ARN         the role to assume (with --role: its Arn)
  --role FILE            instead of --config: a real role as 'aws iam get-role --role-name NAME' prints it
                         ('-' reads stdin); the account is the one in its Arn
  --issuer URL           with --role: the IAM OIDC provider's URL (default: the token's iss)
  --client-id ID         with --role: the provider's ClientIDList; repeatable (default sts.amazonaws.com)
  --jwks FILE            with --role: the issuer's JWKS, to verify offline (default: fetched over HTTPS)
  --token FILE           the web identity token (JWT) file, e.g. a pod's projected token
  --action ACTION        also check the role's permission policies for this action (e.g. s3:PutObject)
  --resource ARN         the resource for --action (default *)
  --policy FILE          a session policy (the call's Policy): --action is checked against role ∩ session
  --policy-arn ARN       a session managed policy (the call's PolicyArns; repeatable)
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
    role: { type: 'string' },
    issuer: { type: 'string' },
    'client-id': { type: 'string', multiple: true },
    jwks: { type: 'string' },
    'role-arn': { type: 'string' },
    token: { type: 'string' },
    action: { type: 'string' },
    resource: { type: 'string' },
    policy: { type: 'string' },
    'policy-arn': { type: 'string', multiple: true },
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
  const withRole = str('role') !== undefined;
  if (withRole && str('config')) throw new CliError('give --config or --role, not both');
  if (!withRole)
    for (const k of ['issuer', 'client-id', 'jwks'])
      if (values[k] !== undefined)
        throw new CliError(`--${k} goes with --role (a config declares its providers)`);
  for (const k of withRole ? ['token'] : ['config', 'role-arn', 'token'])
    if (!str(k)) throw new CliError(`--${k} is required; run 'openirsa explain --help'`);
  if (str('resource') && !str('action')) throw new CliError('--resource needs --action');
  // The config is read first, so a missing --config is named before the token.
  let seed: ReturnType<typeof loadConfig> | undefined;
  if (!withRole) {
    try {
      seed = loadConfig(str('config')!);
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(`invalid config: ${err.message}`);
      if (err instanceof FileReadError) throw err.as('--config');
      throw err;
    }
  }
  let token: string;
  try {
    token = readFileSync(str('token')!, 'utf8');
  } catch (err) {
    throw new CliError(cannotRead('--token', str('token')!, err));
  }
  let config;
  let roleArn = str('role-arn');
  if (withRole) {
    const file = str('role')!;
    let doc: unknown;
    try {
      doc = parseStructured(file, readFileSync(file === '-' ? 0 : file, 'utf8'));
    } catch (err) {
      if (err instanceof SyntaxPositionError) throw new CliError(`--role ${file}:${err.message}`);
      throw new CliError(cannotRead('--role', file, err));
    }
    const issuer = str('issuer') ?? issuerOf(token);
    if (!issuer) throw new CliError('--issuer is required: the token has no readable iss claim');
    const clientIds = values['client-id'] ?? ['sts.amazonaws.com'];
    try {
      config = configForRole(doc, file, {
        url: issuer,
        clientIds,
        ...(str('jwks') ? { jwksFile: resolve(str('jwks')!) } : {}),
      });
    } catch (err) {
      if (err instanceof ConfigError)
        throw new CliError(
          `--role ${err.message.replace(/: \$\.roles\[0\]/, ': $.Role').replace(/: \$\.oidcProviders\[0\]\.Url/, ': --issuer')}`,
        );
      throw err;
    }
    const arn = [...config.roles.keys()][0]!;
    if (roleArn !== undefined && roleArn !== arn)
      throw new CliError(`--role-arn ${roleArn} is not the Arn of --role ${file} (${arn})`);
    roleArn = arn;
    // Stated in the text report only: --json stays one JSON document.
    if (!str('issuer') && !values.json)
      console.log(
        `(provider: the token's issuer ${terminalSafe(issuer)}, ClientIDList ${terminalSafe(JSON.stringify(clientIds))}; --issuer/--client-id name another)`,
      );
  } else {
    // The roles as the IAM API left them (seed + stored changes), the same state `sts serve` answers from.
    config = await liveConfigOf(seed!);
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
  let sessionPolicy: string | undefined;
  if (str('policy'))
    try {
      sessionPolicy = readFileSync(str('policy')!, 'utf8');
    } catch (err) {
      throw new CliError(cannotRead('--policy', str('policy')!, err));
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
    roleArn: roleArn!,
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
    sessionPolicy,
    policyArns: values['policy-arn'],
  });
  if (values.json) console.log(terminalSafeJson(JSON.stringify(report, null, 2)));
  else
    console.log(
      formatReport(report, { roleArn: roleArn!, action: str('action'), resource: str('resource') }),
    );
  return report.allowed ? 0 : 3;
}
