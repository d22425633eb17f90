/**
 * `openirsa dev`: the whole IRSA chain on one machine, in one process — issuer (HTTPS, local CA), STS with
 * the sample account, the webhook with a static ServiceAccount source — plus a token file kept fresh the
 * way the kubelet keeps a projected token fresh.
 */
import { randomUUID } from 'node:crypto';
import { httpRequestText } from '../net/http-client.js';
import { createServer } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { writeSecretFile } from '../secret-file.js';
import { shellQuote } from '../escape.js';
import { join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { buildIssuerDocuments, mintServiceAccountToken } from '../issuer/index.js';
import { startIssuerServer, type IssuerServer } from '../issuer/serve.js';
import { buildConfig } from '../sts/config.js';
import { IamApiService, openIamState } from '../iam-api/index.js';
import { startServer as startStsServer, type RunningServer } from '../sts/server.js';
import { parseArgs as parseWebhookArgs, resolveFlags } from '../webhook/flags.js';
import { startWebhook, type RunningWebhook } from '../webhook/start.js';
import { createLogger, type Logger } from '../log.js';
import { startAgent } from '../agent/index.js';
import { POD_IDENTITY_AUDIENCE } from '../agent/token.js';
import { loadOrCreateState, type DevState } from './state.js';
import { planHost } from './host.js';
import { hostname, networkInterfaces } from 'node:os';
import {
  DEV_AGENT,
  associationDocument,
  devAgentRoleArn,
  devRoleArn,
  samplePod,
  serviceAccountsDocument,
  stsConfigDocument,
  type DevIdentity,
} from './sample.js';
import { selfCheck, type SelfCheckResult } from './self-check.js';
import { OpenIrsaError, messageOf } from '../errors.js';
import {
  ADMIN_PROFILE,
  ADMIN_SECRET_FILE,
  agentCredentials,
  devSessionName,
  ensureAdminKey,
  ensureSessionKey,
} from './credentials.js';

export interface DevPorts {
  issuer: number;
  sts: number;
  webhook: number;
  metrics: number;
  agent: number;
}

export interface DevOptions {
  stateDir: string;
  host: string;
  ports: DevPorts;
  identity: DevIdentity;
  /** Lifetime of the minted token; it is renewed at 80 % of it, as the kubelet does. */
  tokenTtlSeconds: number;
  logLevel: string;
}

export const DEFAULT_PORTS: DevPorts = { issuer: 8441, sts: 8442, webhook: 8443, metrics: 8444, agent: 8445 };

/** Raised when ports are taken, all of them at once: the CLI turns it into one line naming each setting. */
export class PortInUseError extends OpenIrsaError {
  constructor(readonly busy: Array<{ component: keyof DevPorts; port: number }>) {
    super(
      'PortsInUse',
      `${busy.map((b) => `port ${b.port} for the ${b.component}`).join(', ')} ${busy.length > 1 ? 'are' : 'is'} already in use`,
    );
  }
}

export interface MutationSummary {
  allowed: boolean;
  env: Record<string, string>;
  volume?: unknown;
  patch: unknown[];
}

export interface DevEnvironment {
  AWS_ROLE_ARN: string;
  /**
   * Named after this state's STS session key: the AWS CLI caches web-identity credentials under a hash of the role
   * ARN and this name, so a restart with a new key (a new state folder) gets a new cache entry instead of replaying
   * credentials that the new STS cannot open (InvalidClientTokenId).
   */
  AWS_ROLE_SESSION_NAME: string;
  AWS_WEB_IDENTITY_TOKEN_FILE: string;
  AWS_ENDPOINT_URL_STS: string;
  /** The AWS CLI, boto3 and most SDKs trust the local CA through this. */
  AWS_CA_BUNDLE: string;
  /** The AWS SDK for JavaScript v3 does not read AWS_CA_BUNDLE; Node itself reads this. */
  NODE_EXTRA_CA_CERTS: string;
  AWS_REGION: string;
  /** The AWS CLI v1 and older SDKs read only this one. */
  AWS_DEFAULT_REGION: string;
}

/** The IAM API administrator of `openirsa dev`: a separate profile, so the sample role's environment is untouched. */
export interface DevAdmin {
  profile: string;
  accessKeyId: string;
  /** An AWS shared credentials file (mode 0600) holding the profile. */
  credentialsFile: string;
  /** What env.sh adds for it: the IAM endpoint and that credentials file (it has no default profile). */
  env: { AWS_ENDPOINT_URL_IAM: string; AWS_SHARED_CREDENTIALS_FILE: string };
}

/** What a pod set up in container-credentials mode sees, pointed at the dev agent (EKS Pod Identity). */
export interface PodIdentityEnvironment {
  AWS_CONTAINER_CREDENTIALS_FULL_URI: string;
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: string;
  AWS_ENDPOINT_URL_STS: string;
  AWS_CA_BUNDLE: string;
  NODE_EXTRA_CA_CERTS: string;
  AWS_REGION: string;
  AWS_DEFAULT_REGION: string;
}

export interface RunningDev {
  admin: DevAdmin;
  agentUrl: string;
  podIdentityEnv: PodIdentityEnvironment;
  podIdentityEnvFile: string;
  state: DevState;
  issuerUrl: string;
  stsUrl: string;
  webhookUrl: string;
  metricsUrl: string;
  tokenFile: string;
  stsConfigFile: string;
  envFile: string;
  env: DevEnvironment;
  mutation: MutationSummary;
  /** Mints a fresh token into tokenFile now. */
  refreshToken(): Promise<void>;
  selfCheck(): Promise<SelfCheckResult>;
  stop(): Promise<void>;
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const s = createServer();
    s.once('error', () => resolvePort(false));
    s.listen(port, host, () => s.close(() => resolvePort(true)));
  });
}

function anyFreePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolvePort(p));
    });
  });
}

/** Fixed ports are checked up front so a taken one is reported before anything starts; 0 picks a free one. */
async function resolvePorts(host: string, ports: DevPorts): Promise<DevPorts> {
  const out = { ...ports };
  const busy: Array<{ component: keyof DevPorts; port: number }> = [];
  for (const name of Object.keys(ports) as Array<keyof DevPorts>) {
    if (ports[name] === 0) out[name] = await anyFreePort(host);
    else if (!(await portFree(host, ports[name]))) busy.push({ component: name, port: ports[name] });
  }
  if (busy.length > 0) throw new PortInUseError(busy);
  return out;
}

/** One real AdmissionReview over HTTPS to the webhook, as kube-apiserver would send it. */
async function reviewSamplePod(
  webhookUrl: string,
  ca: string,
  pod: Record<string, unknown>,
  namespace: string,
): Promise<MutationSummary> {
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      object: pod,
    },
  };
  const body = JSON.stringify(review);
  const reply = await httpRequestText(`${webhookUrl}/mutate`, {
    method: 'POST',
    ca,
    headers: { 'content-type': 'application/json' },
    body,
  });
  if (reply.status !== 200) throw new Error(`webhook answered ${reply.status}: ${reply.body}`);
  const answer = reply.body;
  const response =
    (JSON.parse(answer) as { response?: { allowed?: boolean; patch?: string } }).response ?? {};
  const patch = response.patch
    ? (JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Array<{
        path: string;
        value?: unknown;
      }>)
    : [];
  const env: Record<string, string> = {};
  let volume: unknown;
  for (const op of patch) {
    if (op.path === '/spec/containers') {
      const first = (op.value as Array<{ env?: Array<{ name: string; value?: string }> }>)[0];
      for (const e of first?.env ?? []) env[e.name] = e.value ?? '';
    }
    if (op.path === '/spec/volumes' || op.path === '/spec/volumes/0')
      volume = Array.isArray(op.value) ? op.value[0] : op.value;
  }
  return { allowed: response.allowed === true, env, volume, patch };
}

/** What the phases of startDev share; each phase pushes how to stop what it started onto `stops`. */
interface DevRun {
  options: DevOptions;
  id: DevIdentity;
  host: string;
  ports: DevPorts;
  stateDir: string;
  /** The host part of every URL (hostPlan.urlHost). */
  urlHost: string;
  state: DevState;
  stops: Array<() => Promise<unknown>>;
}

/** A listener lost its port to another process; the servers report it in their own words. */
function lostPort(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
    e;
    e = e.cause as typeof e
  ) {
    if (e.code === 'EADDRINUSE' || e.code === 'PortInUse') return true;
    // A wrapper that kept only Node's message ("listen EADDRINUSE: address already in use …").
    if (typeof e.message === 'string' && e.message.includes('EADDRINUSE')) return true;
  }
  return false;
}

/**
 * Everything openirsa runs in a cluster, on this machine: the issuer, the STS with its IAM API, the webhook, the
 * tokens the kubelet would project, and the Pod Identity agent; then the sample pod's mutation and the env files.
 */
export async function startDev(options: DevOptions): Promise<RunningDev> {
  // A port picked for `0` is free when picked but not reserved: another process may take it before its server
  // listens (parallel test runs do). Then everything started is stopped and new ports are picked, a few times.
  const picked = Object.values(options.ports).some((p) => p === 0);
  for (let attempt = 1; ; attempt++) {
    const ports = await resolvePorts(options.host, options.ports);
    try {
      return await startDevOn(options, ports);
    } catch (err) {
      if (!picked || attempt >= 3 || !lostPort(err)) throw err;
    }
  }
}

async function startDevOn(options: DevOptions, ports: DevPorts): Promise<RunningDev> {
  const host = options.host;
  const stateDir = resolve(options.stateDir);
  const hostPlan = planHost(host, {
    hostname: hostname(),
    addresses: Object.values(networkInterfaces()).flatMap((l) =>
      (l ?? []).map((i) => i.address.split('%')[0]!),
    ),
  });
  const state = await loadOrCreateState(stateDir, hostPlan);
  const run: DevRun = {
    options,
    id: options.identity,
    host,
    ports,
    stateDir,
    urlHost: hostPlan.urlHost,
    state,
    stops: [],
  };
  const stopAll = async (): Promise<void> => {
    for (const fn of run.stops.reverse()) await fn().catch(() => undefined);
    run.stops.length = 0;
  };

  try {
    const issuerUrl = await startIssuerPhase(run);
    const sts = await startStsPhase(run, issuerUrl);
    const webhook = await startWebhookPhase(run);
    const tokens = await startTokensPhase(run, issuerUrl);
    const agentUrl = await startAgentPhase(run, issuerUrl, sts.url, tokens.agentToken);
    const mutation = await reviewSamplePod(webhook.url, state.ca.cert, samplePod(run.id), run.id.namespace);
    const files = await writeEnvFiles(run, { sts, agentUrl, tokens });
    return {
      admin: sts.admin,
      agentUrl,
      podIdentityEnv: files.podIdentityEnv,
      podIdentityEnvFile: files.podIdentityEnvFile,
      state,
      issuerUrl,
      stsUrl: sts.url,
      webhookUrl: webhook.url,
      metricsUrl: webhook.metricsUrl,
      tokenFile: tokens.tokenFile,
      stsConfigFile: sts.configFile,
      envFile: files.envFile,
      env: files.env,
      mutation,
      refreshToken: tokens.refreshToken,
      selfCheck: async () =>
        selfCheck({
          stsEndpoint: sts.url,
          caBundle: state.ca.cert,
          roleArn: devRoleArn(run.id),
          token: await readFile(tokens.tokenFile, 'utf8'),
          region: run.id.region,
        }),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The issuer: documents for the state's key, served over HTTPS with the local CA's certificate. */
async function startIssuerPhase({ host, ports, urlHost, state, stops }: DevRun): Promise<string> {
  const issuerUrl = `https://${urlHost}:${ports.issuer}`;
  const documents = await buildIssuerDocuments({ issuer: issuerUrl, publicKeys: [state.publicKey] });
  const issuer: IssuerServer = await startIssuerServer({
    files: documents.files,
    port: ports.issuer,
    host,
    tlsCert: state.tls.cert,
    tlsKey: state.tls.key,
  });
  stops.push(() => issuer.close());
  return issuerUrl;
}

interface DevSts {
  url: string;
  configFile: string;
  sessionKey: string;
  admin: DevAdmin;
}

/** The STS with the sample account; its config is also written out for `openirsa explain` and `sts serve`. */
async function startStsPhase(run: DevRun, issuerUrl: string): Promise<DevSts> {
  const { options, id, host, ports, stateDir, state, stops } = run;
  const sessionKeyFile = join(stateDir, 'sts-session.key');
  const sessionKey = await ensureSessionKey(sessionKeyFile);
  const adminKey = await ensureAdminKey(stateDir);
  const stsDoc = {
    ...stsConfigDocument(id, issuerUrl, state.caFile, sessionKeyFile),
    // The IAM API on the STS's port; its changes persist in sts-config.iam-state.json beside the config.
    iamApi: { admin: { accessKeyId: adminKey.accessKeyId, secretAccessKeyFile: ADMIN_SECRET_FILE } },
  };
  const configFile = join(stateDir, 'sts-config.yaml');
  await writeFile(configFile, toYaml(stsDoc), { mode: 0o644 });
  const stsLogger = createLogger({ name: 'sts', level: options.logLevel });
  const seed = buildConfig(stsDoc, configFile);
  const iam = await openIamState(seed, { logger: stsLogger });
  stops.push(() => iam.stop());
  const sts: RunningServer = await startStsServer({
    config: iam.config(),
    port: ports.sts,
    host,
    tls: { cert: state.tls.cert, key: state.tls.key },
    logger: stsLogger,
    iam: new IamApiService({ api: seed.iamApi!, store: iam.store, config: iam.config, logger: stsLogger }),
  });
  iam.onConfig((c) => sts.service.updateConfig(c));
  stops.push(() => sts.close(2000));
  const url = `https://${run.urlHost}:${ports.sts}`;
  return {
    url,
    configFile,
    sessionKey,
    admin: {
      profile: ADMIN_PROFILE,
      accessKeyId: adminKey.accessKeyId,
      credentialsFile: adminKey.credentialsFile,
      env: { AWS_ENDPOINT_URL_IAM: url, AWS_SHARED_CREDENTIALS_FILE: adminKey.credentialsFile },
    },
  };
}

/** The webhook, fed by a static ServiceAccount file instead of an API server. */
async function startWebhookPhase(run: DevRun): Promise<{ url: string; metricsUrl: string }> {
  const { options, id, host, ports, stateDir, stops } = run;
  const saFile = join(stateDir, 'service-accounts.yaml');
  await writeFile(saFile, toYaml(serviceAccountsDocument(id, devRoleArn(id))), { mode: 0o644 });
  const flags = resolveFlags(
    parseWebhookArgs([
      '--in-cluster=false',
      `--tls-cert=${join(stateDir, 'tls.crt')}`,
      `--tls-key=${join(stateDir, 'tls.key')}`,
      `--port=${ports.webhook}`,
      `--metrics-port=${ports.metrics}`,
      `--bind-address=${host}`, // --host is every listener's address, the webhook's and its metrics' too
      `--service-accounts-file=${saFile}`,
    ]).values,
  );
  const webhook: RunningWebhook = await startWebhook(flags, {
    logger: createLogger({ name: 'webhook', level: options.logLevel }),
  });
  stops.push(() => webhook.stop());
  await webhook.synced;
  return {
    url: `https://${run.urlHost}:${webhook.port}`,
    metricsUrl: `http://${run.urlHost}:${webhook.metricsPort}/metrics`,
  };
}

interface DevTokens {
  tokenFile: string;
  podTokenFile: string;
  /** Re-mints the sample pod's IRSA token. */
  refreshToken: () => Promise<void>;
  /** The agent's own (IRSA) token, as last minted. */
  agentToken: () => string;
}

/**
 * The tokens the kubelet would project: the sample pod's IRSA token; for EKS Pod Identity, the sample pod's token
 * for the agent and the agent's own. Minted now and renewed at 80 % of their lifetime.
 */
async function startTokensPhase(run: DevRun, issuerUrl: string): Promise<DevTokens> {
  const { options, id, stateDir, state, stops } = run;
  const tokenFile = join(stateDir, 'token');
  const refreshToken = async (): Promise<void> => {
    const token = await mintServiceAccountToken({
      privateKey: state.signingKey,
      issuer: issuerUrl,
      namespace: id.namespace,
      serviceAccount: id.serviceAccount,
      audiences: [id.audience],
      now: new Date(),
      ttl: options.tokenTtlSeconds,
      pod: { name: 's3-uploader', uid: randomUUID() },
    });
    await writeSecretFile(tokenFile, token); // a reader never sees a half-written token
  };
  const podTokenFile = join(stateDir, 'pod-identity-token');
  const podUid = randomUUID();
  let agentToken = '';
  const refreshPodIdentityTokens = async (): Promise<void> => {
    const now = new Date();
    const common = { privateKey: state.signingKey, issuer: issuerUrl, now, ttl: options.tokenTtlSeconds };
    const podToken = await mintServiceAccountToken({
      ...common,
      namespace: id.namespace,
      serviceAccount: id.serviceAccount,
      audiences: [POD_IDENTITY_AUDIENCE],
      pod: { name: 's3-uploader', uid: podUid },
    });
    await writeSecretFile(podTokenFile, podToken);
    agentToken = await mintServiceAccountToken({
      ...common,
      namespace: DEV_AGENT.namespace,
      serviceAccount: DEV_AGENT.serviceAccount,
      audiences: [id.audience],
    });
  };
  const refreshAll = async (): Promise<void> => {
    await refreshToken();
    await refreshPodIdentityTokens();
  };
  await refreshAll();
  const logger: Logger = createLogger({ name: 'dev', level: options.logLevel });
  const timer = setInterval(
    () => {
      refreshAll().catch((err: unknown) => logger.error({ err: messageOf(err) }, 'token refresh failed'));
    },
    Math.max(1000, options.tokenTtlSeconds * 800),
  );
  timer.unref();
  stops.push(async () => clearInterval(timer));
  return { tokenFile, podTokenFile, refreshToken, agentToken: () => agentToken };
}

/** The EKS Pod Identity agent, with the sample association; its credentials URL. */
async function startAgentPhase(
  run: DevRun,
  issuerUrl: string,
  stsUrl: string,
  agentToken: () => string,
): Promise<string> {
  const { options, id, host, ports, stateDir, state, stops } = run;
  const associationsFile = join(stateDir, 'pod-identity-associations.yaml');
  await writeFile(associationsFile, toYaml(associationDocument(id)), { mode: 0o644 });
  const agent = await startAgent({
    clusterName: DEV_AGENT.clusterName,
    model: 'agent-identity',
    bindHosts: [host],
    port: ports.agent,
    audiences: [POD_IDENTITY_AUDIENCE],
    auth: { kind: 'jwks', issuer: issuerUrl, caBundleFile: state.caFile, podCheck: false },
    associations: { kind: 'file', path: associationsFile },
    sts: {
      region: id.region,
      endpoint: stsUrl,
      caBundle: state.ca.cert,
      credentials: agentCredentials(stsUrl, state.ca.cert, id.region, devAgentRoleArn(id), agentToken),
    },
    logger: createLogger({ name: 'agent', level: options.logLevel }),
  });
  stops.push(() => agent.stop());
  return `http://${agent.addresses[0]}/v1/credentials`;
}

/** env.sh (the sample role's IRSA environment, then the IAM API administrator's) and pod-identity-env.sh. */
async function writeEnvFiles(
  { id, stateDir, state }: DevRun,
  { sts, agentUrl, tokens }: { sts: DevSts; agentUrl: string; tokens: DevTokens },
): Promise<{
  env: DevEnvironment;
  envFile: string;
  podIdentityEnv: PodIdentityEnvironment;
  podIdentityEnvFile: string;
}> {
  // Both environments reach the dev STS the same way, and list it after what is their own.
  const toSts = {
    AWS_ENDPOINT_URL_STS: sts.url,
    AWS_CA_BUNDLE: state.caFile,
    NODE_EXTRA_CA_CERTS: state.caFile,
    AWS_REGION: id.region,
    AWS_DEFAULT_REGION: id.region,
  };
  const env: DevEnvironment = {
    AWS_ROLE_ARN: devRoleArn(id),
    AWS_ROLE_SESSION_NAME: devSessionName(sts.sessionKey),
    AWS_WEB_IDENTITY_TOKEN_FILE: tokens.tokenFile,
    ...toSts,
  };
  const envFile = join(stateDir, 'env.sh');
  await writeFile(
    envFile,
    exportLines(env) +
      `# The IAM API (same port as the STS) and its administrator, a separate profile: the lines above stay the\n` +
      `# sample role's. Use it as: aws iam list-roles --profile ${ADMIN_PROFILE}\n` +
      exportLines(sts.admin.env),
    { mode: 0o644 },
  );

  const podIdentityEnv: PodIdentityEnvironment = {
    AWS_CONTAINER_CREDENTIALS_FULL_URI: agentUrl,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokens.podTokenFile,
    ...toSts,
  };
  const podIdentityEnvFile = join(stateDir, 'pod-identity-env.sh');
  await writeFile(
    podIdentityEnvFile,
    `# EKS Pod Identity: what the webhook's container-credentials mode injects, pointed at the dev agent.\n` +
      exportLines(podIdentityEnv),
    { mode: 0o644 },
  );
  return { env, envFile, podIdentityEnv, podIdentityEnvFile };
}

/** `export NAME=VALUE` lines a POSIX shell can source, one a variable. */
export function exportLines(env: object): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}=${shellQuote(String(v))}\n`)
    .join('');
}
