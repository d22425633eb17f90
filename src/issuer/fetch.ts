/**
 * A plain HTTPS GET as a relying party does it: system roots plus an optional extra CA, no
 * redirects followed (each is reported), a timeout and a size cap.
 */
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { rootCertificates } from 'node:tls';

export interface FetchResult {
  url: string;
  status: number;
  contentType: string;
  location?: string;
  body: string;
}

export interface FetchOptions {
  /** Extra trusted CA certificates (PEM), added to the system roots. */
  ca?: string;
  timeoutMs?: number;
  maxBytes?: number;
}

/** A failed fetch, with the reason in words a user understands (TLS error codes spelled out). */
export class FetchError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
    readonly tls: boolean,
  ) {
    super(`${url}: ${reason}`);
    this.name = 'FetchError';
  }
}

const TLS_CODES: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate chain is incomplete or not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate is not signed by a trusted CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'the chain ends in a CA that is not trusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate does not name this host',
};

export function fetchText(url: string, options: FetchOptions = {}): Promise<FetchResult> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.reject(new FetchError(url, 'not a valid URL', false));
  }
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const isHttps = u.protocol === 'https:';
  if (!isHttps && u.protocol !== 'http:')
    return Promise.reject(new FetchError(url, `unsupported scheme ${u.protocol}`, false));
  return new Promise((resolve, reject) => {
    const req = (isHttps ? httpsRequest : httpRequest)(
      u,
      {
        method: 'GET',
        // kube-apiserver answers 406 to its JWKS unless application/jwk-set+json is acceptable.
        headers: {
          accept: 'application/json, application/jwk-set+json, */*;q=0.1',
          'user-agent': 'openirsa-issuer-check',
        },
        ...(isHttps && options.ca ? { ca: [...rootCertificates, options.ca] } : {}),
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            // Settle first, then drop the connection; destroying with an error would surface it twice.
            reject(new FetchError(url, `response is larger than ${maxBytes} bytes`, false));
            res.destroy();
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            url,
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            ...(res.headers.location ? { location: res.headers.location } : {}),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', (err) => reject(toFetchError(url, err)));
      },
    );
    req.on('timeout', () => req.destroy(new FetchError(url, 'timed out', false)));
    req.on('error', (err) => reject(toFetchError(url, err)));
    req.end();
  });
}

function toFetchError(url: string, err: unknown): FetchError {
  if (err instanceof FetchError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  if (TLS_CODES[code]) return new FetchError(url, `TLS: ${TLS_CODES[code]} (${code})`, true);
  if (/certificate|SSL|TLS/i.test(e.message ?? '')) return new FetchError(url, `TLS: ${e.message}`, true);
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host not found (DNS)',
    ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable',
    ETIMEDOUT: 'timed out',
    EPROTO: 'TLS handshake failed (is it really https?)',
  };
  return new FetchError(
    url,
    words[code] ? `${words[code]} (${code})` : e.message || code || 'request failed',
    false,
  );
}
