/**
 * `POST /mutate` semantics (reference pkg/handler/handler.go `Handle`, `MutatePod`): AdmissionReview in (v1 or v1beta1, one wire shape),
 * AdmissionReview out with the request's TypeMeta and uid echoed, the reference's exact error texts, and the
 * JSON patch base64-encoded. Pure apart from the `lookup` call; never throws.
 */
import { loadYaml } from '../lazy-yaml.js';
import { MAX_ADMISSION_BODY_BYTES } from './constants.js';
import { goString } from './go/json-string.js';
import { jsonKind } from './go/type-check.js';
import { isJsonObject, parseGoJsonLossless } from './go/number.js';
import { goDecodeUtf8 } from './go/utf8.js';
import { exceedsGoDepth, GO_MAX_JSON_DEPTH, goJsonSyntaxError } from './go/json-syntax-error.js';
import { mutatePrepared, preparePod } from './mutate.js';
import type { IdentityLookup, MutationConfig, MutationResult } from './types.js';
import { OpenIrsaError, messageOf } from '../errors.js';

export { MAX_ADMISSION_BODY_BYTES };

export interface AdmissionInput {
  /** The request's Content-Type header (first value), undefined when absent. */
  contentType: string | undefined;
  body: Buffer;
  lookup: (namespace: string, serviceAccount: string) => Promise<IdentityLookup>;
  config: MutationConfig;
  random: () => number;
}

export interface AdmissionOutput {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The mutation, when a pod was decoded and looked up. */
  result?: MutationResult;
  pod?: { name: string; namespace: string; serviceAccount: string };
  /** Why the request was not admitted normally (decode error, bad content, ...), for the log line. */
  error?: string;
}

/** Go's http.Error headers. */
const TEXT_HEADERS = { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' };
/** The reference writes the JSON without a Content-Type, so Go sniffs this one. */
const SNIFFED_HEADERS = { 'content-type': 'text/plain; charset=utf-8' };

export const UNSUPPORTED_MEDIA_TYPE_BODY = 'Invalid Content-Type, expected `application/json`\n';
export const BAD_CONTENT = 'bad content';
const FIND_KIND_TYPE =
  'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }';

type Obj = Record<string, unknown>;
const isObj = isJsonObject;
const kindOf = jsonKind;

interface Echo {
  kind: string;
  apiVersion: string;
  uid: string;
}

interface ResponseFields {
  allowed: boolean;
  message?: string;
  patchJson?: string;
  warnings?: string[];
}

/** Largest scratch buffer kept for base64Utf8 (bigger patches get a buffer of their own). */
const SCRATCH_MAX_BYTES = 1024 * 1024;
let scratch: Buffer | undefined;

/**
 * base64 of the UTF-8 bytes of `s`, i.e. `Buffer.from(s, 'utf8').toString('base64')`, through one reused buffer:
 * a fresh Buffer per response costs an ArrayBuffer allocation (and GC work) that is a good part of the encoding.
 */
function base64Utf8(s: string): string {
  const max = s.length * 3; // UTF-8 bytes per UTF-16 code unit, at most (a lone surrogate becomes U+FFFD: 3)
  if (max > SCRATCH_MAX_BYTES) return Buffer.from(s, 'utf8').toString('base64');
  if (scratch === undefined || scratch.length < max)
    scratch = Buffer.allocUnsafeSlow(Math.min(SCRATCH_MAX_BYTES, Math.max(max, 64 * 1024)));
  const n = scratch.write(s, 0, 'utf8');
  return scratch.toString('base64', 0, n);
}

/** json.Marshal(AdmissionReview{TypeMeta, Response}) with the reference's key order. */
export function renderReview(echo: Echo, r: ResponseFields): string {
  let out = '{';
  if (echo.kind !== '') out += `"kind":${goString(echo.kind)},`;
  if (echo.apiVersion !== '') out += `"apiVersion":${goString(echo.apiVersion)},`;
  out += `"response":{"uid":${goString(echo.uid)},"allowed":${r.allowed ? 'true' : 'false'}`;
  if (r.message !== undefined) {
    out += `,"status":{"metadata":{}${r.message === '' ? '' : `,"message":${goString(r.message)}`}}`;
  }
  if (r.patchJson !== undefined) {
    out += `,"patch":"${base64Utf8(r.patchJson)}","patchType":"JSONPatch"`;
  }
  if (r.warnings !== undefined && r.warnings.length > 0)
    out += `,"warnings":[${r.warnings.map(goString).join(',')}]`;
  return out + '}}';
}

class DecodeFailure extends OpenIrsaError {
  constructor(message: string) {
    super('AdmissionBodyInvalid', message);
  }
}

/**
 * The UniversalDeserializer step: JSON when the body starts with `{` (after whitespace), YAML otherwise.
 * Returns the decoded document (null for an empty one) or throws DecodeFailure with the reference's message.
 * Invalid UTF-8 becomes one U+FFFD per byte and numbers keep their exact text where a double would not, as in Go.
 */
function decodeBody(body: Buffer, text: string, lossless: boolean): unknown {
  let start = 0;
  while (start < text.length && ' \t\r\n'.includes(text[start] as string)) start++;
  let doc: unknown;
  if (text[start] === '{') {
    try {
      doc = lossless ? parseGoJsonLossless(text) : JSON.parse(text);
    } catch {
      const msg = goJsonSyntaxError(text) ?? 'unexpected end of JSON input';
      throw new DecodeFailure(`couldn't get version/kind; json parse error: ${msg}`);
    }
    // Nesting deeper than the limit takes more than `limit` opening brackets, and a document JSON.parse accepted
    // closes each one: only a body of more than twice the limit can (most real pods are smaller, and skip the scan).
    if (body.length > 2 * GO_MAX_JSON_DEPTH + 1 && exceedsGoDepth(body)) {
      const msg = goJsonSyntaxError(text) ?? 'exceeded max depth';
      throw new DecodeFailure(`couldn't get version/kind; json parse error: ${msg}`);
    }
  } else {
    try {
      doc =
        text.trim() === '' ? null : (loadYaml().parse(text, { version: '1.1', uniqueKeys: false }) ?? null);
    } catch (e) {
      throw new DecodeFailure(`error converting YAML to JSON: yaml: ${messageOf(e).split('\n')[0]}`);
    }
  }
  if (doc !== null && !isObj(doc)) {
    throw new DecodeFailure(
      `couldn't get version/kind; json parse error: json: cannot unmarshal ${kindOf(doc)} into Go value of type ${FIND_KIND_TYPE}`,
    );
  }
  if (doc !== null) {
    // meta.Interpret: encoding/json (case-insensitive) into {apiVersion, kind}.
    for (const k of Object.keys(doc)) {
      const lk = k.toLowerCase();
      if ((lk === 'kind' || lk === 'apiversion') && doc[k] !== null && typeof doc[k] !== 'string') {
        const field = lk === 'kind' ? 'kind' : 'apiVersion';
        throw new DecodeFailure(
          `couldn't get version/kind; json parse error: json: cannot unmarshal ${kindOf(doc[k])} into Go struct field .${field} of type string`,
        );
      }
    }
  }
  return doc;
}

const REQUEST_STRING_FIELDS: Array<[string, string]> = [
  ['uid', 'types.UID'],
  ['name', 'string'],
  ['namespace', 'string'],
  ['operation', 'v1.Operation'],
  ['subResource', 'string'],
  ['requestSubResource', 'string'],
];
const REQUEST_OBJECT_FIELDS: Array<[string, string]> = [
  ['kind', 'v1.GroupVersionKind'],
  ['resource', 'v1.GroupVersionResource'],
  ['requestKind', 'v1.GroupVersionKind'],
  ['requestResource', 'v1.GroupVersionResource'],
  ['userInfo', 'v1.UserInfo'],
];

/** The case-sensitive typed decode into AdmissionReview: the first type error, Go-style, or undefined. */
function reviewTypeError(doc: Obj): string | undefined {
  const err = (v: unknown, struct: string, path: string, type: string): string =>
    `json: cannot unmarshal ${kindOf(v)} into Go struct field ${struct}.${path} of type ${type}`;
  for (const k of ['kind', 'apiVersion']) {
    const v = doc[k];
    if (v !== undefined && v !== null && typeof v !== 'string') return err(v, 'AdmissionReview', k, 'string');
  }
  for (const k of ['request', 'response']) {
    const v = doc[k];
    if (v !== undefined && v !== null && !isObj(v))
      return err(v, 'AdmissionReview', k, k === 'request' ? 'v1.AdmissionRequest' : 'v1.AdmissionResponse');
  }
  const req = doc.request;
  if (!isObj(req)) return undefined;
  for (const [k, type] of REQUEST_STRING_FIELDS) {
    const v = req[k];
    if (v !== undefined && v !== null && typeof v !== 'string')
      return err(v, 'AdmissionRequest', 'request.' + k, type);
  }
  for (const [k, type] of REQUEST_OBJECT_FIELDS) {
    const v = req[k];
    if (v !== undefined && v !== null && !isObj(v)) return err(v, 'AdmissionRequest', 'request.' + k, type);
  }
  const dry = req.dryRun;
  if (dry !== undefined && dry !== null && typeof dry !== 'boolean')
    return err(dry, 'AdmissionRequest', 'request.dryRun', 'bool');
  return undefined;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Handle one `/mutate` request. Never throws. */
export async function reviewAdmission(input: AdmissionInput): Promise<AdmissionOutput> {
  try {
    return await review(input);
  } catch (e) {
    // A bug or a failing lookup: let the API server apply the webhook's failurePolicy.
    const message = e instanceof Error ? e.message : String(e);
    return {
      status: 500,
      headers: { ...TEXT_HEADERS },
      body: 'internal error\n',
      error: `internal error: ${message}`,
    };
  }
}

async function review(input: AdmissionInput): Promise<AdmissionOutput> {
  if (input.contentType !== 'application/json') {
    return {
      status: 415,
      headers: { ...TEXT_HEADERS },
      body: UNSUPPORTED_MEDIA_TYPE_BODY,
      error: `unsupported Content-Type ${JSON.stringify(input.contentType ?? '')}`,
    };
  }
  if (input.body.length > MAX_ADMISSION_BODY_BYTES) {
    return {
      status: 413,
      headers: { ...TEXT_HEADERS },
      body: `request body too large: the limit is ${MAX_ADMISSION_BODY_BYTES} bytes\n`,
      error: `request body of ${input.body.length} bytes exceeds ${MAX_ADMISSION_BODY_BYTES}`,
    };
  }
  const echo: Echo = { kind: '', apiVersion: '', uid: '' };
  const deny = (message: string): AdmissionOutput => ({
    status: 200,
    headers: { ...SNIFFED_HEADERS },
    body: renderReview(echo, { allowed: false, message }),
    error: message,
  });

  const text = goDecodeUtf8(input.body);
  const attempt = async (lossless: boolean): Promise<AdmissionOutput | typeof INEXACT> => {
    let doc: unknown;
    try {
      doc = decodeBody(input.body, text, lossless);
    } catch (e) {
      if (e instanceof DecodeFailure) return deny(e.message);
      throw e;
    }
    return reviewDecoded(doc, input, echo, deny, lossless);
  };
  try {
    // JSON.parse first; a pod holding a number a double may not spell exactly is read again, losslessly.
    const out = await attempt(false);
    return out === INEXACT ? ((await attempt(true)) as AdmissionOutput) : out;
  } catch (e) {
    // JSON.parse accepts nesting that Go's scanner rejects (depth > 10000) and that our recursive walks cannot
    // handle: answer as Go does.
    if (e instanceof RangeError) {
      const msg = goJsonSyntaxError(text);
      if (msg !== undefined) return deny(`couldn't get version/kind; json parse error: ${msg}`);
    }
    throw e;
  }
}

/** reviewDecoded's answer when the pod must be decoded again with parseGoJsonLossless (never after it was). */
const INEXACT = Symbol('inexact number');

async function reviewDecoded(
  doc: unknown,
  input: AdmissionInput,
  echo: Echo,
  deny: (message: string) => AdmissionOutput,
  lossless: boolean,
): Promise<AdmissionOutput | typeof INEXACT> {
  if (!isObj(doc)) return deny(BAD_CONTENT);
  // Go keeps decoding after a type error, so whatever was well-typed is echoed.
  if (typeof doc.kind === 'string') echo.kind = doc.kind;
  if (typeof doc.apiVersion === 'string') echo.apiVersion = doc.apiVersion;
  const request = doc.request;
  if (isObj(request) && typeof request.uid === 'string') echo.uid = request.uid;
  const typeErr = reviewTypeError(doc);
  if (typeErr !== undefined) return deny(typeErr);
  if (!isObj(request)) return deny(BAD_CONTENT);

  // MutatePod: decode request.object as a core/v1 Pod.
  const namespace = str(request.namespace);
  const raw = request.object;
  const prep = preparePod(raw === undefined ? null : raw);
  if (prep.inexactNumber && !lossless) return INEXACT;
  if ('error' in prep) return deny(prep.error);
  const pod = prep.prepared.pod;
  const metadata = isObj(pod.metadata) ? pod.metadata : undefined;
  const spec = isObj(pod.spec) ? pod.spec : undefined;
  const podInfo = {
    name: str(metadata?.name) || str(metadata?.generateName),
    namespace,
    serviceAccount: str(spec?.serviceAccountName),
  };

  const lookup = await input.lookup(namespace, podInfo.serviceAccount);
  const result = mutatePrepared(prep.prepared, namespace, lookup, input.config, input.random);
  return {
    status: 200,
    headers: { ...SNIFFED_HEADERS },
    body: renderReview(echo, { allowed: true, patchJson: result.patchJson, warnings: result.warnings }),
    result,
    pod: podInfo,
  };
}
