/**
 * openirsa's one HTTP client for its own small requests (an issuer's discovery and JWKS, a webhook's /healthz, a
 * Kubernetes non-resource path, dev's checks): the timeout, the size cap, the trust (CA or pinned chain) and the
 * wording of a failure live here once. Callers word what the answer means; this module words why there was none.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { rootCertificates, type TLSSocket } from 'node:tls';
import { OpenIrsaError, messageOf } from '../errors.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Pinning reads the peer's certificate chain, which a resumed TLS session does not carry: with the default agent's
 * session cache every pinned connection to a host after the first failed as a thumbprint mismatch. So a pinned
 * request never resumes a session; open sockets are still reused.
 */
const pinnedAgent = new HttpsAgent({ keepAlive: true, maxCachedSessions: 0 });
export const DEFAULT_MAX_BYTES = 1024 * 1024;

export interface HttpRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** PEM CA certificates trusted instead of the system roots (a kubeconfig's or a webhook's caBundle). */
  ca?: string;
  /** PEM CA certificates trusted besides the system roots (a relying party's CA bundle). */
  extraCa?: string;
  /**
   * Pinning instead of CA trust: the connection trusts no CA, so the chain the server presents is exactly what
   * it sent (no local store can extend it); `check` accepts it (undefined) or says why not.
   */
  pinned?: (socket: TLSSocket, host: string) => string | undefined;
  /** TLS and header options applied as given (a kubeconfig's client certificate and CA). */
  options?: RequestOptions;
  /** Idle timeout: no byte for this long ends the request. */
  timeoutMs?: number;
  /** Largest body read; a larger one is a failure, not a truncation. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface HttpAnswer {
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Why no answer came: a caller that words it in its own protocol reads `failure`; everyone else the message. */
export type HttpFailure =
  | { kind: 'url'; reason: string }
  | { kind: 'timeout'; ms: number }
  | { kind: 'too-large'; limit: number }
  | { kind: 'untrusted'; reason: string }
  | { kind: 'tls'; code: string; reason: string }
  | { kind: 'network'; code?: string; reason: string };

const TLS_CODES: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate chain is incomplete or not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate is not signed by a trusted CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'the chain ends in a CA that is not trusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate does not name this host',
};

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS)',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'timed out',
  EPROTO: 'TLS handshake failed (is it really https?)',
};

/** A failure in words: TLS and network codes spelled out, the code kept in brackets. */
export function failureReason(f: HttpFailure): string {
  switch (f.kind) {
    case 'url':
    case 'untrusted':
      return f.reason;
    case 'timeout':
      return `no answer within ${f.ms / 1000} s`;
    case 'too-large':
      return `response is larger than ${f.limit} bytes`;
    case 'tls':
      return `TLS: ${f.reason}`;
    case 'network':
      return f.reason;
  }
}

/** No answer from `url`: `URL: REASON`. `code` is the errno-style code when there is one (ETIMEDOUT, ECONNREFUSED). */
export class HttpError extends OpenIrsaError {
  readonly errno: string | undefined;
  constructor(
    readonly url: string,
    readonly failure: HttpFailure,
  ) {
    super('HttpFetchFailed', `${url}: ${failureReason(failure)}`);
    this.errno =
      failure.kind === 'timeout' ? 'ETIMEDOUT' : 'code' in failure && failure.code ? failure.code : undefined;
  }
  /** True when TLS refused the server (untrusted, pinned chain refused). */
  get tls(): boolean {
    return this.failure.kind === 'tls' || this.failure.kind === 'untrusted';
  }
}

function failureOf(err: unknown): HttpFailure {
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  const message = e.message ?? String(err);
  if (TLS_CODES[code]) return { kind: 'tls', code, reason: `${TLS_CODES[code]} (${code})` };
  if (/certificate|SSL|TLS/i.test(message)) return { kind: 'tls', code, reason: message };
  const words = NETWORK_CODES[code];
  return {
    kind: 'network',
    ...(code ? { code } : {}),
    reason: words ? `${words} (${code})` : message || code || 'request failed',
  };
}

/** One request; resolves with any status (the caller decides what a status means), rejects with an HttpError. */
export function httpRequestText(url: string, r: HttpRequest = {}): Promise<HttpAnswer> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.reject(new HttpError(url, { kind: 'url', reason: 'not a valid URL' }));
  }
  const isHttps = u.protocol === 'https:';
  if (!isHttps && u.protocol !== 'http:')
    return Promise.reject(new HttpError(url, { kind: 'url', reason: `unsupported scheme ${u.protocol}` }));
  const timeoutMs = r.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = r.maxBytes ?? DEFAULT_MAX_BYTES;
  const trust: RequestOptions = !isHttps
    ? {}
    : r.pinned
      ? { ca: [], rejectUnauthorized: false, agent: pinnedAgent }
      : r.extraCa
        ? { ca: [...rootCertificates, r.extraCa] }
        : r.ca
          ? { ca: r.ca }
          : {};
  const headers = { ...(r.options?.headers as Record<string, string> | undefined), ...r.headers };
  if (r.body !== undefined) headers['content-length'] = String(Buffer.byteLength(r.body));
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (failure: HttpFailure | HttpError): void => {
      if (settled) return;
      settled = true;
      reject(failure instanceof HttpError ? failure : new HttpError(url, failure));
    };
    const req = (isHttps ? httpsRequest : httpRequest)(
      u,
      {
        ...r.options,
        ...trust,
        method: r.method ?? 'GET',
        headers,
        timeout: timeoutMs,
        ...(r.signal ? { signal: r.signal } : {}),
      },
      (res) => {
        if (r.pinned) {
          const refused = r.pinned(res.socket as TLSSocket, u.hostname.replace(/^\[|\]$/g, ''));
          if (refused !== undefined) {
            res.destroy();
            return fail({ kind: 'untrusted', reason: refused });
          }
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            // Settle first, then drop the connection; destroying with an error would surface it twice.
            fail({ kind: 'too-large', limit: maxBytes });
            res.destroy();
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          resolve({
            url,
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', (err) => fail(failureOf(err)));
      },
    );
    req.on('timeout', () => req.destroy(new HttpError(url, { kind: 'timeout', ms: timeoutMs })));
    req.on('error', (err) => fail(err instanceof HttpError ? err : failureOf(err)));
    req.end(r.body);
  });
}

/** Why a request failed, without the URL (for a caller that names the URL its own way). */
export function failureText(err: unknown): string {
  return err instanceof HttpError ? failureReason(err.failure) : messageOf(err);
}
