import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StsService } from '../../../src/sts/server.js';
import { MSG } from '../../../src/sts/protocol.js';
import {
  ISSUER,
  NOW,
  claims,
  makeKey,
  parseReply,
  signToken,
  testConfig,
  webIdentityForm,
  type TestKey,
} from '../../helpers/sts-fixtures.js';

const key = await makeKey('good-kid');
const other = await makeKey('good-kid'); // same kid, different key material
const ecKey = await makeKey('ec-kid', 'ES256');
const svc = new StsService({ config: testConfig([key, ecKey]), now: () => NOW * 1000 });

async function call(token: string) {
  return parseReply(
    await svc.handle({
      method: 'POST',
      path: '/',
      query: '',
      headers: {},
      body: webIdentityForm(token),
      secure: true,
    }),
  );
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const invalid = (message: string) => ({ status: 400, code: 'InvalidIdentityToken', message });

interface Case {
  name: string;
  token: () => string;
  want: { status: number; code?: string; message?: string };
}

const cases: Case[] = [
  { name: 'an honest RS256 token', token: () => signToken(key, claims()), want: { status: 200 } },
  { name: 'an honest ES256 token', token: () => signToken(ecKey, claims()), want: { status: 200 } },
  {
    name: 'alg none with an empty signature',
    token: () => `${b64({ alg: 'none', kid: 'good-kid' })}.${b64(claims())}.`,
    want: invalid(MSG.unsupportedAlg('none')),
  },
  {
    name: 'HS256 signed with the public key (algorithm confusion)',
    token: () => signToken(key, claims(), { alg: 'HS256' }),
    want: invalid(MSG.unsupportedAlg('HS256')),
  },
  {
    name: 'PS256 (not accepted by AWS)',
    token: () => `${b64({ alg: 'PS256', kid: 'good-kid' })}.${b64(claims())}.c2ln`,
    want: invalid(MSG.unsupportedAlg('PS256')),
  },
  {
    name: 'ES256 header on a kid that names an RSA key',
    token: () => signToken(ecKey, claims(), { kid: 'good-kid' }),
    want: invalid(MSG.keyRetrieval),
  },
  {
    name: 'unknown kid',
    token: () => signToken(key, claims(), { kid: 'rotated-away' }),
    want: invalid(MSG.keyRetrieval),
  },
  {
    name: 'signed by another key under the same kid',
    token: () => signToken(other, claims()),
    want: invalid(MSG.badSignature),
  },
  {
    name: 'payload tampered after signing',
    token: () => {
      const [h, , s] = signToken(key, claims()).split('.');
      return `${h}.${b64(claims({ sub: 'system:serviceaccount:kube-system:admin' }))}.${s}`;
    },
    want: invalid(MSG.badSignature),
  },
  {
    name: 'wrong issuer',
    token: () => signToken(key, claims({ iss: 'https://evil.example.com' })),
    want: invalid(MSG.noProvider('https://evil.example.com')),
  },
  {
    name: 'issuer differing by a trailing slash',
    token: () => signToken(key, claims({ iss: `${ISSUER}/` })),
    want: invalid(MSG.noProvider(`${ISSUER}/`)),
  },
  {
    name: 'missing iss',
    token: () => signToken(key, claims({ iss: undefined })),
    want: invalid(MSG.missingClaim('iss')),
  },
  {
    name: 'wrong audience',
    token: () => signToken(key, claims({ aud: 'sts.amazon.com' })),
    want: invalid(MSG.incorrectAudience),
  },
  {
    name: 'missing aud',
    token: () => signToken(key, claims({ aud: undefined })),
    want: invalid(MSG.missingClaim('aud')),
  },
  {
    name: 'aud array with one matching value',
    token: () => signToken(key, claims({ aud: ['other', 'sts.amazonaws.com'] })),
    want: { status: 200 },
  },
  {
    name: 'expired beyond the 5-minute grace',
    token: () => signToken(key, claims({ exp: NOW - 301 })),
    want: { status: 400, code: 'ExpiredTokenException', message: MSG.tokenExpired(NOW, NOW - 301) },
  },
  {
    name: 'expired within the grace',
    token: () => signToken(key, claims({ exp: NOW - 299 })),
    want: { status: 200 },
  },
  {
    name: 'nbf in the future beyond the skew',
    token: () => signToken(key, claims({ nbf: NOW + 600 })),
    want: invalid(MSG.notYetValid(NOW, NOW + 600)),
  },
  {
    name: 'iat in the future beyond the skew',
    token: () => signToken(key, claims({ iat: NOW + 600 })),
    want: invalid(MSG.issuedInFuture(NOW, NOW + 600)),
  },
  {
    name: 'float exp',
    token: () => signToken(key, claims({ exp: NOW + 3600.5 })),
    want: invalid(MSG.invalidNumericDate('exp')),
  },
  {
    name: 'float iat',
    token: () => signToken(key, claims({ iat: NOW - 0.25 })),
    want: invalid(MSG.invalidNumericDate('iat')),
  },
  {
    name: 'string exp',
    token: () => signToken(key, claims({ exp: String(NOW + 60) })),
    want: invalid(MSG.invalidNumericDate('exp')),
  },
  {
    name: 'missing exp',
    token: () => signToken(key, claims({ exp: undefined })),
    want: invalid(MSG.missingClaim('exp')),
  },
  {
    name: 'missing sub',
    token: () => signToken(key, claims({ sub: undefined })),
    want: invalid(MSG.missingClaim('sub')),
  },
  {
    name: 'oversized token (20001 characters)',
    token: () => signToken(key, claims({ pad: 'x'.repeat(20001) })).slice(0, 20001),
    want: {
      status: 400,
      code: 'ValidationError',
      message:
        "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000",
    },
  },
  {
    name: 'truncated signature',
    token: () => signToken(key, claims()).slice(0, -12),
    want: invalid(MSG.badSignature),
  },
  {
    name: 'truncated to two parts',
    token: () => signToken(key, claims()).split('.').slice(0, 2).join('.'),
    want: invalid(MSG.notJwt),
  },
  { name: 'garbage', token: () => 'this is not a jwt at all', want: invalid(MSG.notJwt) },
  {
    name: 'header that is not JSON',
    token: () => `${Buffer.from('{not json').toString('base64url')}.${b64(claims())}.c2ln`,
    want: invalid(MSG.notJwt),
  },
  {
    name: 'too short (3 characters)',
    token: () => 'a.b',
    want: {
      status: 400,
      code: 'ValidationError',
      message:
        "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4",
    },
  },
  {
    name: 'a trailing newline (token file read as is)',
    token: () => `${signToken(key, claims())}\n`,
    want: { status: 200 },
  },
];

for (const c of cases) {
  test(`forged/edge token: ${c.name}`, async () => {
    const r = await call(c.token());
    assert.equal(r.status, c.want.status, r.body);
    if (c.want.code) assert.equal(r.code, c.want.code);
    if (c.want.message) assert.equal(r.message, c.want.message);
    if (c.want.status === 200) assert.match(r.body, /<AccessKeyId>ASIA/);
  });
}

test('error bodies never echo the token', async () => {
  const token = signToken(key, claims({ aud: 'nope' }));
  const r = await call(token);
  assert.ok(!r.body.includes(token.split('.')[1]!));
});

export type { TestKey };
