// Cases mutation testing showed no test held (issue 10, "Tests that would let a security regression through"):
// sigv4.ts and credentials.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { MAX_TOKEN_CHARS, openSession, sealSession, type Session } from '../../../src/sts/credentials.js';
import { NodeSha256, verifySigV4, type SignedRequest } from '../../../src/sts/sigv4.js';
import { stsOutcome } from '../../helpers/sts-fixtures.js';
import {
  GET_CALLER_IDENTITY,
  presignedGet,
  sessionCredentials,
  signedPost,
} from '../../helpers/sigv4-requests.js';

const KEY = Buffer.alloc(32, 7);
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const creds = sessionCredentials(KEY, T0);
const signer = new SignatureV4({
  service: 'sts',
  region: 'us-east-1',
  credentials: creds,
  sha256: NodeSha256,
});
const v = (r: SignedRequest, now = T0 + 1000) => verifySigV4(r, { now, keys: [KEY] });

async function presigned(at = T0, expiresIn = 60): Promise<SignedRequest> {
  const pre = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: 'sts.local',
      path: '/',
      headers: { host: 'sts.local' },
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    },
    { signingDate: new Date(at), expiresIn },
  );
  const query = new URLSearchParams(pre.query as Record<string, string>).toString().replace(/\+/g, '%20');
  return { method: 'GET', path: '/', query, headers: pre.headers, body: '' };
}

test('presigned: a repeated parameter placed before the signed ones changes the signature', async () => {
  const p = await presigned();
  assert.equal(await stsOutcome(v(p)), 'ok');
  for (const extra of ['Action=AssumeRole&', 'Action=AssumeRole&Action=AssumeRole&', 'Version=2011-06-15&'])
    assert.match(
      await stsOutcome(v({ ...p, query: extra + p.query })),
      /^SignatureDoesNotMatch: The request signature/,
      extra,
    );
  assert.match(
    await stsOutcome(v({ ...p, query: `${p.query}&Action=AssumeRole` })),
    /^SignatureDoesNotMatch/,
  );
});

test('presigned: dated in the future, expiry out of range or not a number', async () => {
  const future = await presigned(T0 + 6 * 60_000);
  assert.equal(
    await stsOutcome(v(future, T0)),
    'SignatureDoesNotMatch: Signature not yet current: 20260101T120600Z is still later than 20260101T120500Z (20260101T120000Z + 5 min.)',
  );
  assert.equal(
    await stsOutcome(v(await presigned(T0 + 4 * 60_000), T0)),
    'ok',
    'within the 5 minutes of skew',
  );
  const p = await presigned();
  for (const bad of ['604801', '0', '-1', 'abc', '1e3', '', '60.5', '9999999'])
    assert.equal(
      await stsOutcome(v({ ...p, query: p.query.replace(/X-Amz-Expires=\d+/, `X-Amz-Expires=${bad}`) })),
      'IncompleteSignature: X-Amz-Expires must be an integer from 1 to 604800 (seconds).',
      bad,
    );
  const week = await presigned(T0, 604800);
  assert.equal(
    await stsOutcome(v(week, T0 + 604799_000)),
    'ExpiredToken: The security token included in the request is expired',
  );
  assert.match(await stsOutcome(v(await presigned(T0, 1), T0 + 1000)), /^ok$/);
  assert.match(
    await stsOutcome(v(await presigned(T0, 1), T0 + 1001)),
    /^SignatureDoesNotMatch: Signature expired/,
  );
});

test("'host' must be among the signed headers, in both forms", async () => {
  const r = await signedPost(signer, T0, GET_CALLER_IDENTITY, {
    contentType: 'application/x-www-form-urlencoded',
    unsignableHeaders: new Set(['host']),
  });
  assert.doesNotMatch(r.headers.authorization as string, /SignedHeaders=[^,]*host/);
  assert.equal(
    await stsOutcome(v(r)),
    'SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  );
  const pre = await presignedGet(signer, T0, { unsignableHeaders: new Set(['host']) });
  assert.match(pre.query, /X-Amz-SignedHeaders=x-k8s-aws-id&/);
  assert.match(await stsOutcome(v(pre)), /^SignatureDoesNotMatch/);
});

test('NodeSha256: reset starts over, and an HMAC stays an HMAC with its key', async () => {
  const h = new NodeSha256('secret');
  h.update('garbage');
  h.reset();
  h.update('data');
  assert.equal(
    Buffer.from(await h.digest()).toString('hex'),
    createHmac('sha256', 'secret').update('data').digest('hex'),
  );
  const plain = new NodeSha256();
  plain.update('x');
  plain.reset();
  plain.update(new Uint8Array(Buffer.from('data')));
  assert.equal(
    Buffer.from(await plain.digest()).toString('hex'),
    '3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7',
  );
});

test('session tokens: the checks before decryption (alphabet, length, version byte) refuse what decryption alone would not', () => {
  const t = creds.sessionToken;
  assert.ok(openSession(t, [KEY]));
  // Buffer.from(base64) skips characters outside the alphabet: without the check these would still open.
  for (const junk of ['!', '.', ' ', '\n', '-', '_'])
    assert.equal(openSession(t.slice(0, 20) + junk + t.slice(20), [KEY]), undefined, JSON.stringify(junk));
  assert.equal(openSession(`${t}=`.replace(/={3,}$/, '==='), [KEY]), undefined, 'more than two = of padding');
  // The version byte is not under the authentication tag: only the explicit check refuses another version.
  const raw = Buffer.from(t, 'base64');
  raw[0] = 2;
  assert.equal(openSession(raw.toString('base64'), [KEY]), undefined, 'another version');
  // Too short to hold version, key id, IV, tag and a byte of plaintext; too long (over 16 KiB) is not read.
  assert.equal(openSession('A'.repeat(39), [KEY]), undefined);
  assert.equal(openSession(Buffer.alloc(30, 1).toString('base64'), [KEY]), undefined);
  const big = sealSession({ ...creds.session, sessionPolicy: 'x'.repeat(13_000) }, KEY);
  assert.ok(big.length > MAX_TOKEN_CHARS);
  assert.equal(openSession(big, [KEY]), undefined, 'over 16384 characters');
  // Exactly at the limit: 16384 base64 characters are 12288 bytes, 30 of them version, key id, IV and tag.
  const json = JSON.stringify({ ...creds.session, sessionPolicy: '' });
  const atLimit = sealSession({ ...creds.session, sessionPolicy: 'x'.repeat(12288 - 30 - json.length) }, KEY);
  assert.equal(atLimit.length, MAX_TOKEN_CHARS);
  assert.ok(openSession(atLimit, [KEY]), 'exactly 16384 characters opens');
});

test('short session tokens with our version and key id but not sealed by us open to nothing and never throw', () => {
  const keyIdByte = Buffer.from(creds.sessionToken, 'base64')[1]!;
  for (let n = 0; n <= 48; n++)
    for (const fill of [0x00, 0x5a, 0xff]) {
      const raw = Buffer.alloc(n, fill);
      if (n > 0) raw[0] = 1;
      if (n > 1) raw[1] = keyIdByte;
      const token = raw.toString('base64');
      assert.equal(token === '' ? undefined : openSession(token, [KEY]), undefined, `${n} bytes of ${fill}`);
    }
});

test('the session token format is stable: a token sealed by an earlier build still opens', () => {
  // Replicas in a rolling upgrade open each other's tokens, and tokens issued before an upgrade stay valid:
  // the layout (version, key id, IV, ciphertext, tag) and the authenticated data must not change.
  const session: Session = {
    accessKeyId: 'ASIAAAAAAAAAAAAAAAAA',
    secretAccessKey: 'x',
    partition: 'aws',
    account: '111122223333',
    roleName: 'r',
    roleId: 'AROAAAAAAAAAAAAAAAAAA',
    sessionName: 's',
    issuedAt: 1,
    expiresAt: 2,
  };
  const sealed =
    'AUsRERERERERERERERHZpmXddowtRmeF42nMU70n9O0j2XsiPV1ByRv9n7gg0SACSR2+PJ85w+TkpKO1WgohLuLRLEL3tZVoAezJbMJsraaMu+' +
    'TusUQrp8QLtWTu9oxV3PP1eR9fJciOwONhMK/fsaWlUYyH3jxE41hern1n/aL4AvuNHytwkVRR2IQqiDgkVROiWMKahBY9h01oHy0gm168fng0C6' +
    'ppspYUDxQKtncElga9JuXFbkXQZnMKa2jUERbcUudmbVP5dD0LnGM09XrQXOx4GN/1ut4eubLdquPyEw==';
  assert.deepEqual(openSession(sealed, [KEY]), session);
  assert.equal(
    sealSession(session, KEY, (n) => Buffer.alloc(n, 0x11)),
    sealed,
  );
});

test('access key ids: the account decodes whatever the random bits; the random bits make keys differ', async () => {
  const { temporaryAccessKeyId, accountOfAccessKeyId } = await import('../../../src/sts/credentials.js');
  const fill = (b: number) => (n: number) => Buffer.alloc(n, b);
  for (const account of ['000000000001', '111122223333', '999999999999']) {
    const ids = [0x00, 0x7f, 0x80, 0xff].map((b) => temporaryAccessKeyId(account, fill(b)));
    for (const id of ids) {
      assert.match(id, /^ASIA[A-Z2-7]{16}$/);
      assert.equal(accountOfAccessKeyId(id), account, id);
    }
    assert.equal(new Set(ids).size, 4, 'the top random bit and the random tail both show in the id');
    // The top random bit alone (byte 1's high bit) changes the id.
    const topBit = (n: number) => Buffer.from([0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, n));
    assert.notEqual(temporaryAccessKeyId(account, topBit), temporaryAccessKeyId(account, fill(0)));
    assert.equal(accountOfAccessKeyId(temporaryAccessKeyId(account, topBit)), account);
    // Bytes 2..5 of the randomness are the id's tail.
    const tail = (n: number) => Buffer.from([0, 0, 9, 9, 9, 9, 0, 0, 0, 0, 0].slice(0, n));
    assert.notEqual(temporaryAccessKeyId(account, tail), temporaryAccessKeyId(account, fill(0)));
  }
  assert.equal(accountOfAccessKeyId('ASIA0000000000000000'), undefined, '0 is not base32');
  assert.equal(accountOfAccessKeyId('ASIA1AAAAAAAAAAAAAAA'), undefined, '1 is not base32');
});

test('a session holds exactly the facts given (no clock inputs, no undefined members)', () => {
  const c = sessionCredentials(KEY, T0 + 1500, {
    durationSeconds: 900,
    sourceIdentity: undefined,
    tags: { a: 'b' },
  });
  assert.deepEqual(Object.keys(c.session).sort(), [
    'accessKeyId',
    'account',
    'expiresAt',
    'issuedAt',
    'partition',
    'roleId',
    'roleName',
    'secretAccessKey',
    'sessionName',
    'tags',
  ]);
  assert.equal(c.session.issuedAt, T0 + 1500);
  assert.equal(c.session.expiresAt, T0 + 1000 + 900_000, 'expiry counted from the whole second');
  assert.deepEqual(openSession(c.sessionToken, [KEY]), c.session);
});
