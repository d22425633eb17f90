import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  keyIdOf,
  parsePublicKeys,
  parsePrivateKey,
  buildJwks,
  buildDiscovery,
  buildIssuerDocuments,
  writeDocuments,
  readDocuments,
  validateIssuerUrl,
  validateJwksPath,
  discoveryUrl,
  goJson,
  generateSigningKey,
  writeKeyPair,
  loadPrivateKey,
  loadPublicKeys,
  algorithmOf,
  mintServiceAccountToken,
  IssuerError,
} from '../../../src/issuer/index.js';

const fx = (f: string) => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');
// Computed independently with openssl (pkey -outform DER | dgst -sha256 | base64url) — see expected-jwks.json.
const RSA_KID = 'vVklBbbq4hpaY2Gfss46gInBTA-sppa535Ec9knsiXA';
const EC_KID = 'ga0BYjQiroA3EKUOrB_VY2SPU76Oac2SROLtXCIJOMo';
const EC384_KID = 'yd4KU41gNwd-HOpP25PJbPKPV85Yt21V-H39L99eZEU';
// Re-serialised: the fixture file is pretty-printed by prettier; key order is what is pinned.
const expectedJwksText = JSON.stringify(JSON.parse(fx('expected-jwks.json')));

test('key id: pinned on fixed RSA, P-256 and P-384 keys, same from every encoding of the key', () => {
  assert.equal(keyIdOf(createPublicKey(fx('rsa.pub'))), RSA_KID);
  assert.equal(keyIdOf(parsePrivateKey(fx('rsa.key'))), RSA_KID);
  assert.equal(keyIdOf(parsePrivateKey(fx('rsa-pkcs1.key'))), RSA_KID);
  assert.equal(keyIdOf(parsePublicKeys(fx('rsa-pkcs1.pub'))[0]!), RSA_KID);
  assert.equal(keyIdOf(parsePublicKeys(fx('ec.pub'))[0]!), EC_KID);
  assert.equal(keyIdOf(parsePrivateKey(fx('ec-sec1.key'))), EC_KID);
  assert.equal(keyIdOf(parsePublicKeys(fx('ec384.pub'))[0]!), EC384_KID);
});

test('keys: kube-apiserver parsing rules (all blocks, private keys give their public half, others skipped)', () => {
  const bundle = `# comment\n${fx('rsa.pub')}-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n${fx('ec-sec1.key')}`;
  assert.deepEqual(parsePublicKeys(bundle).map(keyIdOf), [RSA_KID, EC_KID]);
  assert.throws(
    () => parsePublicKeys('hello'),
    (e: Error) => e instanceof IssuerError && e.code === 'KeyInvalid',
  );
  assert.throws(() => parsePublicKeys(fx('ed25519.pub'), 'ed.pub'), /ed.pub: ed25519 keys are not supported/);
  assert.throws(() => parsePrivateKey(fx('ed25519.key')), /ed25519 keys are not supported/);
  assert.throws(
    () => parsePrivateKey(fx('rsa.pub'), 'x.pub'),
    /x.pub: holds a public key .* a private key is needed/,
  );
  assert.throws(
    () => parsePublicKeys('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', 'bad.pem'),
    /bad.pem: not a valid key/,
  );
  assert.throws(
    () =>
      parsePrivateKey('-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n'),
    /encrypted private keys are not supported/,
  );
  assert.throws(
    () =>
      parsePrivateKey(
        '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n',
      ),
    /encrypted private keys are not supported/,
  );
  assert.equal(algorithmOf(parsePublicKeys(fx('ec384.pub'))[0]!), 'ES384');
});

test('jwks: byte-for-byte kube-apiserver layout (go-jose field order, compact), rotation set in order', async () => {
  const keys = [
    ...parsePublicKeys(fx('rsa.pub')),
    ...parsePublicKeys(fx('ec.pub')),
    ...parsePublicKeys(fx('ec384.pub')),
  ];
  const jwks = await buildJwks(keys);
  assert.equal(goJson(jwks), expectedJwksText);
  const legacy = await buildJwks(keys.slice(0, 1), { legacyEmptyKid: true });
  assert.equal(legacy.keys.length, 2);
  assert.equal(legacy.keys[1]!.kid, '');
  assert.equal(JSON.stringify(legacy.keys[1]), JSON.stringify({ ...legacy.keys[0], kid: '' }));
  await assert.rejects(buildJwks([]), /at least one public key/);
});

test('discovery: kube-apiserver fields and order, algorithms sorted and unique', async () => {
  const keys = [
    ...parsePublicKeys(fx('ec.pub')),
    ...parsePublicKeys(fx('rsa.pub')),
    ...parsePublicKeys(fx('ec.pub')),
  ];
  const jwks = await buildJwks(keys);
  const doc = buildDiscovery('https://issuer.example.com/a', 'https://issuer.example.com/a/keys.json', jwks);
  assert.equal(
    goJson(doc),
    '{"issuer":"https://issuer.example.com/a","jwks_uri":"https://issuer.example.com/a/keys.json",' +
      '"response_types_supported":["id_token"],"subject_types_supported":["public"],' +
      '"id_token_signing_alg_values_supported":["ES256","RS256"]}',
  );
});

test('goJson escapes like Go encoding/json', () => {
  assert.equal(goJson({ a: '<&>\u2028' }), '{"a":"\\u003c\\u0026\\u003e\\u2028"}');
});

test('url: validated as AWS and kube-apiserver validate it, never rewritten', () => {
  assert.deepEqual(validateIssuerUrl('https://oidc.example.com/cluster-a'), {
    url: 'https://oidc.example.com/cluster-a',
    warnings: [],
  });
  const slash = validateIssuerUrl('https://oidc.example.com/');
  assert.equal(slash.url, 'https://oidc.example.com/');
  assert.match(slash.warnings.join(), /ends with "\/"/);
  assert.match(validateIssuerUrl('https://127.0.0.1:8443').warnings.join(), /has a port/);
  assert.match(validateIssuerUrl('https://OIDC.example.com').warnings.join(), /upper-case/);
  const bad: Array<[string, RegExp]> = [
    ['http://oidc.example.com', /must use https/],
    ['https://oidc.example.com/?', /query/],
    ['https://oidc.example.com/a?x=1', /query/],
    ['https://oidc.example.com/#', /fragment/],
    ['https://user:pw@oidc.example.com', /credentials/],
    ['oidc.example.com', /not a valid URL/],
    ['', /empty/],
    ['https://oidc.example.com/ a', /whitespace/],
    [`https://oidc.example.com/${'a'.repeat(250)}`, /255/],
    ['ftp://oidc.example.com', /https/],
    // URL() would resolve these away; STS compares the text as given, so the issuer would not match its documents.
    ['https://oidc.example.com/a/../b', /"\." or "\.\." path segments/],
    ['https://oidc.example.com/..', /path segments/],
    ['https://oidc.example.com/a/./b', /path segments/],
    ['https://oidc.example.com/a/%2E%2e/b', /path segments/],
    ['https://oidc.example.com/a/.%2e', /path segments/],
  ];
  // Dots inside a segment are an ordinary name.
  assert.equal(
    validateIssuerUrl('https://oidc.example.com/a..b/.well/c.').url,
    'https://oidc.example.com/a..b/.well/c.',
  );
  for (const [u, re] of bad) {
    assert.throws(
      () => validateIssuerUrl(u),
      (e: Error) => e instanceof IssuerError && e.code === 'UrlInvalid' && re.test(e.message),
      u,
    );
  }
  assert.equal(validateIssuerUrl('http://127.0.0.1:1', { allowHttp: true }).warnings.length, 2);
  assert.equal(discoveryUrl('https://a.example/x/'), 'https://a.example/x/.well-known/openid-configuration');
  assert.equal(discoveryUrl('https://a.example'), 'https://a.example/.well-known/openid-configuration');
  assert.equal(validateJwksPath('/openid/v1/jwks'), 'openid/v1/jwks');
  for (const p of ['', 'a/../b', 'a/', 'a?x', './a'])
    assert.throws(() => validateJwksPath(p), /relative file path/, p);
});

test('documents: build, write, read back; jwks_uri override; duplicate key warning', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'issuer-docs-'));
  try {
    const docs = await buildIssuerDocuments({
      issuer: 'https://oidc.example.com/c/',
      publicKeys: [...parsePublicKeys(fx('rsa.pub')), ...parsePublicKeys(fx('rsa.pub'))],
    });
    assert.equal(docs.discovery.jwks_uri, 'https://oidc.example.com/c/keys.json');
    assert.equal(docs.warnings.length, 2, docs.warnings.join('\n'));
    await writeDocuments(dir, docs.files);
    const disc = await readFile(join(dir, '.well-known', 'openid-configuration'), 'utf8');
    assert.equal(disc, goJson(docs.discovery));
    const back = await readDocuments(dir);
    assert.deepEqual(
      back.map((f) => f.path),
      ['.well-known/openid-configuration', 'keys.json'],
    );
    const k8s = await buildIssuerDocuments({
      issuer: 'https://kubernetes.default.svc',
      publicKeys: parsePublicKeys(fx('ec.pub')),
      jwksPath: 'openid/v1/jwks',
      jwksUri: 'https://10.0.0.1:6443/openid/v1/jwks',
    });
    assert.equal(k8s.discovery.jwks_uri, 'https://10.0.0.1:6443/openid/v1/jwks');
    assert.equal(k8s.files[1]!.path, 'openid/v1/jwks');
    await assert.rejects(
      buildIssuerDocuments({
        issuer: 'https://a.example',
        publicKeys: parsePublicKeys(fx('ec.pub')),
        jwksUri: 'http://x',
      }),
      /jwks_uri/,
    );
    await assert.rejects(readDocuments(join(dir, 'nope')), /cannot read issuer folder/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('keygen: RSA sizes and ES256, 0600 private key, refuses overwrite without force', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'issuer-keygen-'));
  try {
    const ec = generateSigningKey({ alg: 'ES256' });
    const files = await writeKeyPair(dir, ec);
    assert.equal((await stat(files.privateKeyFile)).mode & 0o777, 0o600);
    assert.equal((await stat(files.publicKeyFile)).mode & 0o777, 0o644);
    assert.match(await readFile(files.privateKeyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.match(await readFile(files.publicKeyFile, 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
    assert.equal(
      keyIdOf(await loadPrivateKey(files.privateKeyFile)),
      keyIdOf((await loadPublicKeys(files.publicKeyFile))[0]!),
    );
    await assert.rejects(
      writeKeyPair(dir, generateSigningKey()),
      (e: Error) => e instanceof IssuerError && e.code === 'KeyExists',
    );
    const rsa = generateSigningKey({ alg: 'RS256', bits: 3072 });
    assert.equal(rsa.privateKey.asymmetricKeyDetails?.modulusLength, 3072);
    await writeKeyPair(dir, rsa, { force: true });
    assert.equal(algorithmOf(await loadPrivateKey(files.privateKeyFile)), 'RS256');
    assert.equal((await stat(files.privateKeyFile)).mode & 0o777, 0o600);
    assert.equal(generateSigningKey().privateKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.throws(() => generateSigningKey({ bits: 1024 }), /2048, 3072, 4096/);
    assert.throws(() => generateSigningKey({ alg: 'ES256', bits: 2048 }), /RS256 only/);
    assert.throws(() => generateSigningKey({ alg: 'HS256' as never }), /RS256, ES256/);
    await assert.rejects(loadPrivateKey(join(dir, 'missing.key')), /cannot read key file .*ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('golden: JWKS, discovery and token equal go-jose v2 output byte for byte (fixtures/gojose)', async () => {
  const [goJwks, goDiscovery, goToken] = fx('gojose-golden.txt').trim().split('\n');
  const jwks = await buildJwks(['rsa.pub', 'ec.pub', 'ec384.pub'].flatMap((f) => parsePublicKeys(fx(f))));
  assert.equal(goJson(jwks), goJwks);
  assert.equal(
    goJson(buildDiscovery('https://issuer.example.com/a', 'https://issuer.example.com/a/keys.json', jwks)),
    goDiscovery,
  );
  const token = await mintServiceAccountToken({
    privateKey: parsePrivateKey(fx('rsa.key')),
    issuer: 'https://issuer.example.com/cluster-a',
    namespace: 'great-namespace',
    serviceAccount: 'great-serviceaccount',
    serviceAccountUid: '11111111-2222-3333-4444-555555555555',
    audiences: ['sts.amazonaws.com'],
    now: 1_800_000_000,
    jti: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
    pod: { name: 'app-0', uid: 'p-uid' },
    node: { name: 'node-1', uid: 'n-uid' },
  });
  // RS256 (PKCS#1 v1.5) is deterministic, so the whole token, signature included, must match.
  assert.equal(token, goToken);
});

test('documents: an RSA key under 2048 bits is published with a warning (STS rejects its tokens)', async () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const d = await buildIssuerDocuments({ issuer: 'https://oidc.example.com', publicKeys: [publicKey] });
  assert.equal(d.warnings.length, 1);
  assert.match(
    d.warnings[0]!,
    /^key \S+ is a 1024-bit RSA key: STS rejects tokens signed with RSA keys under 2048 bits$/,
  );
  const ok = await buildIssuerDocuments({
    issuer: 'https://oidc.example.com',
    publicKeys: [generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
  });
  assert.deepEqual(ok.warnings, []);
});
