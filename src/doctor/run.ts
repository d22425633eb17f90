/**
 * `openirsa doctor`: reads the cluster, the issuer and (optionally) the STS configuration, link by link, and
 * hands what it read to the pure analysers in checks.ts. Every failure to read is itself a finding.
 */
import { readFile } from 'node:fs/promises';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { checkIssuer, formatFinding } from '../issuer/check.js';
import { loadConfig } from '../sts/config.js';
import { explainWebIdentity } from '../sts/explain.js';
import { KeyStore } from '../oidc/keys.js';
import { kubeGet } from '../kube/client.js';
import { kubeErrorText, kubeStatusOf } from '../kube/client-errors.js';
import { runAwsChecks } from './aws.js';
import { DEFAULT_ANNOTATION_PREFIX, DEFAULT_TOKEN_AUDIENCE, ANNOTATION } from '../webhook/constants.js';
import {
  checkApiServer,
  checkIssuerConsistency,
  checkKeysPublished,
  checkPodMutated,
  checkServiceAccount,
  checkToken,
  checkWebhookRegistered,
  type Check,
  type PodFacts,
} from './checks.js';
import { messageOf } from '../errors.js';
import { HttpError, failureText, httpRequestText } from '../net/http-client.js';

export interface DoctorOptions {
  kubeConfig: KubeConfig;
  /** Which configuration was used ("context NAME from SOURCE"), for the first link's line. */
  via?: string;
  namespace: string;
  serviceAccount?: string;
  pod?: string;
  /** Extra CA (PEM) to trust for the issuer's HTTPS, as the STS would through its CA bundle/thumbprint. */
  issuerCa?: string;
  stsConfigFile?: string;
  annotationPrefix?: string;
  /** Check the IAM side with the standard AWS credentials; `exchange`: a real AssumeRoleWithWebIdentity. */
  aws?: { exchange: boolean };
  now?: () => number;
}

const isNotFound = (err: unknown): boolean => kubeStatusOf(err) === 404;

async function jwksKids(
  fetchJwks: () => Promise<{ status: number; body: string }>,
): Promise<string[] | undefined> {
  try {
    const r = await fetchJwks();
    if (r.status !== 200) return undefined;
    const keys = (JSON.parse(r.body) as { keys?: Array<{ kid?: string }> }).keys;
    return Array.isArray(keys) ? keys.map((k) => k.kid ?? '') : undefined;
  } catch {
    return undefined;
  }
}

/** What every phase reads with: the options, the core API client, and the annotation prefix and clock in use. */
interface Run {
  o: DoctorOptions;
  core: CoreV1Api;
  prefix: string;
  now: () => number;
}

/** The ServiceAccount the pod runs as (or the one given), and what its annotations ask of the webhook. */
interface ServiceAccountFacts {
  pod: PodFacts | undefined;
  saName: string;
  annotations: Record<string, string> | undefined;
  roleArn: string | undefined;
  audience: string;
}

interface TokenFacts {
  token: string;
  header: { alg?: string; kid?: string };
  claims: { iss?: string; sub?: string; aud?: string | string[]; exp?: number };
}

/**
 * Every link from the cluster to STS, in order; a phase whose failure makes the later ones meaningless ends the
 * run there (the API server, the pod, the token).
 */
export async function runDoctor(o: DoctorOptions): Promise<Check[]> {
  const run: Run = {
    o,
    core: o.kubeConfig.makeApiClient(CoreV1Api),
    prefix: o.annotationPrefix ?? DEFAULT_ANNOTATION_PREFIX,
    now: o.now ?? (() => Math.floor(Date.now() / 1000)),
  };
  const checks: Check[] = [];

  // 0. The API server answers at all; when it does not, every later link would fail for that one reason.
  const api = await probeApiServer(o.kubeConfig, o.via ?? `context ${o.kubeConfig.getCurrentContext()}`);
  checks.push(api);
  if (api.status === 'fail') return checks;

  checks.push(...(await webhookPhase(o.kubeConfig)));
  const sa = await serviceAccountPhase(run, checks);
  if (!sa) return checks;
  checks.push(...(await mutationPhase(run, sa)));
  const token = await tokenPhase(run, sa, checks);
  if (!token) return checks;
  checks.push(...(await issuerPhase(run, token)));

  // 7. The trust policy, evaluated on this very token (offline, with the STS config).
  if (o.stsConfigFile) checks.push(await trustCheck(o.stsConfigFile, sa.roleArn, token.token, run.now()));

  // 8. The IAM side as AWS sees it (GetOpenIDConnectProvider, GetRole), and a real exchange when asked.
  const { iss, sub } = token.claims;
  if (o.aws && sa.roleArn && iss && sub) {
    checks.push(
      ...(await runAwsChecks({
        token: token.token,
        issuer: iss,
        sub,
        audience: sa.audience,
        roleArn: sa.roleArn,
        exchange: o.aws.exchange,
      })),
    );
  }
  return checks;
}

/** 1. The webhook is registered, and answers when it is reachable from here. */
async function webhookPhase(kc: KubeConfig): Promise<Check[]> {
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  try {
    const list = await admission.listMutatingWebhookConfiguration();
    const { check, webhooks } = checkWebhookRegistered(list.items);
    const checks = [check];
    for (const { webhook } of webhooks) checks.push(await probeWebhook(webhook));
    return checks;
  } catch (err) {
    return [
      {
        id: 'webhook-registered',
        title: 'pod identity webhook registered',
        status: 'fail',
        detail: `cannot list MutatingWebhookConfigurations: ${kubeErrorText(err)}`,
        fix: 'check --kubeconfig and that you may list mutatingwebhookconfigurations',
      },
    ];
  }
}

/**
 * 2. The pod (when given) names the ServiceAccount; the ServiceAccount carries the role. Adds its checks to
 * `checks`; undefined when the pod cannot be read (nothing later can be checked).
 */
async function serviceAccountPhase(
  { o, core, prefix }: Run,
  checks: Check[],
): Promise<ServiceAccountFacts | undefined> {
  let pod: PodFacts | undefined;
  let saName = o.serviceAccount;
  if (o.pod) {
    try {
      pod = await core.readNamespacedPod({ name: o.pod, namespace: o.namespace });
      saName = saName ?? pod.spec?.serviceAccountName ?? 'default';
    } catch (err) {
      checks.push({
        id: 'pod',
        title: `pod ${o.namespace}/${o.pod}`,
        status: 'fail',
        detail: isNotFound(err) ? 'not found' : kubeErrorText(err),
      });
      return undefined;
    }
  }
  saName = saName ?? 'default';
  const ref = `${o.namespace}/${saName}`;
  let annotations: Record<string, string> | undefined;
  try {
    const sa = await core.readNamespacedServiceAccount({ name: saName, namespace: o.namespace });
    annotations = sa.metadata?.annotations ?? {};
    checks.push(checkServiceAccount({ namespace: o.namespace, name: saName, annotations }, ref, prefix));
  } catch (err) {
    checks.push(
      isNotFound(err)
        ? checkServiceAccount(undefined, ref, prefix)
        : {
            id: 'service-account',
            title: 'ServiceAccount annotated with a role',
            status: 'fail',
            detail: `cannot read ${ref}: ${kubeErrorText(err)}`,
          },
    );
  }
  return {
    pod,
    saName,
    annotations,
    roleArn: annotations?.[`${prefix}/${ANNOTATION.roleArn}`] || undefined,
    audience: annotations?.[`${prefix}/${ANNOTATION.audience}`] || DEFAULT_TOKEN_AUDIENCE,
  };
}

/** 3. The webhook mutates the pod: the stored one, or a new one in a server-side dry run (nothing is created). */
async function mutationPhase({ o, core, prefix }: Run, sa: ServiceAccountFacts): Promise<Check[]> {
  if (sa.pod) return [checkPodMutated(sa.pod, sa.roleArn, `pod ${o.namespace}/${o.pod}`, prefix)];
  if (!sa.annotations) return [];
  const probe: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'openirsa-doctor-', namespace: o.namespace },
    spec: { serviceAccountName: sa.saName, containers: [{ name: 'probe', image: 'busybox' }] },
  };
  try {
    const created = await core.createNamespacedPod({ namespace: o.namespace, body: probe, dryRun: 'All' });
    return [checkPodMutated(created, sa.roleArn, 'a new pod, server-side dry run', prefix)];
  } catch (err) {
    return [
      {
        id: 'pod-mutated',
        title: 'pod mutated by the webhook (a new pod, server-side dry run)',
        status: 'fail',
        detail: `the API server refused the dry-run pod: ${kubeErrorText(err)}`,
        fix: 'with failurePolicy Fail an unreachable webhook blocks every pod: check the webhook Service/URL, its certificate and caBundle',
      },
    ];
  }
}

/**
 * 4. A token exactly as the kubelet would get it. Adds its check to `checks`; undefined when there is no token
 * (nothing later can be checked).
 */
async function tokenPhase(
  { o, core, now }: Run,
  sa: ServiceAccountFacts,
  checks: Check[],
): Promise<TokenFacts | undefined> {
  try {
    const tr = await core.createNamespacedServiceAccountToken({
      name: sa.saName,
      namespace: o.namespace,
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: [sa.audience], expirationSeconds: 3600 },
      },
    });
    const token = tr.status?.token;
    if (!token) throw new Error('the TokenRequest answer holds no token');
    const header = decodeProtectedHeader(token) as TokenFacts['header'];
    const claims = decodeJwt(token) as TokenFacts['claims'];
    checks.push(
      checkToken({ header, claims }, `system:serviceaccount:${o.namespace}:${sa.saName}`, sa.audience, now()),
    );
    return { token, header, claims };
  } catch (err) {
    checks.push({
      id: 'token',
      title: `ServiceAccount token (TokenRequest, audience ${sa.audience})`,
      status: 'fail',
      detail: `TokenRequest failed: ${kubeErrorText(err)}`,
      fix: 'the caller needs create on serviceaccounts/token; the API server needs --service-account-signing-key-file and --service-account-issuer',
    });
    return undefined;
  }
}

/**
 * 5. The API server's own discovery agrees with the tokens it signs. 6. The issuer as STS sees it: discovery and
 * JWKS over HTTPS, the token verified against them.
 */
async function issuerPhase({ o }: Run, { token, header, claims }: TokenFacts): Promise<Check[]> {
  let apiIssuer: string | undefined;
  let apiKids: string[] | undefined;
  try {
    const d = await kubeGet(o.kubeConfig, '/.well-known/openid-configuration');
    if (d.status === 200) apiIssuer = (JSON.parse(d.body) as { issuer?: string }).issuer;
    apiKids = await jwksKids(() => kubeGet(o.kubeConfig, '/openid/v1/jwks'));
  } catch {
    apiIssuer = undefined;
  }
  const checks = [checkIssuerConsistency(claims.iss, apiIssuer)];
  if (!claims.iss) return checks;
  const report = await checkIssuer(claims.iss, { token, ca: o.issuerCa });
  const errors = report.findings.filter((f) => f.severity === 'error');
  const warnings = report.findings.filter((f) => f.severity === 'warning');
  checks.push({
    id: 'issuer-discovery',
    title: 'issuer discovery + JWKS reachable as STS fetches them',
    status: errors.length ? 'fail' : warnings.length ? 'warn' : 'pass',
    detail:
      errors.length || warnings.length
        ? [...errors, ...warnings].map(formatFinding).join('; ')
        : `${claims.iss}/.well-known/openid-configuration and its jwks_uri over HTTPS; the token verifies`,
    fix: errors.length
      ? `publish the documents where STS can fetch them: openirsa issuer documents --issuer ${claims.iss} … then openirsa issuer publish/serve; details: openirsa issuer check ${claims.iss} --token FILE`
      : undefined,
  });
  checks.push(checkKeysPublished(apiKids, report.publishedKeyIds, header.kid));
  return checks;
}

async function probeApiServer(kc: KubeConfig, via: string): Promise<Check> {
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  try {
    const r = await kubeGet(kc, '/version');
    let gitVersion: string | undefined;
    try {
      gitVersion = r.status === 200 ? (JSON.parse(r.body) as { gitVersion?: string }).gitVersion : undefined;
    } catch {
      gitVersion = undefined;
    }
    return checkApiServer({ server, via, status: r.status, gitVersion });
  } catch (err) {
    const code = err instanceof HttpError ? err.errno : (err as NodeJS.ErrnoException).code;
    return checkApiServer({ server, via, error: { code, message: failureText(err) } });
  }
}

async function probeWebhook(webhook: {
  name: string;
  clientConfig?: { url?: string; caBundle?: string };
}): Promise<Check> {
  const base = { id: 'webhook-reachable', title: `webhook ${webhook.name} answers` };
  const url = webhook.clientConfig?.url;
  if (!url)
    return {
      ...base,
      status: 'skip',
      detail:
        'served through an in-cluster Service: the dry-run pod below shows whether the API server reaches it',
    };
  const ca = webhook.clientConfig?.caBundle
    ? Buffer.from(webhook.clientConfig.caBundle, 'base64').toString('utf8')
    : undefined;
  const healthz = new URL('/healthz', url);
  try {
    const { status } = await httpRequestText(healthz.href, { ...(ca ? { ca } : {}), timeoutMs: 5000 });
    if (status !== 200) return { ...base, status: 'fail', detail: `${healthz.href} answered ${status}` };
    return {
      ...base,
      status: 'pass',
      detail: `${healthz.href} answers 200 over TLS verified with the configuration's caBundle`,
    };
  } catch (err) {
    return {
      ...base,
      status: 'fail',
      detail: `${healthz.href}: ${failureText(err)}`,
      fix: 'start the webhook, or fix clientConfig.url/caBundle (the certificate must be signed by the caBundle and name the host)',
    };
  }
}

async function trustCheck(
  file: string,
  roleArn: string | undefined,
  token: string,
  now: number,
): Promise<Check> {
  const base = { id: 'trust-policy', title: 'trust policy allows this ServiceAccount (STS config)' };
  if (!roleArn) return { ...base, status: 'skip', detail: 'no role ARN on the ServiceAccount' };
  let config;
  try {
    config = loadConfig(file);
  } catch (err) {
    return { ...base, status: 'fail', detail: messageOf(err) };
  }
  const keys = new KeyStore(config.providers, { ttlMs: config.jwksCacheSeconds * 1000, minRefetchMs: 0 });
  const report = await explainWebIdentity({
    config,
    roleArn,
    token,
    sessionName: 'openirsa-doctor',
    now: now * 1000,
    getKey: keys.getKey,
    verifySignature: true,
    keySource: (url) => `JWKS fetched from ${url}`,
  });
  if (report.allowed)
    return { ...base, status: 'pass', detail: `AWS would issue credentials for ${report.assumedRoleArn}` };
  const failed = report.steps.find((s) => !s.ok);
  return {
    ...base,
    status: 'fail',
    detail: `${report.aws ? `${report.aws.code}: ${report.aws.message} — ` : ''}${failed ? `${failed.step}: ${failed.detail}` : 'denied'}`,
    fix: failed?.fix ?? `openirsa explain --config ${file} --role-arn ${roleArn} --token FILE`,
  };
}

export async function readCa(file: string | undefined): Promise<string | undefined> {
  return file === undefined ? undefined : readFile(file, 'utf8');
}
