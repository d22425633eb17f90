import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, stat, mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { request, createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { S3Client, CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { createCa, issueCertificate, sha1Thumbprint } from '../../../src/pki/index.js';
import { publishDocuments, readDocuments } from '../../../src/issuer/index.js';
import { BIN, cli, freePort, requireBuild, startMoto, stop, waitForOutput } from './harness.js';

const fixture = (f: string) => join(import.meta.dirname, '../../unit/issuer/fixtures', f);

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(url: string, ca: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> {
  return new Promise((res, rej) => {
    const req = request(url, { ca, headers, method }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => (body += d.toString()));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body }));
    });
    req.on('error', rej);
    req.end();
  });
}

function noStack(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at /, `stack trace printed: ${stderr}`);
}

describe('issuer end to end: keygen → documents → serve (HTTPS) → check → mint → verify', () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let caPem: string;
  let issuer: string;
  let caFile: string;

  before(async () => {
    requireBuild();
    dir = await mkdtemp(join(tmpdir(), 'issuer-it-'));
    const ca = await createCa('issuer-it CA');
    const leaf = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    caPem = ca.cert;
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, ca.cert);
    // Full chain (leaf then CA), as a well-configured issuer serves it.
    await writeFile(join(dir, 'tls.crt'), leaf.cert + ca.cert);
    await writeFile(join(dir, 'tls.key'), leaf.key, { mode: 0o600 });
    const port = await freePort();
    issuer = `https://127.0.0.1:${port}/cluster-a`;

    const kg = await cli(['issuer', 'keygen', '--out', join(dir, 'keys')]);
    assert.equal(kg.code, 0, kg.stderr);
    assert.equal((await stat(join(dir, 'keys/sa-signer.key'))).mode & 0o777, 0o600);
    const again = await cli(['issuer', 'keygen', '--out', join(dir, 'keys')]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^openirsa: .*exists; pass --force/);

    const docs = await cli([
      'issuer',
      'documents',
      '--issuer',
      issuer,
      '--public-key',
      join(dir, 'keys/sa-signer.pub'),
      '--out',
      join(dir, 'docs'),
    ]);
    assert.equal(docs.code, 0, docs.stderr);

    server = spawn(process.execPath, [
      BIN,
      'issuer',
      'serve',
      '--dir',
      join(dir, 'docs'),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
    ]);
    const line = await waitForOutput(server, /serving \S+/);
    assert.equal(line, `serving ${issuer}/.well-known/openid-configuration`);
  });

  after(async () => {
    const code = await stop(server);
    assert.equal(code, 0, 'serve shuts down cleanly on SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  test('serve: caching headers, ETag/304, 404 and 405', async () => {
    const url = `${issuer}/.well-known/openid-configuration`;
    const r = await get(url, caPem);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['cache-control'], 'public, max-age=3600');
    assert.match(String(r.headers.etag), /^"[A-Za-z0-9_-]+"$/);
    assert.equal(r.body, await readFile(join(dir, 'docs/.well-known/openid-configuration'), 'utf8'));
    const disc = JSON.parse(r.body) as { issuer: string; jwks_uri: string };
    assert.equal(disc.issuer, issuer);
    assert.equal(disc.jwks_uri, `${issuer}/keys.json`);
    const cached = await get(url, caPem, { 'if-none-match': String(r.headers.etag) });
    assert.equal(cached.status, 304);
    assert.equal(cached.body, '');
    assert.equal((await get(`${issuer}/nope`, caPem)).status, 404);
    assert.equal((await get(`${issuer.replace('/cluster-a', '')}/keys.json`, caPem)).status, 404);
    assert.equal((await get(`${issuer}/../docs/keys.json`, caPem)).status, 404);
    assert.equal((await get(url, caPem, {}, 'POST')).status, 405);
    const head = await get(`${issuer}/keys.json`, caPem, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  test('check: clean issuer passes with the CA; fails as untrusted without it', async () => {
    const okRun = await cli(['issuer', 'check', issuer, '--ca-file', caFile]);
    assert.equal(okRun.code, 0, okRun.stdout + okRun.stderr);
    assert.match(okRun.stdout, /^ok +issuer: "issuer" is exactly/m);
    assert.match(okRun.stdout, /kid as kube-apiserver computes it/);
    assert.match(okRun.stdout, /: OK$/m);
    const untrusted = await cli(['issuer', 'check', issuer]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stdout, /ERROR +tls-untrusted: /);
    const slash = await cli(['issuer', 'check', `${issuer}/`, '--ca-file', caFile]);
    assert.equal(slash.code, 1);
    assert.match(slash.stdout, /ERROR +issuer-trailing-slash: /);
  });

  test('mint: token verifies with jose against the served JWKS and passes check --token', async () => {
    const tokenFile = join(dir, 'token');
    const m = await cli([
      'issuer',
      'mint',
      '--key',
      join(dir, 'keys/sa-signer.key'),
      '--issuer',
      issuer,
      '--service-account',
      'great-namespace/great-serviceaccount',
      '--audience',
      'sts.amazonaws.com',
      '--pod',
      'app-0',
      '--pod-uid',
      '0d7a8b6c-0000-4000-8000-000000000001',
      '--out',
      tokenFile,
    ]);
    assert.equal(m.code, 0, m.stderr);
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
    const token = (await readFile(tokenFile, 'utf8')).trim();
    const jwks = JSON.parse((await get(`${issuer}/keys.json`, caPem)).body) as Parameters<
      typeof createLocalJWKSet
    >[0];
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer,
      audience: 'sts.amazonaws.com',
    });
    assert.equal(protectedHeader.kid, jwks.keys[0]!.kid);
    assert.equal(payload.sub, 'system:serviceaccount:great-namespace:great-serviceaccount');
    assert.deepEqual((payload['kubernetes.io'] as { pod: unknown }).pod, {
      name: 'app-0',
      uid: '0d7a8b6c-0000-4000-8000-000000000001',
    });
    assert.equal((payload.exp as number) - (payload.iat as number), 3600);
    const c = await cli(['issuer', 'check', issuer, '--ca-file', caFile, '--token', tokenFile]);
    assert.equal(c.code, 0, c.stdout);
    assert.match(c.stdout, /ok +token-signature: token signature verifies/);
  });

  test('a token from a key the JWKS does not hold fails clearly (jose and check)', async () => {
    const other = join(dir, 'other-token');
    const m = await cli([
      'issuer',
      'mint',
      '--key',
      fixture('rsa.key'),
      '--issuer',
      issuer,
      '--service-account',
      'ns/sa',
      '--out',
      other,
    ]);
    assert.equal(m.code, 0, m.stderr);
    const token = (await readFile(other, 'utf8')).trim();
    const jwks = JSON.parse((await get(`${issuer}/keys.json`, caPem)).body) as Parameters<
      typeof createLocalJWKSet
    >[0];
    await assert.rejects(jwtVerify(token, createLocalJWKSet(jwks)), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_JWKS_NO_MATCHING_KEY');
      return true;
    });
    const c = await cli(['issuer', 'check', issuer, '--ca-file', caFile, '--token', other]);
    assert.equal(c.code, 1);
    assert.match(
      c.stdout,
      new RegExp(`ERROR +token-kid-not-published: token kid "${decodeProtectedHeader(token).kid}"`),
    );
  });

  test('thumbprint: the last certificate presented (the CA), with the chain', async () => {
    const t = await cli(['issuer', 'thumbprint', issuer, '--ca-file', caFile]);
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout.trim().split('\n');
    assert.equal(lines.at(-1), sha1Thumbprint(caPem));
    assert.equal(lines.filter((l) => l.startsWith('# ') && / sha1 /.test(l)).length, 2);
    assert.match(t.stdout, /<- thumbprint/);
    assert.equal(t.stderr, '');
  });

  test('publish to a folder reads back identical documents', async () => {
    const p = await cli(['issuer', 'publish', '--from', join(dir, 'docs'), '--to', join(dir, 'copy')]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /^published .*openid-configuration .*verified\)$/m);
    for (const f of ['.well-known/openid-configuration', 'keys.json']) {
      assert.equal(
        await readFile(join(dir, 'copy', f), 'utf8'),
        await readFile(join(dir, 'docs', f), 'utf8'),
      );
    }
    // A second run finds the same bytes: it says so and writes nothing.
    const again = await cli(['issuer', 'publish', '--from', join(dir, 'docs'), '--to', join(dir, 'copy')]);
    assert.equal(again.code, 0, again.stderr);
    const lines = again.stdout.trim().split('\n');
    assert.equal(lines.length, 2, again.stdout);
    for (const line of lines) assert.match(line, /^unchanged .* bytes, verified\)$/);
  });
});

describe('issuer publish to a real S3-compatible server (moto)', () => {
  let moto: Awaited<ReturnType<typeof startMoto>> | undefined;
  let dir: string;
  const env = {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_SESSION_TOKEN: '',
  };

  before(async () => {
    requireBuild();
    moto = await startMoto();
    dir = await mkdtemp(join(tmpdir(), 'issuer-s3-'));
    const d = await cli([
      'issuer',
      'documents',
      '--issuer',
      'https://oidc-bucket.s3.amazonaws.com/cluster-b',
      '--public-key',
      fixture('rsa.pub'),
      '--public-key',
      fixture('ec.pub'),
      '--out',
      join(dir, 'docs'),
    ]);
    assert.equal(d.code, 0, d.stderr);
  });

  after(async () => {
    await stop(moto?.child);
    await rm(dir, { recursive: true, force: true });
  });

  test('uploads with application/json, reads back, and the objects are what was written', async () => {
    const s3 = new S3Client({
      endpoint: moto!.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'oidc-bucket' }));
    const p = await cli(
      ['issuer', 'publish', '--from', join(dir, 'docs'), '--to', 's3://oidc-bucket/cluster-b'],
      {
        ...env,
        AWS_ENDPOINT_URL_S3: moto!.endpoint,
      },
    );
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /published s3:\/\/oidc-bucket\/cluster-b\/\.well-known\/openid-configuration/);
    for (const f of ['.well-known/openid-configuration', 'keys.json']) {
      const got = await s3.send(new GetObjectCommand({ Bucket: 'oidc-bucket', Key: `cluster-b/${f}` }));
      assert.equal(got.ContentType, 'application/json');
      assert.equal(await got.Body!.transformToString(), await readFile(join(dir, 'docs', f), 'utf8'));
    }
    // Published again: the same objects are read, compared and not uploaded again.
    const again = await publishDocuments(
      await readDocuments(join(dir, 'docs')),
      's3://oidc-bucket/cluster-b',
      {
        s3,
      },
    );
    assert.deepEqual(
      again.map((o) => o.unchanged),
      [true, true],
    );
    s3.destroy();
  });

  test('a missing bucket is a one-line error and exit 1', async () => {
    const p = await cli(['issuer', 'publish', '--from', join(dir, 'docs'), '--to', 's3://no-such-bucket/x'], {
      ...env,
      AWS_ENDPOINT_URL: moto!.endpoint,
    });
    assert.equal(p.code, 1);
    assert.match(
      p.stderr,
      /^openirsa: upload to s3:\/\/no-such-bucket\/x\/.* failed \(HTTP 404\): NoSuchBucket/,
    );
    assert.equal(p.stderr.trim().split('\n').length, 1);
    noStack(p.stderr);
  });
});

describe('issuer CLI: bad input is one line and a non-zero exit', () => {
  let dir: string;
  let bad: Server;
  let badUrl: string;
  let badCa: string;

  before(async () => {
    requireBuild();
    dir = await mkdtemp(join(tmpdir(), 'issuer-bad-'));
    await mkdir(join(dir, 'empty'));
    const ca = await createCa('issuer-bad CA');
    const leaf = await issueCertificate(ca);
    badCa = join(dir, 'ca.pem');
    await writeFile(badCa, ca.cert);
    // An HTTPS issuer whose JWKS is an HTML page.
    bad = createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
      const base = `https://127.0.0.1:${(bad.address() as { port: number }).port}`;
      if (req.url === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/keys.json` }));
      } else {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>not json</html>');
      }
    });
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
    badUrl = `https://127.0.0.1:${(bad.address() as { port: number }).port}`;
  });

  after(async () => {
    await new Promise<void>((r) => bad.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  const cases: Array<[string, string[], RegExp]> = [
    [
      'unreadable key',
      [
        'issuer',
        'mint',
        '--key',
        '/nonexistent/key',
        '--issuer',
        'https://a.example',
        '--service-account',
        'a/b',
      ],
      /cannot read key file \/nonexistent\/key: no such file or directory/,
    ],
    [
      'public key given to mint',
      [
        'issuer',
        'mint',
        '--key',
        fixture('rsa.pub'),
        '--issuer',
        'https://a.example',
        '--service-account',
        'a/b',
      ],
      /a private key is needed/,
    ],
    [
      'wrong key type',
      [
        'issuer',
        'documents',
        '--issuer',
        'https://a.example',
        '--public-key',
        fixture('ed25519.pub'),
        '--out',
        '/tmp/x-never',
      ],
      /ed25519 keys are not supported/,
    ],
    [
      'not a key',
      [
        'issuer',
        'documents',
        '--issuer',
        'https://a.example',
        '--public-key',
        fixture('expected-jwks.json'),
        '--out',
        '/tmp/x-never',
      ],
      /contains no PEM/,
    ],
    [
      'malformed issuer URL',
      [
        'issuer',
        'documents',
        '--issuer',
        'https://a.example/?x',
        '--public-key',
        fixture('rsa.pub'),
        '--out',
        '/tmp/x-never',
      ],
      /must not have a query/,
    ],
    [
      'http issuer',
      [
        'issuer',
        'documents',
        '--issuer',
        'http://a.example',
        '--public-key',
        fixture('rsa.pub'),
        '--out',
        '/tmp/x-never',
      ],
      /must use https/,
    ],
    ['malformed check URL', ['issuer', 'check', 'not a url'], /is not a valid URL/],
    [
      'bad service account',
      [
        'issuer',
        'mint',
        '--key',
        fixture('rsa.key'),
        '--issuer',
        'https://a.example',
        '--service-account',
        'nope',
      ],
      /NAMESPACE\/NAME/,
    ],
    ['unknown flag', ['issuer', 'keygen', '--nope'], /Unknown option '--nope'/],
    ['missing flag', ['issuer', 'documents', '--issuer', 'https://a.example'], /--out is required/],
    ['bad bits', ['issuer', 'keygen', '--out', '/tmp/x-never', '--bits', '1024'], /2048, 3072, 4096/],
    [
      'publish from an empty folder',
      ['issuer', 'publish', '--from', '/nonexistent-dir', '--to', '/tmp/x-never'],
      /cannot read issuer folder/,
    ],
    ['bad s3 url', ['issuer', 'publish', '--from', '/tmp', '--to', 's3://'], /s3:\/\/bucket/],
    [
      'serve half TLS',
      ['issuer', 'serve', '--dir', fixture('.'), '--tls-cert', fixture('rsa.pub')],
      /no .*openid-configuration|both a TLS certificate/,
    ],
    ['thumbprint of http', ['issuer', 'thumbprint', 'http://a.example'], /not https/],
    [
      'unreachable thumbprint',
      ['issuer', 'thumbprint', 'https://127.0.0.1:1'],
      /cannot connect to 127.0.0.1:1: ECONNREFUSED/,
    ],
  ];
  for (const [name, args, re] of cases) {
    test(name, async () => {
      const r = await cli(args.map((a) => a.replace('/tmp/x-never', join(dir, 'never'))));
      assert.notEqual(r.code, 0, `${name}: exit 0\n${r.stdout}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^openirsa: /);
      assert.match(r.stderr, re);
      noStack(r.stderr);
    });
  }

  test('unreachable issuer: a finding and exit 1', async () => {
    const r = await cli(['issuer', 'check', 'https://127.0.0.1:1/x']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /ERROR +discovery-unreachable: .*connection refused/);
    noStack(r.stdout + r.stderr);
  });

  test('a non-JSON JWKS: a finding and exit 1', async () => {
    const r = await cli(['issuer', 'check', badUrl, '--ca-file', badCa]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /^ok +issuer: /m);
    assert.match(r.stdout, /ERROR +jwks-not-json: JWKS https:\/\/127\.0\.0\.1:\d+\/keys\.json is not JSON/);
    noStack(r.stdout + r.stderr);
    const http = await cli(['issuer', 'check', badUrl.replace('https:', 'http:')]);
    assert.equal(http.code, 1);
    assert.match(http.stdout, /ERROR +url-invalid: .*must use https/);
  });

  test('help: issuer --help and every subcommand --help exit 0', async () => {
    const top = await cli(['issuer', '--help']);
    assert.equal(top.code, 0);
    for (const sub of ['keygen', 'documents', 'publish', 'serve', 'check', 'thumbprint', 'mint']) {
      assert.match(top.stdout, new RegExp(`\\b${sub}\\b`));
      const h = await cli(['issuer', sub, '--help']);
      assert.equal(h.code, 0, sub);
      assert.match(h.stdout, new RegExp(`^usage: openirsa issuer ${sub}`));
    }
    assert.ok(readFileSync(BIN));
  });
});
