/**
 * SigV4 verification of requests signed with our temporary credentials (header and presigned forms). The
 * signature is recomputed with @smithy/signature-v4 over exactly the headers the client signed, and compared in
 * constant time. Session state comes from the session token (credentials.ts), so any replica can verify.
 */
import { createHash, createHmac, timingSafeEqual, type BinaryLike, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest, SourceData } from '@smithy/types';
import { partitionOfRegion } from '../iam/arn.js';
import { openSession, type Session } from './credentials.js';
import { MSG, StsError } from './protocol.js';

export const SKEW_MS = 5 * 60_000;
const ALGORITHM = 'AWS4-HMAC-SHA256';

/** node:crypto as smithy's hash constructor (SHA-256, or HMAC-SHA256 when given a secret). */
export class NodeSha256 {
  private h: Hash | Hmac;
  private readonly secret: BinaryLike | undefined;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : binary(secret);
    this.h = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: SourceData): void {
    this.h.update(binary(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    this.h = this.fresh(); // an HMAC stays an HMAC with its key
  }
}

/** What node:crypto reads: a string (as UTF-8), or the bytes a view spans (not its elements) or an ArrayBuffer holds. */
function binary(d: SourceData): BinaryLike {
  if (typeof d === 'string') return d;
  return ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);
}

export interface SignedRequest {
  method: string;
  /** Path without the query string, as received. */
  path: string;
  /** Raw query string without `?`. */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface VerifiedCaller {
  session: Session;
  presigned: boolean;
  region: string;
}

export interface VerifyOptions {
  now: number;
  keys: readonly Buffer[];
  /** The service the credential scope must name (default `sts`; the IAM API verifies `iam`). */
  service?: string;
  /** The partition whose regions the credential scope may name (default `aws`). */
  partition?: string;
  /** Long-term keys (no session token), e.g. the IAM API's admin key: access key id → secret. */
  staticKeys?: (accessKeyId: string) => string | undefined;
}

/** A verified caller: a session of ours, or (no session) the long-term key `accessKeyId`. */
export interface VerifiedAnyCaller extends Omit<VerifiedCaller, 'session'> {
  session?: Session;
  accessKeyId: string;
}

/** `20131008T001036Z` */
function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** The time an X-Amz-Date names, or undefined unless it is a real UTC time written as `amzDate` writes it. */
function parseAmzDate(s: string): number | undefined {
  // `20131008T001036Z` → `2013-10-08T00:10:36Z` for Date.parse, which refuses month 13 or minute 60 (NaN) but rolls
  // April 31 or 24:00 over; the round trip refuses those and anything else not in exactly this form.
  const t = Date.parse(
    `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 11)}:${s.slice(11, 13)}:${s.slice(13)}`,
  );
  return Number.isNaN(t) || amzDate(t) !== s ? undefined : t;
}

const incomplete = (what: string) => new StsError('IncompleteSignature', what);
const mismatch = (message: string = MSG.signatureMismatch, explanation?: string) =>
  new StsError('SignatureDoesNotMatch', message, explanation);

function header(req: SignedRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** True when the request carries any SigV4 material (header or query). */
export function hasSigV4(req: SignedRequest, query: URLSearchParams): boolean {
  return (
    header(req, 'authorization') !== undefined || query.has('X-Amz-Algorithm') || query.has('X-Amz-Signature')
  );
}

interface AuthParts {
  accessKeyId: string;
  scopeDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  date: string;
  sessionToken?: string;
  expires?: number;
}

function parseCredential(cred: string): Pick<AuthParts, 'accessKeyId' | 'scopeDate' | 'region' | 'service'> {
  const parts = cred.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1]!))
    throw incomplete(
      `Credential should be scoped to a valid region, service and terminator: 'aws4_request'. Credential=${parts[0]!}/...`,
    );
  return { accessKeyId: parts[0]!, scopeDate: parts[1]!, region: parts[2]!, service: parts[3]! };
}

function fromHeader(req: SignedRequest, auth: string): AuthParts {
  // The first word is the algorithm, the rest its parameters (leading whitespace is skipped, trailing whitespace
  // ends in the last part, trimmed below).
  const m = /(\S+)\s(.*)/s.exec(auth);
  if (!m || m[1] !== ALGORITHM)
    throw incomplete(`Unsupported AWS 'algorithm': '${m?.[1] ?? auth.split(' ')[0]}'`);
  const kv = new Map<string, string>();
  for (const part of m[2]!.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== -1) kv.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((k) => !kv.get(k));
  if (missing.length)
    throw incomplete(missing.map((k) => `Authorization header requires '${k}' parameter.`).join(' '));
  const date = header(req, 'x-amz-date');
  if (!date)
    throw incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  return {
    ...parseCredential(kv.get('Credential')!),
    signedHeaders: kv.get('SignedHeaders')!.toLowerCase().split(';'),
    signature: kv.get('Signature')!,
    date,
    sessionToken: header(req, 'x-amz-security-token'),
  };
}

function fromQuery(q: URLSearchParams, alg: string): AuthParts {
  if (alg !== ALGORITHM) throw incomplete(`Unsupported AWS 'algorithm': '${alg}'`);
  const missing = ['X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'].filter(
    (k) => !q.get(k),
  );
  if (missing.length)
    throw incomplete(
      missing.map((k) => `Query-string authentication requires the ${k} parameter.`).join(' '),
    );
  const expiresRaw = q.get('X-Amz-Expires') ?? '';
  if (!/^\d{1,6}$/.test(expiresRaw) || +expiresRaw < 1 || +expiresRaw > 604800)
    throw incomplete('X-Amz-Expires must be an integer from 1 to 604800 (seconds).');
  return {
    ...parseCredential(q.get('X-Amz-Credential')!),
    signedHeaders: q.get('X-Amz-SignedHeaders')!.toLowerCase().split(';'),
    signature: q.get('X-Amz-Signature')!,
    date: q.get('X-Amz-Date')!,
    sessionToken: q.get('X-Amz-Security-Token') ?? undefined,
    expires: +expiresRaw,
  };
}

/** Verify a SigV4-signed request made with STS-issued credentials. Throws StsError with AWS's codes. */
export async function verifySigV4(
  req: SignedRequest,
  opts: { now: number; keys: readonly Buffer[]; partition?: string },
): Promise<VerifiedCaller> {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-type-assertion -- without staticKeys every caller has a session
  return (await verifySigV4Any(req, {
    now: opts.now,
    keys: opts.keys,
    partition: opts.partition,
  })) as VerifiedCaller;
}

/** verifySigV4 for a given service, also accepting long-term `staticKeys` (then `session` is undefined). */
export async function verifySigV4Any(req: SignedRequest, opts: VerifyOptions): Promise<VerifiedAnyCaller> {
  const service = opts.service ?? 'sts';
  const q = new URLSearchParams(req.query);
  const auth = header(req, 'authorization');
  const algorithm = q.get('X-Amz-Algorithm');
  const presigned = auth === undefined;
  let a: AuthParts;
  if (auth !== undefined) a = fromHeader(req, auth);
  else if (algorithm !== null) a = fromQuery(q, algorithm);
  else if (header(req, 'x-amz-security-token') !== undefined)
    throw new StsError(
      'InvalidClientTokenId',
      MSG.invalidClientTokenId,
      'a session token header came without a signature',
    );
  else throw new StsError('MissingAuthenticationToken', MSG.missingAuth);

  // Credentials first: an unknown or forged session token is InvalidClientTokenId whatever the signature.
  const staticSecret = a.sessionToken ? undefined : opts.staticKeys?.(a.accessKeyId);
  if (!a.sessionToken && staticSecret === undefined)
    throw new StsError(
      'InvalidClientTokenId',
      MSG.invalidClientTokenId,
      `access key ${a.accessKeyId} came without a session token; this STS issues only temporary credentials`,
    );
  const session = a.sessionToken ? openSession(a.sessionToken, opts.keys) : undefined;
  if (a.sessionToken && !session)
    throw new StsError(
      'InvalidClientTokenId',
      MSG.invalidClientTokenId,
      'the session token was not issued by this STS (or its session key changed)',
    );
  if (session && session.accessKeyId !== a.accessKeyId)
    throw new StsError(
      'InvalidClientTokenId',
      MSG.invalidClientTokenId,
      `access key ${a.accessKeyId} does not belong to the session token`,
    );
  if (session && opts.now >= session.expiresAt)
    throw new StsError(
      'ExpiredToken',
      MSG.expiredToken,
      `the session expired at ${new Date(session.expiresAt).toISOString()}`,
    );

  const signedAt = parseAmzDate(a.date);
  if (signedAt === undefined)
    throw incomplete(
      `Date must be in ISO-8601 'basic format'. Got '${a.date}'. See http://en.wikipedia.org/wiki/ISO_8601`,
    );
  if (a.scopeDate !== a.date.slice(0, 8))
    throw mismatch(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${a.scopeDate}' != '${a.date.slice(0, 8)}', from '${a.date}'.`,
    );
  if (a.service !== service) throw mismatch(`Credential should be scoped to correct service: '${service}'. `);
  // AWS's two wordings: no region at all, or another partition's region (e.g. cn-north-1 at an aws endpoint).
  const regionPartition = partitionOfRegion(a.region);
  if (regionPartition === undefined) throw mismatch('Credential should be scoped to a valid region. ');
  if (regionPartition !== (opts.partition ?? 'aws'))
    throw mismatch(`Credential should be scoped to a valid region, not '${a.region}'. `);
  const now = amzDate(opts.now);
  if (presigned) {
    if (signedAt > opts.now + SKEW_MS)
      throw mismatch(
        `Signature not yet current: ${a.date} is still later than ${amzDate(opts.now + SKEW_MS)} (${now} + 5 min.)`,
      );
    if (opts.now > signedAt + a.expires! * 1000)
      throw mismatch(
        `Signature expired: ${amzDate(signedAt + a.expires! * 1000)} is now earlier than ${now}`,
      );
  } else {
    if (signedAt < opts.now - SKEW_MS)
      throw mismatch(
        `Signature expired: ${a.date} is now earlier than ${amzDate(opts.now - SKEW_MS)} (${now} - 5 min.)`,
      );
    if (signedAt > opts.now + SKEW_MS)
      throw mismatch(
        `Signature not yet current: ${a.date} is still later than ${amzDate(opts.now + SKEW_MS)} (${now} + 5 min.)`,
      );
  }
  if (!a.signedHeaders.includes('host'))
    throw mismatch(MSG.signatureMismatch, "the signed headers do not include 'host'");

  const signer = new SignatureV4({
    service: a.service,
    region: a.region,
    credentials: {
      accessKeyId: a.accessKeyId,
      secretAccessKey: session ? session.secretAccessKey : staticSecret!,
      // presign puts the token back into the query; a token header the client signed is among `headers` below.
      sessionToken: presigned ? a.sessionToken : undefined,
    },
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const headers: Record<string, string> = {};
  for (const name of a.signedHeaders) {
    const v = header(req, name);
    if (v === undefined) throw mismatch(MSG.signatureMismatch, `signed header ${name} is not in the request`);
    headers[name] = v;
  }
  // smithy trusts a signed x-amz-content-sha256 as the payload hash, so check it against the body we got.
  const declaredHash = headers['x-amz-content-sha256'];
  if (declaredHash !== undefined) {
    const actual = createHash('sha256').update(req.body).digest('hex');
    if (declaredHash !== actual)
      throw mismatch(
        MSG.signatureMismatch,
        declaredHash === 'UNSIGNED-PAYLOAD'
          ? 'UNSIGNED-PAYLOAD is not accepted: STS parameters travel in the body'
          : 'x-amz-content-sha256 does not match the body',
      );
  }
  // A presigned URL's X-Amz-* parameters stay: presign sets each from the parsed values, and leaves the signature out.
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of q) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const request: HttpRequest = {
    method: req.method,
    // Required by the type, not read when signing: SigV4 signs the host header as received.
    protocol: 'https:',
    hostname: '',
    path: req.path,
    query,
    headers,
    // A presigned request's canonical request holds the hash of its body too (only S3 uses UNSIGNED-PAYLOAD;
    // botocore's SigV4QueryAuth moves the body into the query and signs the empty payload). So a body added
    // to a presigned URL is refused as AWS refuses it, and cannot smuggle in unsigned parameters.
    body: req.body,
  };
  const signingDate = new Date(signedAt);
  const signableHeaders = new Set(a.signedHeaders);
  let expected: string;
  if (presigned) {
    const out = await signer.presign(request, {
      signingDate,
      expiresIn: a.expires,
      signableHeaders,
      unhoistableHeaders: signableHeaders,
    });
    expected = String(out.query!['X-Amz-Signature']);
  } else {
    const out = await signer.sign(request, { signingDate, signableHeaders });
    // `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=` and the signature's 64 hex digits.
    expected = out.headers.authorization!.slice(-64);
  }
  const got = Buffer.from(a.signature);
  const want = Buffer.from(expected);
  if (got.length !== want.length || !timingSafeEqual(got, want))
    throw mismatch(
      MSG.signatureMismatch,
      'the recomputed SigV4 signature differs (wrong secret, or the request changed after signing)',
    );
  return { session, presigned, region: a.region, accessKeyId: a.accessKeyId };
}
