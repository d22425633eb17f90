/**
 * bench:memory's and bench:compare's fallback (`--fake-api`) when no real control plane is built: a plain-HTTP stand-in for the few kube-apiserver
 * reads both webhooks make, holding the ServiceAccounts in memory: the paginated list of ServiceAccounts in all
 * namespaces (`limit`/`continue`), a watch that stays silent (or, with `sendInitialEvents=true`, streams every
 * object as ADDED and then the initial-events-end bookmark, as a watch-list client asks), the single-object GET,
 * and an empty list for anything else. Both webhooks are pointed at it with `--kube-api=http://…`.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createCa, issueCertificate } from '../src/pki/index.js';

export interface FakeServiceAccount {
  namespace: string;
  name: string;
  annotations: Record<string, string>;
}

const RV = '1000';

export async function startFakeApi(
  sas: FakeServiceAccount[],
): Promise<{ url: string; close(): Promise<void> }> {
  const objects = sas.map((sa, i) => ({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: sa.name,
      namespace: sa.namespace,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(100 + i),
      creationTimestamp: '2026-12-01T00:00:00Z',
      labels: { app: sa.name },
      annotations: sa.annotations,
    },
  }));
  const byKey = new Map(objects.map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o]));
  const open = new Set<ServerResponse>();
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const q = u.searchParams;
    const parts = u.pathname.split('/').filter(Boolean); // api v1 [namespaces NS] RESOURCE [NAME]
    const resource = parts[2] === 'namespaces' ? parts[4] : parts[2];
    const name = parts[2] === 'namespaces' ? parts[5] : undefined;
    if (q.get('watch') === 'true') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      open.add(res);
      res.on('close', () => open.delete(res));
      if (q.get('sendInitialEvents') === 'true') {
        if (resource === 'serviceaccounts')
          for (const o of objects) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
        const end = {
          kind: resource === 'serviceaccounts' ? 'ServiceAccount' : 'ConfigMap',
          apiVersion: 'v1',
        };
        res.write(
          `${JSON.stringify({ type: 'BOOKMARK', object: { ...end, metadata: { resourceVersion: RV, annotations: { 'k8s.io/initial-events-end': 'true' } } } })}\n`,
        );
      }
      const timeout = Number(q.get('timeoutSeconds') ?? 300);
      setTimeout(() => res.end(), timeout * 1000).unref();
      return;
    }
    if (name !== undefined) {
      const o = resource === 'serviceaccounts' ? byKey.get(`${parts[3]}/${name}`) : undefined;
      if (o) return json(res, 200, o);
      return json(res, 404, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'NotFound',
        code: 404,
      });
    }
    const items = resource === 'serviceaccounts' ? objects : [];
    const limit = Number(q.get('limit') ?? 0) || items.length;
    const from = Number(q.get('continue') || 0);
    const page = items.slice(from, from + limit);
    const more = from + limit < items.length;
    json(res, 200, {
      kind: resource === 'serviceaccounts' ? 'ServiceAccountList' : 'ConfigMapList',
      apiVersion: 'v1',
      metadata: { resourceVersion: RV, ...(more ? { continue: String(from + limit) } : {}) },
      items: page,
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return {
    url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`,
    close: () =>
      new Promise<void>((r) => {
        for (const res of open) res.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * The webhooks' serving certificate when there is no control plane to sign it: a fresh CA (`caName`) and a
 * certificate for 127.0.0.1, written to DIR/tls.crt and DIR/tls.key.
 */
export async function fakeApiServing(
  dir: string,
  caName: string,
): Promise<{ certFile: string; keyFile: string; caPem: string }> {
  const ca = await createCa(caName);
  const pair = await issueCertificate(ca, { commonName: '127.0.0.1' });
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  writeFileSync(certFile, pair.cert);
  writeFileSync(keyFile, pair.key, { mode: 0o600 });
  return { certFile, keyFile, caPem: ca.cert };
}
