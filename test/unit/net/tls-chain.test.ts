// `openirsa issuer thumbprint` prints the value the STS then checks a ThumbprintList against: both read the chain a
// server presents through src/net/tls-chain.ts, so on a real chain they agree, also when the provider's CA bundle
// holds the issuer of a certificate it rejects (with a trust store, Node would complete the chain from the store).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueCertificate, sha1Thumbprint } from '../../../src/pki/index.js';
import { ProviderKeys } from '../../../src/oidc/keys.js';
import { TokenError } from '../../../src/oidc/errors.js';
import { thumbprintOf } from '../../../src/issuer/thumbprint.js';
import { makeKey } from '../../helpers/sts-fixtures.js';

const ca = await createCa('chain test CA');
const otherCa = await createCa('some other CA');
const key = await makeKey('k1');

/** An issuer over HTTPS presenting `certs` (leaf first). */
async function issuer(certs: string, keyPem: string): Promise<{ url: string; server: Server }> {
  let url = '';
  const server = createServer({ cert: certs, key: keyPem }, (req, res) => {
    if (req.url === '/.well-known/openid-configuration')
      res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/keys` }));
    else if (req.url === '/keys') res.end(JSON.stringify({ keys: [key.jwk] }));
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://localhost:${(server.address() as AddressInfo).port}`;
  after(() => server.close());
  return { url, server };
}

test('full chain (leaf + CA): issuer thumbprint prints the CA, and the STS accepts exactly that value', async () => {
  const leaf = await issueCertificate(ca, { dnsNames: ['localhost'] });
  const { url } = await issuer(leaf.cert + ca.cert, leaf.key);
  const printed = (await thumbprintOf(url)).thumbprint;
  assert.equal(printed, sha1Thumbprint(ca.cert));
  // No CA trusts the chain (another CA's bundle), so the ThumbprintList decides.
  const sts = new ProviderKeys({ url, caBundle: otherCa.cert, thumbprints: [printed] });
  assert.ok(await sts.getKey('k1', 'RS256'));
  const wrong = new ProviderKeys({
    url,
    caBundle: otherCa.cert,
    thumbprints: [sha1Thumbprint(otherCa.cert)],
  });
  await assert.rejects(wrong.getKey('k1', 'RS256'), (e: unknown) => {
    assert.ok(e instanceof TokenError);
    assert.equal(e.code, 'thumbprint-mismatch');
    return true;
  });
});

test('leaf only, expired, with its CA in the bundle: the STS checks the chain issuer thumbprint printed', async () => {
  // Expired, so the CA bundle does not trust it and the ThumbprintList decides; the bundle still holds its issuer.
  const leaf = await issueCertificate(ca, { dnsNames: ['localhost'], days: -1 });
  const { url } = await issuer(leaf.cert, leaf.key);
  const r = await thumbprintOf(url, { ca: ca.cert });
  assert.equal(r.chain.length, 1);
  assert.equal(r.thumbprint, sha1Thumbprint(leaf.cert));
  assert.equal(r.trusted, false);
  const sts = new ProviderKeys({ url, caBundle: ca.cert, thumbprints: [r.thumbprint] });
  assert.ok(await sts.getKey('k1', 'RS256'), 'the STS accepts the value issuer thumbprint printed');
  // The CA's thumbprint is not what the server presents: a chain completed from the bundle would have matched it.
  const byStore = new ProviderKeys({ url, caBundle: ca.cert, thumbprints: [sha1Thumbprint(ca.cert)] });
  await assert.rejects(byStore.getKey('k1', 'RS256'), /not in ThumbprintList/);
});
