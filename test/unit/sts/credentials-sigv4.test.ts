import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  accountOfAccessKeyId,
  openSession,
  sealSession,
  secretAccessKey,
  sessionArn,
  temporaryAccessKeyId,
  type IssueInput,
  type IssuedCredentials,
} from '../../../src/sts/credentials.js';
import { NodeSha256, verifySigV4, type SignedRequest } from '../../../src/sts/sigv4.js';
import { MSG } from '../../../src/sts/protocol.js';
import { stsOutcome } from '../../helpers/sts-fixtures.js';
import { presignedGet, sessionCredentials, signedPost } from '../../helpers/sigv4-requests.js';

const KEY = Buffer.alloc(32, 1);
const OTHER = Buffer.alloc(32, 2);
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function issue(over: Partial<IssueInput> = {}): IssuedCredentials {
  return sessionCredentials(KEY, T0, { sessionName: 's1', ...over });
}

test('credentials have AWS shapes and the key id encodes the account', () => {
  const c = issue();
  assert.match(c.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
  assert.equal(c.secretAccessKey.length, 40);
  assert.match(c.secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
  assert.equal(c.expiration.toISOString(), '2026-01-01T13:00:00.000Z');
  assert.equal(accountOfAccessKeyId(c.accessKeyId), '111122223333');
  for (const acct of ['000000000001', '999999999999', '123456789012'])
    assert.equal(accountOfAccessKeyId(temporaryAccessKeyId(acct)), acct);
  assert.equal(sessionArn(c.session), 'arn:aws:sts::111122223333:assumed-role/r/s1');
});

test('issued values hold no character XML escapes (the response writes them as they are)', () => {
  // The extremes of the random bytes too: all zeros and all ones.
  for (const random of [undefined, (n: number) => Buffer.alloc(n, 0), (n: number) => Buffer.alloc(n, 0xff)]) {
    for (let i = 0; i < 20; i++) {
      const c = sessionCredentials(
        KEY,
        T0,
        { roleName: 'r<&>', sessionName: 's&1', tags: { '<t>': 'a&b' } },
        random,
      );
      assert.match(c.sessionToken, /^[A-Za-z0-9+/]+={0,2}$/);
      assert.match(c.secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
      assert.match(c.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
      assert.equal(accountOfAccessKeyId(c.accessKeyId), '111122223333');
    }
  }
});

test('session token round trip; secret only recoverable with the key; tampering and other keys fail', () => {
  const c = issue({ tags: { team: 'a' }, sourceIdentity: 'alice' });
  assert.ok(!c.sessionToken.includes(c.secretAccessKey));
  assert.ok(!Buffer.from(c.sessionToken, 'base64').toString('latin1').includes('alice'));
  const s = openSession(c.sessionToken, [KEY]);
  assert.equal(s?.secretAccessKey, c.secretAccessKey);
  assert.deepEqual(s?.tags, { team: 'a' });
  assert.equal(openSession(c.sessionToken, [OTHER]), undefined);
  assert.ok(openSession(c.sessionToken, [OTHER, KEY]), 'rotation: a previous key still opens');
  const raw = Buffer.from(c.sessionToken, 'base64');
  raw[raw.length - 20] = raw[raw.length - 20]! ^ 1;
  assert.equal(openSession(raw.toString('base64'), [KEY]), undefined);
  assert.equal(openSession('garbage', [KEY]), undefined);
  assert.equal(openSession('!'.repeat(100), [KEY]), undefined);
  assert.ok(openSession(sealSession(c.session, OTHER), [KEY, OTHER]));
});

async function signed(
  c: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  at: number,
  opts: { presign?: boolean; body?: string; service?: string; expiresIn?: number; region?: string } = {},
): Promise<SignedRequest> {
  const signer = new SignatureV4({
    service: opts.service ?? 'sts',
    region: opts.region ?? 'us-east-1',
    credentials: c,
    sha256: NodeSha256,
  });
  return opts.presign
    ? presignedGet(signer, at, { expiresIn: opts.expiresIn })
    : signedPost(signer, at, opts.body);
}

test('SigV4 header form: valid, tampered, wrong secret, skew, expiry, forged token', async () => {
  const c = issue();
  const v = (r: SignedRequest, now = T0 + 1000) => verifySigV4(r, { now, keys: [KEY] });
  const ok = await signed(c, T0);
  assert.equal((await v(ok)).session.roleName, 'r');
  assert.match(
    await stsOutcome(v({ ...ok, body: ok.body + '&x=1' })),
    /^SignatureDoesNotMatch: The request signature we calculated/,
  );
  assert.match(
    await stsOutcome(v(await signed({ ...c, secretAccessKey: 'x'.repeat(40) }, T0))),
    /^SignatureDoesNotMatch/,
  );
  assert.equal(
    await stsOutcome(v(ok, T0 + 5 * 60_000 + 36_000)),
    'SignatureDoesNotMatch: Signature expired: 20260101T120000Z is now earlier than 20260101T120036Z (20260101T120536Z - 5 min.)',
  );
  assert.equal(
    await stsOutcome(v(ok, T0 - 6 * 60_000)),
    'SignatureDoesNotMatch: Signature not yet current: 20260101T120000Z is still later than 20260101T115900Z (20260101T115400Z + 5 min.)',
  );
  const late = await signed(c, T0 + 3600_000);
  assert.equal(
    await stsOutcome(v(late, T0 + 3600_000)),
    'ExpiredToken: The security token included in the request is expired',
  );
  assert.equal(
    await stsOutcome(v(await signed({ ...c, sessionToken: issue().sessionToken }, T0))),
    'InvalidClientTokenId: The security token included in the request is invalid.',
  );
  assert.equal(
    await stsOutcome(verifySigV4(ok, { now: T0, keys: [OTHER] })),
    'InvalidClientTokenId: The security token included in the request is invalid.',
  );
  assert.match(
    await stsOutcome(v(await signed({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'x' }, T0))),
    /^InvalidClientTokenId/,
  );
  assert.match(
    await stsOutcome(v(await signed(c, T0, { service: 's3' }))),
    /^SignatureDoesNotMatch: Credential should be scoped to correct service: 'sts'/,
  );
  assert.equal(
    await stsOutcome(v({ ...ok, headers: { host: 'sts.local' } })),
    'MissingAuthenticationToken: Request is missing Authentication Token',
  );
  assert.match(
    await stsOutcome(
      v({ ...ok, headers: { ...ok.headers, authorization: 'AWS4-HMAC-SHA256 Credential=x' } }),
    ),
    /^IncompleteSignature: Authorization header requires 'Signature' parameter/,
  );
  assert.match(
    await stsOutcome(v({ ...ok, headers: { ...ok.headers, authorization: 'Basic abc' } })),
    /^IncompleteSignature: Unsupported AWS 'algorithm'/,
  );
});

test('SigV4 presigned GET (aws-iam-authenticator style): valid, expired, tampered', async () => {
  const c = issue();
  const v = (r: SignedRequest, now: number) => verifySigV4(r, { now, keys: [KEY] });
  const p = await signed(c, T0, { presign: true, expiresIn: 60 });
  assert.equal((await v(p, T0 + 30_000)).presigned, true);
  assert.match(await stsOutcome(v(p, T0 + 61_000)), /^SignatureDoesNotMatch: Signature expired/);
  assert.match(
    await stsOutcome(v({ ...p, headers: { ...p.headers, 'x-k8s-aws-id': 'other' } }, T0)),
    /^SignatureDoesNotMatch/,
  );
  assert.match(
    await stsOutcome(v({ ...p, query: p.query.replace('GetCallerIdentity', 'AssumeRole') }, T0)),
    /^SignatureDoesNotMatch/,
  );
});

test('SigV4 presigned: a body is covered by the signature (its hash), so unsigned parameters cannot ride in it', async () => {
  const c = issue();
  const v = (r: SignedRequest) => verifySigV4(r, { now: T0 + 1000, keys: [KEY] });
  const signer = new SignatureV4({ service: 'sts', region: 'us-east-1', credentials: c, sha256: NodeSha256 });
  const presign = async (
    method: string,
    query: Record<string, string>,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<SignedRequest> => {
    const pre = await signer.presign(
      {
        method,
        protocol: 'https:',
        hostname: 'sts.local',
        path: '/',
        headers: { host: 'sts.local', ...headers },
        query,
        body,
      },
      { signingDate: new Date(T0), expiresIn: 60 },
    );
    const qs = new URLSearchParams(pre.query as Record<string, string>).toString().replace(/\+/g, '%20');
    return { method, path: '/', query: qs, headers: pre.headers, body: body ?? '' };
  };
  const gci = { Action: 'GetCallerIdentity', Version: '2011-06-15' };
  const smuggled = 'Action=AssumeRole&RoleArn=arn:aws:iam::111122223333:role/admin&RoleSessionName=x';
  for (const method of ['POST', 'GET']) {
    const p = await presign(method, gci);
    assert.equal((await v(p)).presigned, true, `${method}: the empty body is what was signed`);
    assert.equal(
      await stsOutcome(v({ ...p, body: smuggled })),
      `SignatureDoesNotMatch: ${MSG.signatureMismatch}`,
      `${method}: a body added to a presigned URL`,
    );
  }
  // A client that presigns a request with a body (the hash of that body signed) is verified as AWS does.
  const body = 'Action=GetCallerIdentity&Version=2011-06-15';
  const withBody = await presign('POST', {}, body);
  assert.equal((await v(withBody)).presigned, true);
  assert.match(await stsOutcome(v({ ...withBody, body: body + '&RoleArn=x' })), /^SignatureDoesNotMatch/);
  // A signed x-amz-content-sha256 on a presigned URL must match the body (UNSIGNED-PAYLOAD is refused).
  const unsigned = await presign('POST', gci, smuggled, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
  assert.match(await stsOutcome(v(unsigned)), /^SignatureDoesNotMatch/);
});

test("SigV4: the credential scope's region must be one of the endpoint partition's regions, as AWS checks it", async () => {
  const c = issue();
  const v = (r: SignedRequest, partition?: string) =>
    verifySigV4(r, { now: T0 + 1000, keys: [KEY], partition });
  for (const presign of [false, true]) {
    for (const region of ['us-east-1', 'eu-west-3', 'ap-southeast-2', 'il-central-1'])
      assert.equal(await stsOutcome(v(await signed(c, T0, { presign, region }))), 'ok', region);
    for (const region of ['', 'not-a-region', 'us-east', 'US-EAST-1', 'us-east-1 ', 'local', 'aws-global'])
      assert.equal(
        await stsOutcome(v(await signed(c, T0, { presign, region }))),
        'SignatureDoesNotMatch: Credential should be scoped to a valid region. ',
        JSON.stringify(region),
      );
    for (const region of ['cn-north-1', 'us-gov-west-1', 'us-iso-east-1'])
      assert.equal(
        await stsOutcome(v(await signed(c, T0, { presign, region }))),
        `SignatureDoesNotMatch: Credential should be scoped to a valid region, not '${region}'. `,
      );
    assert.equal(await stsOutcome(v(await signed(c, T0, { presign, region: 'cn-north-1' }), 'aws-cn')), 'ok');
    assert.equal(
      await stsOutcome(v(await signed(c, T0, { presign, region: 'us-east-1' }), 'aws-cn')),
      "SignatureDoesNotMatch: Credential should be scoped to a valid region, not 'us-east-1'. ",
    );
  }
});

/** The code, message and explanation (the denial log's reason) of a refused verification. */
const refusal = (p: Promise<unknown>) => stsOutcome(p, true);

test('SigV4 refusals before the signature is computed: malformed query and header parts, scope and session mismatches', async () => {
  const c = issue();
  const v = (r: SignedRequest, now = T0 + 1000) => verifySigV4(r, { now, keys: [KEY] });
  const p = await signed(c, T0, { presign: true });
  const withQuery = (edit: (q: URLSearchParams) => void): SignedRequest => {
    const q = new URLSearchParams(p.query);
    edit(q);
    return { ...p, query: q.toString() };
  };
  assert.equal(
    await refusal(v(withQuery((q) => q.delete('X-Amz-Signature')))),
    'IncompleteSignature: Query-string authentication requires the X-Amz-Signature parameter.',
  );
  assert.equal(
    await refusal(v(withQuery((q) => (q.delete('X-Amz-Credential'), q.delete('X-Amz-Date'))))),
    'IncompleteSignature: Query-string authentication requires the X-Amz-Credential parameter. Query-string authentication requires the X-Amz-Date parameter.',
  );
  assert.equal(
    await refusal(v(withQuery((q) => q.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA1')))),
    "IncompleteSignature: Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'",
  );
  for (const expires of ['0', '604801', '1.5', ''])
    assert.equal(
      await refusal(v(withQuery((q) => q.set('X-Amz-Expires', expires)))),
      'IncompleteSignature: X-Amz-Expires must be an integer from 1 to 604800 (seconds).',
      expires,
    );
  assert.equal(
    await refusal(v(withQuery((q) => q.set('X-Amz-Date', '2026-01-01T12:00:00Z')))),
    "IncompleteSignature: Date must be in ISO-8601 'basic format'. Got '2026-01-01T12:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
  );
  assert.equal(
    await refusal(v(withQuery((q) => q.set('X-Amz-Date', '20260102T120000Z')))),
    "SignatureDoesNotMatch: Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260101' != '20260102', from '20260102T120000Z'.",
  );
  const scope = new URLSearchParams(p.query).get('X-Amz-Credential')!;
  assert.equal(
    await refusal(
      v(withQuery((q) => q.set('X-Amz-Credential', scope.replace('aws4_request', 'aws5_request')))),
    ),
    `IncompleteSignature: Credential should be scoped to a valid region, service and terminator: 'aws4_request'. Credential=${c.accessKeyId}/...`,
  );
  assert.equal(
    await refusal(v(withQuery((q) => q.set('X-Amz-SignedHeaders', 'x-k8s-aws-id')))),
    `SignatureDoesNotMatch: ${MSG.signatureMismatch} [the signed headers do not include 'host']`,
  );
  assert.equal(
    await refusal(v(withQuery((q) => q.set('X-Amz-SignedHeaders', 'host;x-k8s-aws-id;x-other')))),
    `SignatureDoesNotMatch: ${MSG.signatureMismatch} [signed header x-other is not in the request]`,
  );
  // Another session's token with this access key id: the key does not belong to it.
  const other = issue();
  assert.equal(
    await refusal(v(withQuery((q) => q.set('X-Amz-Security-Token', other.sessionToken)))),
    `InvalidClientTokenId: ${MSG.invalidClientTokenId} [access key ${c.accessKeyId} does not belong to the session token]`,
  );
  assert.equal(
    await refusal(v(withQuery((q) => q.delete('X-Amz-Security-Token')))),
    `InvalidClientTokenId: ${MSG.invalidClientTokenId} [access key ${c.accessKeyId} came without a session token; this STS issues only temporary credentials]`,
  );

  const h = await signed(c, T0);
  const { 'x-amz-date': _date, ...undated } = h.headers;
  assert.equal(
    await refusal(v({ ...h, headers: undated })),
    "IncompleteSignature: Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
  );
  assert.equal(
    await refusal(v({ ...h, headers: { host: 'sts.local', 'x-amz-security-token': c.sessionToken } })),
    `InvalidClientTokenId: ${MSG.invalidClientTokenId} [a session token header came without a signature]`,
  );
});

test("secretAccessKey (dev's admin key): 30 random bytes as 40 base64 characters, like an AWS secret key", () => {
  const asked: number[] = [];
  const bytes = Buffer.from(Array.from({ length: 30 }, (_, i) => i * 8));
  const key = secretAccessKey((n) => {
    asked.push(n);
    return bytes.subarray(0, n);
  });
  assert.deepEqual(asked, [30]);
  assert.equal(key, bytes.toString('base64'));
  assert.match(key, /^[A-Za-z0-9+/]{40}$/);
  assert.notEqual(secretAccessKey(), secretAccessKey());
});
