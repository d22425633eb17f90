/**
 * The JWKS kube-apiserver serves at /openid/v1/jwks (pkg/serviceaccount/openidmetadata.go
 * publicJWKFromKey): one entry per public key, in flag order, each
 * {"use":"sig","kty","kid","crv"?,"alg","x"?,"y"?,"n"?,"e"?} — go-jose's field order.
 */
import type { KeyObject } from 'node:crypto';
import { exportJWK } from 'jose';
import { IssuerError } from './errors.js';
import { keyIdOf } from './key-id.js';
import { algorithmOf, type SigningAlgorithm } from './keys.js';

export interface Jwk {
  use: 'sig';
  kty: 'RSA' | 'EC';
  kid: string;
  crv?: string;
  alg: SigningAlgorithm;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

export interface Jwks {
  keys: Jwk[];
}

export interface JwksOptions {
  /**
   * Add a copy of the first key with "kid": "" — what API servers older than 1.16 need, whose
   * tokens carry an empty kid (amazon-eks-pod-identity-webhook SELF_HOSTED_SETUP.md).
   */
  legacyEmptyKid?: boolean;
}

/** The public JWK of a key, shaped and ordered like kube-apiserver's. */
export async function jwkOf(key: KeyObject): Promise<Jwk> {
  const alg = algorithmOf(key);
  const exported = await exportJWK(key);
  const kid = keyIdOf(key);
  if (exported.kty === 'RSA') {
    return { use: 'sig', kty: 'RSA', kid, alg, n: exported.n!, e: exported.e! };
  }
  if (exported.kty === 'EC') {
    return { use: 'sig', kty: 'EC', kid, crv: exported.crv!, alg, x: exported.x!, y: exported.y! };
  }
  throw new IssuerError('KeyUnsupported', `unsupported key type ${String(exported.kty)}`);
}

/** The JWKS for a set of public (or private) keys: a rotation set when there are several. */
export async function buildJwks(keys: KeyObject[], options: JwksOptions = {}): Promise<Jwks> {
  if (keys.length === 0) throw new IssuerError('BadInput', 'at least one public key is required');
  const out: Jwk[] = [];
  for (const key of keys) out.push(await jwkOf(key));
  if (options.legacyEmptyKid) out.push({ ...out[0]!, kid: '' });
  return { keys: out };
}

/** Key ids that occur more than once (the same key given twice, or a legacy duplicate). */
export function duplicateKeyIds(jwks: Jwks): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const k of jwks.keys) {
    if (seen.has(k.kid)) dup.add(k.kid);
    seen.add(k.kid);
  }
  return [...dup];
}
