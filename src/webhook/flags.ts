/**
 * The webhook's flags as it runs with them: the command line parsed (pflag.ts) against the reference's flag table
 * (flag-table.ts), defaults filled in and ranges checked, into WebhookFlags; and `--help`.
 */
import { MIN_TOKEN_EXPIRATION } from './constants.js';
import { FLAGS, type FlagSpec } from './flag-table.js';
import { maxInt64 } from './go/strconv.js';
import { FlagError, flagValue, parsePflagArgs, type ParsedArgs, type RawValues } from './pflag.js';

export { DEFAULT_MAX_REQUEST_BYTES, FLAGS, type FlagSpec } from './flag-table.js';
export { FlagError, parseGoDuration, type FlagType, type ParsedArgs } from './pflag.js';

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

/** Split argv into flag values with pflag's rules. Unknown flags are an error (pflag: `unknown flag: --x`). */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  return parsePflagArgs(argv, BY_NAME);
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
  /** `--workers`: processes serving the webhook port (1 = this process alone, nothing forked). */
  workers: number;
  logFormat: 'json' | 'text';
  bindAddress: string;
  watchPodIdentityAssociations: boolean;
}

function camel(name: string): string {
  return name.replace(/[-_]([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Resolve every flag (explicit value or default) into WebhookFlags, validating ranges. */
export function resolveFlags(values: RawValues): WebhookFlags {
  const out: Record<string, string | number | bigint | boolean> = {};
  for (const spec of FLAGS) {
    out[camel(spec.name)] = flagValue(spec, values.get(spec.name) ?? spec.default);
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
  const workers = out.workers as number;
  // The same range and words as `sts serve --workers`.
  if (workers < 1 || workers > 64) throw new FlagError(`--workers must be 1-64, not ${workers}`);
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
    workers,
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
