import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createCa, issueCertificate, loadCa, sha1Thumbprint } from '../../../src/pki/index.js';

test('a leaf issued by the CA verifies and serves real TLS to a client trusting only the CA', async () => {
  const ca = await createCa('test CA');
  const leaf = await issueCertificate(await loadCa(ca), { dnsNames: ['localhost'] });
  const caCert = new X509Certificate(ca.cert);
  const leafCert = new X509Certificate(leaf.cert);
  assert.ok(leafCert.verify(caCert.publicKey));
  assert.ok(leafCert.checkIssued(caCert));
  assert.equal(caCert.ca, true);
  assert.match(sha1Thumbprint(ca.cert), /^[0-9a-f]{40}$/);

  const server = createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.end('hello'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const { request } = await import('node:https');
    const body = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', servername: 'localhost', port, ca: ca.cert, path: '/' }, (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => resolve(data));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(body, 'hello');
  } finally {
    server.close();
  }
});
