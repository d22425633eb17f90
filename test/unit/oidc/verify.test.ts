import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import {
  checkTimes,
  decodeJwt,
  findProvider,
  keyFitsAlg,
  matchAudience,
  parseSessionClaims,
  verifyToken,
  type ProviderRef,
} from '../../../src/oidc/verify.js';
import { MSG } from '../../../src/sts/protocol.js';
import { TokenError } from '../../../src/oidc/errors.js';
import { asStsError } from '../../helpers/sts-fixtures.js';
import {
  ISSUER,
  ISSUER_ID,
  NOW,
  PROVIDER_ARN,
  SUB,
  claims,
  makeKey,
  signToken,
} from '../../helpers/sts-fixtures.js';

const provider: ProviderRef = {
  url: ISSUER,
  arn: PROVIDER_ARN,
  clientIds: ['sts.amazonaws.com'],
  keyPrefix: ISSUER_ID,
};
const key = await makeKey('k');
const pub = createPublicKey({ key: key.jwk as JsonWebKey, format: 'jwk' });

function fails(f: () => unknown, code: string, message: string) {
  assert.throws(
    f,
    (e: unknown) =>
      e instanceof TokenError && asStsError(e)?.code === code && asStsError(e)?.message === message,
  );
}

test('verifyToken with a fixed key and clock returns the verified facts', async () => {
  const v = await verifyToken(signToken(key, claims()), {
    now: NOW,
    providers: [provider],
    getKey: async () => pub,
  });
  assert.equal(v.subject, SUB);
  assert.equal(v.audience, 'sts.amazonaws.com');
  assert.equal(v.provider, provider);
  assert.equal(v.signatureVerified, true);
  assert.equal(v.exp, NOW + 3600);
});

test('skipSignature never asks for a key', async () => {
  const v = await verifyToken(signToken(key, claims()), {
    now: NOW,
    providers: [provider],
    getKey: () => Promise.reject(new Error('must not be called')),
    skipSignature: true,
  });
  assert.equal(v.signatureVerified, false);
});

test('decodeJwt rejects structure problems with AWS wording', () => {
  fails(() => decodeJwt('a.b'), 'InvalidIdentityToken', MSG.notJwt);
  fails(() => decodeJwt('a.b.c.d'), 'InvalidIdentityToken', MSG.notJwt);
  fails(() => decodeJwt('!!.??.c'), 'InvalidIdentityToken', MSG.notJwt);
  const t = signToken(key, claims(), { crit: ['exp'] });
  fails(() => decodeJwt(t), 'InvalidIdentityToken', MSG.notJwt);
  fails(
    () => decodeJwt(signToken(key, claims(), { alg: 'EdDSA' })),
    'InvalidIdentityToken',
    MSG.unsupportedAlg('EdDSA'),
  );
  fails(() => decodeJwt(signToken(key, claims(), { kid: 7 })), 'InvalidIdentityToken', MSG.notJwt);
});

test('issuer match is exact (case, trailing slash)', () => {
  assert.equal(findProvider({ iss: ISSUER }, [provider]), provider);
  fails(
    () => findProvider({ iss: ISSUER.toUpperCase() }, [provider]),
    'InvalidIdentityToken',
    MSG.noProvider(ISSUER.toUpperCase()),
  );
  fails(() => findProvider({}, [provider]), 'InvalidIdentityToken', MSG.missingClaim('iss'));
});

test('audience: string or array, any value in ClientIDList; junk is a missing aud', () => {
  assert.equal(matchAudience({ aud: 'sts.amazonaws.com' }, provider), 'sts.amazonaws.com');
  assert.equal(matchAudience({ aud: ['x', 'sts.amazonaws.com'] }, provider), 'sts.amazonaws.com');
  fails(() => matchAudience({ aud: [] }, provider), 'InvalidIdentityToken', MSG.missingClaim('aud'));
  fails(() => matchAudience({ aud: 5 }, provider), 'InvalidIdentityToken', MSG.missingClaim('aud'));
  fails(() => matchAudience({ aud: ['x'] }, provider), 'InvalidIdentityToken', MSG.incorrectAudience);
});

test('time checks at their boundaries', () => {
  assert.deepEqual(checkTimes({ exp: NOW - 300 }, NOW), { exp: NOW - 300, iat: undefined });
  fails(() => checkTimes({ exp: NOW - 301 }, NOW), 'ExpiredTokenException', MSG.tokenExpired(NOW, NOW - 301));
  assert.ok(checkTimes({ exp: NOW + 10, nbf: NOW + 300 }, NOW));
  fails(
    () => checkTimes({ exp: NOW + 10, nbf: NOW + 301 }, NOW),
    'InvalidIdentityToken',
    MSG.notYetValid(NOW, NOW + 301),
  );
  fails(
    () => checkTimes({ exp: NOW + 10, iat: 1e20 }, NOW),
    'InvalidIdentityToken',
    MSG.invalidNumericDate('iat'),
  );
  assert.ok(checkTimes({ exp: NOW + 10, iat: NOW - 100 }, NOW, 100));
  fails(
    () => checkTimes({ exp: NOW + 10, iat: NOW - 101 }, NOW, 100),
    'ExpiredTokenException',
    MSG.tokenTooOld(101),
  );
});

test('session tag and source identity claims', () => {
  const ok = parseSessionClaims({
    'https://aws.amazon.com/tags': {
      principal_tags: { Team: ['a'], team: ['b'], env: ['prod'] },
      transitive_tag_keys: ['env'],
    },
    'https://aws.amazon.com/source_identity': 'alice',
  });
  assert.deepEqual(ok.tags, { team: 'b', env: 'prod' }, 'keys are case-insensitive; the later one wins');
  assert.deepEqual(ok.transitiveTagKeys, ['env']);
  assert.equal(ok.sourceIdentity, 'alice');
  const bad = (c: Record<string, unknown>) => assert.throws(() => parseSessionClaims(c), TokenError);
  bad({ 'https://aws.amazon.com/tags': { principal_tags: { a: ['1', '2'] } } });
  bad({ 'https://aws.amazon.com/tags': { principal_tags: { 'aws:x': ['1'] } } });
  bad({ 'https://aws.amazon.com/tags': { principal_tags: { a: ['1'] }, transitive_tag_keys: ['b'] } });
  bad({
    'https://aws.amazon.com/tags': {
      principal_tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, ['v']])),
    },
  });
  bad({ 'https://aws.amazon.com/tags': [] });
  bad({ 'https://aws.amazon.com/source_identity': 'a' });
  bad({ 'https://aws.amazon.com/source_identity': 'aws:admin' });
  assert.deepEqual(parseSessionClaims({}), {});
});

test('keys must fit the algorithm (no RSA < 2048, curves must match)', async () => {
  const ec = await makeKey('e', 'ES256');
  const ecPub = createPublicKey({ key: ec.jwk as JsonWebKey, format: 'jwk' });
  assert.equal(keyFitsAlg(pub, 'RS256'), true);
  assert.equal(keyFitsAlg(pub, 'ES256'), false);
  assert.equal(keyFitsAlg(ecPub, 'ES256'), true);
  assert.equal(keyFitsAlg(ecPub, 'ES384'), false);
  assert.equal(keyFitsAlg(key.privateKey, 'RS256'), false);
});

test('a key of the wrong type for the header alg fails as a bad signature, not a crash', async () => {
  const ec = await makeKey('e', 'ES256');
  const ecPub = createPublicKey({ key: ec.jwk as JsonWebKey, format: 'jwk' });
  await assert.rejects(
    verifyToken(signToken(key, claims()), { now: NOW, providers: [provider], getKey: async () => ecPub }),
    (e: unknown) => e instanceof TokenError && asStsError(e)?.message === MSG.badSignature,
  );
});

test('a header seen before is decoded from the cache, frozen, and every check still runs on it', async () => {
  const a = decodeJwt(signToken(key, claims({ jti: 'a' })));
  const b = decodeJwt(signToken(key, claims({ jti: 'b' })));
  assert.equal(a.header, b.header, 'one key, one header: decoded once');
  assert.ok(Object.isFrozen(a.header));
  assert.deepEqual(a.header, { alg: 'RS256', kid: 'k' });
  // A cached header does not stand for the signature: a token with a good header and a bad signature fails.
  const good = signToken(key, claims());
  const forged = `${good.slice(0, good.lastIndexOf('.'))}.${signToken(key, claims({ sub: 'x' })).split('.')[2]}`;
  await assert.rejects(
    verifyToken(forged, { now: NOW, providers: [provider], getKey: async () => pub }),
    (e: unknown) => e instanceof TokenError && e.code === 'signature-invalid',
  );
  // Checks on the header run on cached headers too (crit, kid type), however often the header was seen.
  for (let i = 0; i < 2; i++) {
    fails(() => decodeJwt(signToken(key, claims(), { crit: ['b64'] })), 'InvalidIdentityToken', MSG.notJwt);
    fails(() => decodeJwt(signToken(key, claims(), { kid: 7 })), 'InvalidIdentityToken', MSG.notJwt);
  }
  // Many distinct headers (as an attacker may send) only churn the bounded cache; answers stay the same.
  for (let i = 0; i < 200; i++) decodeJwt(signToken(key, claims(), { kid: `k${i}` }));
  assert.deepEqual(decodeJwt(signToken(key, claims())).header, { alg: 'RS256', kid: 'k' });
});

test('the key details keyFitsAlg reads are cached per key, not shared between keys', async () => {
  const small = createPublicKey(
    (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    }),
  );
  for (let i = 0; i < 2; i++) {
    assert.equal(keyFitsAlg(pub, 'RS256'), true);
    assert.equal(keyFitsAlg(small, 'RS256'), false, 'RSA keys under 2048 bits never fit');
    assert.equal(keyFitsAlg(pub, 'ES256'), false);
  }
});
