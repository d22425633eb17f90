import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { stringify } from 'yaml';
import { createCa, issueCertificate } from '../../../src/pki/index.js';
import { KubeApiError, loadKubeConnection } from '../../../src/kube/lean.js';

interface Seen {
  url: string;
  authorization: string | undefined;
  clientCn: string | undefined;
}

/** An HTTPS API server stand-in that asks for client certificates and records who called. */
async function apiServer(): Promise<{
  url: string;
  caPem: string;
  seen: Seen[];
  client: { cert: string; key: string };
  server: Server;
}> {
  const ca = await createCa('lean test CA');
  const serving = await issueCertificate(ca, { commonName: '127.0.0.1' });
  const client = await issueCertificate(ca, { commonName: 'lean-client', client: true });
  const seen: Seen[] = [];
  const server = createServer(
    { cert: serving.cert, key: serving.key, ca: ca.cert, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push({
        url: req.url ?? '',
        authorization: req.headers.authorization,
        clientCn: peer?.subject?.CN as string | undefined,
      });
      if (req.url?.startsWith('/api/v1/namespaces/x/serviceaccounts/missing')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"kind":"Status","code":404,"reason":"NotFound"}');
      } else if (req.url?.includes('watch=true')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5"}}}\n{"type":"BOOK');
        setTimeout(() => res.end('MARK","object":{"metadata":{"resourceVersion":"6"}}}\n'), 20);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"kind":"ServiceAccountList","items":[],"metadata":{"resourceVersion":"5"}}');
      }
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const url = `https://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  return { url, caPem: ca.cert, seen, client, server };
}

test('kubeconfig with CA and client certificate data: verified TLS, client certificate sent, paths and queries as given', async () => {
  const api = await apiServer();
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-lean-'));
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'c',
        clusters: [
          {
            name: 'k',
            cluster: {
              server: api.url,
              'certificate-authority-data': Buffer.from(api.caPem).toString('base64'),
            },
          },
        ],
        users: [
          {
            name: 'u',
            user: {
              'client-certificate-data': Buffer.from(api.client.cert).toString('base64'),
              'client-key-data': Buffer.from(api.client.key).toString('base64'),
            },
          },
        ],
        contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
      }),
    );
    const kube = loadKubeConnection({ kubeconfig });
    const list = await kube.get<{ items: unknown[] }>('/api/v1/serviceaccounts', {
      limit: 500,
      continue: undefined,
    });
    assert.deepEqual(list.items, []);
    assert.equal(api.seen[0]!.url, '/api/v1/serviceaccounts?limit=500');
    assert.equal(api.seen[0]!.clientCn, 'lean-client');
    assert.equal(api.seen[0]!.authorization, undefined);
    await assert.rejects(kube.get('/api/v1/namespaces/x/serviceaccounts/missing'), (e: unknown) => {
      assert.ok(e instanceof KubeApiError);
      assert.equal(e.statusCode, 404);
      assert.equal(e.code, 404);
      return true;
    });
    // A watch stream split mid-line: each event whole, then the end of the stream.
    const events: Array<[string, unknown]> = [];
    const end = await new Promise<unknown>((resolve) => {
      void kube.watch(
        '/api/v1/serviceaccounts',
        { resourceVersion: '5' },
        (t, o) => events.push([t, o]),
        resolve,
        5000,
      );
    });
    assert.equal(end, null);
    assert.deepEqual(
      events.map(([t]) => t),
      ['ADDED', 'BOOKMARK'],
    );
    assert.match(api.seen.at(-1)!.url, /resourceVersion=5&watch=true/);
    kube.close();
  } finally {
    api.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kubeconfig with a CA file (relative to the kubeconfig) and a token; --kube-api overrides the server', async () => {
  const api = await apiServer();
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-lean-'));
  try {
    writeFileSync(join(dir, 'ca.crt'), api.caPem);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        'current-context': 'c',
        clusters: [
          { name: 'k', cluster: { server: 'https://127.0.0.1:1', 'certificate-authority': 'ca.crt' } },
        ],
        users: [{ name: 'u', user: { token: 'abc.def' } }],
        contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
      }),
    );
    const kube = loadKubeConnection({ kubeconfig, kubeApi: api.url });
    await kube.get('/api/v1/serviceaccounts');
    assert.equal(api.seen[0]!.authorization, 'Bearer abc.def');
    kube.close();
    // Without the CA the server's certificate is refused (fail closed).
    writeFileSync(
      kubeconfig,
      stringify({
        'current-context': 'c',
        clusters: [{ name: 'k', cluster: { server: api.url } }],
        users: [{ name: 'u', user: {} }],
        contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
      }),
    );
    const untrusted = loadKubeConnection({ kubeconfig });
    await assert.rejects(
      untrusted.get('/api/v1/serviceaccounts'),
      /self-signed|unable to verify|certificate/,
    );
    untrusted.close();
  } finally {
    api.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a kubeconfig without its current context names the problem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-lean-'));
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, stringify({ 'current-context': 'nope', clusters: [], contexts: [] }));
    assert.throws(() => loadKubeConnection({ kubeconfig }), /the kubeconfig has no current cluster/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
