/**
 * `issuer check`: fetches discovery and JWKS the way AWS STS does and reports, one line each, the
 * problems users hit in practice. The analysis functions are pure (documents, token and time are
 * passed in); checkIssuer is the thin network shell around them.
 */
import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { createPublicKey } from 'node:crypto';
import { IssuerError } from './errors.js';
import { fetchText, FetchError, type FetchOptions, type FetchResult } from './fetch.js';
import { keyIdOf } from './key-id.js';
import { privateMembersOf } from '../oidc/jwk.js';
import { discoveryUrl, validateIssuerUrl } from './url.js';
import { messageOf } from '../errors.js';

export type Severity = 'ok' | 'warning' | 'error';

export interface Finding {
  severity: Severity;
  code: string;
  message: string;
}

/** Algorithms AWS STS accepts for web identity tokens. */
export const STS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'] as const;
/** AWS reports a JWKS with more keys than this as unusable (spiffe/spire#4699). */
export const MAX_JWKS_KEYS = 100;
/** AWS accepts a token up to 5 minutes after exp (clock skew). */
export const CLOCK_SKEW_SECONDS = 300;

const ok = (code: string, message: string): Finding => ({ severity: 'ok', code, message });
const warn = (code: string, message: string): Finding => ({ severity: 'warning', code, message });
const error = (code: string, message: string): Finding => ({ severity: 'error', code, message });

export function checkIssuerUrl(url: string): Finding[] {
  try {
    const { warnings } = validateIssuerUrl(url);
    return [
      ...warnings.map((w) =>
        warn(
          w.includes('ends with "/"') ? 'trailing-slash' : w.includes('port') ? 'url-port' : 'url-case',
          w,
        ),
      ),
    ];
  } catch (err) {
    return [error('url-invalid', messageOf(err))];
  }
}

function parseJsonBody(r: FetchResult, what: string, code: string): { findings: Finding[]; value?: unknown } {
  const findings: Finding[] = [];
  if (r.status >= 300 && r.status < 400) {
    return {
      findings: [
        error(
          `${code}-redirect`,
          `${what} ${r.url} redirects (HTTP ${r.status}) to ${r.location ?? '?'}: AWS STS is not documented to follow redirects; serve the document at this URL`,
        ),
      ],
    };
  }
  if (r.status !== 200)
    return { findings: [error(`${code}-status`, `${what} ${r.url} answered HTTP ${r.status}`)] };
  let value: unknown;
  try {
    value = JSON.parse(r.body);
  } catch {
    return { findings: [error(`${code}-not-json`, `${what} ${r.url} is not JSON`)] };
  }
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(r.contentType)) {
    findings.push(
      warn(
        `${code}-content-type`,
        `${what} ${r.url} is served as "${r.contentType || '(none)'}", not application/json`,
      ),
    );
  }
  return { findings, value };
}

export interface DiscoveryFacts {
  issuer?: string;
  jwksUri?: string;
  algorithms?: string[];
}

/** Checks a fetched discovery document against the issuer URL (byte-for-byte `issuer`). */
export function checkDiscovery(
  issuerUrl: string,
  r: FetchResult,
): { findings: Finding[]; facts?: DiscoveryFacts } {
  const parsed = parseJsonBody(r, 'discovery document', 'discovery');
  const findings = parsed.findings;
  if (parsed.value === undefined) return { findings };
  const doc = parsed.value as Record<string, unknown>;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return {
      findings: [
        ...findings,
        error('discovery-not-object', `discovery document ${r.url} is not a JSON object`),
      ],
    };
  }
  findings.push(ok('discovery', `discovery document fetched from ${r.url}`));
  const facts: DiscoveryFacts = {};
  if (typeof doc.issuer !== 'string') {
    findings.push(error('issuer-missing', 'discovery document has no "issuer"'));
  } else {
    facts.issuer = doc.issuer;
    if (doc.issuer === issuerUrl) findings.push(ok('issuer', `"issuer" is exactly ${issuerUrl}`));
    else if (doc.issuer.replace(/\/$/, '') === issuerUrl.replace(/\/$/, '')) {
      findings.push(
        error(
          'issuer-trailing-slash',
          `"issuer" is "${doc.issuer}" but the URL is "${issuerUrl}": they differ only by the trailing "/", and AWS compares byte for byte`,
        ),
      );
    } else {
      findings.push(error('issuer-mismatch', `"issuer" is "${doc.issuer}", not "${issuerUrl}"`));
    }
  }
  if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri) {
    findings.push(error('jwks-uri-missing', 'discovery document has no "jwks_uri"'));
  } else {
    facts.jwksUri = doc.jwks_uri;
    if (!doc.jwks_uri.startsWith('https://')) {
      findings.push(
        error('jwks-uri-not-https', `"jwks_uri" ${doc.jwks_uri} is not https: AWS STS will not fetch it`),
      );
    }
  }
  const algs = doc.id_token_signing_alg_values_supported;
  if (Array.isArray(algs) && algs.every((a) => typeof a === 'string')) facts.algorithms = algs;
  else
    findings.push(
      warn('algorithms-missing', 'discovery document has no "id_token_signing_alg_values_supported" list'),
    );
  const rts = doc.response_types_supported;
  if (!Array.isArray(rts) || !rts.includes('id_token')) {
    findings.push(warn('response-types', '"response_types_supported" does not list "id_token"'));
  }
  return { findings, facts };
}

export interface PublishedKey {
  jwk: Record<string, unknown>;
  kid?: string;
  alg?: string;
}

function algOfJwk(jwk: Record<string, unknown>): string | undefined {
  if (typeof jwk.alg === 'string') return jwk.alg;
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC')
    return ({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as Record<string, string>)[
      String(jwk.crv)
    ];
  return undefined;
}

/** Checks a fetched JWKS: key count, kids (missing, duplicate), algorithms, key use and strength. */
export function checkJwks(
  r: FetchResult,
  facts: DiscoveryFacts = {},
): { findings: Finding[]; keys?: PublishedKey[] } {
  const parsed = parseJsonBody(r, 'JWKS', 'jwks');
  const findings = parsed.findings;
  if (parsed.value === undefined) return { findings };
  const set = parsed.value as { keys?: unknown };
  if (!set || typeof set !== 'object' || !Array.isArray(set.keys)) {
    return { findings: [...findings, error('jwks-no-keys', `JWKS ${r.url} has no "keys" array`)] };
  }
  if (set.keys.length === 0)
    return { findings: [...findings, error('jwks-no-keys', `JWKS ${r.url} has no keys`)] };
  if (set.keys.length > MAX_JWKS_KEYS) {
    findings.push(
      error('jwks-too-many-keys', `JWKS has ${set.keys.length} keys; AWS fails above ${MAX_JWKS_KEYS}`),
    );
  }
  const keys: PublishedKey[] = [];
  const kids = new Map<string, number>();
  set.keys.forEach((raw, i) => {
    const where = `key #${i + 1}`;
    if (!raw || typeof raw !== 'object') {
      findings.push(error('key-invalid', `${where} is not an object`));
      return;
    }
    const jwk = raw as Record<string, unknown>;
    const kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
    const name = kid === undefined ? where : `${where} (kid "${kid}")`;
    if (kid === undefined)
      findings.push(error('key-missing-kid', `${name} has no "kid": AWS STS cannot select it`));
    else kids.set(kid, (kids.get(kid) ?? 0) + 1);
    const alg = algOfJwk(jwk);
    // An unusable key gets its error and nothing else: no "ok" line, and no token check against it.
    let usable = true;
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') {
      usable = false;
      findings.push(
        error('key-unsupported', `${name} has kty ${String(jwk.kty)}: AWS STS accepts RSA and EC keys only`),
      );
    } else if (!alg || !(STS_ALGORITHMS as readonly string[]).includes(alg)) {
      usable = false;
      findings.push(
        error(
          'key-unsupported-alg',
          `${name} has alg ${String(alg)}: AWS STS accepts ${STS_ALGORITHMS.join(', ')}`,
        ),
      );
    }
    if (jwk.use !== undefined && jwk.use !== 'sig') {
      usable = false;
      findings.push(error('key-use', `${name} has "use": ${JSON.stringify(jwk.use)}, not "sig"`));
    }
    if (!usable) return;
    const privateMembers = privateMembersOf(jwk);
    if (privateMembers.length > 0)
      findings.push(error('key-private', `${name} publishes PRIVATE key material: rotate this key now`));
    // Only the public members are read (Node 26 refuses a JWK with a partial private key; a verifier never needs one).
    const publicJwk = Object.fromEntries(Object.entries(jwk).filter(([m]) => !privateMembers.includes(m)));
    let detail = '';
    try {
      const pub = createPublicKey({ key: publicJwk as never, format: 'jwk' });
      const bits = pub.asymmetricKeyDetails?.modulusLength;
      if (bits !== undefined && bits < 2048)
        findings.push(warn('key-weak', `${name} is RSA ${bits}: use 2048 bits or more`));
      const k8sKid = keyIdOf(pub);
      detail = kid === k8sKid ? ', kid as kube-apiserver computes it' : '';
    } catch (err) {
      findings.push(error('key-invalid', `${name} is not a valid public key: ${messageOf(err)}`));
      return;
    }
    if (alg && facts.algorithms && !facts.algorithms.includes(alg)) {
      findings.push(
        warn(
          'algorithms-incomplete',
          `${name} uses ${alg}, missing from id_token_signing_alg_values_supported`,
        ),
      );
    }
    keys.push({ jwk: publicJwk, ...(kid !== undefined ? { kid } : {}), ...(alg ? { alg } : {}) });
    findings.push(ok('key', `${name}: ${String(jwk.kty)} ${alg ?? '?'}${detail}`));
  });
  for (const [kid, n] of kids) {
    if (n > 1) {
      findings.push(
        kid === ''
          ? warn(
              'key-duplicate-kid',
              `${n} keys have an empty kid (legacy pre-1.16 entries): only one can be used`,
            )
          : error('key-duplicate-kid', `kid "${kid}" appears ${n} times: verifiers may pick the wrong key`),
      );
    }
  }
  return { findings, keys };
}

/** The client id IRSA's IAM OIDC providers are given, and the audience the webhook requests. */
export const DEFAULT_CLIENT_IDS: readonly string[] = ['sts.amazonaws.com'];

export interface TokenCheckInput {
  issuerUrl: string;
  /** The IAM OIDC provider's client ids: STS accepts the token only if its aud holds one (default sts.amazonaws.com). */
  clientIds?: readonly string[];
  keys: PublishedKey[];
  /** NumericDate (seconds). */
  now: number;
}

/** Checks a token against the published keys as STS would: iss, kid, alg, signature, times, aud. */
export async function checkToken(token: string, input: TokenCheckInput): Promise<Finding[]> {
  const findings: Finding[] = [];
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(token);
    claims = decodeJwt(token);
  } catch {
    return [error('token-malformed', 'the token is not a JWS compact JWT')];
  }
  if (claims.iss !== input.issuerUrl) {
    findings.push(
      error(
        'token-iss-mismatch',
        `token "iss" is ${JSON.stringify(claims.iss)}, not "${input.issuerUrl}": STS looks the provider up by "iss" byte for byte`,
      ),
    );
  } else findings.push(ok('token-iss', `token "iss" matches`));
  const alg = header.alg ?? '';
  if (!(STS_ALGORITHMS as readonly string[]).includes(alg)) {
    findings.push(
      error(
        'token-alg',
        `token alg ${alg || '(none)'} is not one AWS STS accepts (${STS_ALGORITHMS.join(', ')})`,
      ),
    );
  }
  let candidates: PublishedKey[];
  if (header.kid === undefined) {
    findings.push(warn('token-no-kid', 'the token has no kid; AWS STS selects keys by kid'));
    candidates = input.keys;
  } else {
    candidates = input.keys.filter((k) => k.kid === header.kid);
    if (candidates.length === 0) {
      findings.push(
        error(
          'token-kid-not-published',
          `token kid "${header.kid}" is not in the JWKS (published: ${input.keys.map((k) => `"${k.kid ?? ''}"`).join(', ') || 'none'}); STS answers "Couldn't retrieve verification key"`,
        ),
      );
    }
  }
  if (candidates.length > 0) {
    let verified = false;
    let reason = '';
    for (const key of candidates) {
      try {
        await compactVerify(token, await importJWK(key.jwk as JWK, alg));
        verified = true;
        break;
      } catch (err) {
        reason = messageOf(err);
      }
    }
    if (verified)
      findings.push(ok('token-signature', `token signature verifies with kid "${header.kid ?? ''}"`));
    else findings.push(error('token-signature', `no published key verifies the token signature (${reason})`));
  }
  const { exp, nbf, iat, aud, sub } = claims;
  if (typeof exp !== 'number') findings.push(error('token-exp', 'the token has no "exp"'));
  else if (input.now > exp + CLOCK_SKEW_SECONDS) {
    findings.push(error('token-expired', `the token expired at ${new Date(exp * 1000).toISOString()}`));
  } else if (input.now > exp) {
    findings.push(
      warn('token-expired', 'the token expired less than 5 minutes ago (AWS still accepts it, briefly)'),
    );
  }
  for (const [name, v] of [
    ['nbf', nbf],
    ['iat', iat],
  ] as const) {
    if (typeof v === 'number' && v > input.now + CLOCK_SKEW_SECONDS) {
      findings.push(
        error(
          `token-${name}`,
          `token "${name}" is in the future (${new Date(v * 1000).toISOString()}): check clocks`,
        ),
      );
    }
  }
  if (aud === undefined || (Array.isArray(aud) && aud.length === 0)) {
    findings.push(error('token-aud', 'the token has no "aud"; STS answers "Missing a required claim: aud"'));
  } else {
    const clientIds = input.clientIds ?? DEFAULT_CLIENT_IDS;
    const auds = Array.isArray(aud) ? aud : [aud];
    const match = auds.find((a) => clientIds.includes(a));
    if (match !== undefined)
      findings.push(ok('token-aud', `token aud "${match}" is a client id of the provider`));
    else
      findings.push(
        error(
          'token-aud',
          `token aud ${JSON.stringify(aud)} holds none of the client ids ${clientIds.map((c) => `"${c}"`).join(', ')}: STS answers "Incorrect token audience" (pass --client-id ID if the provider has another)`,
        ),
      );
  }
  if (typeof sub !== 'string' || !sub) findings.push(error('token-sub', 'the token has no "sub"'));
  else findings.push(ok('token-sub', `token sub "${sub}"`));
  return findings;
}

export interface CheckOptions extends FetchOptions {
  token?: string;
  /** Client ids the token's aud is checked against (default sts.amazonaws.com). */
  clientIds?: readonly string[];
  /** NumericDate for time checks; default the clock. */
  now?: number;
  fetch?: (url: string, options: FetchOptions) => Promise<FetchResult>;
}

export interface CheckReport {
  issuer: string;
  findings: Finding[];
  ok: boolean;
  /** The kids of the JWKS as fetched ('' for a key without one); undefined when no usable JWKS was read. */
  publishedKeyIds?: string[];
}

function fetchFinding(code: string, what: string, err: unknown): Finding {
  if (err instanceof FetchError) {
    return error(err.tls ? 'tls-untrusted' : `${code}-unreachable`, `${what} ${err.url}: ${err.reason}`);
  }
  return error(`${code}-unreachable`, `${what}: ${messageOf(err)}`);
}

/** Runs every check against a live issuer. Never throws for issuer problems: they are findings. */
export async function checkIssuer(issuerUrl: string, options: CheckOptions = {}): Promise<CheckReport> {
  const fetch = options.fetch ?? fetchText;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const findings = checkIssuerUrl(issuerUrl);
  const done = (publishedKeyIds?: string[]): CheckReport => ({
    issuer: issuerUrl,
    findings,
    ok: !findings.some((f) => f.severity === 'error'),
    publishedKeyIds,
  });
  if (findings.some((f) => f.code === 'url-invalid')) return done();
  let discovery: FetchResult;
  try {
    discovery = await fetch(discoveryUrl(issuerUrl), options);
  } catch (err) {
    findings.push(fetchFinding('discovery', 'discovery document', err));
    return done();
  }
  const d = checkDiscovery(issuerUrl, discovery);
  findings.push(...d.findings);
  if (!d.facts?.jwksUri) return done();
  let jwksResult: FetchResult;
  try {
    jwksResult = await fetch(d.facts.jwksUri, options);
  } catch (err) {
    findings.push(fetchFinding('jwks', 'JWKS', err));
    return done();
  }
  const j = checkJwks(jwksResult, d.facts);
  findings.push(...j.findings);
  if (options.token !== undefined) {
    if (!j.keys) findings.push(error('token-unchecked', 'the token cannot be checked without a usable JWKS'));
    else
      findings.push(
        ...(await checkToken(options.token.trim(), {
          issuerUrl,
          keys: j.keys,
          now,
          clientIds: options.clientIds,
        })),
      );
  }
  return done(j.keys?.map((key) => key.kid ?? ''));
}

/** One line per finding. */
export function formatFinding(f: Finding): string {
  const tag = f.severity === 'ok' ? 'ok     ' : f.severity === 'warning' ? 'warning' : 'ERROR  ';
  return `${tag} ${f.code}: ${f.message}`;
}

export function assertToken(text: string, source: string): string {
  const t = text.trim();
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(t)) {
    throw new IssuerError('TokenInvalid', `${source} does not hold a compact JWT`);
  }
  return t;
}
