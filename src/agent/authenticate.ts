/**
 * Authenticating the pod's token, two ways (chosen per installation):
 * - `JwksAuthenticator`: the signature against the cluster's keys (a JWKS file or the issuer's discovery document),
 *   then — the token proves the pod existed when it was issued, not now — the bound pod is looked up and its uid
 *   compared;
 * - `TokenReviewAuthenticator`: kube-apiserver's TokenReview, which checks signature, audience, expiry and that the
 *   bound pod still exists, in one call.
 * `CachedAuthenticator` keeps a success for a few seconds (never past the token's expiry), so the credentials a
 * pod already has are served without a signature check or an API call on every request; a deleted pod's token is
 * refused at the latest that many seconds later.
 */
import type { ProviderKeys } from '../oidc/keys.js';
import { serviceError, AgentError } from './errors.js';
import { decodePodToken, verifyPodToken, podIdentityFromClaims, type PodIdentity } from './token.js';
import { messageOf } from '../errors.js';

export interface PodTokenAuthenticator {
  /** `now` in seconds since the epoch. */
  authenticate(token: string, now: number, requestId: string): Promise<PodIdentity>;
}

export type PodState = 'exists' | 'gone' | 'replaced';
/** Looks the pod up: is a pod of this name and uid still there? Throws when it cannot tell. */
export type PodCheck = (namespace: string, name: string, uid: string) => Promise<PodState>;

/** The verdict on a bound pod, as the API server's TokenReview words it. */
export function podStateError(state: PodState, pod: PodIdentity, requestId: string): AgentError | undefined {
  if (state === 'exists') return undefined;
  const what =
    state === 'gone'
      ? `pod "${pod.podName}" not found`
      : `the UID in the bound object reference (${pod.podUid}) does not match the UID in record`;
  return serviceError('InvalidTokenException', `Token is not valid: ${what}`, requestId);
}

export interface JwksAuthenticatorOptions {
  issuer: string;
  audiences: readonly string[];
  keys: ProviderKeys;
  /** Undefined only when the operator explicitly turned the pod check off (labs without an API server). */
  podCheck: PodCheck | undefined;
}

export class JwksAuthenticator implements PodTokenAuthenticator {
  constructor(private readonly o: JwksAuthenticatorOptions) {}

  async authenticate(token: string, now: number, requestId: string): Promise<PodIdentity> {
    const jwt = decodePodToken(token, requestId);
    let key;
    try {
      key = await this.o.keys.getKey(jwt.kid, jwt.alg);
    } catch {
      key = undefined; // unknown kid, or keys unreachable: refused either way (fail closed)
    }
    const pod = await verifyPodToken(jwt, key, {
      now,
      issuer: this.o.issuer,
      audiences: this.o.audiences,
      requestId,
    });
    if (this.o.podCheck) {
      let state: PodState;
      try {
        state = await this.o.podCheck(pod.namespace, pod.podName, pod.podUid);
      } catch (err) {
        throw serviceError(
          'ServiceUnavailableException',
          `cannot check pod ${pod.namespace}/${pod.podName}: ${messageOf(err)}`,
          requestId,
        );
      }
      const refused = podStateError(state, pod, requestId);
      if (refused) throw refused;
    }
    return pod;
  }
}

export interface TokenReviewResult {
  authenticated: boolean;
  error?: string;
  username?: string;
  audiences?: string[];
  extra?: Record<string, string[]>;
}
export type TokenReviewer = (token: string, audiences: readonly string[]) => Promise<TokenReviewResult>;

export class TokenReviewAuthenticator implements PodTokenAuthenticator {
  constructor(
    private readonly review: TokenReviewer,
    private readonly audiences: readonly string[],
  ) {}

  async authenticate(token: string, now: number, requestId: string): Promise<PodIdentity> {
    const jwt = decodePodToken(token, requestId);
    let r: TokenReviewResult;
    try {
      r = await this.review(token, this.audiences);
    } catch (err) {
      throw serviceError(
        'ServiceUnavailableException',
        `cannot review the token: ${messageOf(err)}`,
        requestId,
      );
    }
    return identityFromReview(r, jwt.payload, now, requestId);
  }
}

/** Pure: a TokenReview status (+ the token's claims, for the expiry) → the pod. */
export function identityFromReview(
  r: TokenReviewResult,
  payload: Record<string, unknown>,
  now: number,
  requestId: string,
): PodIdentity {
  if (!r.authenticated) {
    const why = r.error ?? 'the token was not authenticated';
    if (/expired/i.test(why)) throw serviceError('ExpiredTokenException', 'Token is expired', requestId);
    throw serviceError('InvalidTokenException', `Token is not valid: ${why}`, requestId);
  }
  const exp = typeof payload.exp === 'number' ? payload.exp : now;
  const pod = podIdentityFromClaims(payload, exp, requestId);
  // The review vouches for these; the claims must say the same (same token), or something is off.
  const extra = r.extra ?? {};
  if (
    r.username !== `system:serviceaccount:${pod.namespace}:${pod.serviceAccount}` ||
    extra['authentication.kubernetes.io/pod-name']?.[0] !== pod.podName ||
    extra['authentication.kubernetes.io/pod-uid']?.[0] !== pod.podUid
  )
    throw serviceError(
      'InvalidTokenException',
      'Token is not valid: the review does not match the token',
      requestId,
    );
  return pod;
}

export interface CachedAuthenticatorOptions {
  /** How long a success is reused (ms). */
  ttlMs?: number;
  maxEntries?: number;
}

export class CachedAuthenticator implements PodTokenAuthenticator {
  private readonly ok = new Map<string, { pod: PodIdentity; until: number }>();
  private readonly inflight = new Map<string, Promise<PodIdentity>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  reviews = 0;

  constructor(
    private readonly inner: PodTokenAuthenticator,
    o: CachedAuthenticatorOptions = {},
  ) {
    this.ttlMs = o.ttlMs ?? 5000;
    this.maxEntries = o.maxEntries ?? 10_000;
  }

  authenticate(token: string, now: number, requestId: string): Promise<PodIdentity> {
    const hit = this.ok.get(token);
    if (hit && now * 1000 < hit.until) return Promise.resolve(hit.pod);
    if (hit) this.ok.delete(token);
    const running = this.inflight.get(token);
    if (running) return running;
    this.reviews++;
    const p = this.inner
      .authenticate(token, now, requestId)
      .then((pod) => {
        if (this.ttlMs > 0) {
          this.ok.set(token, { pod, until: Math.min(now * 1000 + this.ttlMs, pod.exp * 1000) });
          if (this.ok.size > this.maxEntries) this.ok.delete(this.ok.keys().next().value as string);
        }
        return pod;
      })
      .finally(() => this.inflight.delete(token));
    this.inflight.set(token, p);
    return p;
  }
}
