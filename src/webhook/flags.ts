/**
 * The webhook's command-line flags: every flag of the reference (main.go @3bf80a34) with the same name and
 * default, klog's flags (accepted, mostly ignored), and openirsa's few extras. Parsed with spf13/pflag syntax:
 * `--flag=v`, `--flag v`, boolean `--flag` / `--flag=false`, single-dash `-v=2`, and `--` ends the flags.
 */
import { DEFAULT_LIMITS } from '../net/limits.js';
import {
  CONTAINER_CREDENTIALS_DEFAULTS,
  DEFAULT_ANNOTATION_PREFIX,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_EXPIRATION,
  DEFAULT_TOKEN_MOUNT_PATH,
  MAX_ADMISSION_BODY_BYTES,
  MIN_TOKEN_EXPIRATION,
} from './constants.js';
import { INT64_RANGE } from './go-number.js';
import { maxInt64, parseGoBool } from './goparse.js';
import { OpenIrsaError, messageOf } from '../errors.js';

/** `int64` values are exact (a bigint); `int` ones are JS numbers (ports, sizes, levels). */
export type FlagType = 'string' | 'bool' | 'int' | 'int64' | 'duration';

export interface FlagSpec {
  name: string;
  type: FlagType;
  /** The default as the reference prints it (`--help`), parsed like any user value. */
  default: string;
  usage: string;
  group: 'webhook' | 'klog' | 'openirsa';
}

/** Default body limit: the admission core's own cap (an AdmissionReview wraps one object of at most ~3 MiB). */
export const DEFAULT_MAX_REQUEST_BYTES = MAX_ADMISSION_BODY_BYTES;

export const FLAGS: readonly FlagSpec[] = [
  // Reference flags (main.go), same names and defaults.
  { name: 'port', type: 'int', default: '443', usage: 'Port to listen on', group: 'webhook' },
  {
    name: 'metrics-port',
    type: 'int',
    default: '9999',
    usage: 'Port to listen on for metrics and healthz (http)',
    group: 'webhook',
  },
  {
    name: 'kubeconfig',
    type: 'string',
    default: '',
    usage: '(out-of-cluster) Absolute path to the API server kubeconfig file',
    group: 'webhook',
  },
  {
    name: 'kube-api',
    type: 'string',
    default: '',
    usage: '(out-of-cluster) The url to the API server',
    group: 'webhook',
  },
  {
    name: 'tls-cert',
    type: 'string',
    default: '/etc/webhook/certs/tls.crt',
    usage: '(out-of-cluster) TLS certificate file path',
    group: 'webhook',
  },
  {
    name: 'tls-key',
    type: 'string',
    default: '/etc/webhook/certs/tls.key',
    usage: '(out-of-cluster) TLS key file path',
    group: 'webhook',
  },
  {
    name: 'tls-cipher-suites',
    type: 'string',
    default: '',
    usage:
      'Comma-separated list of cipher suites for the server (Go names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256). If omitted, the default Node.js cipher suites are used',
    group: 'webhook',
  },
  {
    name: 'tls-min-version',
    type: 'string',
    default: '',
    usage:
      'Minimum TLS version supported: 1.0, 1.1, 1.2, 1.3 or VersionTLS10..VersionTLS13 (default TLS 1.2)',
    group: 'webhook',
  },
  {
    name: 'in-cluster',
    type: 'bool',
    default: 'true',
    usage:
      'Use in-cluster authentication and certificate request API (deprecated upstream and not supported by openirsa: pass --in-cluster=false with --tls-cert/--tls-key)',
    group: 'webhook',
  },
  {
    name: 'service-name',
    type: 'string',
    default: 'pod-identity-webhook',
    usage: '(in-cluster) The service name fronting this webhook',
    group: 'webhook',
  },
  {
    name: 'namespace',
    type: 'string',
    default: 'eks',
    usage: '(in-cluster) The namespace name this webhook, the TLS secret, and configmap resides in',
    group: 'webhook',
  },
  {
    name: 'tls-secret',
    type: 'string',
    default: 'pod-identity-webhook',
    usage: '(in-cluster) The secret name for storing the TLS serving cert',
    group: 'webhook',
  },
  {
    name: 'annotation-prefix',
    type: 'string',
    default: DEFAULT_ANNOTATION_PREFIX,
    usage: 'The Service Account annotation to look for',
    group: 'webhook',
  },
  {
    name: 'token-audience',
    type: 'string',
    default: DEFAULT_TOKEN_AUDIENCE,
    usage: 'The default audience for tokens. Can be overridden by annotation',
    group: 'webhook',
  },
  {
    name: 'token-mount-path',
    type: 'string',
    default: DEFAULT_TOKEN_MOUNT_PATH,
    usage: 'The path to mount tokens',
    group: 'webhook',
  },
  {
    name: 'token-expiration',
    type: 'int64',
    default: String(DEFAULT_TOKEN_EXPIRATION),
    usage: `The token expiration (seconds, clamped to at least ${MIN_TOKEN_EXPIRATION})`,
    group: 'webhook',
  },
  {
    name: 'aws-default-region',
    type: 'string',
    default: '',
    usage: 'If set, AWS_DEFAULT_REGION and AWS_REGION will be set to this value in mutated containers',
    group: 'webhook',
  },
  {
    name: 'sts-regional-endpoint',
    type: 'bool',
    default: 'false',
    usage:
      'Whether to inject the AWS_STS_REGIONAL_ENDPOINTS=regional env var in mutated pods. Defaults to `false`.',
    group: 'webhook',
  },
  {
    name: 'watch-config-map',
    type: 'bool',
    default: 'false',
    usage:
      'Enables watching serviceaccounts that are configured through the pod-identity-webhook configmap instead of using annotations',
    group: 'webhook',
  },
  {
    name: 'compose-role-arn',
    type: 'bool',
    default: 'false',
    usage:
      "If true, then the role name and path can be used instead of the full ARN in the annotation. The webhook's own account and partition (from the EC2 instance identity document) are used",
    group: 'webhook',
  },
  {
    name: 'watch-container-credentials-config',
    type: 'string',
    default: '',
    usage: 'Absolute path to the container credentials config file to watch',
    group: 'webhook',
  },
  {
    name: 'container-credentials-audience',
    type: 'string',
    default: CONTAINER_CREDENTIALS_DEFAULTS.audience,
    usage: 'The audience for tokens used by the container credentials provider',
    group: 'webhook',
  },
  {
    name: 'container-credentials-token-mount-path',
    type: 'string',
    default: CONTAINER_CREDENTIALS_DEFAULTS.mountPath,
    usage: 'The path to mount the container credentials tokens',
    group: 'webhook',
  },
  {
    name: 'container-credentials-token-volume-name',
    type: 'string',
    default: CONTAINER_CREDENTIALS_DEFAULTS.volumeName,
    usage: 'The name of the volume to mount the container credentials tokens',
    group: 'webhook',
  },
  {
    name: 'container-credentials-token-path',
    type: 'string',
    default: CONTAINER_CREDENTIALS_DEFAULTS.tokenPath,
    usage: 'The path of the container credentials token within the volume',
    group: 'webhook',
  },
  {
    name: 'container-credentials-full-uri',
    type: 'string',
    default: CONTAINER_CREDENTIALS_DEFAULTS.fullUri,
    usage: 'The full URI the container credentials provider should use',
    group: 'webhook',
  },
  {
    name: 'version',
    type: 'bool',
    default: 'false',
    usage: 'Display the version and exit',
    group: 'webhook',
  },
  {
    name: 'enable-debugging-handlers',
    type: 'bool',
    default: 'false',
    usage:
      'Enable debugging handlers on the metrics port (/debug/alpha/cache) and the webhook port (/debug/alpha/deny, /debug/alpha/500)',
    group: 'webhook',
  },
  {
    name: 'service-account-lookup-grace-period',
    type: 'duration',
    default: '0s',
    usage:
      'The grace period for service account to be available in cache before not mutating a pod. Defaults to 0s (disabled); e.g. 100ms',
    group: 'webhook',
  },
  {
    name: 'resync-period',
    type: 'duration',
    default: '1m0s',
    usage: 'The period to resync the SA informer cache, in Go duration format',
    group: 'webhook',
  },
  // klog flags: accepted so reference command lines work unchanged; -v selects the log verbosity.
  {
    name: 'v',
    type: 'int',
    default: '0',
    usage: 'number for the log level verbosity (>=3: mutation log lines, >=4: access log)',
    group: 'klog',
  },
  {
    name: 'vmodule',
    type: 'string',
    default: '',
    usage: 'comma-separated list of pattern=N settings (accepted, ignored)',
    group: 'klog',
  },
  {
    name: 'logtostderr',
    type: 'bool',
    default: 'true',
    usage: 'log to standard error instead of files (openirsa always logs to stderr)',
    group: 'klog',
  },
  { name: 'alsologtostderr', type: 'bool', default: 'false', usage: 'accepted, ignored', group: 'klog' },
  { name: 'log_dir', type: 'string', default: '', usage: 'accepted, ignored', group: 'klog' },
  { name: 'log_file', type: 'string', default: '', usage: 'accepted, ignored', group: 'klog' },
  { name: 'log_file_max_size', type: 'int', default: '1800', usage: 'accepted, ignored', group: 'klog' },
  { name: 'skip_headers', type: 'bool', default: 'false', usage: 'accepted, ignored', group: 'klog' },
  { name: 'skip_log_headers', type: 'bool', default: 'false', usage: 'accepted, ignored', group: 'klog' },
  { name: 'stderrthreshold', type: 'string', default: '2', usage: 'accepted, ignored', group: 'klog' },
  { name: 'add_dir_header', type: 'bool', default: 'false', usage: 'accepted, ignored', group: 'klog' },
  { name: 'one_output', type: 'bool', default: 'false', usage: 'accepted, ignored', group: 'klog' },
  { name: 'log_backtrace_at', type: 'string', default: ':0', usage: 'accepted, ignored', group: 'klog' },
  {
    name: 'legacy_stderr_threshold_behavior',
    type: 'bool',
    default: 'true',
    usage: 'accepted, ignored',
    group: 'klog',
  },
  // openirsa extras.
  {
    name: 'service-accounts-file',
    type: 'string',
    default: '',
    usage:
      'Read ServiceAccounts from this YAML/JSON file (a list, a v1 List, or documents) instead of the Kubernetes API; reloaded when it changes',
    group: 'openirsa',
  },
  {
    name: 'max-request-bytes',
    type: 'int',
    default: String(DEFAULT_MAX_REQUEST_BYTES),
    usage: 'Largest accepted /mutate body; larger bodies get 413',
    group: 'openirsa',
  },
  {
    name: 'max-connections',
    type: 'int',
    default: String(DEFAULT_LIMITS.maxConnections),
    usage: 'Open connections at most, per port; more are closed on accept',
    group: 'openirsa',
  },
  {
    name: 'log-format',
    type: 'string',
    default: 'json',
    usage: 'Log format: json (pino JSON lines) or text',
    group: 'openirsa',
  },
  {
    name: 'bind-address',
    type: 'string',
    default: '',
    usage: 'Address both servers listen on (default: all interfaces)',
    group: 'openirsa',
  },
  {
    name: 'watch-pod-identity-associations',
    type: 'bool',
    default: 'false',
    usage:
      'Also use container credentials for the ServiceAccounts named by PodIdentityAssociation objects (openirsa.io/v1alpha1, the same objects openirsa agent reads); needs the Kubernetes API',
    group: 'openirsa',
  },
];

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

export class FlagError extends OpenIrsaError {
  constructor(message: string) {
    super('FlagInvalid', message);
  }
}

/** Go time.ParseDuration: `300ms`, `-1.5h`, `2h45m`, `0`. Returns milliseconds. */
export function parseGoDuration(s: string): number {
  const orig = s;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new FlagError(`time: invalid duration "${orig}"`);
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    μs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const re = /^([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)/;
  let total = 0;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m || m[1] === '' || m[1] === '.') throw new FlagError(`time: invalid duration "${orig}"`);
    const unit = units[m[2]!];
    if (unit === undefined) {
      throw new FlagError(`time: unknown unit "${m[2]}" in duration "${orig}"`);
    }
    total += Number(m[1]) * unit;
    s = s.slice(m[0].length);
  }
  return sign * total;
}

/** pflag's int parsing (strconv.ParseInt base 0): decimal, 0x, 0o, 0b, underscores between digits. */
/** strconv.ParseInt(value, 0, 64) as pflag calls it: decimal, 0x, 0o, 0b (underscores allowed), exact. */
function parseFlagInt64(name: string, value: string): bigint {
  const t = value.replace(/_/g, '');
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$/.exec(t);
  if (!m)
    throw new FlagError(
      `invalid argument "${value}" for "--${name}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`,
    );
  // BigInt reads 0x/0o/0b itself; a bare leading 0 means octal in Go's base 0.
  const digits = /^0[0-7]/.test(m[2]!) ? '0o' + m[2]!.slice(1) : m[2]!;
  const n = m[1] === '-' ? -BigInt(digits) : BigInt(digits);
  if (n < INT64_RANGE.min || n > INT64_RANGE.max)
    throw new FlagError(
      `invalid argument "${value}" for "--${name}" flag: strconv.ParseInt: parsing "${value}": value out of range`,
    );
  return n;
}

function parseFlagInt(name: string, value: string): number {
  const n = parseFlagInt64(name, value);
  if (n < BigInt(Number.MIN_SAFE_INTEGER) || n > BigInt(Number.MAX_SAFE_INTEGER))
    throw new FlagError(`invalid argument "${value}" for "--${name}" flag: value out of range`);
  return Number(n);
}

type RawValues = Map<string, string>;

export interface ParsedArgs {
  /** Explicitly set flags (name → raw string), last one wins as in pflag. */
  values: RawValues;
  /** Positional arguments (the reference ignores them). */
  positional: string[];
  help: boolean;
}

/** Split argv into flag values with pflag's rules. Unknown flags are an error (pflag: `unknown flag: --x`). */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const values: RawValues = new Map();
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    // pflag: `--name`; klog's single-letter `-v` is a shorthand; we also accept `-name` for Go flag users.
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name === 'help' || name === 'h') {
      help = true;
      continue;
    }
    const spec = BY_NAME.get(name);
    if (!spec) throw new FlagError(`unknown flag: ${arg.startsWith('--') ? '--' : '-'}${name}`);
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else if (spec.type === 'bool') value = 'true';
    else {
      if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: --${name}`);
      value = argv[++i]!;
    }
    values.set(name, value);
  }
  return { values, positional, help };
}

/** The parsed, validated flag values the webhook runs with. */
export interface WebhookFlags {
  port: number;
  metricsPort: number;
  kubeconfig: string;
  kubeApi: string;
  tlsCert: string;
  tlsKey: string;
  tlsCipherSuites: string[];
  tlsMinVersion: string;
  inCluster: boolean;
  serviceName: string;
  namespace: string;
  tlsSecret: string;
  annotationPrefix: string;
  tokenAudience: string;
  tokenMountPath: string;
  /** Clamped to >= MIN_TOKEN_EXPIRATION; exact (a Go int64). */
  tokenExpiration: bigint;
  awsDefaultRegion: string;
  stsRegionalEndpoint: boolean;
  watchConfigMap: boolean;
  composeRoleArn: boolean;
  watchContainerCredentialsConfig: string;
  containerCredentialsAudience: string;
  containerCredentialsTokenMountPath: string;
  containerCredentialsTokenVolumeName: string;
  containerCredentialsTokenPath: string;
  containerCredentialsFullUri: string;
  version: boolean;
  enableDebuggingHandlers: boolean;
  /** Milliseconds. */
  serviceAccountLookupGracePeriodMs: number;
  /** Milliseconds. */
  resyncPeriodMs: number;
  verbosity: number;
  serviceAccountsFile: string;
  maxRequestBytes: number;
  maxConnections: number;
  logFormat: 'json' | 'text';
  bindAddress: string;
  watchPodIdentityAssociations: boolean;
}

function typed(spec: FlagSpec, raw: string): string | number | bigint | boolean {
  switch (spec.type) {
    case 'string':
      return raw;
    case 'bool': {
      const b = parseGoBool(raw);
      if (b === undefined) {
        throw new FlagError(
          `invalid argument "${raw}" for "--${spec.name}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`,
        );
      }
      return b;
    }
    case 'int':
      return parseFlagInt(spec.name, raw);
    case 'int64':
      return parseFlagInt64(spec.name, raw);
    case 'duration':
      try {
        return parseGoDuration(raw);
      } catch (err) {
        throw new FlagError(`invalid argument "${raw}" for "--${spec.name}" flag: ${messageOf(err)}`);
      }
  }
}

function camel(name: string): string {
  return name.replace(/[-_]([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Resolve every flag (explicit value or default) into WebhookFlags, validating ranges. */
export function resolveFlags(values: RawValues): WebhookFlags {
  const out: Record<string, string | number | bigint | boolean> = {};
  for (const spec of FLAGS) {
    out[camel(spec.name)] = typed(spec, values.get(spec.name) ?? spec.default);
  }
  const port = (p: unknown, name: string): number => {
    const n = p as number;
    if (n < 0 || n > 65535) throw new FlagError(`invalid --${name} ${n}: must be 0-65535`);
    return n;
  };
  const logFormat = out.logFormat as string;
  if (logFormat !== 'json' && logFormat !== 'text') {
    throw new FlagError(`invalid --log-format "${logFormat}": must be json or text`);
  }
  const maxRequestBytes = out.maxRequestBytes as number;
  if (maxRequestBytes < 1024)
    throw new FlagError(`invalid --max-request-bytes ${maxRequestBytes}: must be at least 1024`);
  const maxConnections = out.maxConnections as number;
  if (maxConnections < 1 || maxConnections > 1_000_000)
    throw new FlagError(`invalid --max-connections ${maxConnections}: must be 1-1000000`);
  const cipherRaw = out.tlsCipherSuites as string;
  return {
    port: port(out.port, 'port'),
    metricsPort: port(out.metricsPort, 'metrics-port'),
    kubeconfig: out.kubeconfig as string,
    kubeApi: out.kubeApi as string,
    tlsCert: out.tlsCert as string,
    tlsKey: out.tlsKey as string,
    // Reference: items trimmed, blanks skipped (validated against the Go names in tls.ts).
    tlsCipherSuites: cipherRaw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    tlsMinVersion: out.tlsMinVersion as string,
    inCluster: out.inCluster as boolean,
    serviceName: out.serviceName as string,
    namespace: out.namespace as string,
    tlsSecret: out.tlsSecret as string,
    annotationPrefix: out.annotationPrefix as string,
    tokenAudience: out.tokenAudience as string,
    tokenMountPath: out.tokenMountPath as string,
    tokenExpiration: maxInt64(out.tokenExpiration as bigint, MIN_TOKEN_EXPIRATION),
    awsDefaultRegion: out.awsDefaultRegion as string,
    stsRegionalEndpoint: out.stsRegionalEndpoint as boolean,
    watchConfigMap: out.watchConfigMap as boolean,
    composeRoleArn: out.composeRoleArn as boolean,
    watchContainerCredentialsConfig: out.watchContainerCredentialsConfig as string,
    containerCredentialsAudience: out.containerCredentialsAudience as string,
    containerCredentialsTokenMountPath: out.containerCredentialsTokenMountPath as string,
    containerCredentialsTokenVolumeName: out.containerCredentialsTokenVolumeName as string,
    containerCredentialsTokenPath: out.containerCredentialsTokenPath as string,
    containerCredentialsFullUri: out.containerCredentialsFullUri as string,
    version: out.version as boolean,
    enableDebuggingHandlers: out.enableDebuggingHandlers as boolean,
    serviceAccountLookupGracePeriodMs: out.serviceAccountLookupGracePeriod as number,
    resyncPeriodMs: out.resyncPeriod as number,
    verbosity: out.v as number,
    serviceAccountsFile: out.serviceAccountsFile as string,
    maxRequestBytes,
    maxConnections,
    logFormat,
    bindAddress: out.bindAddress as string,
    watchPodIdentityAssociations: out.watchPodIdentityAssociations as boolean,
  };
}

/** `--help` text: every flag with its type and default, grouped. */
export function helpText(): string {
  const groups: Record<FlagSpec['group'], string> = {
    webhook: 'Flags (same names and defaults as amazon-eks-pod-identity-webhook):',
    openirsa: 'openirsa flags:',
    klog: 'klog flags (accepted for compatibility; only -v has an effect):',
  };
  const lines = [
    'usage: openirsa webhook [flags]',
    '',
    'The pod identity mutating admission webhook (drop-in for amazon-eks-pod-identity-webhook).',
    '',
  ];
  for (const group of ['webhook', 'openirsa', 'klog'] as const) {
    lines.push(groups[group]);
    for (const f of FLAGS.filter((x) => x.group === group)) {
      // pflag prints an int64 flag's type as "int"
      const type = f.type === 'bool' ? '' : ` ${f.type === 'int64' ? 'int' : f.type}`;
      const def =
        f.type === 'bool'
          ? f.default === 'true'
            ? ' (default true)'
            : ''
          : f.default === ''
            ? ''
            : ` (default ${JSON.stringify(f.default)})`;
      lines.push(`  --${f.name}${type}`);
      lines.push(`        ${f.usage}${def}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
