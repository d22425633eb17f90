/**
 * `openirsa dev`: the whole IRSA chain on one machine, in one process — issuer (HTTPS, local CA), STS with
 * the sample account, the webhook with a static ServiceAccount source — plus a token file kept fresh the
 * way the kubelet keeps a projected token fresh.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Agent as HttpsAgent, request } from 'node:https';
import { createServer } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { writeSecretFile } from '../secret-file.js';
import { shellQuote } from '../escape.js';
import { join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { buildIssuerDocuments, mintServiceAccountToken } from '../issuer/index.js';
import { startIssuerServer, type IssuerServer } from '../issuer/serve.js';
import { base32, buildConfig } from '../sts/config.js';
import { secretAccessKey } from '../sts/credentials.js';
import { IamApiService, openIamState } from '../iam-api/index.js';
import { startServer as startStsServer, type RunningServer } from '../sts/server.js';
import { parseArgs as parseWebhookArgs, resolveFlags } from '../webhook/flags.js';
import { startWebhook, type RunningWebhook } from '../webhook/start.js';
import { createLogger, type Logger } from '../log.js';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
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
export class PortInUseError extends Error {
  constructor(readonly busy: Array<{ component: keyof DevPorts; port: number }>) {
    super(
      `${busy.map((b) => `port ${b.port} for the ${b.component}`).join(', ')} ${busy.length > 1 ? 'are' : 'is'} already in use`,
    );
    this.name = 'PortInUseError';
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
  const answer = await new Promise<string>((resolveBody, reject) => {
    const req = request(
      `${webhookUrl}/mutate`,
      {
        method: 'POST',
        ca,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () =>
          res.statusCode === 200
            ? resolveBody(data)
            : reject(new Error(`webhook answered ${res.statusCode}: ${data}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
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

export async function startDev(options: DevOptions): Promise<RunningDev> {
  const id = options.identity;
  const host = options.host;
  const ports = await resolvePorts(host, options.ports);
  const stateDir = resolve(options.stateDir);
  const hostPlan = planHost(host, {
    hostname: hostname(),
    addresses: Object.values(networkInterfaces()).flatMap((l) =>
      (l ?? []).map((i) => i.address.split('%')[0]!),
    ),
  });
  const state = await loadOrCreateState(stateDir, hostPlan);
  const logger: Logger = createLogger({ name: 'dev', level: options.logLevel });
  const stopFns: Array<() => Promise<unknown>> = [];
  const stopAll = async (): Promise<void> => {
    for (const fn of stopFns.reverse()) await fn().catch(() => undefined);
    stopFns.length = 0;
  };

  try {
    // The issuer: documents for the state's key, served over HTTPS with the local CA's certificate.
    const issuerUrl = `https://${hostPlan.urlHost}:${ports.issuer}`;
    const documents = await buildIssuerDocuments({ issuer: issuerUrl, publicKeys: [state.publicKey] });
    const issuer: IssuerServer = await startIssuerServer({
      files: documents.files,
      port: ports.issuer,
      host,
      tlsCert: state.tls.cert,
      tlsKey: state.tls.key,
    });
    stopFns.push(() => issuer.close());

    // The STS with the sample account; its config is also written out for `openirsa explain` and `sts serve`.
    const sessionKeyFile = join(stateDir, 'sts-session.key');
    const sessionKey = await ensureSessionKey(sessionKeyFile);
    const roleArnValue = devRoleArn(id);
    const adminKey = await ensureAdminKey(stateDir);
    const stsDoc = {
      ...stsConfigDocument(id, issuerUrl, state.caFile, sessionKeyFile),
      // The IAM API on the STS's port; its changes persist in sts-config.iam-state.json beside the config.
      iamApi: { admin: { accessKeyId: adminKey.accessKeyId, secretAccessKeyFile: ADMIN_SECRET_FILE } },
    };
    const stsConfigFile = join(stateDir, 'sts-config.yaml');
    await writeFile(stsConfigFile, toYaml(stsDoc), { mode: 0o644 });
    const stsLogger = createLogger({ name: 'sts', level: options.logLevel });
    const seed = buildConfig(stsDoc, stsConfigFile);
    const iam = await openIamState(seed, { logger: stsLogger });
    stopFns.push(() => iam.stop());
    const sts: RunningServer = await startStsServer({
      config: iam.config(),
      port: ports.sts,
      host,
      tls: { cert: state.tls.cert, key: state.tls.key },
      logger: stsLogger,
      iam: new IamApiService({ api: seed.iamApi!, store: iam.store, config: iam.config, logger: stsLogger }),
    });
    iam.onConfig((c) => sts.service.updateConfig(c));
    stopFns.push(() => sts.close(2000));
    const stsUrl = `https://${hostPlan.urlHost}:${ports.sts}`;
    const admin: DevAdmin = {
      profile: ADMIN_PROFILE,
      accessKeyId: adminKey.accessKeyId,
      credentialsFile: adminKey.credentialsFile,
      env: { AWS_ENDPOINT_URL_IAM: stsUrl, AWS_SHARED_CREDENTIALS_FILE: adminKey.credentialsFile },
    };

    // The webhook, fed by a static ServiceAccount file instead of an API server.
    const saFile = join(stateDir, 'service-accounts.yaml');
    await writeFile(saFile, toYaml(serviceAccountsDocument(id, roleArnValue)), { mode: 0o644 });
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
    stopFns.push(() => webhook.stop());
    await webhook.synced;
    const webhookUrl = `https://${hostPlan.urlHost}:${webhook.port}`;

    // The token, as the kubelet would project it for a pod of the ServiceAccount.
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
    // EKS Pod Identity: the sample pod's token for the agent, and the agent's own (IRSA) token.
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
        credentials: agentCredentials(
          stsUrl,
          state.ca.cert,
          id.region,
          devAgentRoleArn(id),
          () => agentToken,
        ),
      },
      logger: createLogger({ name: 'agent', level: options.logLevel }),
    });
    stopFns.push(() => agent.stop());
    const agentUrl = `http://${agent.addresses[0]}/v1/credentials`;
    const timer = setInterval(
      () => {
        refreshAll().catch((err: unknown) =>
          logger.error({ err: (err as Error).message }, 'token refresh failed'),
        );
      },
      Math.max(1000, options.tokenTtlSeconds * 800),
    );
    timer.unref();
    stopFns.push(async () => clearInterval(timer));

    const mutation = await reviewSamplePod(webhookUrl, state.ca.cert, samplePod(id), id.namespace);

    const env: DevEnvironment = {
      AWS_ROLE_ARN: roleArnValue,
      AWS_ROLE_SESSION_NAME: devSessionName(sessionKey),
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ENDPOINT_URL_STS: stsUrl,
      AWS_CA_BUNDLE: state.caFile,
      NODE_EXTRA_CA_CERTS: state.caFile,
      AWS_REGION: id.region,
      AWS_DEFAULT_REGION: id.region,
    };
    const envFile = join(stateDir, 'env.sh');
    await writeFile(
      envFile,
      exportLines(env) +
        `# The IAM API (same port as the STS) and its administrator, a separate profile: the lines above stay the\n` +
        `# sample role's. Use it as: aws iam list-roles --profile ${ADMIN_PROFILE}\n` +
        exportLines(admin.env),
      { mode: 0o644 },
    );

    const podIdentityEnv: PodIdentityEnvironment = {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: agentUrl,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: podTokenFile,
      AWS_ENDPOINT_URL_STS: stsUrl,
      AWS_CA_BUNDLE: state.caFile,
      NODE_EXTRA_CA_CERTS: state.caFile,
      AWS_REGION: id.region,
      AWS_DEFAULT_REGION: id.region,
    };
    const podIdentityEnvFile = join(stateDir, 'pod-identity-env.sh');
    await writeFile(
      podIdentityEnvFile,
      `# EKS Pod Identity: what the webhook's container-credentials mode injects, pointed at the dev agent.\n` +
        exportLines(podIdentityEnv),
      { mode: 0o644 },
    );

    return {
      admin,
      agentUrl,
      podIdentityEnv,
      podIdentityEnvFile,
      state,
      issuerUrl,
      stsUrl,
      webhookUrl,
      metricsUrl: `http://${hostPlan.urlHost}:${webhook.metricsPort}/metrics`,
      tokenFile,
      stsConfigFile,
      envFile,
      env,
      mutation,
      refreshToken,
      selfCheck: async () =>
        selfCheck({
          stsEndpoint: stsUrl,
          caBundle: state.ca.cert,
          roleArn: roleArnValue,
          token: await readFile(tokenFile, 'utf8'),
          region: id.region,
        }),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The dev agent's own identity: its ServiceAccount token traded at the dev STS, renewed 5 minutes before expiry. */
function agentCredentials(
  stsUrl: string,
  ca: string,
  region: string,
  roleArn: string,
  token: () => string,
): () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date }> {
  const client = new STSClient({
    region,
    endpoint: stsUrl,
    requestHandler: { httpsAgent: new HttpsAgent({ ca }) },
  });
  let current:
    { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date } | undefined;
  return async () => {
    if (current && current.expiration.getTime() - Date.now() > 300_000) return current;
    const out = await client.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: roleArn,
        RoleSessionName: 'openirsa-dev-agent',
        WebIdentityToken: token(),
      }),
    );
    const c = out.Credentials!;
    current = {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
      expiration: c.Expiration!,
    };
    return current;
  };
}

export const ADMIN_PROFILE = 'openirsa-admin';
const ADMIN_SECRET_FILE = 'iam-admin.secret';
const ADMIN_CREDENTIALS_FILE = 'admin-credentials';

/**
 * The IAM API admin key, made on the first run and kept: the secret alone in iam-admin.secret (read by the STS
 * config) and as the `openirsa-admin` profile of an AWS shared credentials file (read by the AWS CLI and SDKs);
 * both 0600.
 */
async function ensureAdminKey(dir: string): Promise<{ accessKeyId: string; credentialsFile: string }> {
  const credentialsFile = join(dir, ADMIN_CREDENTIALS_FILE);
  const secretFile = join(dir, ADMIN_SECRET_FILE);
  try {
    const text = await readFile(credentialsFile, 'utf8');
    const accessKeyId = /aws_access_key_id\s*=\s*(\S+)/.exec(text)?.[1];
    const secret = (await readFile(secretFile, 'utf8')).trim();
    if (accessKeyId && secret && text.includes(secret)) return { accessKeyId, credentialsFile };
  } catch {
    // first run, or a half-made pair: make a new key
  }
  const accessKeyId = 'AKIA' + base32(randomBytes(10), 16);
  const secret = secretAccessKey();
  await writeSecretFile(secretFile, secret + '\n');
  await writeSecretFile(
    credentialsFile,
    `[${ADMIN_PROFILE}]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secret}\n`,
  );
  return { accessKeyId, credentialsFile };
}

/** The STS session key lives in the state folder so credentials survive a restart of `openirsa dev`. */
async function ensureSessionKey(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    const key = randomBytes(32).toString('base64') + '\n';
    await writeSecretFile(file, key, { mode: 0o600, replace: false });
    return key;
  }
}

/** A role session name that changes with the STS session key and reveals nothing of it (a hash prefix). */
export function devSessionName(sessionKey: string): string {
  return `openirsa-dev-${createHash('sha256').update(sessionKey.trim()).digest('hex').slice(0, 12)}`;
}

/** `export NAME=VALUE` lines a POSIX shell can source, one a variable. */
export function exportLines(env: object): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}=${shellQuote(String(v))}\n`)
    .join('');
}
