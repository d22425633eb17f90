/**
 * The pod's service account token, checked as pure functions (time and keys passed in):
 * 1. `basicTokenChecks` — what EKS's agent itself checks before calling out (internal/validation/request.go): not
 *    empty, a parsable JWT, `exp`/`nbf` not violated; 400 with the agent's own messages;
 * 2. `verifyPodToken` — what EKS Auth checks there and this agent checks here: algorithm, issuer, audience, signature
 *    against the cluster's keys, expiry, and that the token is a ServiceAccount token bound to a pod.
 */
import type { KeyObject } from 'node:crypto';
import { checkSignature, decodeJwt, type Alg, type DecodedJwt } from '../oidc/verify.js';
import { requestError, serviceError, AgentError } from './errors.js';
import { messageOf } from '../errors.js';

/** Tokens are ~1 KiB; a bigger Authorization value is refused before any parsing. */
export const MAX_TOKEN_BYTES = 8192;
/** EKS Pod Identity's audience (the webhook's `--container-credentials-audience` default). */
export const POD_IDENTITY_AUDIENCE = 'pods.eks.amazonaws.com';

/** Who is asking: the pod a verified token is bound to. */
export interface PodIdentity {
  namespace: string;
  serviceAccount: string;
  podName: string;
  podUid: string;
  /** Token expiry, seconds since the epoch. */
  exp: number;
}

function decodeSegment(part: string): Record<string, unknown> | string {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(part)) return 'illegal base64 data';
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return 'invalid JSON';
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : 'not an object';
}

const numeric = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

/**
 * The agent's own request checks, with EKS's agent's messages. `now` in seconds. Returns the token (the
 * Authorization value as is: the SDKs send the bare token, no scheme).
 */
export function basicTokenChecks(authorization: string | undefined, now: number): string {
  const token = authorization ?? '';
  if (token === '') throw requestError('EmptyToken', 'Service account token cannot be empty');
  if (token.length > MAX_TOKEN_BYTES)
    throw requestError('TokenTooLarge', `Service account token is larger than ${MAX_TOKEN_BYTES} bytes`);
  const parsed = (detail: string) =>
    requestError('UnparsableToken', `Service account token cannot be parsed: token is malformed: ${detail}`);
  const parts = token.split('.');
  if (parts.length !== 3) throw parsed('token contains an invalid number of segments');
  const header = decodeSegment(parts[0]!);
  if (typeof header === 'string') throw parsed(`could not decode header: ${header}`);
  const claims = decodeSegment(parts[1]!);
  if (typeof claims === 'string') throw parsed(`could not decode claim: ${claims}`);
  const invalidClaims = (what: string) =>
    requestError(
      'InvalidClaims',
      `Service account token failed basic claim validations: token has invalid claims: ${what}`,
    );
  const exp = claims.exp === undefined ? undefined : numeric(claims.exp);
  const nbf = claims.nbf === undefined ? undefined : numeric(claims.nbf);
  if ((claims.exp !== undefined && exp === undefined) || (claims.nbf !== undefined && nbf === undefined))
    throw parsed('could not decode claim: a NumericDate is not a number');
  if (exp !== undefined && now >= exp) throw invalidClaims('token is expired');
  if (nbf !== undefined && now < nbf) throw invalidClaims('token is not valid yet');
  return token;
}

export interface VerifyPodTokenOptions {
  /** Seconds since the epoch. */
  now: number;
  /** The cluster's service account issuer (`iss`), compared exactly. */
  issuer: string;
  /** Accepted audiences (default: pods.eks.amazonaws.com). */
  audiences: readonly string[];
  /** Request id for the error bodies. */
  requestId: string;
}

/** Syntax and algorithm (RS/ES only: `none`, HMAC and unknown algorithms never reach a key). */
export function decodePodToken(token: string, requestId: string): DecodedJwt {
  try {
    return decodeJwt(token);
  } catch (err) {
    throw serviceError('InvalidTokenException', `Token is not a valid JWT: ${messageOf(err)}`, requestId);
  }
}

/**
 * Everything but the key lookup: the key is the one the caller found for `jwt.kid`/`jwt.alg` in the cluster's keys
 * (undefined = none, refused). Pure: no clock, no I/O.
 */
export async function verifyPodToken(
  jwt: DecodedJwt,
  key: KeyObject | undefined,
  o: VerifyPodTokenOptions,
): Promise<PodIdentity> {
  const invalid = (message: string) => serviceError('InvalidTokenException', message, o.requestId);
  const p = jwt.payload;
  if (p.iss !== o.issuer) throw invalid(`Token issuer ${JSON.stringify(p.iss)} is not this cluster's issuer`);
  const aud = typeof p.aud === 'string' ? [p.aud] : Array.isArray(p.aud) ? p.aud : [];
  if (!aud.some((a) => typeof a === 'string' && o.audiences.includes(a)))
    throw invalid(`Token audience ${JSON.stringify(p.aud)} is not one of [${o.audiences.join(' ')}]`);
  if (!key)
    throw invalid(
      `Token signing key ${JSON.stringify(jwt.kid)} (${jwt.alg}) is not one of the cluster's keys`,
    );
  try {
    await checkSignature(jwt, key);
  } catch {
    throw invalid('Token signature is not valid');
  }
  const exp = numeric(p.exp);
  if (exp === undefined) throw invalid('Token has no expiry');
  if (o.now >= exp) throw serviceError('ExpiredTokenException', 'Token is expired', o.requestId);
  const nbf = numeric(p.nbf);
  if (nbf !== undefined && o.now < nbf) throw invalid('Token is not valid yet');
  return podIdentityFromClaims(p, exp, o.requestId);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The `kubernetes.io` claims of a pod-bound ServiceAccount token, cross-checked against `sub`. */
export function podIdentityFromClaims(
  p: Record<string, unknown>,
  exp: number,
  requestId: string,
): PodIdentity {
  const invalid = (message: string) => serviceError('InvalidTokenException', message, requestId);
  const k8s = p['kubernetes.io'] as Record<string, unknown> | undefined;
  if (!k8s || typeof k8s !== 'object') throw invalid('Token is not a Kubernetes service account token');
  const namespace = str(k8s.namespace);
  const sa = k8s.serviceaccount as Record<string, unknown> | undefined;
  const pod = k8s.pod as Record<string, unknown> | undefined;
  const serviceAccount = str(sa?.name);
  if (!namespace || !serviceAccount) throw invalid('Token names no namespace and service account');
  if (p.sub !== `system:serviceaccount:${namespace}:${serviceAccount}`)
    throw invalid('Token subject does not match its service account');
  const podName = str(pod?.name);
  const podUid = str(pod?.uid);
  if (!podName || !podUid) throw invalid('Token is not bound to a pod');
  return { namespace, serviceAccount, podName, podUid, exp };
}

export type { Alg, DecodedJwt };
export { AgentError };
