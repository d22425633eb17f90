import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startIssuerServer,
  prefixFromDiscovery,
  buildIssuerDocuments,
  parsePublicKeys,
  parsePublishTarget,
  publishDocuments,
  s3ClientFromEnv,
  s3PublicUrl,
  thumbprintFromChain,
  fetchText,
  type ChainCertificate,
} from '../../../src/issuer/index.js';
import { jwksPathFromDiscovery, readDocuments, writeDocuments } from '../../../src/issuer/documents.js';
import type { IssuerError } from '../../../src/issuer/errors.js';

const fx = (f: string) => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');

async function docs(issuer: string) {
  return buildIssuerDocuments({ issuer, publicKeys: parsePublicKeys(fx('ec.pub')), allowHttp: true });
}

test('serve: mounted at the issuer path, headers, 304, 404, 405, clean close', async () => {
  const d = await docs('https://oidc.example.com/team/a/');
  assert.equal(prefixFromDiscovery(d.files), '/team/a');
  const s = await startIssuerServer({ files: d.files, port: 0, maxAgeSeconds: 60 });
  try {
    assert.equal(s.tls, false);
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/team\/a$/);
    const r = await fetch(`${s.url}/.well-known/openid-configuration`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'public, max-age=60');
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(await r.text(), d.files[0]!.body);
    const etag = r.headers.get('etag')!;
    const r304 = await fetch(`${s.url}/keys.json`, { headers: { 'if-none-match': etag } });
    assert.equal(r304.status, 200, 'a different document has a different ETag');
    await r304.arrayBuffer();
    const again = await fetch(`${s.url}/.well-known/openid-configuration?x=1`, {
      headers: { 'if-none-match': `W/${etag}, "zz"` },
    });
    assert.equal(again.status, 304);
    for (const p of ['/.well-known/openid-configuration', '/team/a', '/team/a/', '/keys.json']) {
      const nf = await fetch(`${s.url.replace(/\/team\/a$/, '')}${p}`);
      assert.equal(nf.status, 404, p);
      await nf.arrayBuffer();
    }
    const post = await fetch(`${s.url}/keys.json`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  } finally {
    await s.close();
  }
  await assert.rejects(fetchText(`${s.url}/keys.json`), /connection refused/);
});

test('serve: reload swaps the documents (key rotation) and keeps serving on a bad folder', async () => {
  const { mkdtemp: mk, rm: rmd } = await import('node:fs/promises');
  const { writeDocuments } = await import('../../../src/issuer/index.js');
  const dir = await mk(join(tmpdir(), 'issuer-reload-'));
  try {
    const first = await docs('https://oidc.example.com');
    await writeDocuments(dir, first.files);
    const s = await startIssuerServer({ dir, port: 0 });
    try {
      const before = await (await fetch(`${s.url}/keys.json`)).text();
      assert.equal(before, first.files[1]!.body);
      const rotated = await buildIssuerDocuments({
        issuer: 'https://oidc.example.com',
        publicKeys: [...parsePublicKeys(fx('rsa.pub')), ...parsePublicKeys(fx('ec.pub'))],
      });
      await writeDocuments(dir, rotated.files);
      assert.equal(await s.reload(), 2);
      const after = JSON.parse(await (await fetch(`${s.url}/keys.json`)).text()) as { keys: unknown[] };
      assert.equal(after.keys.length, 2);
      await rmd(join(dir, '.well-known'), { recursive: true });
      await assert.rejects(s.reload(), /openid-configuration/);
      assert.equal((await fetch(`${s.url}/keys.json`)).status, 200);
    } finally {
      await s.close();
    }
  } finally {
    await rmd(dir, { recursive: true, force: true });
  }
});

test('serve: bad TLS material and busy ports are typed errors', async () => {
  const d = await docs('https://oidc.example.com');
  await assert.rejects(
    startIssuerServer({ files: d.files, port: 0, tlsCert: 'x' }),
    /both a TLS certificate and its key/,
  );
  await assert.rejects(
    startIssuerServer({ files: d.files, port: 0, tlsCert: 'x', tlsKey: 'y' }),
    /invalid TLS certificate or key/,
  );
  const s = await startIssuerServer({ files: d.files, port: 0 });
  try {
    await assert.rejects(
      startIssuerServer({ files: d.files, port: s.port }),
      (err: IssuerError) =>
        err.code === 'PortInUse' && /^port \d+ on 127\.0\.0\.1 is already in use$/.test(err.message),
    );
  } finally {
    await s.close();
  }
});

test('fetchText caps the body size without crashing', async () => {
  const d = await docs('https://oidc.example.com');
  const s = await startIssuerServer({ files: d.files, port: 0 });
  try {
    await assert.rejects(fetchText(`${s.url}/keys.json`, { maxBytes: 10 }), /larger than 10 bytes/);
    assert.equal((await fetchText(`${s.url}/keys.json`)).status, 200);
  } finally {
    await s.close();
  }
});

test('publish: targets, folder publish with read-back, S3 client from env', async () => {
  assert.deepEqual(parsePublishTarget('s3://my-bucket/a/b/'), {
    kind: 's3',
    bucket: 'my-bucket',
    prefix: 'a/b',
  });
  assert.deepEqual(parsePublishTarget('s3://my-bucket'), { kind: 's3', bucket: 'my-bucket', prefix: '' });
  assert.deepEqual(parsePublishTarget('./out'), { kind: 'folder', dir: './out' });
  for (const bad of ['s3://', 's3://UPPER/x', 's3:/x', 'https://x/y', ''])
    assert.throws(() => parsePublishTarget(bad), bad);
  assert.equal(s3PublicUrl('b', 'p', 'us-east-1'), 'https://b.s3.amazonaws.com/p');
  assert.equal(s3PublicUrl('b', '', 'eu-west-1'), 'https://b.s3.eu-west-1.amazonaws.com');
  const client = s3ClientFromEnv({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', AWS_REGION: 'eu-west-3' });
  assert.equal(client.config.forcePathStyle, true);
  assert.equal(await client.config.region(), 'eu-west-3');
  client.destroy();
  const dir = await mkdtemp(join(tmpdir(), 'issuer-pub-'));
  try {
    const d = await docs('https://oidc.example.com');
    const out = await publishDocuments(d.files, join(dir, 'site'));
    assert.equal(out.length, 2);
    assert.equal(await readFile(join(dir, 'site', 'keys.json'), 'utf8'), d.files[1]!.body);
    assert.deepEqual(
      out.map((o) => o.unchanged),
      [false, false],
    );
    // Again: nothing to write, and it says so; a document that differs is the only one rewritten.
    const again = await publishDocuments(d.files, join(dir, 'site'));
    assert.deepEqual(
      again.map((o) => o.unchanged),
      [true, true],
    );
    await writeFile(join(dir, 'site', 'keys.json'), '{"keys":[]}');
    const mended = await publishDocuments(d.files, join(dir, 'site'));
    assert.deepEqual(
      mended.map((o) => o.unchanged),
      [true, false],
    );
    assert.equal(await readFile(join(dir, 'site', 'keys.json'), 'utf8'), d.files[1]!.body);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('thumbprint: the last presented certificate, with a warning when it is the leaf', () => {
  const cert = (sha1: string, ca: boolean): ChainCertificate => ({
    subject: 'CN=x',
    issuer: 'CN=y',
    sha1,
    selfSigned: false,
    isCa: ca,
    notAfter: '',
  });
  assert.deepEqual(thumbprintFromChain([cert('aa', false), cert('bb', true), cert('cc', true)]), {
    used: 2,
    thumbprint: 'cc',
    warnings: [],
  });
  const leafOnly = thumbprintFromChain([cert('aa', false)]);
  assert.equal(leafOnly.thumbprint, 'aa');
  assert.match(leafOnly.warnings[0]!, /only its own certificate/);
  assert.throws(() => thumbprintFromChain([]), /no certificate/);
});

test('serve and publish expose only the discovery and the JWKS it names, never other files in the folder', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'issuer-leak-'));
  try {
    const d = await docs('https://oidc.example.com/team/a');
    await writeDocuments(dir, d.files);
    // What an operator may leave next to the documents: a private JWK, a credentials file, a hidden folder.
    await writeFile(
      join(dir, 'signing-key.json'),
      JSON.stringify({ kty: 'EC', d: 'c2VjcmV0', x: 'a', y: 'b' }),
    );
    await mkdir(join(dir, '.aws'), { recursive: true });
    await writeFile(join(dir, '.aws', 'credentials.json'), '{"SecretAccessKey":"wJalr"}');
    await mkdir(join(dir, '.well-known', 'more'), { recursive: true });
    await writeFile(join(dir, '.well-known', 'more', 'x.json'), '{}');
    const files = await readDocuments(dir);
    assert.deepEqual(
      files.map((f) => f.path),
      ['.well-known/openid-configuration', 'keys.json'],
    );
    const s = await startIssuerServer({ dir, port: 0 });
    try {
      for (const p of ['/signing-key.json', '/.aws/credentials.json', '/.well-known/more/x.json'])
        assert.equal((await fetch(`${s.url}${p}`)).status, 404, p);
      assert.equal((await fetch(`${s.url}/keys.json`)).status, 200);
    } finally {
      await s.close();
    }
    const out = await publishDocuments(files, join(dir, 'site'));
    assert.deepEqual(
      out.map((o) => o.location.slice(dir.length)),
      ['/site/.well-known/openid-configuration', '/site/keys.json'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve and publish refuse a JWKS holding a private or symmetric key, with one line saying why', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'issuer-priv-'));
  try {
    const d = await docs('https://oidc.example.com');
    await writeDocuments(dir, d.files);
    const pub = JSON.parse(d.files[1]!.body) as { keys: Array<Record<string, unknown>> };
    const cases: Array<[unknown, RegExp]> = [
      [{ keys: [{ ...pub.keys[0], d: 'c2VjcmV0' }] }, /keys\[0\] holds private key members \(d\)/],
      [
        { keys: [pub.keys[0], { kty: 'RSA', n: 'x', e: 'AQAB', p: 'a', q: 'b' }] },
        /keys\[1\] holds private key members \(p, q\)/,
      ],
      [{ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }, /keys\[0\] is a symmetric key/],
      [{ keys: [null] }, /keys\[0\] is null/],
      [{ nokeys: [] }, /is not a JWKS/],
      [[1], /is not a JSON object/],
    ];
    for (const [jwks, why] of cases) {
      await writeFile(join(dir, 'keys.json'), JSON.stringify(jwks));
      const e = await readDocuments(dir).then(
        () => assert.fail(`accepted ${JSON.stringify(jwks)}`),
        (err: Error) => err,
      );
      assert.match(e.message, why);
      assert.doesNotMatch(e.message, /c2VjcmV0/, 'the key material is never echoed');
      assert.equal(e.message.split('\n').length, 1);
      await assert.rejects(startIssuerServer({ dir, port: 0 }), why);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readDocuments: the JWKS path comes from jwks_uri under the issuer, else --jwks-path', async () => {
  assert.equal(jwksPathFromDiscovery('https://h/a', 'https://h/a/openid/v1/jwks'), 'openid/v1/jwks');
  assert.equal(jwksPathFromDiscovery('https://h/a/', 'https://h/a/keys.json'), 'keys.json');
  for (const outside of [
    'https://other/a/keys.json',
    'https://h/b/keys.json',
    'https://h/a/../x',
    'https://h/a/k?x=1',
    'https://h/a/%2e%2e/x',
  ])
    assert.equal(jwksPathFromDiscovery('https://h/a', outside), undefined, outside);
  const dir = await mkdtemp(join(tmpdir(), 'issuer-jwkspath-'));
  try {
    const d = await buildIssuerDocuments({
      issuer: 'https://oidc.example.com',
      publicKeys: parsePublicKeys(fx('ec.pub')),
      jwksUri: 'https://keys.example.net/jwks',
      jwksPath: 'pub/jwks.json',
    });
    await writeDocuments(dir, d.files);
    await assert.rejects(readDocuments(dir), /cannot read .*keys.json: no such file or directory/);
    const files = await readDocuments(dir, { jwksPath: 'pub/jwks.json' });
    assert.deepEqual(
      files.map((f) => f.path),
      ['.well-known/openid-configuration', 'pub/jwks.json'],
    );
    await assert.rejects(readDocuments(dir, { jwksPath: '../x' }), /must be a relative file path/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve: hostile request paths, methods and headers get exact answers, never a file outside the two', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'issuer-hostile-'));
  try {
    const d = await docs('https://oidc.example.com/a');
    await writeDocuments(dir, d.files);
    await writeFile(join(dir, 'secret.json'), '{"k":"c2VjcmV0"}');
    const s = await startIssuerServer({ dir, port: 0 });
    const origin = s.url.replace(/\/a$/, '');
    try {
      const table: Array<[string, string, number]> = [
        ['GET', '/a/keys.json', 200],
        ['GET', '/a/keys.json?x=1', 200],
        ['GET', '/a/../a/keys.json', 200], // normalised by the client, still one of the two documents
        ['GET', '/a/secret.json', 404],
        ['GET', '/a/%2e%2e/secret.json', 404],
        ['GET', '/a//keys.json', 404],
        ['GET', '/a/keys.json/', 404],
        ['GET', '/a/KEYS.JSON', 404],
        ['GET', '/a/keys.json%00', 404],
        ['GET', '/keys.json', 404],
        ['GET', `/a/${'x'.repeat(8000)}`, 404],
        ['POST', '/a/keys.json', 405],
        ['DELETE', '/a/.well-known/openid-configuration', 405],
        ['PUT', '/a/secret.json', 404],
      ];
      for (const [method, path, status] of table) {
        const r = await fetch(`${origin}${path}`, { method });
        assert.equal(r.status, status, `${method} ${path}`);
        assert.doesNotMatch(await r.text(), /c2VjcmV0/);
      }
      const bad = await fetch(`${origin}/a/keys.json`, { headers: { 'if-none-match': '\u00ff'.repeat(3) } });
      assert.equal(bad.status, 200, 'an odd If-None-Match is just not a match');
    } finally {
      await s.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
