/** `openirsa agent [flags]`: EKS Pod Identity for any cluster (docs/agent.md). Flags only; src/agent does the rest. */
import { parseFlags } from './args.js';
import { CliError } from './errors.js';
import { messageOf } from '../errors.js';
import { createLogger } from '../log.js';
import { KubeConfigError, loadKubeConfig } from '../kube/client.js';
import { startAgent, type AgentAuth, type AgentOptions } from '../agent/index.js';
import { CLUSTER_NAME, CREDENTIALS_MODELS, type CredentialsModel } from '../agent/plan.js';
import { DEFAULT_BIND_HOSTS } from '../agent/server.js';
import { POD_IDENTITY_AUDIENCE } from '../agent/token.js';

const HELP = `usage: openirsa agent --cluster-name NAME [flags]

Serves container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI) to pods set up by the webhook's
container-credentials mode, as EKS's Pod Identity Agent does. See docs/agent.md.

  --cluster-name NAME        the cluster's name (session name and the eks-cluster-name tag); required
  --cluster-arn ARN          value of the eks-cluster-arn session tag (left out when not given)
  --model MODEL              agent-identity (AssumeRole + session tags; default) or web-identity
                             (AssumeRoleWithWebIdentity with the pod's token)
  --bind-host HOST           address to listen on, repeatable (default ${DEFAULT_BIND_HOSTS.join(' and ')})
  --port N                   port (default 80)
  --allowed-host HOST        Host a request may name, repeatable (default: the bind hosts)
  --probe-address HOST:PORT  /healthz, /readyz, /metrics (default 127.0.0.1:2703; "none" to disable)
  --audience AUD             accepted token audience, repeatable (default ${POD_IDENTITY_AUDIENCE})
  --auth MODE                token-review (default: kube-apiserver checks the token and its pod) or jwks
  --issuer URL               jwks: the cluster's service account issuer (iss)
  --jwks-file FILE           jwks: the cluster's public keys (default: the issuer's discovery over HTTPS)
  --ca-bundle FILE           jwks: CA certificates for the issuer's HTTPS
  --no-pod-check             jwks: do not look the bound pod up (labs without an API server only)
  --associations-file FILE   PodIdentityAssociation objects from a file (default: from the cluster)
  --kubeconfig FILE          Kubernetes client configuration (default: in-cluster)
  --kube-api URL             Kubernetes API server URL (overrides the kubeconfig's)
  --region REGION            STS region (default $AWS_REGION or us-east-1)
  --sts-endpoint URL         STS endpoint (default $AWS_ENDPOINT_URL_STS or AWS's regional endpoint)
  --session-duration S       seconds asked for each session (default 3600)
  --refresh-before S         renew a session's credentials when fewer seconds remain (default 1200)
  --max-cache-size N         pod sessions kept (default 2000)
  --auth-cache-ttl S         seconds an authenticated token is trusted before it is checked again (default 5)`;

function int(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new CliError(`--${name} must be an integer from ${min} to ${max}, not "${v}"`);
  return Number(v);
}

export function agentOptionsFromFlags(
  argv: string[],
  env: NodeJS.ProcessEnv,
): Omit<AgentOptions, 'logger'> | 'help' {
  const { values: v } = parseFlags('agent', argv, {
    'cluster-name': { type: 'string' },
    'cluster-arn': { type: 'string' },
    model: { type: 'string' },
    'bind-host': { type: 'string', multiple: true },
    port: { type: 'string' },
    'allowed-host': { type: 'string', multiple: true },
    'probe-address': { type: 'string' },
    audience: { type: 'string', multiple: true },
    auth: { type: 'string' },
    issuer: { type: 'string' },
    'jwks-file': { type: 'string' },
    'ca-bundle': { type: 'string' },
    'no-pod-check': { type: 'boolean' },
    'associations-file': { type: 'string' },
    kubeconfig: { type: 'string' },
    'kube-api': { type: 'string' },
    region: { type: 'string' },
    'sts-endpoint': { type: 'string' },
    'session-duration': { type: 'string' },
    'refresh-before': { type: 'string' },
    'max-cache-size': { type: 'string' },
    'auth-cache-ttl': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return 'help';
  const s = (k: string) => v[k] as string | undefined;
  const list = (k: string) => v[k] as string[] | undefined;
  const clusterName = s('cluster-name');
  if (!clusterName) throw new CliError("--cluster-name is required; run 'openirsa agent --help'");
  if (!CLUSTER_NAME.test(clusterName))
    throw new CliError(
      `--cluster-name "${clusterName}" must match [0-9A-Za-z][A-Za-z0-9-_]* (at most 100 characters)`,
    );
  const model = (s('model') ?? 'agent-identity') as CredentialsModel;
  if (!CREDENTIALS_MODELS.includes(model))
    throw new CliError(`--model must be ${CREDENTIALS_MODELS.join(' or ')}, not "${model}"`);
  const authMode = s('auth') ?? 'token-review';
  let auth: AgentAuth;
  if (authMode === 'token-review') {
    for (const f of ['issuer', 'jwks-file', 'ca-bundle', 'no-pod-check'])
      if (v[f] !== undefined) throw new CliError(`--${f} goes with --auth jwks`);
    auth = { kind: 'token-review' };
  } else if (authMode === 'jwks') {
    const issuer = s('issuer');
    if (!issuer || !/^https:\/\/\S+$/.test(issuer))
      throw new CliError('--auth jwks needs --issuer https://…');
    auth = {
      kind: 'jwks',
      issuer,
      podCheck: v['no-pod-check'] !== true,
      ...(s('jwks-file') !== undefined && { jwksFile: s('jwks-file')! }),
      ...(s('ca-bundle') !== undefined && { caBundleFile: s('ca-bundle')! }),
    };
  } else throw new CliError(`--auth must be token-review or jwks, not "${authMode}"`);
  const associationsFile = s('associations-file');
  let probe: AgentOptions['probe'];
  const probeAddress = s('probe-address') ?? '127.0.0.1:2703';
  if (probeAddress !== 'none') {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(probeAddress);
    if (!m) throw new CliError(`--probe-address must be HOST:PORT or none, not "${probeAddress}"`);
    probe = { host: m[1]!.replace(/^\[|\]$/g, ''), port: int('probe-address', m[2], 0, 0, 65535) };
  }
  const stsEndpoint = s('sts-endpoint');
  const port = int('port', s('port'), 80, 0, 65535);
  const durationSeconds = int('session-duration', s('session-duration'), 3600, 900, 43200);
  const refreshBeforeMs = int('refresh-before', s('refresh-before'), 1200, 0, 43200) * 1000;
  const maxEntries = int('max-cache-size', s('max-cache-size'), 2000, 1, 1_000_000);
  const authCacheTtlMs = int('auth-cache-ttl', s('auth-cache-ttl'), 5, 0, 300) * 1000;
  // The API server last: every flag is checked before the environment is.
  const needsKube = auth.kind === 'token-review' || auth.podCheck || associationsFile === undefined;
  let kubeConfig;
  if (needsKube) {
    try {
      kubeConfig = loadKubeConfig({
        ...(s('kubeconfig') !== undefined && { kubeconfig: s('kubeconfig')! }),
        ...(s('kube-api') !== undefined && { kubeApi: s('kube-api')! }),
        env,
      });
    } catch (err) {
      if (!(err instanceof KubeConfigError)) throw err;
      throw new CliError(
        /no Kubernetes API configured/.test(err.message)
          ? 'no Kubernetes API configured: not running in a cluster (KUBERNETES_SERVICE_HOST is unset); pass --kubeconfig or --kube-api, or run without one: --auth jwks --issuer URL --no-pod-check --associations-file FILE'
          : err.message,
      );
    }
  }
  return {
    clusterName,
    ...(s('cluster-arn') !== undefined && { clusterArn: s('cluster-arn')! }),
    model,
    bindHosts: list('bind-host') ?? DEFAULT_BIND_HOSTS,
    port,
    ...(list('allowed-host') !== undefined && { allowedHosts: list('allowed-host')! }),
    ...(probe && { probe }),
    audiences: list('audience') ?? [POD_IDENTITY_AUDIENCE],
    auth,
    ...(kubeConfig && { kubeConfig }),
    associations:
      associationsFile !== undefined ? { kind: 'file', path: associationsFile } : { kind: 'kubernetes' },
    sts: {
      region: s('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(stsEndpoint !== undefined && { endpoint: stsEndpoint }),
      durationSeconds,
    },
    cache: {
      refreshBeforeMs,
      maxEntries,
    },
    authCacheTtlMs,
  };
}

export async function run(argv: string[]): Promise<number> {
  const opts = agentOptionsFromFlags(argv, process.env);
  if (opts === 'help') {
    console.log(HELP);
    return 0;
  }
  // The SDK's web-identity provider (the agent's own IRSA credentials) makes its own STS client, which reads the
  // endpoint from the environment only: without this, --sts-endpoint would get the agent's credentials from AWS.
  if (opts.sts.endpoint !== undefined) process.env.AWS_ENDPOINT_URL_STS ??= opts.sts.endpoint;
  const logger = createLogger({ name: 'agent' });
  let agent;
  try {
    agent = await startAgent({ ...opts, logger });
  } catch (err) {
    logger.flush();
    throw err;
  }
  for (const a of agent.addresses) console.log(`listening on http://${a}`);
  if (agent.probeAddress) console.log(`probes on http://${agent.probeAddress}`);
  process.on('unhandledRejection', (reason: unknown) =>
    logger.error({ err: messageOf(reason) }, 'unhandled promise rejection'),
  );
  return new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down');
      void agent.stop().then(() => {
        logger.flush();
        setTimeout(() => process.exit(0), 200).unref();
        resolve(0);
      });
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
