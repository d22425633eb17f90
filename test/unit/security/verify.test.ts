// Cases mutation testing showed no test held in src/oidc/verify.ts (issue 10, "Tests that would let a security
// regression through"): every allowed algorithm, keys too small or of the wrong type, checkSignature itself, an
// empty sub, characters after the signature, the session-tag and SourceIdentity character sets and lengths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  ALLOWED_ALGS,
  SOURCE_IDENTITY_CLAIM,
  TAGS_CLAIM,
  checkSignature,
  decodeJwt,
  keyFitsAlg,
  parseSessionClaims,
  verifyToken,
  type Alg,
  type ProviderRef,
} from '../../../src/oidc/verify.js';
import { MSG } from '../../../src/sts/protocol.js';
import {
  ISSUER,
  ISSUER_ID,
  NOW,
  PROVIDER_ARN,
  claims,
  signToken,
  asStsError,
  stsOutcome,
  type TestKey,
} from '../../helpers/sts-fixtures.js';

const provider: ProviderRef = {
  url: ISSUER,
  arn: PROVIDER_ARN,
  clientIds: ['sts.amazonaws.com'],
  keyPrefix: ISSUER_ID,
};

function key(alg: string, kind: { rsa: number } | { curve: string }): TestKey {
  const pair =
    'rsa' in kind
      ? generateKeyPairSync('rsa', { modulusLength: kind.rsa })
      : generateKeyPairSync('ec', { namedCurve: kind.curve });
  return { kid: `k-${alg}`, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk: {} };
}
const KEYS: Record<Alg, TestKey> = {
  RS256: key('RS256', { rsa: 2048 }),
  RS384: key('RS384', { rsa: 2048 }),
  RS512: key('RS512', { rsa: 3072 }),
  ES256: key('ES256', { curve: 'P-256' }),
  ES384: key('ES384', { curve: 'P-384' }),
  ES512: key('ES512', { curve: 'P-521' }),
};

const verdict = (token: string, pub: KeyObject): Promise<string> =>
  stsOutcome(verifyToken(token, { now: NOW + 10, providers: [provider], getKey: async () => pub }));
const BAD_SIGNATURE = `InvalidIdentityToken: ${MSG.badSignature}`;

test('every allowed algorithm verifies with its key, and only with its key', async () => {
  for (const alg of ALLOWED_ALGS) {
    const k = KEYS[alg];
    const token = signToken(k, claims());
    assert.equal(await verdict(token, k.publicKey), 'ok', alg);
    assert.equal(keyFitsAlg(k.publicKey, alg), true);
    await checkSignature(decodeJwt(token), k.publicKey);
    for (const other of ALLOWED_ALGS.filter((a) => a !== alg))
      assert.equal(await verdict(token, KEYS[other].publicKey), BAD_SIGNATURE, `${alg} token, ${other} key`);
    // The exported checkSignature refuses a changed payload.
    const [h, , s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify(claims({ sub: 'x' }))).toString('base64url')}.${s}`;
    await assert.rejects(
      checkSignature(decodeJwt(forged), k.publicKey),
      (e: unknown) => asStsError(e)?.message === MSG.badSignature,
    );
  }
});

test('a key that does not fit the algorithm is refused even when the signature is mathematically valid', async () => {
  // A 1024-bit RSA key signing RS256: the signature is valid, the key too small.
  const small = key('RS256', { rsa: 1024 });
  assert.equal(keyFitsAlg(small.publicKey, 'RS256'), false);
  assert.equal(await verdict(signToken(small, claims()), small.publicKey), BAD_SIGNATURE);
  const edge = key('RS256', { rsa: 2040 });
  assert.equal(keyFitsAlg(edge.publicKey, 'RS256'), false, '2040 bits < 2048');
  // An RSA key under an ES256 header (signed with RSA): node would verify it if the type were not checked.
  const rsa = KEYS.RS256;
  const rsaUnderEs = signToken({ ...rsa, alg: 'ES256' }, claims());
  assert.equal(keyFitsAlg(rsa.publicKey, 'ES256'), false);
  assert.equal(await verdict(rsaUnderEs, rsa.publicKey), BAD_SIGNATURE);
  // A P-256 key under ES384 (signed with SHA-384 on P-256): the curve must match the algorithm.
  const p256 = KEYS.ES256;
  const wrongCurve = signToken({ ...p256, alg: 'ES384' }, claims());
  assert.equal(keyFitsAlg(p256.publicKey, 'ES384'), false);
  assert.equal(await verdict(wrongCurve, p256.publicKey), BAD_SIGNATURE);
  // An EC key under an RS header, and a private key in place of a public one.
  assert.equal(keyFitsAlg(p256.publicKey, 'RS256'), false);
  assert.equal(keyFitsAlg(rsa.privateKey, 'RS256'), false);
});

test('an empty or non-string sub is a missing claim, like an absent one', async () => {
  const k = KEYS.RS256;
  for (const sub of ['', 0, null, ['a'], { a: 1 }])
    assert.equal(
      await verdict(signToken(k, claims({ sub })), k.publicKey),
      `InvalidIdentityToken: ${MSG.missingClaim('sub')}`,
      JSON.stringify(sub),
    );
});

test('characters after a valid signature are refused', async () => {
  for (const alg of ALLOWED_ALGS) {
    const k = KEYS[alg];
    const token = signToken(k, claims());
    for (const extra of ['A', 'AA', 'AAAA', '_', '-'])
      assert.notEqual(await verdict(token + extra, k.publicKey), 'ok', `${alg} + ${extra}`);
    // The decoder would drop a lone 5th-sextet character: the canonical check refuses it (a 3072-bit RS512
    // signature is 512 characters, so one more is exactly that case).
    if (token.split('.')[2]!.length % 4 === 0)
      assert.equal(await verdict(`${token}A`, k.publicKey), BAD_SIGNATURE, alg);
    for (const extra of ['=', '==', '.', ' x', '+', '/'])
      assert.notEqual(await verdict(token + extra, k.publicKey), 'ok', `${alg} + ${JSON.stringify(extra)}`);
  }
});

test('session tags and SourceIdentity: character sets and lengths as AWS enforces them', () => {
  const tags = (principal_tags: unknown, transitive_tag_keys?: unknown) =>
    parseSessionClaims({
      [TAGS_CLAIM]: { principal_tags, ...(transitive_tag_keys ? { transitive_tag_keys } : {}) },
    });
  const invalidTags = (f: () => unknown) =>
    assert.throws(
      f,
      (e: unknown) => asStsError(e)?.message.startsWith('Invalid session tags in the ID Token: ') === true,
    );
  assert.deepEqual(tags({ 'k_.:/=+-@ é 1': ['v_.:/=+-@ é 1'] }).tags, { 'k_.:/=+-@ é 1': 'v_.:/=+-@ é 1' });
  assert.deepEqual(tags({ ['k'.repeat(128)]: ['v'.repeat(256)] }).tags, {
    ['k'.repeat(128)]: 'v'.repeat(256),
  });
  assert.deepEqual(tags({ k: [''] }).tags, { k: '' }, 'an empty value is allowed');
  for (const bad of ['k'.repeat(129), '', 'a*b', 'a#b', 'a\u0000', 'aws:x', 'AWS:x', 'a,b', 'a;b'])
    invalidTags(() => tags({ [bad]: ['v'] }));
  for (const bad of ['v'.repeat(257), 'a*b', 'a\nb', 'a,b']) invalidTags(() => tags({ k: [bad] }));
  invalidTags(() => tags({ k: ['a', 'b'] }));
  invalidTags(() => tags({ k: 'v' }));
  const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, ['v']]));
  assert.equal(Object.keys(tags(fifty).tags!).length, 50);
  invalidTags(() => tags({ ...fifty, k50: ['v'] }));
  assert.deepEqual(tags({ k: ['v'] }, ['k']).transitiveTagKeys, ['k']);
  invalidTags(() => tags({ k: ['v'] }, ['other']));
  invalidTags(() => tags({ k: ['v'] }, [1]));

  const si = (v: unknown) => parseSessionClaims({ [SOURCE_IDENTITY_CLAIM]: v }).sourceIdentity;
  for (const ok of ['ab', 'a'.repeat(64), 'user_1+=,.@-', 'AB']) assert.equal(si(ok), ok);
  for (const bad of ['a', 'a'.repeat(65), 'a b', 'a/b', 'a:b', 'aws:me', 'AWS:me', 1, null, ''])
    assert.throws(
      () => si(bad),
      (e: unknown) => asStsError(e)?.message === MSG.invalidSourceIdentity,
      JSON.stringify(bad),
    );
});
