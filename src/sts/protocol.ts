/**
 * The AWS Query protocol of STS: parameter parsing and validation, XML rendering, and the one table of error
 * codes, HTTP statuses and messages (STS API Reference; botocore sts/2011-06-15/service-2.json). Everything here is pure.
 */

import { xmlSafe } from '../escape.js';
import { OpenIrsaError } from '../errors.js';

export const API_VERSION = '2011-06-15';
export const XML_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** Every error code the endpoint can return, with its HTTP status and SOAP-ish fault type. */
export const ERROR_STATUS = {
  InvalidIdentityToken: 400,
  ExpiredTokenException: 400,
  IDPRejectedClaim: 403,
  IDPCommunicationError: 400,
  AccessDenied: 403,
  MalformedPolicyDocument: 400,
  PackedPolicyTooLarge: 400,
  ValidationError: 400,
  InvalidAction: 400,
  MissingAction: 400,
  InvalidParameterValue: 400,
  InvalidClientTokenId: 403,
  ExpiredToken: 403,
  SignatureDoesNotMatch: 403,
  IncompleteSignature: 400,
  MissingAuthenticationToken: 403,
  RequestEntityTooLarge: 413,
  MethodNotAllowed: 405,
  InternalFailure: 500,
} as const;

export type StsErrorCode = keyof typeof ERROR_STATUS;

/** AWS's own wording, as STS returns it (docs/sts.md). Functions where AWS interpolates values. */
export const MSG = {
  notJwt: 'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)',
  noProvider: (iss: string) => `No OpenIDConnect provider found in your account for ${iss}`,
  incorrectAudience: 'Incorrect token audience',
  missingClaim: (claim: string) => `Missing a required claim: ${claim}`,
  // The double space is AWS's (aws-sdk-rust#827).
  keyRetrieval:
    "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
  thumbprint: "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint",
  // Inferred wording (AWS documents no text for these).
  unsupportedAlg: (alg: string) => `Unsupported token signing algorithm: ${alg}`,
  badSignature: 'The signature of the ID Token could not be verified',
  invalidNumericDate: (claim: string) => `Invalid claim ${claim}: NumericDate must be an integer`,
  notYetValid: (now: number, nbf: number) =>
    `Token not yet valid: current date/time ${now} must be after the not-before date/time ${nbf}`,
  issuedInFuture: (now: number, iat: number) =>
    `Token issued in the future: current date/time ${now} must be after the issued-at date/time ${iat}`,
  invalidSessionTags: (why: string) => `Invalid session tags in the ID Token: ${why}`,
  invalidSourceIdentity: 'Invalid source identity in the ID Token',
  // "(sic, no space)" before the expiration value, as AWS sends it.
  tokenExpired: (now: number, exp: number) =>
    `Token expired: current date/time ${now} must be before the expiration date/time${exp}`,
  tokenTooOld: (age: number) => `Token too old: ${age}`,
  notAuthorizedWebIdentity: 'Not authorized to perform sts:AssumeRoleWithWebIdentity',
  notAuthorizedAssumeRole: (caller: string, role: string) =>
    `User: ${caller} is not authorized to perform: sts:AssumeRole on resource: ${role}`,
  durationExceedsMax: 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
  chainingLimit:
    'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
  packedTooLarge: (percent: number) =>
    `Packed policy consumes ${percent}% of allotted space, please use smaller policy.`,
  invalidAction: (action: string, version: string) =>
    `Could not find operation ${action} for version ${version}`,
  missingAction: 'Missing Action',
  invalidClientTokenId: 'The security token included in the request is invalid.',
  expiredToken: 'The security token included in the request is expired',
  signatureMismatch:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  missingAuth: 'Request is missing Authentication Token',
  bodyTooLarge: (limit: number) => `Request body exceeds the limit of ${limit} bytes`,
  methodNotAllowed: (m: string) => `The HTTP method ${m} is not allowed; use GET or POST`,
  internal: 'An internal error occurred; the request was not processed',
} as const;

/**
 * An error returned to the client as AWS error XML. `explanation` is for logs and `openirsa explain` only (the
 * wire carries AWS's message; it never carries a token or a secret).
 */
export class StsError extends OpenIrsaError<StsErrorCode> {
  readonly status: number;
  /** Per-statement reasons (trust-policy denials), for the denial log. */
  details?: string[];
  constructor(
    code: StsErrorCode,
    message: string,
    readonly explanation?: string,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.status = ERROR_STATUS[code];
  }
  get type(): 'Sender' | 'Receiver' {
    return this.status >= 500 ? 'Receiver' : 'Sender';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters

export type Params = Map<string, string>;

/**
 * One form component as URLSearchParams decodes it: `+` is a space, then percent-decoding as UTF-8. Undefined when
 * decodeURIComponent would differ from the WHATWG decoder (a malformed escape or invalid UTF-8, which WHATWG keeps
 * literally or replaces with U+FFFD): the caller then falls back to URLSearchParams.
 */
function formDecode(s: string): string | undefined {
  const plus = s.indexOf('+') >= 0;
  if (!plus && s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(plus ? s.replace(/\+/g, ' ') : s);
  } catch {
    return undefined;
  }
}

/** Fast path of parseParams; undefined when any component needs URLSearchParams's exact error handling. */
function parseFormFast(source: string, params: Params): boolean {
  // Lone surrogates are replaced by U+FFFD by URLSearchParams; such input takes the slow path.
  if (/[\uD800-\uDFFF]/.test(source)) return false;
  const found: Array<[string, string]> = [];
  let start = 0;
  while (start <= source.length) {
    let end = source.indexOf('&', start);
    if (end < 0) end = source.length;
    if (end > start) {
      const eq = source.indexOf('=', start);
      const hasValue = eq >= 0 && eq < end;
      const name = formDecode(source.slice(start, hasValue ? eq : end));
      const value = hasValue ? formDecode(source.slice(eq + 1, end)) : '';
      if (name === undefined || value === undefined) return false;
      found.push([name, value]);
    }
    start = end + 1;
  }
  for (const [k, v] of found) if (!params.has(k)) params.set(k, v);
  return true;
}

/** Form / query string to a parameter map; a repeated name keeps its first value (as AWS does). */
export function parseParams(...sources: string[]): Params {
  const params: Params = new Map();
  for (const source of sources) {
    if (!source) continue;
    // The same result as URLSearchParams (tested against it), without its per-call object and iterator.
    if (parseFormFast(source, params)) continue;
    for (const [k, v] of new URLSearchParams(source)) if (!params.has(k)) params.set(k, v);
  }
  return params;
}

/** One field's constraint failure, rendered in AWS's "N validation errors detected: ..." form. */
export interface Violation {
  field: string;
  value: string | undefined;
  constraint: string;
  /** Sensitive members (the token) are never echoed back. */
  sensitive?: boolean;
}

/** AWS's "N validation errors detected: …" text (the Query model's constraint check, shared with IAM). */
export function validationMessage(violations: Violation[]): string {
  const n = violations.length;
  const parts = violations.map((v) => {
    const value = v.value === undefined ? 'Value null' : v.sensitive ? 'Value' : `Value '${v.value}'`;
    return `${value} at '${v.field}' failed to satisfy constraint: ${v.constraint}`;
  });
  return `${n} validation error${n > 1 ? 's' : ''} detected: ${parts.join('; ')}`;
}

export function validationError(violations: Violation[]): StsError {
  return new StsError('ValidationError', validationMessage(violations));
}

export interface StringRule {
  field: string;
  required?: boolean;
  min?: number;
  max?: number;
  pattern?: RegExp;
  patternText?: string;
  sensitive?: boolean;
}

/** Checks one string parameter against the model's constraints; pushes violations, returns the value. */
export function checkString(
  params: Params,
  name: string,
  rule: StringRule,
  out: Violation[],
): string | undefined {
  const value = params.get(name);
  const base = { field: rule.field, value, sensitive: rule.sensitive };
  if (value === undefined) {
    if (rule.required) out.push({ ...base, constraint: 'Member must not be null' });
    return undefined;
  }
  // Lengths count code points; only spread the string when it holds surrogate pairs (tokens are ASCII).
  const len = /[\uD800-\uDFFF]/.test(value) ? [...value].length : value.length;
  if (rule.min !== undefined && len < rule.min)
    out.push({ ...base, constraint: `Member must have length greater than or equal to ${rule.min}` });
  if (rule.max !== undefined && len > rule.max)
    out.push({ ...base, constraint: `Member must have length less than or equal to ${rule.max}` });
  if (rule.pattern && !rule.pattern.test(value))
    out.push({
      ...base,
      constraint: `Member must satisfy regular expression pattern: ${rule.patternText ?? rule.pattern.source}`,
    });
  return value;
}

export function checkInteger(
  params: Params,
  name: string,
  field: string,
  min: number,
  max: number,
  out: Violation[],
): number | undefined {
  const raw = params.get(name);
  if (raw === undefined) return undefined;
  if (!/^-?\d{1,15}$/.test(raw)) {
    out.push({ field, value: raw, constraint: 'Member must be an integer' });
    return undefined;
  }
  const n = Number(raw);
  if (n < min)
    out.push({ field, value: raw, constraint: `Member must have value greater than or equal to ${min}` });
  if (n > max)
    out.push({ field, value: raw, constraint: `Member must have value less than or equal to ${max}` });
  return n;
}

/** The model's patterns, as botocore's service-2.json writes them (tab, LF and CR are allowed on purpose). */
/* eslint-disable no-control-regex */
export const PATTERNS = {
  roleSessionName: { re: /^[\w+=,.@-]*$/, text: '[\\w+=,.@-]*' },
  arn: {
    re: /^[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]+$/u,
    text: '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+',
  },
  policy: { re: /^[\u0009\u000A\u000D\u0020-\u00FF]+$/, text: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+' },
  clientToken: {
    re: /^[\u0009\u000A\u000D\u0020-\u007E]+$/,
    text: '[\\u0009\\u000A\\u000D\\u0020-\\u007E]+',
  },
  externalId: { re: /^[\w+=,.@:/-]*$/, text: '[\\w+=,.@:\\/-]*' },
} as const;
/* eslint-enable no-control-regex */

/** `PolicyArns.member.N.arn` in order; stops at the first gap like AWS's list decoding. */
export function listParam(params: Params, prefix: string, field: string): string[] {
  const out: string[] = [];
  for (let i = 1; ; i++) {
    const v = params.get(`${prefix}.member.${i}.${field}`);
    if (v === undefined) break;
    out.push(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// XML

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' };

/**
 * Escapes element text (we write no attributes from data, so quotes stay as they are, like AWS's bodies).
 * Characters XML cannot carry (a NUL from a parameter) are written as `\uXXXX` so the body stays well-formed;
 * CR as a reference, which parsers keep (a literal CR is read as LF).
 */
export function xmlEscape(s: string): string {
  const text = xmlSafe(s);
  return /[&<>\r]/.test(text) ? text.replace(/[&<>\r]/g, (c) => XML_ESCAPES[c]!) : text;
}

function el(name: string, value: string | number | undefined): string {
  return value === undefined ? '' : `<${name}>${xmlEscape(String(value))}</${name}>`;
}

export interface CredentialsOut {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO 8601, seconds precision, UTC. */
  expiration: string;
}

export interface AssumedRoleOut {
  credentials: CredentialsOut;
  arn: string;
  assumedRoleId: string;
  sourceIdentity?: string;
  packedPolicySize?: number;
}

export interface WebIdentityOut extends AssumedRoleOut {
  subject: string;
  audience: string;
  provider: string;
}

// Element order as in AWS's documented responses (SessionToken, SecretAccessKey, Expiration, AccessKeyId; Arn
// before AssumedRoleId). Parsers do not care; people diffing bodies do.
// The four values are ours and escape-free by construction (base64, `ASIA` + base32, an ISO timestamp): written
// as they are, without scanning an 800-character session token for characters it cannot hold.
function credentialsXml(c: CredentialsOut): string {
  return (
    `<Credentials><SessionToken>${c.sessionToken}</SessionToken><SecretAccessKey>${c.secretAccessKey}</SecretAccessKey>` +
    `<Expiration>${c.expiration}</Expiration><AccessKeyId>${c.accessKeyId}</AccessKeyId></Credentials>`
  );
}

function assumedRoleUserXml(r: AssumedRoleOut): string {
  return `<AssumedRoleUser>${el('Arn', r.arn)}${el('AssumedRoleId', r.assumedRoleId)}</AssumedRoleUser>`;
}

function envelope(action: string, result: string, requestId: string): string {
  return (
    `<${action}Response xmlns="${XML_NS}">\n  <${action}Result>${result}</${action}Result>\n` +
    `  <ResponseMetadata><RequestId>${xmlEscape(requestId)}</RequestId></ResponseMetadata>\n</${action}Response>\n`
  );
}

export function renderWebIdentity(r: WebIdentityOut, requestId: string): string {
  return envelope(
    'AssumeRoleWithWebIdentity',
    el('SubjectFromWebIdentityToken', r.subject) +
      el('Audience', r.audience) +
      assumedRoleUserXml(r) +
      credentialsXml(r.credentials) +
      el('SourceIdentity', r.sourceIdentity) +
      el('Provider', r.provider) +
      el('PackedPolicySize', r.packedPolicySize),
    requestId,
  );
}

export function renderAssumeRole(r: AssumedRoleOut, requestId: string): string {
  return envelope(
    'AssumeRole',
    // AWS's AssumeRole sample puts SourceIdentity first.
    el('SourceIdentity', r.sourceIdentity) +
      assumedRoleUserXml(r) +
      credentialsXml(r.credentials) +
      el('PackedPolicySize', r.packedPolicySize),
    requestId,
  );
}

export interface CallerIdentityOut {
  arn: string;
  userId: string;
  account: string;
}

export function renderCallerIdentity(r: CallerIdentityOut, requestId: string): string {
  return envelope(
    'GetCallerIdentity',
    el('Arn', r.arn) + el('UserId', r.userId) + el('Account', r.account),
    requestId,
  );
}

/** The JSON form aws-iam-authenticator asks for with `Accept: application/json`. */
export function renderCallerIdentityJson(r: CallerIdentityOut, requestId: string): string {
  return JSON.stringify({
    GetCallerIdentityResponse: {
      GetCallerIdentityResult: { Arn: r.arn, UserId: r.userId, Account: r.account },
      ResponseMetadata: { RequestId: requestId },
    },
  });
}

/** AWS Query error XML; IAM's differs only in its namespace. */
export function renderError(
  err: { type: string; code: string; message: string },
  requestId: string,
  ns: string = XML_NS,
): string {
  return (
    `<ErrorResponse xmlns="${ns}">\n  <Error>\n    <Type>${err.type}</Type>\n    <Code>${err.code}</Code>\n` +
    `    <Message>${xmlEscape(err.message)}</Message>\n  </Error>\n  <RequestId>${xmlEscape(requestId)}</RequestId>\n</ErrorResponse>\n`
  );
}

export function renderErrorJson(err: StsError, requestId: string): string {
  return JSON.stringify({
    Error: { Code: err.code, Message: err.message, Type: err.type },
    RequestId: requestId,
  });
}

let lastIso = { second: NaN, text: '' };

/** `2014-10-24T23:00:23Z`: AWS's timestamp format (no milliseconds). */
export function isoSeconds(ms: number): string {
  const second = Math.floor(ms / 1000);
  // Every credential issued in one second expires in the same second: format it once.
  if (second !== lastIso.second)
    lastIso = { second, text: new Date(second * 1000).toISOString().replace('.000Z', 'Z') };
  return lastIso.text;
}
