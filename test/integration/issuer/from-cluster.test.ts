/**
 * `issuer documents --from-cluster` through the built CLI against an HTTPS API server stand-in that checks the
 * kubeconfig's bearer token and CA, as kube-apiserver does for the two non-resource paths it reads. The real
 * kube-apiserver is exercised by test/e2e/setup.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import { createCa, issueCertificate } from '../../../src/pki/index.js';
import { buildDiscovery, buildJwks, goJson } from '../../../src/issuer/index.js';
import { cli, requireBuild, ROOT } from './harness.js';

const TOKEN = 'from-cluster-test-bearer-token';
const API_ISSUER = 'https://kubernetes.default.svc.cluster.local';
let server: Server;
let dir: string;
let kubeconfig: string;
let jwksBody: string;
let discoveryBody: string;
let status = 200;

before(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'openirsa-from-cluster-'));
  const ca = await createCa('from-cluster test CA');
  const leaf = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const pub = createPublicKey(readFileSync(join(ROOT, 'test/unit/issuer/fixtures/rsa.pub'), 'utf8'));
  const jwks = await buildJwks([pub]);
  jwksBody = goJson(jwks);
  discoveryBody = goJson(buildDiscovery(API_ISSUER, `${API_ISSUER}/openid/v1/jwks`, jwks));
  server = createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.statusCode = 401;
      return res.end('{"kind":"Status","code":401}');
    }
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') return res.end(discoveryBody);
    if (req.url === '/openid/v1/jwks') return res.end(jwksBody);
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const kc = (token: string) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'c',
          cluster: {
            server: `https://127.0.0.1:${port}`,
            'certificate-authority-data': Buffer.from(ca.cert).toString('base64'),
          },
        },
      ],
      users: [{ name: 'u', user: { token } }],
      contexts: [
        { name: 'good', context: { cluster: 'c', user: 'u' } },
        { name: 'other', context: { cluster: 'c', user: 'bad' } },
      ],
      'current-context': 'good',
    });
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kc(TOKEN));
  writeFileSync(join(dir, 'kubeconfig-bad'), kc('wrong'));
});
after(() => server?.close());

test('documents --from-cluster: the API server keys, republished for the public issuer (KUBECONFIG as kubectl reads it)', async () => {
  const out = join(dir, 'site');
  const r = await cli(
    ['issuer', 'documents', '--from-cluster', '--issuer', 'https://oidc.example.com/a', '--out', out],
    { KUBECONFIG: kubeconfig },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /read 1 key\(s\) of the cluster's issuer https:\/\/kubernetes\.default\.svc\.cluster\.local/,
  );
  assert.match(r.stderr, /make "https:\/\/oidc\.example\.com\/a" the first --service-account-issuer/);
  assert.equal(readFileSync(join(out, 'openid/v1/jwks'), 'utf8'), jwksBody);
  const discovery = JSON.parse(readFileSync(join(out, '.well-known/openid-configuration'), 'utf8'));
  assert.equal(discovery.issuer, 'https://oidc.example.com/a');
  assert.equal(discovery.jwks_uri, 'https://oidc.example.com/a/openid/v1/jwks');
});

test('documents --from-cluster: without --issuer, the cluster issuer and its documents as served', async () => {
  const out = join(dir, 'same');
  const r = await cli([
    'issuer',
    'documents',
    '--from-cluster',
    '--kubeconfig',
    kubeconfig,
    '--context',
    'good',
    '--jwks-uri',
    `${API_ISSUER}/openid/v1/jwks`,
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(out, '.well-known/openid-configuration'), 'utf8'), discoveryBody);
});

test('documents --from-cluster: refusals are one line with the reason and an exit code', async () => {
  const cases: Array<[string[], NodeJS.ProcessEnv, number, RegExp]> = [
    [['--kubeconfig', join(dir, 'kubeconfig-bad')], {}, 1, /answered HTTP 401/],
    [['--kubeconfig', kubeconfig, '--context', 'nope'], {}, 2, /no context "nope"/],
    [['--kubeconfig', join(dir, 'missing')], {}, 2, /cannot load the Kubernetes client configuration/],
    [['--kubeconfig', kubeconfig, '--public-key', 'x.pub'], {}, 2, /exclude each other/],
  ];
  for (const [args, env, code, re] of cases) {
    const r = await cli(['issuer', 'documents', '--from-cluster', '--out', join(dir, 'x'), ...args], env);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  status = 404;
  const r = await cli([
    'issuer',
    'documents',
    '--from-cluster',
    '--kubeconfig',
    kubeconfig,
    '--out',
    join(dir, 'y'),
  ]);
  status = 200;
  assert.equal(r.code, 1);
  assert.match(r.stderr, /HTTP 404 \(the API server serves no issuer discovery/);
});
