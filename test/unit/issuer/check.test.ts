import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  checkIssuer,
  checkDiscovery,
  checkJwks,
  checkToken,
  checkIssuerUrl,
  formatFinding,
  assertToken,
  parsePrivateKey,
  parsePublicKeys,
  buildJwks,
  buildIssuerDocuments,
  mintServiceAccountToken,
  FetchError,
  type FetchResult,
  type Finding,
} from '../../../src/issuer/index.js';

const fx = (f: string) => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');
const ISSUER = 'https://oidc.example.com/c';
const NOW = 1_800_000_000;
const rsaKey = parsePrivateKey(fx('rsa.key'));
const ecKey = parsePrivateKey(fx('ec.key'));

const res = (url: string, body: unknown, extra: Partial<FetchResult> = {}): FetchResult => ({
  url,
  status: 200,
  contentType: 'application/json',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  ...extra,
});
const codes = (fs: Finding[], severity: Finding['severity'] = 'error') =>
  fs.filter((f) => f.severity === severity).map((f) => f.code);

async function site(overrides: Record<string, FetchResult | Error> = {}) {
  const docs = await buildIssuerDocuments({ issuer: ISSUER, publicKeys: parsePublicKeys(fx('rsa.pub')) });
  const routes: Record<string, FetchResult | Error> = {
    [`${ISSUER}/.well-known/openid-configuration`]: res(
      `${ISSUER}/.well-known/openid-configuration`,
      docs.files[0]!.body,
    ),
    [`${ISSUER}/keys.json`]: res(`${ISSUER}/keys.json`, docs.files[1]!.body),
    ...overrides,
  };
  return async (url: string): Promise<FetchResult> => {
    const r = routes[url];
    if (!r) throw new FetchError(url, 'connection refused (ECONNREFUSED)', false);
    if (r instanceof Error) throw r;
    return r;
  };
}

const token = (opts: Record<string, unknown> = {}) =>
  mintServiceAccountToken({
    privateKey: rsaKey,
    issuer: ISSUER,
    namespace: 'ns',
    serviceAccount: 'sa',
    audiences: ['sts.amazonaws.com'],
    now: NOW,
    ...opts,
  });

test('check: a correct issuer and token give no errors', async () => {
  const r = await checkIssuer(ISSUER, { fetch: await site(), token: await token(), now: NOW + 5 });
  assert.equal(r.ok, true, r.findings.map(formatFinding).join('\n'));
  assert.deepEqual(codes(r.findings), []);
  assert.ok(codes(r.findings, 'ok').includes('token-signature'));
  assert.match(r.findings.map(formatFinding).join('\n'), /kid as kube-apiserver computes it/);
});

test('check: every problem users hit is reported with its own code', async () => {
  const disc = (body: unknown) => ({ [`${ISSUER}/.well-known/openid-configuration`]: res('d', body) });
  const base = {
    jwks_uri: `${ISSUER}/keys.json`,
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['id_token'],
  };
  const cases: Array<[string, Record<string, FetchResult | Error>, string]> = [
    ['mismatch', disc({ ...base, issuer: 'https://other.example.com' }), 'issuer-mismatch'],
    ['slash', disc({ ...base, issuer: `${ISSUER}/` }), 'issuer-trailing-slash'],
    ['no jwks_uri', disc({ issuer: ISSUER }), 'jwks-uri-missing'],
    [
      'http jwks_uri',
      disc({ ...base, issuer: ISSUER, jwks_uri: 'http://x/keys.json' }),
      'jwks-uri-not-https',
    ],
    [
      'unreachable jwks',
      disc({ ...base, issuer: ISSUER, jwks_uri: 'https://gone.example/keys.json' }),
      'jwks-unreachable',
    ],
    [
      'tls',
      { [`${ISSUER}/.well-known/openid-configuration`]: new FetchError('d', 'TLS: self-signed', true) },
      'tls-untrusted',
    ],
    ['404', { [`${ISSUER}/keys.json`]: res('k', 'nope', { status: 404 }) }, 'jwks-status'],
    ['redirect', { [`${ISSUER}/keys.json`]: res('k', '', { status: 302, location: '/x' }) }, 'jwks-redirect'],
    ['not json', { [`${ISSUER}/keys.json`]: res('k', '<html>') }, 'jwks-not-json'],
    ['discovery not json', disc('{'), 'discovery-not-json'],
    ['no keys', { [`${ISSUER}/keys.json`]: res('k', { keys: [] }) }, 'jwks-no-keys'],
  ];
  for (const [name, override, code] of cases) {
    const r = await checkIssuer(ISSUER, { fetch: await site(override), now: NOW });
    assert.ok(codes(r.findings).includes(code), `${name}: ${r.findings.map(formatFinding).join('\n')}`);
    assert.equal(r.ok, false, name);
  }
  const wrongType = await checkIssuer(ISSUER, {
    fetch: await site({
      [`${ISSUER}/keys.json`]: res('k', await buildJwks([rsaKey]), { contentType: 'text/plain' }),
    }),
  });
  assert.deepEqual(codes(wrongType.findings, 'warning'), ['jwks-content-type']);
});

test('check: JWKS key problems (missing/duplicate kid, alg, use, private, >100 keys, weak)', async () => {
  const [good] = (await buildJwks([rsaKey])).keys;
  const [ec] = (await buildJwks([ecKey])).keys;
  const { kid: _kid, ...noKid } = good!;
  const r = checkJwks(
    res('k', {
      keys: [
        good,
        good,
        noKid,
        { ...ec, alg: 'ES256K' },
        { ...ec, kid: 'e', use: 'enc' },
        { kty: 'OKP', kid: 'x' },
        { ...good, kid: 'p', d: 'AA' },
        ec,
      ],
    }),
    { algorithms: ['RS256'] },
  );
  const errs = codes(r.findings);
  for (const c of [
    'key-duplicate-kid',
    'key-missing-kid',
    'key-unsupported-alg',
    'key-use',
    'key-unsupported',
    'key-private',
  ]) {
    assert.ok(errs.includes(c), `${c} in ${errs.join(',')}`);
  }
  assert.ok(codes(r.findings, 'warning').includes('algorithms-incomplete'));
  // Unusable keys are reported once and never offered for token verification.
  assert.deepEqual(
    r.keys!.map((k) => k.kid),
    [good!.kid, good!.kid, undefined, 'p', ec!.kid],
  );
  // A key that leaks private material is checked, and offered for verification, by its public members only.
  assert.equal('d' in r.keys![3]!.jwk, false);
  assert.equal(r.findings.filter((f) => f.severity === 'ok').length, 5);
  const many = checkJwks(
    res('k', { keys: Array.from({ length: 101 }, (_, i) => ({ ...good, kid: String(i) })) }),
  );
  assert.ok(codes(many.findings).includes('jwks-too-many-keys'));
  const legacy = checkJwks(res('k', await buildJwks([rsaKey], { legacyEmptyKid: true })));
  assert.deepEqual(codes(legacy.findings), []);
  const weak = checkJwks(
    res('k', {
      keys: [
        {
          use: 'sig',
          kty: 'RSA',
          kid: 'w',
          alg: 'RS256',
          n: Buffer.alloc(128, 0xc1).toString('base64url'),
          e: 'AQAB',
        },
      ],
    }),
  );
  assert.deepEqual(codes(weak.findings, 'warning'), ['key-weak']);
  assert.deepEqual(
    checkIssuerUrl('https://a.example/').map((f) => f.code),
    ['trailing-slash'],
  );
  assert.deepEqual(
    checkIssuerUrl('http://a.example').map((f) => f.code),
    ['url-invalid'],
  );
  assert.equal(checkDiscovery(ISSUER, res('d', [])).findings[0]!.code, 'discovery-not-object');
});

test('check: token problems (kid not published, bad signature, iss, alg, expiry, future, aud)', async () => {
  const keys = checkJwks(res('k', await buildJwks([rsaKey]))).keys!;
  const run = async (t: string, now = NOW + 1) => checkToken(t, { issuerUrl: ISSUER, keys, now });
  assert.deepEqual(codes(await run(await token())), []);
  assert.ok(codes(await run(await token({ privateKey: ecKey }))).includes('token-kid-not-published'));
  const other = await token({
    privateKey: parsePrivateKey(fx('ec384.key')),
    keyId: keys[0]!.kid,
  });
  assert.ok(codes(await run(other)).includes('token-signature'));
  assert.ok(codes(await run(await token({ issuer: `${ISSUER}/` }))).includes('token-iss-mismatch'));
  assert.ok(codes(await run(await token({ alg: 'PS256' }))).includes('token-alg'));
  assert.ok(codes(await run(await token(), NOW + 3600 + 301)).includes('token-expired'));
  assert.deepEqual(codes(await run(await token(), NOW + 3600 + 200), 'warning'), ['token-expired']);
  assert.ok(codes(await run(await token(), NOW - 1000)).includes('token-nbf'));
  assert.deepEqual(codes(await run(await token({ keyId: null })), 'warning'), ['token-no-kid']);
  assert.deepEqual(codes(await run('not.a.jwt')), ['token-malformed']);
  assert.throws(() => assertToken('hello', 'f'), /f does not hold a compact JWT/);
});

test('check: an aud that is none of the client ids is an error, never ok', async () => {
  const keys = checkJwks(res('k', await buildJwks([rsaKey]))).keys!;
  const findings = async (audiences: string[], clientIds?: string[]) =>
    checkToken(await token({ audiences }), { issuerUrl: ISSUER, keys, now: NOW + 1, clientIds });
  const aud = async (audiences: string[], clientIds?: string[]) =>
    (await findings(audiences, clientIds)).filter((f) => f.code === 'token-aud').map((f) => f.severity);
  assert.deepEqual(await aud(['sts.amazonaws.com']), ['ok']);
  assert.deepEqual(await aud(['vault', 'sts.amazonaws.com']), ['ok']);
  assert.deepEqual(await aud(['https://kubernetes.default.svc']), ['error']);
  assert.deepEqual(await aud(['sts.amazonaws.com'], ['my-client']), ['error']);
  assert.deepEqual(await aud(['my-client'], ['other', 'my-client']), ['ok']);
  const wrong = (await findings(['vault'])).find((f) => f.code === 'token-aud')!;
  assert.match(
    wrong.message,
    /holds none of the client ids "sts\.amazonaws\.com": STS answers "Incorrect token audience"/,
  );
});
