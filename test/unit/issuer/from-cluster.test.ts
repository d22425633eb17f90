import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import {
  buildDiscovery,
  buildJwks,
  documentsFromCluster,
  goJson,
  IssuerError,
  CLUSTER_JWKS_PATH,
} from '../../../src/issuer/index.js';

const fx = (f: string) => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');
const API_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const PUBLIC = 'https://oidc.example.com/cluster-a';

/** What kube-apiserver serves for two signing keys (built by the key-based builder, pinned against go-jose). */
async function clusterDocs(issuer = API_ISSUER) {
  const jwks = await buildJwks([createPublicKey(fx('rsa.pub')), createPublicKey(fx('ec.pub'))]);
  const discovery = buildDiscovery(issuer, `${issuer}/openid/v1/jwks`, jwks);
  return { discovery: JSON.parse(goJson(discovery)) as unknown, jwks: JSON.parse(goJson(jwks)) as unknown };
}

test('from cluster: same issuer and jwks_uri give back the API server documents byte for byte', async () => {
  const c = await clusterDocs();
  const docs = await documentsFromCluster(c, { jwksUri: `${API_ISSUER}/openid/v1/jwks` });
  assert.equal(docs.clusterIssuer, API_ISSUER);
  assert.deepEqual(docs.warnings, []);
  assert.deepEqual(
    docs.files.map((f) => f.path),
    ['.well-known/openid-configuration', CLUSTER_JWKS_PATH],
  );
  assert.equal(docs.files[0]!.body, goJson(c.discovery));
  assert.equal(docs.files[1]!.body, goJson(c.jwks));
});

test('from cluster: a public issuer gets the same keys, its own jwks_uri, and a warning naming both flags', async () => {
  const c = await clusterDocs();
  const docs = await documentsFromCluster(c, { issuer: PUBLIC });
  assert.equal(docs.discovery.issuer, PUBLIC);
  assert.equal(docs.discovery.jwks_uri, `${PUBLIC}/openid/v1/jwks`);
  assert.deepEqual(docs.jwks, c.jwks);
  assert.deepEqual(docs.discovery.id_token_signing_alg_values_supported, ['ES256', 'RS256']);
  assert.equal(docs.warnings.length, 1);
  assert.match(docs.warnings[0]!, /first --service-account-issuer/);
  assert.ok(docs.warnings[0]!.includes(API_ISSUER) && docs.warnings[0]!.includes(PUBLIC));
});

test('from cluster: a kid the cluster computed differently is kept (tokens carry it), with a warning', async () => {
  const c = (await clusterDocs()) as { discovery: unknown; jwks: { keys: Array<Record<string, unknown>> } };
  c.jwks.keys[0]!.kid = 'external-signer-1';
  const docs = await documentsFromCluster(c, { issuer: API_ISSUER });
  assert.equal(docs.jwks.keys[0]!.kid, 'external-signer-1');
  assert.match(docs.warnings.join('\n'), /kid "external-signer-1" is not the one kube-apiserver computes/);
});

test('from cluster: private members, missing kids, bad keys, empty JWKS and no issuer are refused', async () => {
  const c = (await clusterDocs()) as { discovery: unknown; jwks: { keys: Array<Record<string, unknown>> } };
  const cases: Array<[unknown, unknown, RegExp]> = [
    [c.discovery, { keys: [{ ...c.jwks.keys[0], d: 'AQAB' }] }, /private key members/],
    [c.discovery, { keys: [{ ...c.jwks.keys[0], kid: undefined }] }, /has no kid/],
    [c.discovery, { keys: [{ kty: 'RSA', kid: 'x', n: 'AA', e: 'AA' }] }, /not a usable/],
    [c.discovery, { keys: [{ kty: 'oct', kid: 'x', k: 'c2VjcmV0' }] }, /private key members/],
    [c.discovery, { keys: [] }, /JWKS has no keys/],
    [c.discovery, 'nope', /JWKS has no keys/],
    [{ jwks_uri: 'x' }, c.jwks, /discovery document has no issuer/],
  ];
  for (const [discovery, jwks, re] of cases) {
    await assert.rejects(documentsFromCluster({ discovery, jwks }), (e: unknown) => {
      assert.ok(e instanceof IssuerError);
      assert.equal(e.code, 'DocumentInvalid');
      assert.match(e.message, re);
      return true;
    });
  }
  await assert.rejects(documentsFromCluster(c, { issuer: 'http://oidc.example.com' }), /https/);
});
