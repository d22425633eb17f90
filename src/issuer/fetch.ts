/**
 * A plain GET as a relying party does it, for `issuer check`: system roots plus an optional extra CA, no
 * redirects followed (each is reported), a timeout and a size cap (src/net/http-client.ts).
 */
import { OpenIrsaError } from '../errors.js';
import { HttpError, failureReason, httpRequestText } from '../net/http-client.js';

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
export class FetchError extends OpenIrsaError {
  constructor(
    readonly url: string,
    readonly reason: string,
    readonly tls: boolean,
  ) {
    super('HttpFetchFailed', `${url}: ${reason}`);
  }
}

export async function fetchText(url: string, options: FetchOptions = {}): Promise<FetchResult> {
  try {
    const r = await httpRequestText(url, {
      // kube-apiserver answers 406 to its JWKS unless application/jwk-set+json is acceptable.
      headers: {
        accept: 'application/json, application/jwk-set+json, */*;q=0.1',
        'user-agent': 'openirsa-issuer-check',
      },
      ...(options.ca ? { extraCa: options.ca } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
    });
    const location = r.headers.location;
    return {
      url,
      status: r.status,
      contentType: String(r.headers['content-type'] ?? ''),
      ...(location ? { location } : {}),
      body: r.body,
    };
  } catch (err) {
    if (err instanceof HttpError) throw new FetchError(url, failureReason(err.failure), err.tls);
    throw err;
  }
}
