/**
 * The OpenID discovery document kube-apiserver serves at /.well-known/openid-configuration
 * (pkg/serviceaccount/openidmetadata.go openIDMetadata): exactly these five fields, in this order.
 */
import { IssuerError } from './errors.js';
import type { Jwks } from './jwks.js';

export interface DiscoveryDocument {
  issuer: string;
  jwks_uri: string;
  response_types_supported: ['id_token'];
  subject_types_supported: ['public'];
  id_token_signing_alg_values_supported: string[];
}

export function buildDiscovery(issuer: string, jwksUri: string, jwks: Jwks): DiscoveryDocument {
  if (!issuer) throw new IssuerError('BadInput', 'issuer is required');
  if (!jwksUri) throw new IssuerError('BadInput', 'jwks_uri is required');
  // kube-apiserver: the set of algorithms of the served keys, sorted (sets.String.List()).
  const algs = [...new Set(jwks.keys.map((k) => k.alg))].sort();
  return {
    issuer,
    jwks_uri: jwksUri,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algs,
  };
}
