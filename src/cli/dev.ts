import { readFileSync } from 'node:fs';
import { cannotRead } from '../file-errors.js';
import { resolve as resolvePath } from 'node:path';
import { parseFlags } from './args.js';
import { parse as parseYaml } from 'yaml';
import { CliError, EXIT_FAILED, inContext } from './errors.js';
import { messageOf } from '../errors.js';
import { programName } from './program.js';
import { shellQuote } from '../escape.js';
import {
  DEFAULT_PORTS,
  PortInUseError,
  startDev,
  type DevOptions,
  type DevPorts,
  type RunningDev,
} from '../dev/run.js';
import { DEFAULT_IDENTITY, type DevIdentity } from '../dev/sample.js';

const USAGE = `usage: openirsa dev [flags]

Runs the whole IRSA chain on this machine: an OIDC issuer (HTTPS, local CA), the STS with a sample
account (role s3-writer trusting great-namespace/great-serviceaccount) and the pod identity webhook;
mints that ServiceAccount's token into a file and keeps it fresh; prints the environment with which
the AWS CLI or any AWS SDK gets the role's credentials. Ctrl-C stops everything.

flags:
  --state-dir DIR         keys, local CA, token and generated configs (default .openirsa/dev; reused)
  --config FILE           YAML/JSON with any of the settings below (camelCase keys, e.g. stsPort)
  --host ADDR             listen address (default 127.0.0.1)
  --issuer-port N         issuer HTTPS port (default ${DEFAULT_PORTS.issuer}; 0 = any free port)
  --sts-port N            STS HTTPS port (default ${DEFAULT_PORTS.sts})
  --webhook-port N        webhook HTTPS port (default ${DEFAULT_PORTS.webhook})
  --metrics-port N        webhook metrics HTTP port (default ${DEFAULT_PORTS.metrics})
  --agent-port N          EKS Pod Identity agent HTTP port (default ${DEFAULT_PORTS.agent})
  --account-id ID         AWS account of the sample (default ${DEFAULT_IDENTITY.accountId})
  --role-name NAME        role name (default ${DEFAULT_IDENTITY.roleName})
  --namespace NS          ServiceAccount namespace (default ${DEFAULT_IDENTITY.namespace})
  --service-account NAME  ServiceAccount name (default ${DEFAULT_IDENTITY.serviceAccount})
  --region REGION         AWS region (default ${DEFAULT_IDENTITY.region})
  --token-ttl SECONDS     token lifetime, renewed at 80 % (default 3600, at least 600)
  --check                 start, get credentials and call GetCallerIdentity through the chain, stop
  --json                  print the start-up summary as one JSON object
  --verbose               component logs at info level (default: warnings only)
  -h, --help              this help`;

const OPTIONS = {
  'state-dir': { type: 'string' },
  config: { type: 'string' },
  host: { type: 'string' },
  'issuer-port': { type: 'string' },
  'sts-port': { type: 'string' },
  'webhook-port': { type: 'string' },
  'metrics-port': { type: 'string' },
  'agent-port': { type: 'string' },
  'account-id': { type: 'string' },
  'role-name': { type: 'string' },
  namespace: { type: 'string' },
  'service-account': { type: 'string' },
  region: { type: 'string' },
  'token-ttl': { type: 'string' },
  check: { type: 'boolean' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Partial<Record<keyof typeof OPTIONS, string | boolean>>;

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** Settings from --config, keyed like the flags (camelCase); flags win. */
function readConfigFile(file: string): Values {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(cannotRead('--config', file, err));
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new CliError(`--config ${file}: not valid YAML: ${messageOf(err).split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new CliError(`--config ${file}: must be a mapping of settings`);
  const out: Values = {};
  const byCamel = new Map(Object.keys(OPTIONS).map((k) => [camel(k), k as keyof typeof OPTIONS]));
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const flag = byCamel.get(key);
    if (!flag || flag === 'config' || flag === 'help')
      throw new CliError(`--config ${file}: unknown setting "${key}"`);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new CliError(`--config ${file}: ${key} must be a string, number or boolean`);
    }
    out[flag] = typeof value === 'boolean' ? value : String(value);
  }
  return out;
}

/** How the user wrote a setting: the flag, or the key in the --config file. */
export type SettingName = (flag: keyof typeof OPTIONS) => string;
const asFlag: SettingName = (flag) => `--${flag}`;

function int(
  v: string | boolean | undefined,
  flag: keyof typeof OPTIONS,
  name: SettingName,
  dflt: number,
  min: number,
  max: number,
): number {
  if (v === undefined) return dflt;
  const s = String(v);
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max)
    throw new CliError(`${name(flag)} must be an integer from ${min} to ${max}, not "${s}"`);
  return Number(s);
}

function str(v: string | boolean | undefined, dflt: string): string {
  return v === undefined || typeof v === 'boolean' ? dflt : v;
}

export function devOptions(values: Values, name: SettingName = asFlag): DevOptions {
  const ports: DevPorts = {
    issuer: int(values['issuer-port'], 'issuer-port', name, DEFAULT_PORTS.issuer, 0, 65535),
    sts: int(values['sts-port'], 'sts-port', name, DEFAULT_PORTS.sts, 0, 65535),
    webhook: int(values['webhook-port'], 'webhook-port', name, DEFAULT_PORTS.webhook, 0, 65535),
    metrics: int(values['metrics-port'], 'metrics-port', name, DEFAULT_PORTS.metrics, 0, 65535),
    agent: int(values['agent-port'], 'agent-port', name, DEFAULT_PORTS.agent, 0, 65535),
  };
  const identity: DevIdentity = {
    ...DEFAULT_IDENTITY,
    accountId: str(values['account-id'], DEFAULT_IDENTITY.accountId),
    roleName: str(values['role-name'], DEFAULT_IDENTITY.roleName),
    namespace: str(values.namespace, DEFAULT_IDENTITY.namespace),
    serviceAccount: str(values['service-account'], DEFAULT_IDENTITY.serviceAccount),
    region: str(values.region, DEFAULT_IDENTITY.region),
  };
  if (!/^\d{12}$/.test(identity.accountId))
    throw new CliError(`${name('account-id')} must be 12 digits, not "${identity.accountId}"`);
  if (!/^[\w+=,.@-]{1,64}$/.test(identity.roleName))
    throw new CliError(`${name('role-name')} "${identity.roleName}" is not a valid IAM role name`);
  return {
    stateDir: str(values['state-dir'], '.openirsa/dev'),
    host: str(values.host, '127.0.0.1'),
    ports,
    identity,
    tokenTtlSeconds: int(values['token-ttl'], 'token-ttl', name, 3600, 600, 86400 * 2),
    logLevel: values.verbose ? 'info' : 'warn',
  };
}

const FLAG_OF_PORT: Record<keyof DevPorts, keyof typeof OPTIONS> = {
  issuer: 'issuer-port',
  sts: 'sts-port',
  webhook: 'webhook-port',
  metrics: 'metrics-port',
  agent: 'agent-port',
};

/** One line for every busy port, each with the setting to change as the user wrote it (or would write it). */
export function busyPortsMessage(err: PortInUseError, name: SettingName = asFlag): string {
  if (err.busy.length === 1) {
    const [b] = err.busy;
    const setting = name(FLAG_OF_PORT[b!.component]);
    return `${err.message}: stop what uses it or ${setting.startsWith('--') ? `pass ${setting} N` : `change ${setting}`} (0 = any free port)`;
  }
  const list = err.busy
    .map((b) => `${b.port} for the ${b.component} (${name(FLAG_OF_PORT[b.component])})`)
    .join(', ');
  return `ports already in use: ${list}: stop what uses them or change those settings (0 = any free port)`;
}

/** The start-up summary; `check` mode stops right after its check, so it offers nothing that needs the chain running. */
export function summary(dev: RunningDev, mode: 'serve' | 'check', prog = programName()): string {
  // The same lines as env.sh: the sample role's environment, then the IAM API admin's endpoint and profile file.
  const env = Object.entries({ ...dev.env, ...dev.admin.env })
    .map(([k, v]) => `  export ${k}=${shellQuote(v)}`)
    .join('\n');
  const m = dev.mutation;
  const injected = Object.entries(m.env)
    .map(([k, v]) => `    ${k}=${v}`)
    .join('\n');
  const header = `openirsa dev ${mode === 'check' ? 'started for a check' : 'is running'} (state in ${dev.state.dir}${dev.state.created ? ', created now' : ''})

  issuer   ${dev.issuerUrl}/.well-known/openid-configuration   (TLS by the local CA ${dev.state.caFile})
  sts      ${dev.stsUrl}   (account ${dev.env.AWS_ROLE_ARN.split(':')[4]}, config ${dev.stsConfigFile})
  webhook  ${dev.webhookUrl}/mutate   (metrics ${dev.metricsUrl})
  token    ${dev.tokenFile}   (${mode === 'check' ? 'minted for the check' : 'renewed before it expires'})
  agent    ${dev.agentUrl}   (EKS Pod Identity, associations in ${dev.podIdentityEnvFile.replace(/pod-identity-env\.sh$/, 'pod-identity-associations.yaml')})

The webhook's mutation of a sample pod of that ServiceAccount (${m.allowed ? 'allowed' : 'DENIED'}, ${m.patch.length} patch operations):
${injected || '    (no environment injected)'}
    volume ${JSON.stringify(m.volume ?? null)}
`;
  const offline = `  ${prog} explain --config ${dev.stsConfigFile} --role-arn ${dev.env.AWS_ROLE_ARN} --token ${dev.tokenFile}
  ${prog} lint --config ${dev.stsConfigFile}`;
  if (mode === 'check')
    return `${header}
Checking the chain (AssumeRoleWithWebIdentity, then GetCallerIdentity); everything stops afterwards.
To keep it running instead:
  ${prog} dev${dev.state.dir === resolvePath('.openirsa/dev') ? '' : ` --state-dir ${dev.state.dir}`}

Try next (reads only the files in ${dev.state.dir}; explain also needs the issuer running):
  ${prog} lint --config ${dev.stsConfigFile}`;
  return `${header}
Use the role from another shell (the same lines are in ${dev.envFile}, so you can source it instead):
${env}
  aws sts get-caller-identity

The same ServiceAccount through EKS Pod Identity (the agent assumes the associated role with session tags;
the container-credentials environment is in ${dev.podIdentityEnvFile}):
  (. ${dev.podIdentityEnvFile} && aws sts get-caller-identity)

The IAM API is on the STS's port (changes take effect at once and persist beside the config); its administrator
is the separate profile ${dev.admin.profile} (access key ${dev.admin.accessKeyId}) in ${dev.admin.credentialsFile} (mode 0600),
which ${dev.envFile} points to:
  aws iam list-roles --profile ${dev.admin.profile}

Try next:
${offline}

Ctrl-C stops everything.`;
}

export async function run(argv: string[]): Promise<number> {
  let values = parseFlags('dev', argv, OPTIONS).values as Values;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let name = asFlag;
  if (typeof values.config === 'string') {
    const file = values.config;
    const fromFile = readConfigFile(file);
    const given = new Set(Object.keys(values));
    name = (flag) =>
      flag in fromFile && !given.has(flag) ? `${camel(flag)} in --config ${file}` : `--${flag}`;
    values = { ...fromFile, ...values };
  }
  const options = devOptions(values, name);

  let dev: RunningDev;
  try {
    dev = await startDev(options);
  } catch (err) {
    if (err instanceof PortInUseError) {
      throw new CliError(busyPortsMessage(err, name), 1);
    }
    throw inContext('cannot start: ', err, EXIT_FAILED);
  }

  if (values.json) {
    console.log(
      JSON.stringify({
        stateDir: dev.state.dir,
        issuerUrl: dev.issuerUrl,
        stsUrl: dev.stsUrl,
        webhookUrl: dev.webhookUrl,
        metricsUrl: dev.metricsUrl,
        tokenFile: dev.tokenFile,
        stsConfigFile: dev.stsConfigFile,
        env: dev.env,
        agentUrl: dev.agentUrl,
        podIdentityEnvFile: dev.podIdentityEnvFile,
        podIdentityEnv: dev.podIdentityEnv,
        admin: {
          profile: dev.admin.profile,
          accessKeyId: dev.admin.accessKeyId,
          credentialsFile: dev.admin.credentialsFile,
          env: dev.admin.env,
        },
        mutation: dev.mutation,
      }),
    );
  } else {
    console.log(summary(dev, values.check ? 'check' : 'serve'));
  }

  if (values.check) {
    try {
      const result = await dev.selfCheck();
      console.log(
        `\ncheck passed: AssumeRoleWithWebIdentity → ${result.assumedRoleArn}; GetCallerIdentity → ${result.callerArn}`,
      );
      return 0;
    } catch (err) {
      console.error(`openirsa: check failed: ${messageOf(err)}`);
      return 1;
    } finally {
      await dev.stop();
    }
  }

  await new Promise<void>((resolveStop) => {
    let stopping = false;
    const onSignal = (): void => {
      if (stopping) process.exit(1); // a second Ctrl-C does not wait
      stopping = true;
      if (!values.json) console.log('\nstopping...');
      dev.stop().then(resolveStop, resolveStop);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return 0;
}
