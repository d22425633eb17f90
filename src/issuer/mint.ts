/**
 * Tokens shaped exactly like kube-apiserver's projected / TokenRequest service-account tokens
 * (pkg/serviceaccount/claims.go), for development and tests.
 *
 * kube-apiserver builds the payload through go-jose's jwt builder, which normalises claims into Go
 * maps, so every object's keys come out sorted; this module reproduces that order. The header is
 * {"alg","kid"} with no "typ", as go-jose writes it.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { IssuerError } from './errors.js';
import { keyIdOf } from './key-id.js';
import { algorithmOf } from './keys.js';
import { messageOf } from '../errors.js';

/** TokenRequest's default expirationSeconds. */
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;

export interface BoundObject {
  name: string;
  uid: string;
}

export interface MintOptions {
  /** The signing key (RSA → RS256; EC P-256/384/521 → ES256/384/512). */
  privateKey: KeyObject;
  /** `iss`, byte for byte (kube-apiserver uses its first --service-account-issuer). */
  issuer: string;
  namespace: string;
  serviceAccount: string;
  /** The ServiceAccount's metadata.uid; a random UUID when omitted. */
  serviceAccountUid?: string;
  /** `aud`, always written as an array. */
  audiences: string[];
  /** Issue time: a Date, or a NumericDate (whole seconds since the epoch). Required: no hidden clock. */
  now: Date | number;
  /** Lifetime in seconds (exp = iat + ttl); default 3600. */
  ttl?: number;
  /** A pod-bound token (what the kubelet projects). */
  pod?: BoundObject;
  /** A secret-bound token (instead of a pod). */
  secret?: BoundObject;
  /** The node the pod runs on (ServiceAccountTokenPodNodeInfo), or the node of a node-bound token. */
  node?: BoundObject;
  /** `kubernetes.io.warnafter` (NumericDate), as the API server sets for extended tokens. */
  warnAfter?: number;
  /** `jti`; a random UUID when omitted. */
  jti?: string;
  /** Header `kid`: default the kube-apiserver key id of the key; '' writes an empty kid; null omits it. */
  keyId?: string | null;
  /** Header `alg` override (tests of unsupported algorithms); default the key's kube-apiserver algorithm. */
  alg?: string;
  /** Extra top-level claims (e.g. AWS session tags); they may not replace the standard ones. */
  extraClaims?: Record<string, unknown>;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Validates NS/NAME as Kubernetes does (namespace: DNS-1123 label; ServiceAccount: DNS-1123 subdomain). */
export function validateServiceAccount(namespace: string, name: string): void {
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    throw new IssuerError('BadInput', `namespace "${namespace}" is not a valid DNS-1123 label`);
  }
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw new IssuerError('BadInput', `service account name "${name}" is not a valid DNS-1123 subdomain`);
  }
}

/** Parses "NS/NAME". */
export function parseServiceAccountRef(ref: string): { namespace: string; name: string } {
  const parts = ref.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new IssuerError('BadInput', `service account must be NAMESPACE/NAME (got "${ref}")`);
  }
  validateServiceAccount(parts[0], parts[1]);
  return { namespace: parts[0], name: parts[1] };
}

/** The subject kube-apiserver writes: system:serviceaccount:<namespace>:<name>. */
export function serviceAccountSubject(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

function numericDate(now: Date | number): number {
  if (now instanceof Date) {
    const ms = now.getTime();
    if (!Number.isFinite(ms)) throw new IssuerError('BadInput', 'now is an invalid Date');
    return Math.floor(ms / 1000);
  }
  if (!Number.isInteger(now) || now < 0) {
    throw new IssuerError('BadInput', 'now must be a Date or whole seconds since the epoch');
  }
  // Milliseconds passed by mistake would mint tokens valid in the year 50000.
  if (now > 1e11) throw new IssuerError('BadInput', 'now looks like milliseconds; pass seconds or a Date');
  return now;
}

function bound(o: BoundObject, what: string): BoundObject {
  if (!o.name || !o.uid) throw new IssuerError('BadInput', `${what} needs a name and a uid`);
  return { name: o.name, uid: o.uid };
}

const STANDARD = new Set(['aud', 'exp', 'iat', 'iss', 'jti', 'kubernetes.io', 'nbf', 'sub']);

/** Recursively sorts object keys (what go-jose's map normalisation does to the claims). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/** The claims of a service-account token (pure: time and ids come from the options). */
export function serviceAccountTokenClaims(
  options: Omit<MintOptions, 'privateKey' | 'keyId' | 'alg'>,
): Record<string, unknown> {
  const { issuer, namespace, serviceAccount, audiences } = options;
  if (!issuer) throw new IssuerError('BadInput', 'issuer is required');
  validateServiceAccount(namespace, serviceAccount);
  if (!Array.isArray(audiences) || audiences.length === 0 || audiences.some((a) => !a)) {
    throw new IssuerError('BadInput', 'at least one non-empty audience is required');
  }
  const ttl = options.ttl ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1)
    throw new IssuerError('BadInput', 'ttl must be a whole number of seconds ≥ 1');
  if (options.pod && options.secret)
    throw new IssuerError('BadInput', 'a token is bound to a pod or a secret, not both');
  const iat = numericDate(options.now);
  const k8s: Record<string, unknown> = {
    namespace,
    serviceaccount: { name: serviceAccount, uid: options.serviceAccountUid ?? randomUUID() },
  };
  if (options.pod) k8s.pod = bound(options.pod, 'pod');
  if (options.secret) k8s.secret = bound(options.secret, 'secret');
  if (options.node) k8s.node = bound(options.node, 'node');
  if (options.warnAfter !== undefined) k8s.warnafter = options.warnAfter;
  const claims: Record<string, unknown> = {
    iss: issuer,
    sub: serviceAccountSubject(namespace, serviceAccount),
    aud: [...audiences],
    exp: iat + ttl,
    iat,
    nbf: iat,
    jti: options.jti ?? randomUUID(),
    'kubernetes.io': k8s,
  };
  for (const [k, v] of Object.entries(options.extraClaims ?? {})) {
    if (STANDARD.has(k))
      throw new IssuerError('BadInput', `extra claim "${k}" would replace a standard claim`);
    claims[k] = v;
  }
  return sortKeys(claims) as Record<string, unknown>;
}

/**
 * Signs a service-account token exactly like kube-apiserver's TokenRequest (header kid = the key's
 * kube-apiserver key id). Returns the compact JWS.
 */
export async function mintServiceAccountToken(options: MintOptions): Promise<string> {
  const { privateKey } = options;
  if (!privateKey || privateKey.type !== 'private') {
    throw new IssuerError('KeyInvalid', 'a private key is needed to sign');
  }
  const alg = options.alg ?? algorithmOf(privateKey);
  const claims = serviceAccountTokenClaims(options);
  const kid = options.keyId === undefined ? keyIdOf(privateKey) : options.keyId;
  const header: { alg: string; kid?: string } = { alg };
  if (kid !== null) header.kid = kid;
  try {
    return await new SignJWT(claims).setProtectedHeader(header).sign(privateKey);
  } catch (err) {
    throw new IssuerError('KeyInvalid', `cannot sign with ${alg}: ${messageOf(err)}`);
  }
}
