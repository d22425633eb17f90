/**
 * Connection limits and certificate reloads of the STS and issuer servers (issue 10 items 11, 12): a cap on open
 * connections, deadlines for idle clients and TLS handshakes, and a rotated certificate served without a restart.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueCertificate } from '../../../src/pki/index.js';
import { startServer } from '../../../src/sts/server.js';
import { startIssuerServer, buildIssuerDocuments, generateSigningKey } from '../../../src/issuer/index.js';
import { parseMaxConnections } from '../../../src/net/limits.js';
import { makeKey, testConfig } from '../../helpers/sts-fixtures.js';

const ca = await createCa('limits test CA');
const leafA = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const leafB = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const dir = await mkdtemp(join(tmpdir(), 'limits-'));
after(() => rm(dir, { recursive: true, force: true }));
const config = testConfig([await makeKey('k1')]);
const docs = await buildIssuerDocuments({
  issuer: 'https://127.0.0.1/x',
  publicKeys: [generateSigningKey({ alg: 'ES256' }).publicKey],
});

/** Resolves with how long the server took to close the socket (or `undefined` if it kept it past `waitMs`). */
function closedWithin(sock: Socket, waitMs: number): Promise<number | undefined> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), waitMs);
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

function openRaw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca: ca.cert, servername: 'localhost' }, () => {
      resolve(new X509Certificate(s.getPeerCertificate().raw).fingerprint256);
      s.destroy();
    });
    s.on('error', reject);
  });
}

const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

test('--max-connections: a number from 1 to 1000000, else one line saying so', () => {
  assert.equal(parseMaxConnections('1'), 1);
  assert.equal(parseMaxConnections('1000000'), 1_000_000);
  for (const bad of ['0', '-1', '1e3', '', ' 5', '1000001', 'ten', '99999999'])
    assert.throws(
      () => parseMaxConnections(bad),
      /--max-connections must be an integer from 1 to 1000000/,
      bad,
    );
});

for (const kind of ['sts', 'issuer'] as const) {
  const start = (limits: Record<string, number>, tls = false) =>
    kind === 'sts'
      ? startServer({
          config,
          port: 0,
          limits,
          ...(tls ? { tls: { cert: leafA.cert, key: leafA.key } } : {}),
        }).then((s) => ({ port: Number(new URL(s.url).port), close: () => s.close(0) }))
      : startIssuerServer({
          files: docs.files,
          port: 0,
          limits,
          ...(tls ? { tlsCert: leafA.cert, tlsKey: leafA.key } : {}),
        }).then((s) => ({ port: s.port, close: () => s.close() }));

  test(`${kind}: connections over the cap are closed on accept; those under it are served`, async () => {
    const s = await start({ maxConnections: 4 });
    const socks: Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) socks.push(await openRaw(s.port));
      const extra = await openRaw(s.port);
      assert.notEqual(await closedWithin(extra, 2000), undefined, 'the 5th connection is closed at once');
      for (const sock of socks) assert.equal(sock.destroyed, false, 'the first 4 stay open');
      for (const sock of socks) sock.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const r = await fetch(`http://127.0.0.1:${s.port}/healthz`).catch((e: Error) => e);
      assert.ok(!(r instanceof Error), 'a connection is accepted again once others closed');
    } finally {
      for (const sock of socks) sock.destroy();
      await s.close();
    }
  });

  test(`${kind}: a client that sends nothing is dropped (idle deadline; TLS handshake deadline)`, async () => {
    const plain = await start({ idleTimeoutMs: 300, headersTimeoutMs: 300 });
    try {
      const took = await closedWithin(await openRaw(plain.port), 5000);
      assert.ok(took !== undefined && took < 5000, `idle plain connection closed after ${took} ms`);
    } finally {
      await plain.close();
    }
    const secure = await start({ handshakeTimeoutMs: 300, idleTimeoutMs: 60_000 }, true);
    try {
      const took = await closedWithin(await openRaw(secure.port), 5000);
      assert.ok(took !== undefined && took < 5000, `stalled TLS handshake closed after ${took} ms`);
    } finally {
      await secure.close();
    }
  });
}

test('sts and issuer serve reload a rotated certificate from its files; an invalid pair keeps the current one', async () => {
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  const servers = [
    async () => {
      const s = await startServer({
        config,
        port: 0,
        tls: { cert: leafA.cert, key: leafA.key },
        tlsFiles: { certFile, keyFile },
      });
      return { port: Number(new URL(s.url).port), reloadTls: s.reloadTls, close: () => s.close(0) };
    },
    async () => {
      const s = await startIssuerServer({
        files: docs.files,
        port: 0,
        tlsCert: leafA.cert,
        tlsKey: leafA.key,
        tlsFiles: { certFile, keyFile },
      });
      return { port: s.port, reloadTls: s.reloadTls, close: () => s.close() };
    },
  ];
  for (const make of servers) {
    await writeFile(certFile, leafA.cert);
    await writeFile(keyFile, leafA.key);
    const s = await make();
    try {
      assert.equal(await servedFingerprint(s.port), fp(leafA.cert));
      // cert-manager writes the new pair: picked up by the file watch (and at once by reloadTls, as on SIGHUP).
      await writeFile(keyFile, leafB.key);
      await writeFile(certFile, leafB.cert);
      await s.reloadTls();
      assert.equal(await servedFingerprint(s.port), fp(leafB.cert));
      // A certificate that does not match its key: refused, B still served.
      await writeFile(certFile, leafA.cert);
      assert.equal(await s.reloadTls(), false);
      assert.equal(await servedFingerprint(s.port), fp(leafB.cert));
    } finally {
      await s.close();
    }
  }
});
