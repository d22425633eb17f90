// The one HTTP client: statuses are the caller's to judge; no answer is an HttpError in words, with the errno kept.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCa, issueCertificate, sha1Thumbprint } from '../../../src/pki/index.js';
import { HttpError, failureText, httpRequestText } from '../../../src/net/http-client.js';
import { pinnedChainProblem } from '../../../src/net/tls-chain.js';

const ca = await createCa('client test CA');
const leaf = await issueCertificate(ca, { dnsNames: ['localhost'] });
const tls = createServer({ cert: leaf.cert + ca.cert, key: leaf.key }, (req, res) => {
  if (req.url === '/big') return res.end('x'.repeat(2048));
  if (req.url === '/slow') return; // never answers
  if (req.method === 'POST') {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    return req.on('end', () => res.end(`got ${body}`));
  }
  res.statusCode = 418;
  res.end('teapot');
});
await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
const base = `https://localhost:${(tls.address() as AddressInfo).port}`;
after(() => tls.closeAllConnections());
after(() => tls.close());

async function failure(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HttpError, String(e));
    return e;
  }
  assert.fail('expected an HttpError');
}

test('any status is an answer; the body is read whole; a POST sends its body', async () => {
  const r = await httpRequestText(`${base}/`, { ca: ca.cert });
  assert.equal(r.status, 418);
  assert.equal(r.body, 'teapot');
  const p = await httpRequestText(`${base}/`, { method: 'POST', body: 'hello', ca: ca.cert });
  assert.equal(p.body, 'got hello');
  // extraCa: the system roots and the bundle.
  assert.equal((await httpRequestText(`${base}/`, { extraCa: ca.cert })).status, 418);
});

test('an untrusted server, a body over the cap, an idle server, a closed port: one HttpError each, in words', async () => {
  const untrusted = await failure(httpRequestText(`${base}/`));
  assert.equal(untrusted.tls, true);
  assert.match(untrusted.message, /^https:\/\/localhost:\d+\/: TLS: /);
  const big = await failure(httpRequestText(`${base}/big`, { ca: ca.cert, maxBytes: 1024 }));
  assert.equal(failureText(big), 'response is larger than 1024 bytes');
  const slow = await failure(httpRequestText(`${base}/slow`, { ca: ca.cert, timeoutMs: 200 }));
  assert.equal(failureText(slow), 'no answer within 0.2 s');
  assert.equal(slow.errno, 'ETIMEDOUT');
  const plain = createHttpServer();
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  const port = (plain.address() as AddressInfo).port;
  await new Promise<void>((r) => plain.close(() => r()));
  const refused = await failure(httpRequestText(`http://127.0.0.1:${port}/`));
  assert.equal(refused.errno, 'ECONNREFUSED');
  assert.equal(failureText(refused), 'connection refused (ECONNREFUSED)');
  assert.equal(failureText(await failure(httpRequestText('ftp://x/'))), 'unsupported scheme ftp:');
});

test('pinned: no CA is trusted; the chain as presented decides', async () => {
  const pin = (thumbprints: string[]) => ({
    pinned: (socket: import('node:tls').TLSSocket, host: string) =>
      pinnedChainProblem(socket, host, thumbprints),
  });
  assert.equal((await httpRequestText(`${base}/`, pin([sha1Thumbprint(ca.cert)]))).status, 418);
  const refused = await failure(httpRequestText(`${base}/`, pin([sha1Thumbprint(leaf.cert)])));
  assert.equal(refused.failure.kind, 'untrusted');
  assert.match(
    failureText(refused),
    /thumbprint [0-9a-f]{40} of the top certificate is not in ThumbprintList/,
  );
});
