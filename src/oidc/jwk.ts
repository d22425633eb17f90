/**
 * What makes a JWKS entry a usable public verification key, as pure checks: one source of truth for the
 * inline JWKS of the STS config, the JWKS fetched from an issuer, and the JWKS `issuer serve`/`publish` expose.
 * A private member (RFC 7518 §6.2.2, §6.3.2, §6.4.1) in a published JWKS means anyone can sign tokens with it.
 */

/** RSA and EC private members, RSA's other-primes list, and the symmetric key's `k`. */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The private members a JWK carries (own properties only: `__proto__` tricks do not count as absent). */
export function privateMembersOf(jwk: Record<string, unknown>): string[] {
  return PRIVATE_JWK_MEMBERS.filter((m) => Object.prototype.hasOwnProperty.call(jwk, m));
}

/** Why an entry of a JWKS cannot be trusted as a public key, or undefined when it can be. */
export function jwkProblem(entry: unknown): string | undefined {
  if (!isObject(entry))
    return `is ${entry === null ? 'null' : Array.isArray(entry) ? 'an array' : typeof entry}, not a JWK object`;
  if (typeof entry.kty !== 'string' || entry.kty === '') return 'has no kty';
  if (entry.kty === 'oct')
    return 'is a symmetric key (kty "oct"): it can sign tokens, it is never a public key';
  const priv = privateMembersOf(entry);
  if (priv.length > 0)
    return `holds private key members (${priv.join(', ')}): whoever reads it can sign tokens`;
  if (entry.kid !== undefined && typeof entry.kid !== 'string') return 'has a kid that is not a string';
  for (const m of ['use', 'alg', 'crv'] as const)
    if (entry[m] !== undefined && typeof entry[m] !== 'string') return `has a ${m} that is not a string`;
  const need = entry.kty === 'RSA' ? ['n', 'e'] : entry.kty === 'EC' ? ['crv', 'x', 'y'] : [];
  for (const m of need)
    if (typeof entry[m] !== 'string' || entry[m] === '') return `is an ${entry.kty} key without "${m}"`;
  return undefined;
}

export interface JwksCheck<K> {
  /** The entries that are usable public keys (others of an unknown kty are kept: they are simply never selected). */
  keys: K[];
  /** One line per entry left out: `keys[i] <why>`. */
  skipped: string[];
}

/**
 * Splits a parsed JWKS into its usable entries and the reasons for the others; undefined when the document
 * is not a JWKS at all ({"keys": [...]}).
 */
export function checkJwks<K = Record<string, unknown>>(doc: unknown): JwksCheck<K> | undefined {
  if (!isObject(doc) || !Array.isArray(doc.keys)) return undefined;
  const keys: K[] = [];
  const skipped: string[] = [];
  doc.keys.forEach((entry: unknown, i: number) => {
    const why = jwkProblem(entry);
    if (why) skipped.push(`keys[${i}] ${why}`);
    else keys.push(entry as K);
  });
  return { keys, skipped };
}
