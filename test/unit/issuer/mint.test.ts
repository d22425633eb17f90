import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { jwtVerify, decodeProtectedHeader, createLocalJWKSet, importSPKI } from 'jose';
import {
  mintServiceAccountToken,
  serviceAccountTokenClaims,
  parsePrivateKey,
  parseServiceAccountRef,
  IssuerError,
} from '../../../src/issuer/index.js';

const fx = (f: string) => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');
const expectedJwks = JSON.parse(fx('expected-jwks.json')) as { keys: Array<Record<string, string>> };
const RSA_KID = 'vVklBbbq4hpaY2Gfss46gInBTA-sppa535Ec9knsiXA';
const EC_KID = 'ga0BYjQiroA3EKUOrB_VY2SPU76Oac2SROLtXCIJOMo';
const NOW = 1_800_000_000;

function payloadText(token: string): string {
  return Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8');
}

const base = {
  issuer: 'https://issuer.example.com/cluster-a',
  namespace: 'great-namespace',
  serviceAccount: 'great-serviceaccount',
  serviceAccountUid: '11111111-2222-3333-4444-555555555555',
  audiences: ['sts.amazonaws.com'],
  now: NOW,
  jti: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
};

test('mint: RSA token has kube-apiserver header and sorted claim layout, verifies with jose', async () => {
  const privateKey = parsePrivateKey(fx('rsa.key'));
  const token = await mintServiceAccountToken({
    ...base,
    privateKey,
    pod: { name: 'app-0', uid: 'p-uid' },
    node: { name: 'node-1', uid: 'n-uid' },
  });
  const headerJson = Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8');
  assert.equal(headerJson, `{"alg":"RS256","kid":"${RSA_KID}"}`);
  assert.equal(
    payloadText(token),
    '{"aud":["sts.amazonaws.com"],"exp":1800003600,"iat":1800000000,"iss":"https://issuer.example.com/cluster-a",' +
      '"jti":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","kubernetes.io":{"namespace":"great-namespace",' +
      '"node":{"name":"node-1","uid":"n-uid"},"pod":{"name":"app-0","uid":"p-uid"},' +
      '"serviceaccount":{"name":"great-serviceaccount","uid":"11111111-2222-3333-4444-555555555555"}},' +
      '"nbf":1800000000,"sub":"system:serviceaccount:great-namespace:great-serviceaccount"}',
  );
  const jwks = createLocalJWKSet({ keys: expectedJwks.keys });
  const { payload } = await jwtVerify(token, jwks, {
    issuer: base.issuer,
    audience: 'sts.amazonaws.com',
    currentDate: new Date((NOW + 10) * 1000),
  });
  assert.equal(payload.sub, 'system:serviceaccount:great-namespace:great-serviceaccount');
});

test('mint: EC P-256 token is ES256 with the pinned kid and verifies with the public key', async () => {
  const token = await mintServiceAccountToken({
    ...base,
    privateKey: parsePrivateKey(fx('ec-sec1.key')),
    ttl: 600,
  });
  assert.deepEqual(decodeProtectedHeader(token), { alg: 'ES256', kid: EC_KID });
  const pub = await importSPKI(fx('ec.pub'), 'ES256');
  const { payload } = await jwtVerify(token, pub, { currentDate: new Date((NOW + 1) * 1000) });
  assert.equal(payload.exp, NOW + 600);
  assert.equal(payload.nbf, NOW);
  assert.deepEqual(payload.aud, ['sts.amazonaws.com']);
});

test('mint: a JWKS without the key fails with a clear "no applicable key" error', async () => {
  const token = await mintServiceAccountToken({ ...base, privateKey: parsePrivateKey(fx('rsa.key')) });
  const withoutKey = createLocalJWKSet({ keys: expectedJwks.keys.filter((k) => k.kid !== RSA_KID) });
  await assert.rejects(jwtVerify(token, withoutKey, { currentDate: new Date(NOW * 1000) }), (err: Error) => {
    assert.equal((err as { code?: string }).code, 'ERR_JWKS_NO_MATCHING_KEY');
    return true;
  });
});

test('mint: Date now, random uid and jti when omitted, kid overrides', async () => {
  const privateKey = parsePrivateKey(fx('rsa.key'));
  const a = serviceAccountTokenClaims({
    ...base,
    now: new Date(NOW * 1000 + 999),
    jti: undefined,
    serviceAccountUid: undefined,
  });
  const b = serviceAccountTokenClaims({ ...base, jti: undefined, serviceAccountUid: undefined });
  assert.equal(a.iat, NOW);
  assert.notEqual(a.jti, b.jti);
  assert.match(String(a.jti), /^[0-9a-f-]{36}$/);
  const noKid = await mintServiceAccountToken({ ...base, privateKey, keyId: null });
  assert.deepEqual(decodeProtectedHeader(noKid), { alg: 'RS256' });
  const emptyKid = await mintServiceAccountToken({ ...base, privateKey, keyId: '' });
  assert.deepEqual(decodeProtectedHeader(emptyKid), { alg: 'RS256', kid: '' });
  const tagged = await mintServiceAccountToken({
    ...base,
    privateKey,
    extraClaims: { 'https://aws.amazon.com/tags': { principal_tags: { team: ['a'] } } },
  });
  assert.ok(
    payloadText(tagged).endsWith(',"sub":"system:serviceaccount:great-namespace:great-serviceaccount"}'),
  );
  assert.ok(payloadText(tagged).includes('"https://aws.amazon.com/tags":{"principal_tags":{"team":["a"]}}'));
});

test('mint: bad input is a typed error', async () => {
  const privateKey = parsePrivateKey(fx('rsa.key'));
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ audiences: [] }, /audience/],
    [{ namespace: 'Bad_NS' }, /namespace/],
    [{ serviceAccount: '' }, /service account/],
    [{ now: Date.now() }, /milliseconds/],
    [{ ttl: 0 }, /ttl/],
    [{ issuer: '' }, /issuer/],
    [{ extraClaims: { sub: 'x' } }, /standard claim/],
    [{ pod: { name: 'p', uid: '' } }, /pod needs/],
  ];
  for (const [override, re] of bad) {
    await assert.rejects(mintServiceAccountToken({ ...base, privateKey, ...override }), (err: Error) => {
      assert.ok(err instanceof IssuerError, String(err));
      assert.match(err.message, re);
      return true;
    });
  }
  await assert.rejects(
    mintServiceAccountToken({ ...base, privateKey: createPublicKey(fx('rsa.pub')) }),
    /private key is needed/,
  );
  assert.deepEqual(parseServiceAccountRef('ns/sa'), { namespace: 'ns', name: 'sa' });
  assert.throws(() => parseServiceAccountRef('ns'), /NAMESPACE\/NAME/);
  assert.throws(() => parseServiceAccountRef('a/b/c'), /NAMESPACE\/NAME/);
});
