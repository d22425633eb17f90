// What mutation testing of src/sts/sigv4.ts showed no test held (issue 10): the parsing of the Authorization
// header, the presigned query and X-Amz-Date with AWS's exact answers, the skew boundaries, a signature signed at
// a time that is not a whole minute, long-term keys, and the hash input forms smithy hands to NodeSha256.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  NodeSha256,
  SKEW_MS,
  hasSigV4,
  verifySigV4,
  verifySigV4Any,
  type SignedRequest,
} from '../../../src/sts/sigv4.js';
import { MSG, StsError } from '../../../src/sts/protocol.js';
import { stsOutcome } from '../../helpers/sts-fixtures.js';
import {
  GET_CALLER_IDENTITY as BODY,
  presignedGet,
  sessionCredentials,
} from '../../helpers/sigv4-requests.js';

const KEY = Buffer.alloc(32, 3);
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const creds = sessionCredentials(KEY, T0 - 60_000);
const MISMATCH = `SignatureDoesNotMatch: ${MSG.signatureMismatch}`;
const v = (r: SignedRequest, now = T0) => stsOutcome(verifySigV4(r, { now, keys: [KEY] }));

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

/** Header form, signed by smithy as an SDK signs; `extra` headers are signed too. */
async function headerSigned(
  at: number,
  opts: {
    credentials?: Credentials;
    query?: Record<string, string | string[]>;
    extra?: Record<string, string>;
    unsignable?: string[];
    /** false: no x-amz-content-sha256 header (botocore signs STS requests so). */
    applyChecksum?: boolean;
  } = {},
): Promise<SignedRequest> {
  const signer = new SignatureV4({
    service: 'sts',
    region: 'us-east-1',
    credentials: opts.credentials ?? creds,
    sha256: NodeSha256,
    applyChecksum: opts.applyChecksum ?? true,
  });
  const out = await signer.sign(
    {
      method: 'POST',
      protocol: 'https:',
      hostname: 'sts.local',
      path: '/',
      headers: { host: 'sts.local', 'content-type': 'application/x-www-form-urlencoded', ...opts.extra },
      query: opts.query ?? {},
      body: BODY,
    },
    { signingDate: new Date(at), unsignableHeaders: new Set(opts.unsignable ?? []) },
  );
  const headers: Record<string, string> = {};
  for (const [k, val] of Object.entries(out.headers)) headers[k.toLowerCase()] = val;
  const query = new URLSearchParams();
  for (const [k, val] of Object.entries(opts.query ?? {}))
    for (const one of Array.isArray(val) ? val : [val]) query.append(k, one);
  return { method: 'POST', path: '/', query: query.toString(), headers, body: BODY };
}

const stsSigner = new SignatureV4({
  service: 'sts',
  region: 'us-east-1',
  credentials: creds,
  sha256: NodeSha256,
});
const presigned = (at: number, expiresIn = 60) => presignedGet(stsSigner, at, { expiresIn });

const withAuth = (r: SignedRequest, f: (auth: string) => string): SignedRequest => ({
  ...r,
  headers: { ...r.headers, authorization: f(String(r.headers.authorization)) },
});
const withQuery = (r: SignedRequest, f: (q: URLSearchParams) => void): SignedRequest => {
  const q = new URLSearchParams(r.query);
  f(q);
  return { ...r, query: q.toString() };
};

test('hasSigV4: an Authorization header, X-Amz-Algorithm or X-Amz-Signature each mark a SigV4 request', () => {
  const r = (headers: SignedRequest['headers']): SignedRequest => ({
    method: 'GET',
    path: '/',
    query: '',
    headers,
    body: '',
  });
  assert.equal(hasSigV4(r({}), new URLSearchParams('Action=GetCallerIdentity')), false);
  assert.equal(hasSigV4(r({ authorization: 'x' }), new URLSearchParams()), true);
  assert.equal(hasSigV4(r({}), new URLSearchParams('X-Amz-Algorithm=x')), true);
  assert.equal(hasSigV4(r({}), new URLSearchParams('X-Amz-Signature=x')), true);
  assert.equal(hasSigV4(r({ 'x-amz-security-token': 'x' }), new URLSearchParams('X-Amz-Date=x')), false);
});

test('a signature made at a time that is not a whole minute verifies (every field of X-Amz-Date counts)', async () => {
  assert.equal(await v(await headerSigned(T0 + 37_000)), 'ok');
  assert.equal(await v(await presigned(T0 + 37_000), T0 + 40_000), 'ok');
});

test('X-Amz-Date and the credential scope date: AWS answers, exactly', async () => {
  const ok = await headerSigned(T0);
  const date = String(ok.headers['x-amz-date']);
  for (const bad of [`${date}x`, `x${date}`, 'garbage'])
    assert.equal(
      await v({ ...ok, headers: { ...ok.headers, 'x-amz-date': bad } }),
      `IncompleteSignature: Date must be in ISO-8601 'basic format'. Got '${bad}'. See http://en.wikipedia.org/wiki/ISO_8601`,
      bad,
    );
  const { 'x-amz-date': _, ...noDate } = ok.headers;
  assert.equal(
    await v({ ...ok, headers: noDate }),
    "IncompleteSignature: Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
  );
  assert.equal(
    await v({ ...ok, headers: { ...ok.headers, 'x-amz-date': '20251231T120000Z' } }),
    "SignatureDoesNotMatch: Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260101' != '20251231', from '20251231T120000Z'.",
  );
});

test('an X-Amz-Date of the right shape that is not a real UTC time is malformed, in both forms', async () => {
  // Date.UTC would roll month 13, April 31 or 24:00 over into a later time; AWS reads the date strictly and answers
  // a date it cannot read with IncompleteSignature, whatever the credential scope says.
  const ok = await headerSigned(T0);
  const p = await presigned(T0);
  const malformed = (bad: string) =>
    `IncompleteSignature: Date must be in ISO-8601 'basic format'. Got '${bad}'. See http://en.wikipedia.org/wiki/ISO_8601`;
  for (const bad of [
    '20261301T120000Z',
    '20260001T120000Z',
    '20260132T120000Z',
    '20260100T120000Z',
    '20260431T120000Z',
    '20260229T120000Z',
    '20260101T250000Z',
    '20260101T240000Z',
    '20260101T126000Z',
    '20260101T120060Z',
  ]) {
    assert.equal(await v({ ...ok, headers: { ...ok.headers, 'x-amz-date': bad } }), malformed(bad), bad);
    assert.equal(await v(withQuery(p, (q) => q.set('X-Amz-Date', bad))), malformed(bad), `presigned ${bad}`);
  }
  // A leap day is a real date: it gets as far as the credential scope check.
  assert.equal(
    await v({ ...ok, headers: { ...ok.headers, 'x-amz-date': '20240229T120000Z' } }),
    "SignatureDoesNotMatch: Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260101' != '20240229', from '20240229T120000Z'.",
  );
});

test('the Authorization header: its parts, separators and AWS answers', async () => {
  const ok = await headerSigned(T0);
  assert.equal(await v(withAuth(ok, (a) => `  ${a}  `)), 'ok', 'surrounding whitespace');
  assert.equal(await v(withAuth(ok, (a) => a.replace(/, /g, ' , '))), 'ok', 'whitespace around separators');
  assert.equal(
    await v(withAuth(ok, () => 'Basic')),
    "IncompleteSignature: Unsupported AWS 'algorithm': 'Basic'",
  );
  assert.equal(
    await v(withAuth(ok, () => 'Basic abc')),
    "IncompleteSignature: Unsupported AWS 'algorithm': 'Basic'",
  );
  assert.equal(
    await v(withAuth(ok, () => 'AWS4-HMAC-SHA256 Credential=x')),
    "IncompleteSignature: Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.",
  );
  // A part without '=' is not a parameter, even when its name starts like one.
  assert.equal(
    await v(withAuth(ok, (a) => a.replace(/Signature=[0-9a-f]+/, 'SignatureX'))),
    "IncompleteSignature: Authorization header requires 'Signature' parameter.",
  );
  const cred = /Credential=([^,]+)/.exec(String(ok.headers.authorization))![1]!;
  const [id, day] = cred.split('/');
  for (const bad of [
    `${id}/${day}/us-east-1/sts`,
    `${id}/${day}/us-east-1/sts/aws4`,
    `${id}/2026011/us-east-1/sts/aws4_request`,
    `${id}/x20260101/us-east-1/sts/aws4_request`,
    `${id}/20260101x/us-east-1/sts/aws4_request`,
    `${cred}/x`,
  ])
    assert.equal(
      await v(withAuth(ok, (a) => a.replace(cred, bad))),
      `IncompleteSignature: Credential should be scoped to a valid region, service and terminator: 'aws4_request'. Credential=${id}/...`,
      bad,
    );
  // A signature of another length is a mismatch like any other (never an exception from the comparison).
  assert.equal(await v(withAuth(ok, (a) => a.replace(/(Signature=[0-9a-f]+)/, '$1ab'))), MISMATCH);
});

test('the presigned query: missing or unsupported parameters get AWS answers, exactly', async () => {
  const p = await presigned(T0);
  assert.equal(
    await v(withQuery(p, (q) => q.set('X-Amz-Algorithm', 'junk'))),
    "IncompleteSignature: Unsupported AWS 'algorithm': 'junk'",
  );
  assert.equal(
    await v(withQuery(p, (q) => (q.delete('X-Amz-Signature'), q.delete('X-Amz-Date')))),
    'IncompleteSignature: Query-string authentication requires the X-Amz-Signature parameter. Query-string authentication requires the X-Amz-Date parameter.',
  );
  assert.equal(
    await v(withQuery(p, (q) => q.set('X-Amz-Credential', ''))),
    'IncompleteSignature: Query-string authentication requires the X-Amz-Credential parameter.',
  );
  assert.equal(
    await v(await presigned(T0), T0 + 61_000),
    'SignatureDoesNotMatch: Signature expired: 20260101T120100Z is now earlier than 20260101T120101Z',
  );
});

test('skew: exactly five minutes either way is still current, in both forms', async () => {
  assert.equal(await v(await headerSigned(T0), T0 + SKEW_MS), 'ok');
  assert.equal(await v(await headerSigned(T0), T0 - SKEW_MS), 'ok');
  assert.equal(await v(await presigned(T0, 900), T0 - SKEW_MS), 'ok');
});

test('a session token header without a signature is InvalidClientTokenId', async () => {
  assert.equal(
    await v({ method: 'POST', path: '/', query: '', headers: { 'x-amz-security-token': 'x' }, body: BODY }),
    'InvalidClientTokenId: The security token included in the request is invalid.',
  );
});

test('signed headers: a token header the client did not sign, a missing one, a repeated one', async () => {
  // Some clients send the session token unsigned: it must not be added to what is recomputed.
  const unsignedToken = await headerSigned(T0, { unsignable: ['x-amz-security-token'] });
  assert.doesNotMatch(String(unsignedToken.headers.authorization), /x-amz-security-token/);
  assert.equal(await v(unsignedToken), 'ok');
  // Without x-amz-content-sha256 among the signed headers, none may be added to what is recomputed.
  const noChecksum = await headerSigned(T0, { applyChecksum: false });
  assert.doesNotMatch(String(noChecksum.headers.authorization), /x-amz-content-sha256/);
  assert.equal(await v(noChecksum), 'ok');
  const withFoo = await headerSigned(T0, { extra: { 'x-foo': 'a,b' } });
  assert.equal(await v(withFoo), 'ok');
  assert.equal(await v({ ...withFoo, headers: { ...withFoo.headers, 'x-foo': ['a', 'b'] } }), 'ok', 'a list');
  const { 'x-foo': _, ...missing } = withFoo.headers;
  assert.equal(await v({ ...withFoo, headers: missing }), MISMATCH);
  await assert.rejects(
    verifySigV4({ ...withFoo, headers: missing }, { now: T0, keys: [KEY] }),
    (e: unknown) => e instanceof StsError && e.explanation === 'signed header x-foo is not in the request',
  );
});

test('a query parameter given three times is signed with all three values', async () => {
  const r = await headerSigned(T0, { query: { a: ['1', '2', '3'] } });
  assert.equal(await v(r), 'ok');
  assert.equal(await v({ ...r, query: 'a=1&a=2' }), MISMATCH);
});

test('long-term keys (the IAM API admin key): accepted only through staticKeys', async () => {
  const admin = { accessKeyId: 'AKIAADMINADMINADMIN1', secretAccessKey: 'a'.repeat(40) };
  const r = await headerSigned(T0, { credentials: admin });
  const staticKeys = (id: string) => (id === admin.accessKeyId ? admin.secretAccessKey : undefined);
  const caller = await verifySigV4Any(r, { now: T0, keys: [KEY], staticKeys });
  assert.equal(caller.accessKeyId, admin.accessKeyId);
  assert.equal(caller.session, undefined);
  assert.match(await stsOutcome(verifySigV4Any(r, { now: T0, keys: [KEY] })), /^InvalidClientTokenId/);
});

test('NodeSha256 hashes the bytes of any input form smithy passes (string, view, ArrayBuffer)', async () => {
  const want = createHash('sha256').update('data').digest('hex');
  const hash = async (input: string | ArrayBuffer | ArrayBufferView) => {
    const h = new NodeSha256();
    h.update(input);
    return Buffer.from(await h.digest()).toString('hex');
  };
  assert.equal(await hash('data'), want);
  assert.equal(await hash(Buffer.from('xxdata').subarray(2)), want, 'a view with an offset');
  assert.equal(await hash(new Uint16Array([0x6164, 0x6174])), want, 'a view of 2-byte elements: its bytes');
  assert.equal(await hash(new Uint8Array(Buffer.from('data')).buffer), want, 'an ArrayBuffer');
});
