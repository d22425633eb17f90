import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * The key id kube-apiserver gives a service-account signing key (pkg/serviceaccount/jwt.go
 * keyIDFromPublicKey): base64url without padding of SHA-256 over the PKIX (SubjectPublicKeyInfo) DER.
 * A private key gives the id of its public half, as the API server does when it signs.
 */
export function keyIdOf(key: KeyObject): string {
  return createHash('sha256').update(publicDer(key)).digest('base64url');
}

/** The SubjectPublicKeyInfo DER of a key (of the public half of a private key). */
export function publicDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}
