/**
 * The harness itself, against the real binaries: the API server is ready, issuer discovery is served to anonymous
 * callers with an explicit jwks_uri, and TokenRequest tokens carry the kid computed from the public key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import {
  keygen,
  keyIdFromPublicKey,
  liveProcessCount,
  runBinary,
  startControlPlane,
  type ControlPlane,
} from '../helpers/control-plane.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('control plane (real etcd + kube-apiserver)', () => {
  let cp: ControlPlane;
  let signing: ReturnType<typeof keygen>;
  before(async () => {
    signing = keygen(); // the real `openirsa issuer keygen`
    cp = await startControlPlane({ serviceAccountKey: signing });
  });
  after(async () => {
    await cp?.stop();
  });

  test('the API server is ready and reports the pinned version', async () => {
    const ready = await cp.request('GET', '/readyz', undefined, { anonymous: true });
    assert.equal(ready.status, 200, ready.text);
    const version = await cp.call<{ gitVersion: string; major: string }>('GET', '/version');
    assert.match(version.gitVersion, /^v1\.\d+\.\d+$/);
    assert.equal(version.major, '1');
  });

  test('anonymous callers may not list resources (RBAC is on)', async () => {
    const r = await cp.request('GET', '/api/v1/namespaces', undefined, { anonymous: true });
    assert.equal(r.status, 403, r.text);
  });

  test('/.well-known/openid-configuration is served anonymously with the explicit jwks_uri', async () => {
    const r = await cp.request('GET', '/.well-known/openid-configuration', undefined, { anonymous: true });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    const doc = r.json as Record<string, unknown>;
    assert.equal(doc.issuer, cp.issuer);
    assert.equal(doc.jwks_uri, `${cp.url}/openid/v1/jwks`);
    assert.deepEqual(doc.response_types_supported, ['id_token']);
    assert.deepEqual(doc.subject_types_supported, ['public']);
    assert.deepEqual(doc.id_token_signing_alg_values_supported, ['RS256']);
  });

  test('/openid/v1/jwks is served anonymously and holds the signing key under its SPKI kid', async () => {
    const r = await cp.request('GET', '/openid/v1/jwks', undefined, { anonymous: true });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^application\/jwk-set\+json/);
    const { keys } = r.json as { keys: JWK[] };
    assert.equal(keys.length, 1);
    const [key] = keys;
    assert.equal(key!.kid, keyIdFromPublicKey(cp.serviceAccountKey.publicKeyPem));
    assert.equal(key!.kid, cp.keyId);
    assert.equal(key!.kid, signing.printedKeyId, 'openirsa issuer keygen printed the same kid');
    assert.equal(key!.kty, 'RSA');
    assert.equal(key!.alg, 'RS256');
    assert.equal(key!.use, 'sig');
  });

  test('a TokenRequest with audience sts.amazonaws.com returns a token signed under that kid', async () => {
    const ns = `cp-${Date.now().toString(36)}`;
    await cp.call('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns },
    });
    const sa = await cp.call<{ metadata: { uid: string } }>(
      'POST',
      `/api/v1/namespaces/${ns}/serviceaccounts`,
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'great-serviceaccount' },
      },
    );
    const tr = await cp.call<{ status: { token: string; expirationTimestamp: string } }>(
      'POST',
      `/api/v1/namespaces/${ns}/serviceaccounts/great-serviceaccount/token`,
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: ['sts.amazonaws.com'], expirationSeconds: 3600 },
      },
    );
    const token = tr.status.token;
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.kid, keyIdFromPublicKey(cp.serviceAccountKey.publicKeyPem));
    assert.equal(header.kid, signing.printedKeyId);

    const claims = decodeJwt(token);
    assert.equal(claims.iss, cp.issuer);
    assert.deepEqual(claims.aud, ['sts.amazonaws.com']);
    assert.equal(claims.sub, `system:serviceaccount:${ns}:great-serviceaccount`);
    assert.equal(claims.exp! - claims.iat!, 3600);
    const k8s = claims['kubernetes.io'] as {
      namespace: string;
      serviceaccount: { name: string; uid: string };
    };
    assert.equal(k8s.namespace, ns);
    assert.deepEqual(k8s.serviceaccount, { name: 'great-serviceaccount', uid: sa.metadata.uid });

    // And the signature verifies against the key the API server itself publishes.
    const { keys } = (await cp.request('GET', '/openid/v1/jwks', undefined, { anonymous: true })).json as {
      keys: JWK[];
    };
    const jwk = keys.find((k) => k.kid === header.kid);
    assert.ok(jwk, 'the token kid is in the JWKS');
    const verified = await jwtVerify(token, await importJWK(jwk, 'RS256'), {
      issuer: cp.issuer,
      audience: 'sts.amazonaws.com',
    });
    assert.equal(verified.payload.sub, `system:serviceaccount:${ns}:great-serviceaccount`);
  });

  test('stop() ends both processes and removes the working folder', async () => {
    const other = await startControlPlane();
    const { etcd, apiServer } = other.pids;
    await other.stop();
    await other.stop(); // idempotent
    for (const pid of [etcd, apiServer]) {
      assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} is gone`);
    }
    assert.equal(existsSync(other.dir), false);
  });

  test('a failed start stops what it started and reports the log', async () => {
    const before = liveProcessCount();
    await assert.rejects(
      startControlPlane({ apiServerArgs: ['--no-such-flag-openirsa'] }),
      /control plane failed to start: kube-apiserver exited[\s\S]*no-such-flag-openirsa/,
    );
    assert.equal(liveProcessCount(), before, 'etcd was stopped after kube-apiserver failed');
  });
  test('scripts/control-plane.sh start|stop: a control plane that outlives the command, then stops', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openirsa-cp-script-'));
    try {
      const start = spawnSync('bash', ['scripts/control-plane.sh', 'start', dir], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 180_000,
      });
      assert.equal(start.status, 0, start.stderr);
      assert.equal(start.stdout.trim(), join(dir, 'kubeconfig'));
      const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
        pids: { etcd: number; apiServer: number };
      };
      const ns = runBinary('kubectl', [
        '--kubeconfig',
        join(dir, 'kubeconfig'),
        'get',
        'namespace',
        'default',
        '-o',
        'name',
      ]);
      assert.equal(ns.stdout.trim(), 'namespace/default', ns.stderr);
      const stop = spawnSync('bash', ['scripts/control-plane.sh', 'stop', dir], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(stop.status, 0, stop.stderr);
      for (const pid of [state.pids.etcd, state.pids.apiServer]) {
        assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} is gone`);
      }
    } finally {
      spawnSync('bash', ['scripts/control-plane.sh', 'stop', dir], { cwd: ROOT });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
