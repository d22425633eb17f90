/**
 * Web identity token verification as AWS STS does it (docs/sts.md), as pure functions: the time and the
 * key lookup are passed in. Order follows the distinct AWS messages: parse → provider by iss → aud → key by kid →
 * signature → exp/nbf/iat → required claims → session claims.
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { TokenError, type TokenErrorCode, type TokenErrorFacts } from './errors.js';

export const ALLOWED_ALGS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'] as const;
export type Alg = (typeof ALLOWED_ALGS)[number];
const ALG_SET = new Set<string>(ALLOWED_ALGS);

/** AWS allows this much clock skew after `exp` (IAM user guide, OIDC federation). */
export const EXP_GRACE_SECONDS = 300;
export const TAGS_CLAIM = 'https://aws.amazon.com/tags';
export const SOURCE_IDENTITY_CLAIM = 'https://aws.amazon.com/source_identity';

/** An IAM OIDC provider as verification needs it. */
export interface ProviderRef {
  /** The registered URL, `https://host/path`, compared exactly with `iss`. */
  url: string;
  /** `arn:<partition>:iam::<account>:oidc-provider/<url without https://>`. */
  arn: string;
  clientIds: string[];
  /** `<url without https://>`: the prefix of the provider's condition keys. */
  keyPrefix: string;
}

export interface DecodedJwt {
  token: string;
  /** Shared by the tokens that carry the same header: read it, never change it (it is frozen). */
  header: Readonly<Record<string, unknown>>;
  payload: Record<string, unknown>;
  alg: Alg;
  kid?: string;
  /** The signature's bytes, decoded once here (its canonical form checked) for the signature check. */
  signature: Buffer;
}

/** Resolves the public key for a token (a KeyObject already checked to fit the algorithm). */
export type KeyLookup = (provider: ProviderRef, kid: string | undefined, alg: Alg) => Promise<KeyObject>;

export interface VerifyOptions {
  /** Current time, seconds since the epoch. */
  now: number;
  providers: readonly ProviderRef[];
  /** Resolves the verification key, or throws a TokenError (jwks-unreachable, thumbprint-mismatch). */
  getKey: KeyLookup;
  /** Skip the signature (offline `explain --no-verify-signature`); everything else is still checked. */
  skipSignature?: boolean;
  /** Reject tokens whose `iat` is older than this ("Token too old"); off by default. */
  maxTokenAgeSeconds?: number;
}

export interface SessionClaims {
  /** Session tags from the token: key → value, keys as given (last wins case-insensitively). */
  tags?: Record<string, string>;
  transitiveTagKeys?: string[];
  sourceIdentity?: string;
}

export interface VerifiedToken extends SessionClaims {
  provider: ProviderRef;
  /** The `aud` value that matched the provider's client id list. */
  audience: string;
  subject: string;
  claims: Record<string, unknown>;
  alg: Alg;
  kid?: string;
  exp: number;
  iat?: number;
  signatureVerified: boolean;
}

const refuse = (code: TokenErrorCode, message: string, facts?: TokenErrorFacts) =>
  new TokenError(code, message, facts);
const malformed = (why: string) => refuse('token-malformed', why);
const missingClaim = (claim: string) =>
  refuse('claim-missing', `Missing a required claim: ${claim}`, { claim });

function decodeJson(part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decoded headers by their exact text. Every token one key signs carries the same header (alg, kid, typ), so a
 * handful of entries serve all requests; the header is only parsed here, never trusted more for being cached.
 * Bounded: distinct headers sent on purpose only churn it.
 */
const HEADER_CACHE_MAX = 64;
const headerCache = new Map<string, Readonly<Record<string, unknown>>>();
function decodeHeader(part: string): Readonly<Record<string, unknown>> | undefined {
  let header = headerCache.get(part);
  if (header === undefined) {
    const decoded = decodeJson(part);
    if (decoded === undefined) return undefined;
    header = Object.freeze(decoded);
    if (headerCache.size >= HEADER_CACHE_MAX) headerCache.clear();
    headerCache.set(part, header);
  }
  return header;
}

/** Syntax and algorithm: a compact JWS with JSON header and payload, signed with an allowed algorithm. */
export function decodeJwt(raw: string): DecodedJwt {
  // SDKs read the token file without trimming; a trailing newline is not the client's fault.
  const token = raw.trim();
  const parts = token.split('.');
  if (parts.length !== 3) throw malformed(`the token has ${parts.length} dot-separated parts, not 3`);
  const header = decodeHeader(parts[0]!);
  const payload = decodeJson(parts[1]!);
  if (!header || !payload) throw malformed('the token header or payload is not base64url-encoded JSON');
  const alg = header.alg;
  if (typeof alg !== 'string' || !ALG_SET.has(alg))
    throw refuse(
      'alg-unsupported',
      `the token is signed with alg ${JSON.stringify(alg)}; AWS accepts only ${ALLOWED_ALGS.join(', ')}`,
      { alg: String(alg) },
    );
  if (parts[2]!.length === 0) throw malformed('the token has an empty signature');
  if (!/^[A-Za-z0-9_-]+$/.test(parts[2]!)) throw malformed('the token signature is not base64url');
  // Canonical only: the decoder ignores a lone trailing character and unused low bits, so text appended to a
  // valid signature (or a changed last character) would otherwise still verify.
  const signature = Buffer.from(parts[2]!, 'base64url');
  if (signature.toString('base64url') !== parts[2])
    throw refuse('signature-invalid', 'the token signature is not canonical base64url');
  if (header.crit !== undefined) throw malformed('the token header has a "crit" member');
  const kid = header.kid;
  if (kid !== undefined && typeof kid !== 'string') throw malformed('the token header kid is not a string');
  return { token, header, payload, alg: alg as Alg, kid, signature };
}

export function findProvider(
  payload: Record<string, unknown>,
  providers: readonly ProviderRef[],
): ProviderRef {
  const iss = payload.iss;
  if (typeof iss !== 'string' || iss === '') throw missingClaim('iss');
  const provider = providers.find((p) => p.url === iss);
  if (!provider) {
    const near = providers.find(
      (p) => p.url.toLowerCase().replace(/\/$/, '') === iss.toLowerCase().replace(/\/$/, ''),
    );
    const hint = near
      ? `; provider ${near.url} differs only in case or a trailing slash, and AWS compares exactly`
      : providers.length
        ? `; registered providers: ${providers.map((p) => p.url).join(', ')}`
        : '; no OIDC provider is registered';
    throw refuse('issuer-unknown', `token iss ${JSON.stringify(iss)} matches no IAM OIDC provider${hint}`, {
      iss,
    });
  }
  return provider;
}

export function matchAudience(payload: Record<string, unknown>, provider: ProviderRef): string {
  const aud = payload.aud;
  if (aud === undefined || aud === null) throw missingClaim('aud');
  const values = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : undefined;
  if (!values || values.length === 0 || values.some((v) => typeof v !== 'string'))
    throw refuse('claim-missing', 'the token aud is neither a string nor an array of strings', {
      claim: 'aud',
    });
  const match = (values as string[]).find((v) => provider.clientIds.includes(v));
  if (match === undefined)
    throw refuse(
      'audience-mismatch',
      `token aud ${JSON.stringify(aud)} is not in the ClientIDList of ${provider.arn} (${JSON.stringify(provider.clientIds)})`,
    );
  return match;
}

function numericDate(payload: Record<string, unknown>, claim: string): number | undefined {
  const v = payload[claim];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    throw refuse(
      'claim-not-numeric-date',
      `claim ${claim} is ${JSON.stringify(v)}, not an integer NumericDate`,
      { claim },
    );
  return v;
}

/** exp (with AWS's 5-minute grace), nbf and iat (same allowance), optional maximum age. */
export function checkTimes(
  payload: Record<string, unknown>,
  now: number,
  maxTokenAgeSeconds?: number,
): { exp: number; iat?: number } {
  const exp = numericDate(payload, 'exp');
  const nbf = numericDate(payload, 'nbf');
  const iat = numericDate(payload, 'iat');
  if (exp === undefined) throw missingClaim('exp');
  if (now > exp + EXP_GRACE_SECONDS)
    throw refuse(
      'token-expired',
      `the token expired at ${exp} (${new Date(exp * 1000).toISOString()}), ${now - exp} s ago; AWS allows ${EXP_GRACE_SECONDS} s of clock skew`,
      { now, at: exp },
    );
  if (nbf !== undefined && nbf > now + EXP_GRACE_SECONDS)
    throw refuse(
      'token-not-yet-valid',
      `Token not yet valid: current date/time ${now} must be after the not-before date/time ${nbf}`,
      { now, at: nbf },
    );
  if (iat !== undefined && iat > now + EXP_GRACE_SECONDS)
    throw refuse(
      'token-issued-in-future',
      `Token issued in the future: current date/time ${now} must be after the issued-at date/time ${iat}`,
      { now, at: iat },
    );
  if (maxTokenAgeSeconds !== undefined && iat !== undefined && now - iat > maxTokenAgeSeconds)
    throw refuse(
      'token-too-old',
      `the token was issued ${now - iat} s ago; the maximum age is ${maxTokenAgeSeconds} s`,
      { age: now - iat },
    );
  return { exp, iat };
}

const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/** Session tags and source identity claims (IAM "Passing session tags using AssumeRoleWithWebIdentity"). */
export function parseSessionClaims(payload: Record<string, unknown>): SessionClaims {
  const out: SessionClaims = {};
  const tagsClaim = payload[TAGS_CLAIM];
  if (tagsClaim !== undefined) {
    const bad = (why: string) =>
      refuse('session-tags-invalid', `Invalid session tags in the ID Token: ${why}`, { why });
    if (tagsClaim === null || typeof tagsClaim !== 'object' || Array.isArray(tagsClaim))
      throw bad('not an object');
    const { principal_tags: principal, transitive_tag_keys: transitive } = tagsClaim as Record<
      string,
      unknown
    >;
    const tags = new Map<string, [string, string]>(); // lower-cased key → [key, value]
    if (principal !== undefined) {
      if (principal === null || typeof principal !== 'object' || Array.isArray(principal))
        throw bad('principal_tags is not an object');
      for (const [k, v] of Object.entries(principal)) {
        const value = Array.isArray(v) && v.length === 1 && typeof v[0] === 'string' ? v[0] : undefined;
        if (value === undefined) throw bad(`tag ${k} must have exactly one string value`);
        if (!TAG_KEY.test(k) || k.toLowerCase().startsWith('aws:')) throw bad(`invalid tag key ${k}`);
        if (!TAG_VALUE.test(value)) throw bad(`invalid value for tag ${k}`);
        tags.set(k.toLowerCase(), [k, value]);
      }
      if (tags.size > 50) throw bad(`${tags.size} tags; at most 50 are allowed`);
      out.tags = Object.fromEntries(tags.values());
    }
    if (transitive !== undefined) {
      if (!Array.isArray(transitive) || transitive.some((k) => typeof k !== 'string'))
        throw bad('transitive_tag_keys is not an array of strings');
      for (const k of transitive as string[])
        if (!tags.has(k.toLowerCase())) throw bad(`transitive tag key ${k} is not a session tag`);
      out.transitiveTagKeys = transitive as string[];
    }
  }
  const si = payload[SOURCE_IDENTITY_CLAIM];
  if (si !== undefined) {
    if (
      typeof si !== 'string' ||
      si.length < 2 ||
      si.length > 64 ||
      !/^[\w+=,.@-]*$/.test(si) ||
      si.toLowerCase().startsWith('aws:')
    )
      throw refuse('source-identity-invalid', 'Invalid source identity in the ID Token');
    out.sourceIdentity = si;
  }
  return out;
}

/** Full verification of a web identity token. Throws a TokenError saying why it is refused. */
export async function verifyToken(raw: string, opts: VerifyOptions): Promise<VerifiedToken> {
  const jwt = decodeJwt(raw);
  const provider = findProvider(jwt.payload, opts.providers);
  const audience = matchAudience(jwt.payload, provider);
  let signatureVerified = false;
  if (!opts.skipSignature) {
    const key = await opts.getKey(provider, jwt.kid, jwt.alg);
    checkSignatureSync(jwt, key); // no await: one microtask fewer per request
    signatureVerified = true;
  }
  const { exp, iat } = checkTimes(jwt.payload, opts.now, opts.maxTokenAgeSeconds);
  const sub = jwt.payload.sub;
  if (typeof sub !== 'string' || sub === '') throw missingClaim('sub');
  const session = parseSessionClaims(jwt.payload);
  return {
    provider,
    audience,
    subject: sub,
    claims: jwt.payload,
    alg: jwt.alg,
    kid: jwt.kid,
    exp,
    iat,
    signatureVerified,
    ...session,
  };
}

const HASH: Record<Alg, string> = {
  RS256: 'sha256',
  RS384: 'sha384',
  RS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
};
const CURVE: Partial<Record<Alg, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };

/** The smallest RSA modulus STS verifies with (RSA keys for RS* must be at least 2048 bits, IAM OIDC docs). */
export const MIN_RSA_BITS = 2048;

/** A key's details, read once per KeyObject: the getter asks OpenSSL and builds a new object on every call. */
const keyDetails = new WeakMap<KeyObject, KeyObject['asymmetricKeyDetails']>();

/** Is this key usable for this algorithm? (RSA ≥ 2048 bits for RS*, the matching curve for ES*.) */
export function keyFitsAlg(key: KeyObject, alg: Alg): boolean {
  if (key.type !== 'public') return false;
  let d = keyDetails.get(key);
  if (d === undefined) {
    d = key.asymmetricKeyDetails;
    keyDetails.set(key, d);
  }
  if (alg.startsWith('RS')) return key.asymmetricKeyType === 'rsa' && (d?.modulusLength ?? 0) >= MIN_RSA_BITS;
  return key.asymmetricKeyType === 'ec' && d?.namedCurve === CURVE[alg];
}

/**
 * The JWS signature over `header.payload`, with node:crypto (synchronous: no thread-pool hop, which matters at
 * thousands of verifications a second). The algorithm is the token's, already restricted to RS/ES 256/384/512, and
 * the key was checked to fit it, so neither `none`, HMAC nor a key/algorithm mismatch can get through.
 */
export async function checkSignature(jwt: DecodedJwt, key: KeyObject): Promise<void> {
  checkSignatureSync(jwt, key);
}

function checkSignatureSync(jwt: DecodedJwt, key: KeyObject): void {
  const dot = jwt.token.lastIndexOf('.');
  const sig = jwt.signature;
  let ok = false;
  if (keyFitsAlg(key, jwt.alg)) {
    try {
      ok = cryptoVerify(
        HASH[jwt.alg],
        Buffer.from(jwt.token.slice(0, dot), 'ascii'),
        jwt.alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' } : key,
        sig,
      );
    } catch {
      ok = false;
    }
  }
  if (!ok)
    throw refuse(
      'signature-invalid',
      `the token signature (${jwt.alg}, kid ${JSON.stringify(jwt.kid)}) does not verify with the provider's key`,
    );
}
