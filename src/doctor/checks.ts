/**
 * The links of the IRSA chain as `openirsa doctor` checks them. Each analyser is pure: it gets what was read
 * from the cluster and the issuer, and returns one checklist line with, when it fails, the most likely fix.
 */
import { ANNOTATION, ENV, IRSA_VOLUME_NAME, SKIP_POD_LABEL } from '../webhook/constants.js';

export type Status = 'pass' | 'fail' | 'warn' | 'skip';

export interface Check {
  id: string;
  title: string;
  status: Status;
  detail: string;
  fix?: string;
}

/** The role ARN the reference webhook accepts without a warning (reference pkg/handler/handler.go @3bf80a34). */
const ROLE_ARN = /^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w-/.@+=,]+$/;

interface WebhookRule {
  apiGroups?: string[];
  resources?: string[];
  operations?: string[];
}
export interface WebhookEntry {
  name: string;
  rules?: WebhookRule[];
  clientConfig?: {
    url?: string;
    caBundle?: string;
    service?: { namespace: string; name: string; path?: string; port?: number };
  };
  failurePolicy?: string;
  objectSelector?: {
    matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
    matchLabels?: Record<string, string>;
  };
}
export interface WebhookConfiguration {
  metadata?: { name?: string };
  webhooks?: WebhookEntry[];
}

const has = (list: string[] | undefined, ...values: string[]): boolean =>
  (list ?? []).some((v) => v === '*' || values.includes(v));

/** A webhook that sees pod creations: rules on "" pods CREATE (wildcards included). */
export function mutatesPods(w: WebhookEntry): boolean {
  return (w.rules ?? []).some(
    (r) => has(r.apiGroups, '') && has(r.resources, 'pods') && has(r.operations, 'CREATE'),
  );
}

export function checkWebhookRegistered(configs: WebhookConfiguration[]): {
  check: Check;
  webhooks: Array<{ config: string; webhook: WebhookEntry }>;
} {
  const found = configs.flatMap((c) =>
    (c.webhooks ?? []).filter(mutatesPods).map((webhook) => ({ config: c.metadata?.name ?? '?', webhook })),
  );
  // The pod identity webhook by name or path; other pod webhooks (Istio, ...) do not count.
  const irsa = found.filter(
    ({ config, webhook }) =>
      /pod-identity|irsa/i.test(`${config} ${webhook.name}`) ||
      (webhook.clientConfig?.url ?? webhook.clientConfig?.service?.path ?? '').endsWith('/mutate'),
  );
  if (irsa.length === 0) {
    return {
      webhooks: [],
      check: {
        id: 'webhook-registered',
        title: 'pod identity webhook registered',
        status: 'fail',
        detail:
          found.length === 0
            ? 'no MutatingWebhookConfiguration mutates pods on CREATE'
            : `pod webhooks exist (${found.map((f) => f.webhook.name).join(', ')}) but none is the pod identity webhook (/mutate)`,
        fix: 'deploy the webhook (kubectl apply -k deploy/kustomize/… or the Helm chart) and its MutatingWebhookConfiguration',
      },
    };
  }
  return {
    webhooks: irsa,
    check: {
      id: 'webhook-registered',
      title: 'pod identity webhook registered',
      status: 'pass',
      detail: irsa
        .map(
          ({ config, webhook }) =>
            `${config}/${webhook.name} → ${webhook.clientConfig?.url ?? `service ${webhook.clientConfig?.service?.namespace}/${webhook.clientConfig?.service?.name}`} (failurePolicy ${webhook.failurePolicy ?? 'Fail'})`,
        )
        .join('; '),
    },
  };
}

/** What came back from GET /version on the configured API server. */
export interface ApiServerProbe {
  server: string;
  /** "context NAME from SOURCE", to say which configuration was used. */
  via: string;
  status?: number;
  gitVersion?: string;
  /** A network or TLS failure: the error code (ECONNREFUSED, …) and message. */
  error?: { code?: string; message: string };
}

const NETWORK_CAUSE: Record<string, string> = {
  ECONNREFUSED: 'connection refused (nothing listens there)',
  ENOTFOUND: 'host not found (DNS)',
  EAI_AGAIN: 'host name lookup failed (DNS)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  DEPTH_ZERO_SELF_SIGNED_CERT:
    "TLS: its certificate is self-signed and not the kubeconfig's certificate-authority",
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS: its certificate chain ends at a CA the kubeconfig does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    "TLS: its certificate is not signed by the kubeconfig's certificate-authority",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    "TLS: its certificate is not signed by the kubeconfig's certificate-authority",
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS: its certificate does not name this host',
  CERT_HAS_EXPIRED: 'TLS: its certificate has expired',
  EPROTO: 'TLS handshake failed (is it plain http?)',
};

/** The first link: the API server the configuration names answers (every later link reads through it). */
export function checkApiServer(p: ApiServerProbe): Check {
  const base = { id: 'api-server', title: 'Kubernetes API server reachable' };
  if (p.error) {
    const cause = (p.error.code && NETWORK_CAUSE[p.error.code]) || p.error.message;
    return {
      ...base,
      status: 'fail',
      detail: `cannot reach ${p.server} (${p.via}): ${cause}${p.error.code && !cause.includes(p.error.code) ? ` [${p.error.code}]` : ''}`,
      fix: 'start the cluster or fix its address, or choose another with --context / --kubeconfig / KUBECONFIG (as for kubectl)',
    };
  }
  if (p.status === 401)
    return {
      ...base,
      status: 'fail',
      detail: `${p.server} (${p.via}) answered 401 Unauthorized: it rejects the kubeconfig user's credentials`,
      fix: "renew the user's credentials (token, client certificate) in the kubeconfig, or choose another --context",
    };
  return {
    ...base,
    status: 'pass',
    detail: `${p.server} (${p.via})${p.gitVersion ? ` runs Kubernetes ${p.gitVersion}` : ` answers (HTTP ${p.status})`}`,
  };
}

export interface ServiceAccountFacts {
  namespace: string;
  name: string;
  annotations: Record<string, string>;
}

export function checkServiceAccount(sa: ServiceAccountFacts | undefined, ref: string, prefix: string): Check {
  const base = { id: 'service-account', title: 'ServiceAccount annotated with a role' };
  if (!sa) {
    return {
      ...base,
      status: 'fail',
      detail: `ServiceAccount ${ref} does not exist`,
      fix: `kubectl create serviceaccount -n ${ref.replace('/', ' ')}`,
    };
  }
  const key = `${prefix}/${ANNOTATION.roleArn}`;
  const arn = sa.annotations[key];
  if (arn === undefined || arn === '') {
    return {
      ...base,
      status: 'fail',
      detail: `${ref} has no ${key} annotation${arn === '' ? ' value' : ''}: the webhook leaves its pods alone`,
      fix: `kubectl annotate serviceaccount -n ${sa.namespace} ${sa.name} ${key}=arn:aws:iam::<account>:role/<role>`,
    };
  }
  if (!ROLE_ARN.test(arn)) {
    return {
      ...base,
      status: 'fail',
      detail: `${key}="${arn}" is not a role ARN (arn:aws:iam::<12 digits>:role/<name>); the webhook injects it anyway and STS rejects it`,
      fix: 'annotate with the full role ARN, e.g. arn:aws:iam::111122223333:role/s3-writer',
    };
  }
  const extras = [ANNOTATION.audience, ANNOTATION.tokenExpiration, ANNOTATION.stsRegionalEndpoints]
    .filter((a) => sa.annotations[`${prefix}/${a}`] !== undefined)
    .map((a) => `${a}=${sa.annotations[`${prefix}/${a}`]}`);
  return {
    ...base,
    status: 'pass',
    detail: `${key}=${arn}${extras.length ? ` (${extras.join(', ')})` : ''}`,
  };
}

interface Container {
  name: string;
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
export interface PodFacts {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    serviceAccountName?: string;
    containers?: Container[];
    initContainers?: Container[];
    volumes?: Array<{
      name: string;
      projected?: {
        sources?: Array<{
          serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
        }>;
      };
    }>;
  };
}

/** Did the webhook mutate this pod (a stored one, or the answer of a server-side dry run)? */
export function checkPodMutated(
  pod: PodFacts,
  roleArn: string | undefined,
  what: string,
  prefix: string,
): Check {
  const base = { id: 'pod-mutated', title: `pod mutated by the webhook (${what})` };
  const skipped = new Set(
    (pod.metadata?.annotations?.[`${prefix}/${ANNOTATION.skipContainers}`] ?? '').split(','),
  );
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].filter(
    (c) => !skipped.has(c.name),
  );
  const volume = (pod.spec?.volumes ?? []).find((v) => v.name === IRSA_VOLUME_NAME);
  const token = volume?.projected?.sources?.find((s) => s.serviceAccountToken)?.serviceAccountToken;
  const missing = containers.filter(
    (c) =>
      !(c.env ?? []).some((e) => e.name === ENV.roleArn) ||
      !(c.env ?? []).some((e) => e.name === ENV.webIdentityTokenFile),
  );
  if (!volume || missing.length === containers.length) {
    const label = pod.metadata?.labels?.[SKIP_POD_LABEL];
    return {
      ...base,
      status: 'fail',
      detail: `no ${ENV.roleArn}/${ENV.webIdentityTokenFile} and no ${IRSA_VOLUME_NAME} volume${label === 'true' ? ` (the pod has the ${SKIP_POD_LABEL}=true label, so the webhook is not called)` : ''}`,
      fix:
        label === 'true'
          ? `remove the ${SKIP_POD_LABEL} label`
          : 'pods are mutated only when created: check the webhook is reachable from the API server, then recreate the pod (kubectl rollout restart)',
    };
  }
  const wrongRole = roleArn
    ? containers.filter((c) => (c.env ?? []).some((e) => e.name === ENV.roleArn && e.value !== roleArn))
    : [];
  if (missing.length > 0 || wrongRole.length > 0) {
    return {
      ...base,
      status: 'warn',
      detail: [
        missing.length ? `containers without the IRSA env: ${missing.map((c) => c.name).join(', ')}` : '',
        wrongRole.length
          ? `containers with another ${ENV.roleArn} (set by hand?): ${wrongRole.map((c) => c.name).join(', ')}`
          : '',
      ]
        .filter(Boolean)
        .join('; '),
      fix: 'the webhook never overwrites env a user set; remove the hand-set variables or add the container to skip-containers on purpose',
    };
  }
  return {
    ...base,
    status: 'pass',
    detail: `${containers.length} container(s) get ${ENV.roleArn}; volume ${IRSA_VOLUME_NAME} with audience ${token?.audience ?? '(none)'}, ${token?.expirationSeconds ?? '?'} s`,
  };
}

export interface TokenFacts {
  header: { alg?: string; kid?: string };
  claims: { iss?: string; sub?: string; aud?: string | string[]; exp?: number; iat?: number };
}

export function checkToken(t: TokenFacts, expectedSubject: string, audience: string, now: number): Check {
  const base = { id: 'token', title: `ServiceAccount token (TokenRequest, audience ${audience})` };
  const aud = Array.isArray(t.claims.aud) ? t.claims.aud : t.claims.aud === undefined ? [] : [t.claims.aud];
  if (!aud.includes(audience))
    return {
      ...base,
      status: 'fail',
      detail: `aud ${JSON.stringify(aud)} does not contain ${audience}`,
      fix: 'TokenRequest returns exactly the audiences asked for: check the webhook projects this audience (kube-apiserver needs no --api-audiences entry for it)',
    };
  if (t.claims.sub !== expectedSubject)
    return { ...base, status: 'fail', detail: `sub ${t.claims.sub} is not ${expectedSubject}` };
  if (typeof t.claims.exp !== 'number' || t.claims.exp <= now)
    return {
      ...base,
      status: 'fail',
      detail: 'the token is already expired: the clocks of this machine and the API server disagree',
      fix: 'synchronise clocks (NTP)',
    };
  return {
    ...base,
    status: 'pass',
    detail: `iss ${t.claims.iss}, sub ${t.claims.sub}, ${t.header.alg} kid ${t.header.kid}, valid ${t.claims.exp - now} s`,
  };
}

/** The issuer in tokens must be the issuer the discovery document names, byte for byte. */
export function checkIssuerConsistency(
  tokenIssuer: string | undefined,
  apiServerIssuer: string | undefined,
): Check {
  const base = { id: 'issuer-consistent', title: "API server's issuer = tokens' iss" };
  if (apiServerIssuer === undefined)
    return {
      ...base,
      status: 'warn',
      detail:
        "the API server's /.well-known/openid-configuration is not readable (ServiceAccountIssuerDiscovery off, or RBAC)",
      fix: 'grant system:service-account-issuer-discovery to the caller, or pass --kubeconfig with more rights',
    };
  if (tokenIssuer !== apiServerIssuer)
    return {
      ...base,
      status: 'fail',
      detail: `tokens say iss ${tokenIssuer}, the API server's discovery says ${apiServerIssuer}`,
      fix: 'the first --service-account-issuer flag is the one in tokens; make the published discovery document match it exactly',
    };
  return { ...base, status: 'pass', detail: tokenIssuer };
}

/** Every key the API server signs with must be published where STS looks (the issuer's JWKS). */
export function checkKeysPublished(
  apiServerKids: string[] | undefined,
  publishedKids: string[] | undefined,
  tokenKid: string | undefined,
): Check {
  const base = { id: 'jwks-published', title: "issuer's JWKS publishes the API server's key ids" };
  if (publishedKids === undefined)
    return { ...base, status: 'skip', detail: 'the JWKS could not be read (see the issuer check)' };
  if (tokenKid !== undefined && !publishedKids.includes(tokenKid)) {
    return {
      ...base,
      status: 'fail',
      detail: `the token's kid ${tokenKid} is not in the published JWKS (${publishedKids.join(', ') || 'empty'})`,
      fix: "republish the JWKS from the API server's current public key(s): openirsa issuer documents --public-key … && openirsa issuer publish …",
    };
  }
  const missing = (apiServerKids ?? []).filter((k) => !publishedKids.includes(k));
  if (missing.length > 0)
    return {
      ...base,
      status: 'warn',
      detail: `the API server also knows ${missing.join(', ')}, which is not published (a key being rotated in?)`,
      fix: 'publish every --service-account-key-file key before signing with it',
    };
  return {
    ...base,
    status: 'pass',
    detail: `kid ${tokenKid ?? '?'} is published${apiServerKids ? ` (API server keys: ${apiServerKids.length})` : ''}`,
  };
}

/** The first failing link: what the user should fix first. */
export function firstBroken(checks: Check[]): Check | undefined {
  return checks.find((c) => c.status === 'fail');
}

export function formatChecklist(checks: Check[]): string {
  const mark: Record<Status, string> = { pass: '✓', fail: '✗', warn: '!', skip: '-' };
  const first = firstBroken(checks);
  const lines = checks.map((c) => {
    const head = `${mark[c.status]} ${c.title}: ${c.detail}`;
    const lead = c === first ? '>> ' : '   ';
    return `${lead}${head}${c.fix && c.status !== 'pass' ? `\n      fix: ${c.fix}` : ''}`;
  });
  lines.push('');
  lines.push(
    first
      ? `first broken link: ${first.title}`
      : checks.some((c) => c.status === 'warn')
        ? 'no broken link (see the warnings)'
        : 'every link checked is sound',
  );
  return lines.join('\n');
}
