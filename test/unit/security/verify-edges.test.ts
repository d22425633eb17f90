// What mutation testing of src/oidc/verify.ts showed no test held (issue 10): claim types and boundaries, the
// token's syntax around its three parts, the facts a verified token carries, and the explanation of an unknown
// issuer (the hint an operator acts on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  checkTimes,
  decodeJwt,
  findProvider,
  keyFitsAlg,
  matchAudience,
  parseSessionClaims,
  verifyToken,
  TAGS_CLAIM,
  type ProviderRef,
} from '../../../src/oidc/verify.js';
import { TokenError } from '../../../src/oidc/errors.js';
import { MSG } from '../../../src/sts/protocol.js';
import { stsErrorOf } from '../../../src/sts/token-errors.js';
import {
  ISSUER,
  ISSUER_ID,
  NOW,
  PROVIDER_ARN,
  claims,
  makeKey,
  signToken,
  stsOutcome,
} from '../../helpers/sts-fixtures.js';

const provider: ProviderRef = {
  url: ISSUER,
  arn: PROVIDER_ARN,
  clientIds: ['sts.amazonaws.com'],
  keyPrefix: ISSUER_ID,
};
const key = await makeKey('k');
const verify = (token: string, over: { now?: number; maxTokenAgeSeconds?: number } = {}) =>
  verifyToken(token, { now: NOW, providers: [provider], getKey: async () => key.publicKey, ...over });
const outcome = (f: () => unknown) => stsOutcome((async () => f())());
const invalid = (message: string) => `InvalidIdentityToken: ${message}`;

test('a verified token carries every fact it was verified with', async () => {
  const token = signToken(
    key,
    claims({
      [TAGS_CLAIM]: { principal_tags: { team: ['a'] } },
      'https://aws.amazon.com/source_identity': 'al',
    }),
  );
  const v = await verify(`${token}\n`);
  assert.equal(v.kid, 'k');
  assert.equal(v.alg, 'RS256');
  assert.equal(v.iat, NOW - 10);
  assert.equal(v.claims.sub, v.subject);
  assert.deepEqual(v.tags, { team: 'a' });
  assert.equal(v.sourceIdentity, 'al');
  const { iat: _, ...noIat } = claims();
  assert.equal((await verify(signToken(key, noIat), { maxTokenAgeSeconds: 1 })).iat, undefined);
});

test('token syntax: each part is base64url JSON of an object, the signature non-empty and base64url', async () => {
  const [h, p, s] = signToken(key, claims()).split('.') as [string, string, string];
  const b64 = (v: string) => Buffer.from(v).toString('base64url');
  for (const token of [
    `${h}.${p}.`,
    `${h}.${p}.${s}=`,
    `${h}.${p}.${s.slice(0, 10)}+${s.slice(11)}`,
    `${b64('[1]')}.${p}.${s}`,
    `${b64('null')}.${p}.${s}`,
    `${h}.${b64('"x"')}.${s}`,
    `${h}=.${p}.${s}`,
    `=${h}.${p}.${s}`,
    `!${h}.${p}.${s}`,
    `${h}.${p}=.${s}`,
    `${h}.${p}.+${s.slice(1)}`,
  ])
    assert.equal(await outcome(() => decodeJwt(token)), invalid(MSG.notJwt), token.slice(0, 40));
  assert.equal(await outcome(() => decodeJwt(`${h}.${p}.${s}`)), 'ok');
  // kid is optional: a token without one verifies (the only key is used).
  assert.equal((await verify(signToken(key, claims(), { kid: undefined }))).kid, undefined);
});

test('an empty signature and one that is not base64url are told apart (the reason explain prints)', () => {
  const [h, p, s] = signToken(key, claims()).split('.') as [string, string, string];
  const refusedWith = (message: string) => (e: unknown) => e instanceof TokenError && e.message === message;
  assert.throws(() => decodeJwt(`${h}.${p}.`), refusedWith('the token has an empty signature'));
  assert.throws(
    () => decodeJwt(`${h}.${p}.+${s.slice(1)}`),
    refusedWith('the token signature is not base64url'),
  );
});

// An RSA-PSS public key (2048 bits): it has a modulus like an RSA key, but RS* is PKCS#1 v1.5.
const RSA_PSS_2048 = `-----BEGIN PUBLIC KEY-----
MIIBIDALBgkqhkiG9w0BAQoDggEPADCCAQoCggEBAJOyEkJGkntH9sJzhUuhzrFD
BVK9w4E5ab/bWrx1rqfh+PlI5dojCROUh0egMEqa2CnDnua9laR73WnoY4JWQ2g+
q7ks9T46lHhEFNJFl4bbG1zAIDJe8oxEFQFn3C9v8ppfMkkWwqlW4OAiktPy8l1C
sE90kKc9EksT0CCfImHAobVRKy4JwXwNOxhtws0/UURwyuyB9AYQ4UYURrP2HMNo
+cgSVZSFYwIN2mTQRSGhXsDD2A0I+esQBE4oBEtlckkxk8aiQRFiDqQyASsh+K6P
aTgnp4wQcEvR1zPC5xmyZL6YeFTSzA+TUyyJk5JqFowa+ofkli2wC3OMMUCXWA8C
AwEAAQ==
-----END PUBLIC KEY-----`;

test('keys of another type never fit: RSA-PSS for RS*, Ed25519 for ES*', () => {
  const pss = createPublicKey(RSA_PSS_2048);
  assert.equal(pss.asymmetricKeyDetails?.modulusLength, 2048);
  for (const alg of ['RS256', 'RS384', 'RS512'] as const) assert.equal(keyFitsAlg(pss, alg), false, alg);
  const ed = generateKeyPairSync('ed25519').publicKey;
  for (const alg of ['RS256', 'ES256', 'ES384', 'ES512'] as const)
    assert.equal(keyFitsAlg(ed, alg), false, alg);
});

test('iss and aud: empty, null or of the wrong type are missing claims', async () => {
  for (const iss of ['', 5, null])
    assert.equal(await outcome(() => findProvider({ iss }, [provider])), invalid(MSG.missingClaim('iss')));
  for (const aud of [null, undefined]) {
    assert.equal(await outcome(() => matchAudience({ aud }, provider)), invalid(MSG.missingClaim('aud')));
    assert.throws(() => matchAudience({ aud }, provider), { message: 'Missing a required claim: aud' });
  }
  for (const aud of [['sts.amazonaws.com', 5], [null], {}])
    assert.equal(await outcome(() => matchAudience({ aud }, provider)), invalid(MSG.missingClaim('aud')));
});

test("an unknown issuer's explanation names the near miss or the registered providers", () => {
  const explanation = (iss: string, providers: ProviderRef[]) => {
    try {
      findProvider({ iss }, providers);
    } catch (e) {
      assert.ok(e instanceof TokenError);
      assert.equal(e.code, 'issuer-unknown');
      assert.equal(e.facts.iss, iss);
      return e.message;
    }
    assert.fail('accepted');
  };
  assert.match(explanation(`${ISSUER}/`, [provider]), /differs only in case or a trailing slash/);
  assert.match(explanation(ISSUER.toUpperCase(), [provider]), /differs only in case or a trailing slash/);
  const slashed = { ...provider, url: `${ISSUER}/` };
  assert.match(explanation(ISSUER, [slashed]), /differs only in case or a trailing slash/);
  const other = { ...provider, url: 'https://other.example.com' };
  assert.match(
    explanation('https://x.example.com', [provider, other]),
    new RegExp(`; registered providers: ${ISSUER}, https://other\\.example\\.com$`),
  );
  assert.doesNotMatch(explanation('https://x.example.com', [provider]), /differs only/);
  assert.match(explanation('https://x.example.com', []), /no OIDC provider is registered/);
});

test('NumericDate claims: integers only; exp required; nbf and iat at the skew boundary', async () => {
  for (const exp of [NOW + 0.5, '123', 2 ** 53, null])
    assert.equal(
      await outcome(() => checkTimes({ exp }, NOW)),
      invalid(MSG.invalidNumericDate('exp')),
      String(exp),
    );
  assert.equal(await outcome(() => checkTimes({ nbf: NOW }, NOW)), invalid(MSG.missingClaim('exp')));
  assert.equal(
    await outcome(() => checkTimes({ exp: NOW, nbf: 1.5 }, NOW)),
    invalid(MSG.invalidNumericDate('nbf')),
  );
  assert.ok(checkTimes({ exp: NOW + 10, iat: NOW + 300 }, NOW));
  assert.equal(
    await outcome(() => checkTimes({ exp: NOW + 10, iat: NOW + 301 }, NOW)),
    invalid(MSG.issuedInFuture(NOW, NOW + 301)),
  );
  assert.ok(checkTimes({ exp: NOW + 10 }, NOW, 1), 'no iat: the maximum age does not apply');
});

test('session claims: transitive keys match tags case-insensitively; tag keys as given', () => {
  const out = parseSessionClaims({
    [TAGS_CLAIM]: { principal_tags: { Env: ['prod'] }, transitive_tag_keys: ['ENV'] },
  });
  assert.deepEqual(out, { tags: { Env: 'prod' }, transitiveTagKeys: ['ENV'] });
  assert.deepEqual(parseSessionClaims({ [TAGS_CLAIM]: {} }), {});
  assert.deepEqual(parseSessionClaims({ [TAGS_CLAIM]: { principal_tags: {} } }), { tags: {} });
  for (const principal_tags of [null, [], 'x', 5, true])
    assert.throws(() => parseSessionClaims({ [TAGS_CLAIM]: { principal_tags } }), TokenError);
  assert.throws(
    () => parseSessionClaims({ [TAGS_CLAIM]: null }),
    (e: unknown) => {
      assert.ok(e instanceof TokenError);
      assert.equal(
        stsErrorOf(e).message,
        MSG.invalidSessionTags('not an object'),
        "the detail is in AWS's message",
      );
      return true;
    },
  );
  assert.throws(() => parseSessionClaims({ [TAGS_CLAIM]: { principal_tags: { k: [5] } } }), TokenError);
  assert.throws(
    () =>
      parseSessionClaims({ [TAGS_CLAIM]: { principal_tags: { k: ['v'] }, transitive_tag_keys: ['k', 1] } }),
    TokenError,
  );
  assert.throws(() => parseSessionClaims({ [TAGS_CLAIM]: 'x' }), TokenError);
  assert.throws(
    () => parseSessionClaims({ [TAGS_CLAIM]: { principal_tags: { k: ['v'] }, transitive_tag_keys: 'k' } }),
    TokenError,
  );
});
