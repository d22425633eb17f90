/**
 * Verification keys of IAM OIDC providers: inline JWKS (offline labs) or discovery + JWKS over HTTPS, cached,
 * refetched (rate-limited) on an unknown kid, with TLS trust by CA bundle and/or thumbprint (IAM User Guide, "Create an OpenID Connect (OIDC) identity provider"; docs/sts.md).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { JsonWebKey } from 'node:crypto';
import { TokenError } from './errors.js';
import { keyFitsAlg, type Alg, type KeyLookup, type ProviderRef } from './verify.js';
import { checkJwks } from './jwk.js';
import { messageOf } from '../errors.js';
import { HttpError, failureText, httpRequestText, type HttpAnswer } from '../net/http-client.js';
import { pinnedChainProblem } from '../net/tls-chain.js';

export interface ProviderTrust {
  /** Issuer URL as registered (`https://...`). */
  url: string;
  /** PEM CA certificates trusted in addition to the system roots. */
  caBundle?: string;
  /** SHA-1 thumbprints (40 hex) of the top certificate of the IdP's chain, used when CA validation fails. */
  thumbprints: string[];
  /** Inline JWKS: no network at all. */
  jwks?: { keys: JWK[] };
  /** Inline discovery document: only its jwks_uri is used. */
  discovery?: { jwks_uri?: string };
}

export interface KeyCacheOptions {
  /** How long fetched keys are fresh (ms). */
  ttlMs?: number;
  /** Minimum time between two fetches triggered by an unknown kid (ms). */
  minRefetchMs?: number;
  /** Per-request idle timeout (ms): no byte for this long ends the request. */
  timeoutMs?: number;
  /** Whole-fetch deadline (ms), discovery and JWKS together: an issuer trickling bytes cannot hold a caller longer. */
  deadlineMs?: number;
  /** Injected clock (ms) and HTTP GET, for tests. */
  now?: () => number;
  get?: (url: string, trust: ProviderTrust, signal?: AbortSignal) => Promise<string>;
  /** Once per fetch (fetches are rate-limited, failed ones too): a repeated failure is reported once per interval. */
  onFetch?: (info: { provider: string; url: string; ok: boolean; error?: string }) => void;
  /** A fetched JWKS entry left out (null, private key, symmetric key, missing members): never silent. */
  onWarning?: (info: { provider: string; url: string; message: string }) => void;
}

export const DEFAULT_FETCH_DEADLINE_MS = 10_000;

const MAX_DOC_BYTES = 1 << 20;
export const MAX_JWKS_KEYS = 100;
const keyError = (why: string) => new TokenError('jwks-unreachable', why);

// kube-apiserver answers 406 to its JWKS unless application/jwk-set+json is acceptable.
const ACCEPT_JSON = { accept: 'application/json, application/jwk-set+json, */*;q=0.1' };

/**
 * GET over HTTPS with the provider's trust settings, as AWS does: the CA bundle (with the system roots) first; when
 * no CA trusts the chain, the ThumbprintList over a pinned connection (src/net/tls-chain.ts, the chain `issuer
 * thumbprint` reads). Errors are TokenErrors (jwks-unreachable, thumbprint-mismatch).
 */
export async function httpsGet(
  url: string,
  trust: ProviderTrust,
  timeoutMs = 5000,
  signal?: AbortSignal,
): Promise<string> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw keyError(`${url} is not a valid URL`);
  }
  if (u.protocol !== 'https:') throw keyError(`${url} is not an https URL; AWS fetches only over HTTPS`);
  const request = { headers: ACCEPT_JSON, timeoutMs, maxBytes: MAX_DOC_BYTES, ...(signal ? { signal } : {}) };
  let answer: HttpAnswer;
  try {
    answer = await httpRequestText(url, {
      ...request,
      ...(trust.caBundle ? { extraCa: trust.caBundle } : {}),
    });
  } catch (err) {
    if (!(err instanceof HttpError && err.failure.kind === 'tls'))
      throw keyError(`GET ${url}: ${failureText(err)}`);
    const why = err.failure.code || err.failure.reason;
    if (trust.thumbprints.length === 0)
      throw keyError(`TLS to ${u.host} failed: ${why} (no caBundle trusts it and no ThumbprintList)`);
    try {
      answer = await httpRequestText(url, {
        ...request,
        pinned: (socket, host) => pinnedChainProblem(socket, host, trust.thumbprints),
      });
    } catch (pinErr) {
      if (pinErr instanceof HttpError && pinErr.failure.kind === 'untrusted')
        throw new TokenError('thumbprint-mismatch', `TLS to ${u.host}: ${why}; ${pinErr.failure.reason}`);
      throw keyError(`GET ${url}: ${failureText(pinErr)}`);
    }
  }
  if (answer.status !== 200) throw keyError(`GET ${url} returned HTTP ${answer.status}`);
  return answer.body;
}

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw keyError(`${what} is not a JSON object`);
}

const KTY: Record<string, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' },
  RS384: { kty: 'RSA' },
  RS512: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' },
  ES384: { kty: 'EC', crv: 'P-384' },
  ES512: { kty: 'EC', crv: 'P-521' },
};

/** Picks the JWK for a token's kid and alg (exact kid match; no kid → the only usable key). */
export function selectJwk(keys: JWK[], kid: string | undefined, alg: Alg): JWK | undefined {
  const want = KTY[alg]!;
  const usable = keys.filter(
    (k) =>
      k.kty === want.kty &&
      (want.crv === undefined || k.crv === want.crv) &&
      (k.use === undefined || k.use === 'sig') &&
      (k.alg === undefined || k.alg === alg),
  );
  if (kid === undefined) return usable.length === 1 ? usable[0] : undefined;
  return usable.find((k) => k.kid === kid);
}

/** One provider's keys. */
export class ProviderKeys {
  private keys: JWK[] | undefined;
  private keysJson = '';
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  /** The last fetch's failure, answered again until the refetch interval has passed (negative cache). */
  private lastFailure: TokenError | undefined;
  /** Why entries of the current JWKS were left out, for explanations. */
  private skipped: string[] = [];
  private inflight: Promise<void> | undefined;
  private imported = new Map<string, KeyObject>();
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly minRefetchMs: number;

  constructor(
    readonly trust: ProviderTrust,
    private readonly opts: KeyCacheOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? 3_600_000;
    this.minRefetchMs = opts.minRefetchMs ?? 10_000;
    // Inline JWKS are checked strictly by the config reader; this keeps an unusable entry from ever being selected.
    if (trust.jwks) this.setKeys(checkJwks<JWK>(trust.jwks)?.keys ?? []);
  }

  get offline(): boolean {
    return this.trust.jwks !== undefined;
  }

  /** The key ids currently known (for explanations). */
  knownKids(): string[] {
    return (this.keys ?? []).map((k) => (k.kid === undefined ? '(no kid)' : JSON.stringify(k.kid)));
  }

  private setKeys(keys: JWK[]): void {
    const json = JSON.stringify(keys);
    if (json !== this.keysJson) this.imported.clear();
    this.keys = keys;
    this.keysJson = json;
  }

  private async fetchDocuments(signal: AbortSignal): Promise<string> {
    const get = this.opts.get ?? ((url, trust, sig) => httpsGet(url, trust, this.opts.timeoutMs, sig));
    let jwksUri = this.trust.discovery?.jwks_uri;
    if (!jwksUri) {
      const url = `${this.trust.url.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      const doc = parseJson(await get(url, this.trust, signal), `discovery document ${url}`);
      if (typeof doc.jwks_uri !== 'string') throw keyError(`discovery document ${url} has no jwks_uri`);
      jwksUri = doc.jwks_uri;
    }
    const checked = checkJwks<JWK>(parseJson(await get(jwksUri, this.trust, signal), `JWKS ${jwksUri}`));
    if (!checked) throw keyError(`JWKS ${jwksUri} has no keys array`);
    // Validated as strictly as an inline JWKS: an unusable entry is left out loudly, never a 500 later.
    for (const message of checked.skipped)
      this.opts.onWarning?.({
        provider: this.trust.url,
        url: jwksUri,
        message: `JWKS ${jwksUri}: ${message}; entry ignored`,
      });
    this.skipped = checked.skipped;
    this.setKeys(checked.keys);
    return jwksUri;
  }

  private async fetchOnce(): Promise<void> {
    this.attemptedAt = this.now();
    const deadlineMs = this.opts.deadlineMs ?? DEFAULT_FETCH_DEADLINE_MS;
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(keyError(`no complete answer from ${this.trust.url} within ${deadlineMs} ms`));
      }, deadlineMs);
      timer.unref();
    });
    const work = this.fetchDocuments(abort.signal);
    work.catch(() => undefined); // settled through the race; a late rejection is not unhandled
    let url = this.trust.url;
    try {
      url = await Promise.race([work, expired]);
      this.fetchedAt = this.now();
      this.lastFailure = undefined;
      this.opts.onFetch?.({ provider: this.trust.url, url, ok: true });
    } catch (err) {
      const e = err instanceof TokenError ? err : keyError(`fetching ${url}: ${messageOf(err)}`);
      this.lastFailure = e;
      this.opts.onFetch?.({ provider: this.trust.url, url, ok: false, error: e.message });
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private fetch(): Promise<void> {
    this.inflight ??= this.fetchOnce().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  /** A fetch may start: the minimum interval has passed since the last attempt, failed or not. */
  private mayFetch(): boolean {
    return this.now() - this.attemptedAt >= this.minRefetchMs;
  }

  async getKey(kid: string | undefined, alg: Alg): Promise<KeyObject> {
    let lastError: TokenError | undefined;
    if (!this.offline) {
      if (this.keys === undefined) {
        // Nothing cached to fall back on: join the fetch under way, start one, or answer the last failure.
        if (this.inflight) await this.inflight;
        else if (this.mayFetch()) await this.fetch();
        else throw this.lastFailure ?? keyError(`the keys of ${this.trust.url} are not loaded yet`);
      } else if (this.now() - this.fetchedAt > this.ttlMs && this.mayFetch()) {
        // Stale keys answer now; the refresh runs in the background (its failure is reported by onFetch).
        this.fetch().catch(() => undefined);
      }
    }
    // AWS reportedly cannot use a JWKS of more than 100 keys (spiffe/spire#4699): fail the same way.
    if ((this.keys?.length ?? 0) > MAX_JWKS_KEYS)
      throw keyError(
        `the JWKS of ${this.trust.url} has ${this.keys!.length} keys; AWS accepts at most ${MAX_JWKS_KEYS}`,
      );
    let jwk = selectJwk(this.keys ?? [], kid, alg);
    if (!jwk && !this.offline) {
      // Unknown kid: the issuer may have rotated keys. Rate-limited so forged kids cannot make us hammer it.
      try {
        if (this.inflight) await this.inflight;
        else if (this.mayFetch()) await this.fetch();
      } catch (err) {
        lastError = err as TokenError;
      }
      jwk = selectJwk(this.keys ?? [], kid, alg);
    }
    if (!jwk) {
      if (lastError) throw lastError;
      const skipped = this.skipped.length ? `; entries ignored: ${this.skipped.join('; ')}` : '';
      throw keyError(
        `no ${alg} key with kid ${JSON.stringify(kid)} in the JWKS of ${this.trust.url} (known kids: ${this.knownKids().join(', ') || 'none'})${skipped}`,
      );
    }
    // Imported once per JWK and algorithm: parsing a JWK costs more than verifying a signature.
    const cacheKey = `${jwk.kid ?? ''}\u0000${alg}`;
    let key = this.imported.get(cacheKey);
    if (!key) {
      try {
        key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
      } catch (err) {
        throw keyError(`the JWK ${JSON.stringify(jwk.kid)} cannot be imported: ${messageOf(err)}`);
      }
      if (!keyFitsAlg(key, alg))
        throw keyError(
          `the JWK ${JSON.stringify(jwk.kid)} does not fit ${alg} (RSA keys need at least 2048 bits)`,
        );
      this.imported.set(cacheKey, key);
    }
    return key;
  }
}

/** All providers' keys, looked up by provider URL: the `getKey` of verifyToken. */
export class KeyStore {
  private byUrl = new Map<string, ProviderKeys>();
  constructor(
    trusts: ProviderTrust[],
    private readonly opts: KeyCacheOptions = {},
  ) {
    for (const t of trusts) this.byUrl.set(t.url, new ProviderKeys(t, opts));
  }
  /** Follow a new provider list (the IAM API changed it): unchanged providers keep their cached keys. */
  sync(trusts: ProviderTrust[]): void {
    const same = (a: ProviderTrust, b: ProviderTrust) =>
      a.caBundle === b.caBundle &&
      a.thumbprints.join() === b.thumbprints.join() &&
      JSON.stringify(a.jwks) === JSON.stringify(b.jwks) &&
      JSON.stringify(a.discovery) === JSON.stringify(b.discovery);
    const next = new Map<string, ProviderKeys>();
    for (const t of trusts) {
      const old = this.byUrl.get(t.url);
      next.set(t.url, old && same(old.trust, t) ? old : new ProviderKeys(t, this.opts));
    }
    this.byUrl = next;
  }
  provider(url: string): ProviderKeys | undefined {
    return this.byUrl.get(url);
  }
  readonly getKey: KeyLookup = (provider: ProviderRef, kid, alg) => {
    const p = this.byUrl.get(provider.url);
    if (!p) return Promise.reject(keyError(`no key source for ${provider.url}`));
    return p.getKey(kid, alg);
  };
}
