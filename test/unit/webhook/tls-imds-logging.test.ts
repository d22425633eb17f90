import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { getCiphers } from 'node:tls';
import { cipherString, GO_CIPHER_SUITES, minVersion, TlsConfigError } from '../../../src/net/tls.js';
import { composeRoleArnFromImds, partitionForRegion, ImdsError } from '../../../src/webhook/imds.js';
import { formatTextLine, levelForVerbosity } from '../../../src/webhook/logging.js';
import { queryIsValid } from '../../../src/webhook/server.js';

test('Go cipher names map to OpenSSL names; unknown names fail like the reference', () => {
  assert.equal(cipherString([]), undefined);
  const s = cipherString([
    'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
    'TLS_AES_256_GCM_SHA384',
  ])!;
  assert.equal(
    s,
    'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305',
  );
  assert.throws(
    () => cipherString(['TLS_NOPE']),
    (e: unknown) =>
      e instanceof TlsConfigError &&
      e.message === 'invalid tls-cipher-suites: unsupported cipher suite: TLS_NOPE',
  );
  // Every secure TLS 1.2 suite the reference accepts exists in this Node's OpenSSL.
  const have = new Set(getCiphers().map((c) => c.toUpperCase()));
  for (const [go, ossl] of Object.entries(GO_CIPHER_SUITES)) {
    if (go.startsWith('TLS_ECDHE') && /GCM|CHACHA/.test(go)) assert.ok(have.has(ossl), `${go} → ${ossl}`);
  }
});

test('tls-min-version values', () => {
  assert.equal(minVersion(''), 'TLSv1.2');
  assert.equal(minVersion('1.0'), 'TLSv1');
  assert.equal(minVersion('1.3'), 'TLSv1.3');
  assert.equal(minVersion('VersionTLS11'), 'TLSv1.1');
  assert.throws(() => minVersion('TLSv1.2'), /Invalid value for tls-min-version unsupported version TLSv1.2/);
});

test('partition from region', () => {
  assert.equal(partitionForRegion('eu-west-1'), 'aws');
  assert.equal(partitionForRegion('cn-north-1'), 'aws-cn');
  assert.equal(partitionForRegion('us-gov-west-1'), 'aws-us-gov');
  assert.equal(partitionForRegion('us-iso-east-1'), 'aws-iso');
  assert.equal(partitionForRegion('us-isob-east-1'), 'aws-iso-b');
  assert.equal(partitionForRegion('eusc-de-east-1'), 'aws-eusc');
});

test('compose-role-arn reads the instance identity document (IMDSv2 token) from a local IMDS', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${String(req.headers['x-aws-ec2-metadata-token'] ?? '')}`);
    if (req.method === 'PUT' && req.url === '/latest/api/token') return void res.end('TOKEN123');
    if (req.url === '/latest/dynamic/instance-identity/document') {
      return void res.end(
        JSON.stringify({ accountId: '123456789012', region: 'cn-northwest-1', instanceId: 'i-0' }),
      );
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    assert.deepEqual(await composeRoleArnFromImds(`http://127.0.0.1:${port}/`), {
      accountId: '123456789012',
      partition: 'aws-cn',
    });
    assert.deepEqual(seen, [
      'PUT /latest/api/token ',
      'GET /latest/dynamic/instance-identity/document TOKEN123',
    ]);
  } finally {
    server.close();
  }
  await assert.rejects(() => composeRoleArnFromImds(`http://127.0.0.1:${port}`, 300), ImdsError);
});

test('text log format and verbosity', () => {
  assert.equal(
    formatTextLine(
      '{"level":40,"time":"2026-01-01T00:00:00.000Z","component":"webhook","msg":"hello","a":1,"b":"two words"}',
    ),
    '2026-01-01T00:00:00.000Z WARN hello a=1 b="two words"\n',
  );
  assert.equal(formatTextLine('not json'), 'not json');
  if (!process.env.OPENIRSA_LOG_LEVEL) {
    assert.equal(levelForVerbosity(0), 'info');
    assert.equal(levelForVerbosity(3), 'debug');
    assert.equal(levelForVerbosity(4), 'trace');
  }
});

test('query validation follows Go url.ParseQuery', () => {
  assert.equal(queryIsValid(''), true);
  assert.equal(queryIsValid('timeout=10s'), true);
  assert.equal(queryIsValid('a=%20b+c&d'), true);
  assert.equal(queryIsValid('a=%zz'), false);
  assert.equal(queryIsValid('a=1;b=2'), false);
});
