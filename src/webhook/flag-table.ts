/**
 * The webhook's flag table: every flag of the reference (main.go @3bf80a34) with the same name, default and help,
 * klog's flags (accepted, mostly ignored), and openirsa's few extras. pflag.ts parses command lines against it;
 * flags.ts turns the values into WebhookFlags.
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
import type { PflagSpec } from './pflag.js';

export interface FlagSpec extends PflagSpec {
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
    name: 'workers',
    type: 'int',
    default: '1',
    usage:
      'Serve the webhook port from N processes sharing it (1-64; node:cluster): each worker runs the whole webhook and costs ~110 MiB RSS (~60 MiB PSS) and wants a CPU; the primary serves the metrics port for the pool (its /debug/alpha/cache handlers stay per worker and are not served there)',
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
