// doctor finds the cluster as kubectl does: source precedence, KUBECONFIG merging (first wins), --context, and
// the API-server link that stops the checklist when the server cannot be reached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import {
  IN_CLUSTER_TOKEN,
  chooseSource,
  loadKubectlConfig,
  mergeKubeconfigs,
  selectContext,
} from '../../../src/kube/kubectl-config.js';
import { KubeConfigError } from '../../../src/kube/client.js';
import { checkApiServer } from '../../../src/doctor/checks.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const some =
  (...files: string[]) =>
  (f: string) =>
    files.includes(f);

test('source: --kubeconfig alone (must exist), else KUBECONFIG, else ~/.kube/config, else in-cluster', () => {
  const env = { KUBECONFIG: '/a:/b', HOME: '/home/u' };
  assert.deepEqual(chooseSource({ kubeconfig: '/x' }, env, some('/x', '/a')), {
    kind: 'flag',
    files: ['/x'],
  });
  assert.throws(
    () => chooseSource({ kubeconfig: '/x' }, env, some('/a')),
    (e: unknown) => e instanceof KubeConfigError && e.message === '--kubeconfig /x: no such file',
  );
  // Missing files of the list are skipped, duplicates and empty entries dropped; ~/.kube/config is not read.
  assert.deepEqual(
    chooseSource(
      {},
      { ...env, KUBECONFIG: '/a::/nope:/b:/a' },
      some('/a', '/b', '/home/u/.kube/config'),
      ':',
    ),
    {
      kind: 'env',
      files: ['/a', '/b'],
      missing: ['/nope'],
    },
  );
  assert.deepEqual(chooseSource({}, { HOME: '/home/u' }, some('/home/u/.kube/config')), {
    kind: 'home',
    files: ['/home/u/.kube/config'],
  });
  const pod = { HOME: '/home/u', KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
  assert.deepEqual(chooseSource({}, pod, some(IN_CLUSTER_TOKEN)), { kind: 'in-cluster' });
  // A kubeconfig beats in-cluster, as for kubectl in a pod with a kubeconfig.
  assert.equal(chooseSource({}, pod, some(IN_CLUSTER_TOKEN, '/home/u/.kube/config')).kind, 'home');
  // The service env without the mounted token is not in-cluster.
  const none = chooseSource({}, pod, some());
  assert.equal(none.kind, 'none');
  assert.match(JSON.stringify(none), /serviceaccount\/token is missing/);
  // KUBECONFIG naming only missing files does not fall back to ~/.kube/config.
  const gone = chooseSource({}, { ...env, KUBECONFIG: '/gone' }, some('/home/u/.kube/config'));
  assert.equal(gone.kind, 'none');
  assert.match(JSON.stringify(gone), /KUBECONFIG=\/gone \(no such file\)/);
});

const cluster = (name: string, server: string) => ({ name, server, skipTLSVerify: false });
const context = (name: string, c: string, user: string, namespace?: string) => ({
  name,
  cluster: c,
  user,
  ...(namespace ? { namespace } : {}),
});

test('merge: the first file to set a name or current-context wins; nothing throws on duplicates', () => {
  const merged = mergeKubeconfigs([
    { clusters: [cluster('c', 'https://first')], users: [], contexts: [], currentContext: undefined },
    {
      clusters: [cluster('c', 'https://second'), cluster('d', 'https://d')],
      users: [{ name: 'u' }],
      contexts: [context('x', 'c', 'u')],
      currentContext: 'x',
    },
    {
      clusters: [],
      users: [{ name: 'u', token: 'later' }],
      contexts: [context('y', 'd', 'u')],
      currentContext: 'y',
    },
  ]);
  assert.deepEqual(
    merged.clusters.map((c) => c.server),
    ['https://first', 'https://d'],
  );
  assert.deepEqual(merged.users, [{ name: 'u' }]);
  assert.equal(merged.currentContext, 'x');
});

test('context: --context overrides current-context; unknown or missing names are one clear line', () => {
  const merged = {
    clusters: [cluster('c', 'https://c')],
    users: [{ name: 'u' }],
    contexts: [context('a', 'c', 'u', 'team-a'), context('b', 'missing', 'u')],
    currentContext: 'a',
  };
  assert.equal(selectContext(merged, undefined, 'F').context.name, 'a');
  assert.equal(selectContext(merged, 'a', 'F').user?.name, 'u');
  assert.throws(
    () => selectContext(merged, 'zz', 'F'),
    /^KubeConfigError: --context "zz" is not in F \(contexts: a, b\)$/,
  );
  assert.throws(
    () => selectContext(merged, 'b', 'F'),
    /context "b" names cluster "missing", which F does not define/,
  );
  assert.throws(
    () => selectContext({ ...merged, currentContext: undefined }, undefined, 'F'),
    /F sets no current-context: pass --context NAME \(contexts: a, b\)/,
  );
});

function kubeconfig(dir: string, file: string, doc: Record<string, unknown>): string {
  const path = join(dir, file);
  writeFileSync(path, stringify({ apiVersion: 'v1', kind: 'Config', ...doc }));
  return path;
}

test('load: KUBECONFIG files merged with client-node parsing; relative CA paths resolved per file; namespace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-kubectl-config-'));
  mkdirSync(join(dir, 'sub'));
  const a = kubeconfig(dir, 'sub/a.yaml', {
    clusters: [
      { name: 'lab', cluster: { server: 'https://lab.example:6443', 'certificate-authority': 'ca.pem' } },
    ],
    users: [{ name: 'admin', user: { token: 'secret' } }],
  });
  const b = kubeconfig(dir, 'b.yaml', {
    clusters: [{ name: 'lab', cluster: { server: 'https://shadowed:6443' } }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'admin', namespace: 'team-a' } }],
    'current-context': 'lab',
  });
  const loaded = loadKubectlConfig({}, { KUBECONFIG: [a, join(dir, 'missing.yaml'), b].join(':') });
  assert.equal(loaded.server, 'https://lab.example:6443');
  assert.equal(loaded.context, 'lab');
  assert.equal(loaded.namespace, 'team-a');
  assert.equal(loaded.source, `KUBECONFIG=${a}:${join(dir, 'missing.yaml')}:${b}`);
  assert.equal(loaded.kubeConfig.getCurrentCluster()?.caFile, join(dir, 'sub', 'ca.pem'));
  assert.equal(loaded.kubeConfig.getCurrentUser()?.token, 'secret');

  // --kubeconfig ignores KUBECONFIG; the namespace defaults to "default"; http servers are usable (kubectl proxy).
  const proxy = kubeconfig(dir, 'proxy.yaml', {
    clusters: [{ name: 'p', cluster: { server: 'http://127.0.0.1:8001' } }],
    contexts: [{ name: 'p', context: { cluster: 'p' } }],
    'current-context': 'p',
  });
  const viaFlag = loadKubectlConfig({ kubeconfig: proxy }, { KUBECONFIG: a });
  assert.equal(viaFlag.source, `--kubeconfig ${proxy}`);
  assert.equal(viaFlag.namespace, 'default');
  assert.equal(viaFlag.kubeConfig.getCurrentCluster()?.skipTLSVerify, true);
  assert.ok(viaFlag.kubeConfig.getCurrentUser(), 'an anonymous user, so that the cluster CA still applies');

  writeFileSync(join(dir, 'bad.yaml'), 'clusters: [');
  assert.throws(
    () => loadKubectlConfig({ kubeconfig: join(dir, 'bad.yaml') }, {}),
    (e: unknown) =>
      e instanceof KubeConfigError &&
      /bad\.yaml: not a valid kubeconfig: /.test(e.message) &&
      !e.message.includes('\n'),
  );
  assert.throws(
    () => loadKubectlConfig({}, { HOME: dir }),
    /no Kubernetes configuration found \(looked at .*\.kube\/config \(no such file\); in-cluster \(KUBERNETES_SERVICE_HOST is unset\)\): pass --kubeconfig FILE or set KUBECONFIG/,
  );
});

test('api-server link: unreachable names the server, the configuration and the cause; 401 is a break too', () => {
  const via = 'context lab from KUBECONFIG=/k';
  const refused = checkApiServer({
    server: 'https://127.0.0.1:1',
    via,
    error: { code: 'ECONNREFUSED', message: 'x' },
  });
  assert.equal(refused.status, 'fail');
  assert.equal(
    refused.detail,
    'cannot reach https://127.0.0.1:1 (context lab from KUBECONFIG=/k): connection refused (nothing listens there) [ECONNREFUSED]',
  );
  const tls = checkApiServer({
    server: 'https://h',
    via,
    error: { code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'x' },
  });
  assert.match(tls.detail, /TLS: its certificate chain ends at a CA the kubeconfig does not trust/);
  const other = checkApiServer({ server: 'https://h', via, error: { message: 'socket hang up' } });
  assert.match(other.detail, /: socket hang up$/);
  assert.equal(checkApiServer({ server: 'https://h', via, status: 401 }).status, 'fail');
  const ok = checkApiServer({ server: 'https://h', via, status: 200, gitVersion: 'v1.37.2' });
  assert.deepEqual([ok.status, ok.detail], ['pass', `https://h (${via}) runs Kubernetes v1.37.2`]);
  assert.equal(checkApiServer({ server: 'https://h', via, status: 403 }).status, 'pass');
});

test('doctor stops at the API server when nothing listens: one checklist line, exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-doctor-down-'));
  // A port that was free a moment ago: nothing listens there.
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  const file = kubeconfig(dir, 'config', {
    clusters: [{ name: 'down', cluster: { server: `https://127.0.0.1:${port}` } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'down', context: { cluster: 'down', user: 'u' } }],
    'current-context': 'down',
  });
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/bin.ts'),
      'doctor',
      '--service-account',
      'app',
      '--format',
      'json',
    ],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, KUBECONFIG: file }, timeout: 60_000 },
  );
  assert.equal(r.status, 1, r.stderr);
  const report = JSON.parse(r.stdout) as {
    firstBroken: string;
    checks: Array<{ id: string; detail: string }>;
  };
  assert.equal(report.firstBroken, 'api-server');
  assert.deepEqual(
    report.checks.map((c) => c.id),
    ['api-server'],
  );
  assert.equal(
    report.checks[0]!.detail,
    `cannot reach https://127.0.0.1:${port} (context down from KUBECONFIG=${file}): connection refused (nothing listens there) [ECONNREFUSED]`,
  );
});
