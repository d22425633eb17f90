/**
 * Issuer documents made from a running cluster's own keys: what kube-apiserver serves at
 * /.well-known/openid-configuration and /openid/v1/jwks, re-issued for the public issuer URL. Reusing the
 * cluster's keys keeps every existing token and the controller-manager's signer valid (replacing
 * --service-account-key-file would not). Pure: the caller fetches the two documents.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { IssuerError } from './errors.js';
import { issuerLocations, documentsForJwks, type IssuerDocuments } from './documents.js';
import { jwkOf, type Jwk, type Jwks } from './jwks.js';
import { keyIdOf } from './key-id.js';

/** kube-apiserver's own JWKS path; the default here too, so the published folder mirrors the API server. */
export const CLUSTER_JWKS_PATH = 'openid/v1/jwks';

export interface ClusterIssuerDocuments {
  /** The discovery document as the API server serves it (parsed JSON). */
  discovery: unknown;
  /** The JWKS as the API server serves it (parsed JSON). */
  jwks: unknown;
}

export interface FromClusterOptions {
  /** The public issuer URL (default: the cluster's own issuer). */
  issuer?: string;
  jwksPath?: string;
  jwksUri?: string;
  allowHttp?: boolean;
}

export interface FromClusterDocuments extends IssuerDocuments {
  /** The issuer the cluster's tokens carry today. */
  clusterIssuer: string;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function importKey(raw: unknown, index: number): { key: KeyObject; kid: string } {
  if (!isObject(raw))
    throw new IssuerError('DocumentInvalid', `the cluster's JWKS key #${index} is not an object`);
  if (PRIVATE_MEMBERS.some((m) => m in raw)) {
    // A private or symmetric member in a published JWKS is a leak; refuse rather than republish it.
    throw new IssuerError('DocumentInvalid', `the cluster's JWKS key #${index} has private key members`);
  }
  if (typeof raw.kid !== 'string') {
    throw new IssuerError('DocumentInvalid', `the cluster's JWKS key #${index} has no kid`);
  }
  let key: KeyObject | undefined;
  try {
    key = createPublicKey({ key: raw as never, format: 'jwk' });
  } catch {
    key = undefined;
  }
  // Node imports an RSA JWK with an empty modulus; kube-apiserver never signs with under 2048 bits.
  const bits = key?.asymmetricKeyDetails?.modulusLength;
  if (!key || (key.asymmetricKeyType === 'rsa' && (bits ?? 0) < 2048)) {
    throw new IssuerError(
      'DocumentInvalid',
      `the cluster's JWKS key #${index} (kid "${raw.kid}") is not a usable RSA (2048 bits or more) or EC public key`,
    );
  }
  return { key, kid: raw.kid };
}

/** The documents to publish at the public issuer URL, with exactly the cluster's keys and key ids. */
export async function documentsFromCluster(
  cluster: ClusterIssuerDocuments,
  options: FromClusterOptions = {},
): Promise<FromClusterDocuments> {
  if (!isObject(cluster.discovery) || typeof cluster.discovery.issuer !== 'string') {
    throw new IssuerError('DocumentInvalid', "the API server's discovery document has no issuer");
  }
  const clusterIssuer = cluster.discovery.issuer;
  if (!isObject(cluster.jwks) || !Array.isArray(cluster.jwks.keys) || cluster.jwks.keys.length === 0) {
    throw new IssuerError('DocumentInvalid', "the API server's JWKS has no keys");
  }
  const issuer = options.issuer ?? clusterIssuer;
  const { url, jwksPath, jwksUri, warnings } = issuerLocations({
    issuer,
    jwksPath: options.jwksPath ?? CLUSTER_JWKS_PATH,
    jwksUri: options.jwksUri,
    allowHttp: options.allowHttp,
  });
  const keys: Jwk[] = [];
  for (const [i, raw] of (cluster.jwks.keys as unknown[]).entries()) {
    const { key, kid } = importKey(raw, i);
    const jwk = await jwkOf(key);
    if (kid !== keyIdOf(key)) {
      // Tokens carry the cluster's kid (an external signer may compute its own): publish that one.
      warnings.push(
        `key #${i}: the cluster's kid "${kid}" is not the one kube-apiserver computes for it ("${jwk.kid}"); publishing the cluster's`,
      );
    }
    keys.push({ ...jwk, kid });
  }
  const jwks: Jwks = { keys };
  if (issuer !== clusterIssuer) {
    warnings.push(
      `the cluster's tokens carry iss "${clusterIssuer}": make "${issuer}" the first --service-account-issuer of kube-apiserver and keep "${clusterIssuer}" as a second one so existing tokens stay valid`,
    );
  }
  return { ...documentsForJwks(url, jwksPath, jwksUri, jwks, warnings), clusterIssuer };
}
