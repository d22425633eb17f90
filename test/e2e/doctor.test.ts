/**
 * `openirsa doctor` against a real kube-apiserver: a healthy chain passes, then each link is broken in turn and
 * the checklist must name that link as the first broken one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as fromYaml, stringify as toYaml } from 'yaml';
import { CLI, freePort, keygen, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  createNamespace,
  createServiceAccount,
  servingCertificate,
  serveHttps,
  startWebhook,
  uniqueName,
  type CliProcess,
  type RunningWebhook,
} from './support.js';
import { webIdentityTrust } from '../helpers/trust-policy.js';

const ROLE = 'arn:aws:iam::111122223333:role/s3-writer';
const ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
const LABEL = { 'openirsa-e2e': 'doctor' };

interface Report {
  ok: boolean;
  firstBroken: string | null;
  checks: Array<{ id: string; status: string; detail: string; fix?: string }>;
}

describe('openirsa doctor on a real kube-apiserver', () => {
  let cp: ControlPlane;
  let webhook: RunningWebhook;
  let work: string;
  let caFile: string;
  const ns = uniqueName('doctor');

  /** An STS config whose role trusts `subject` (the healthy chain trusts ns/app). */
  function stsConfig(subject: string, clientIds = ['sts.amazonaws.com']): string {
    const file = join(work, `sts-${uniqueName('config')}.yaml`);
    writeFileSync(
      file,
      toYaml({
        accountId: '111122223333',
        sessionKey: Buffer.alloc(32, 7).toString('base64'),
        oidcProviders: [{ Url: cp.issuer, ClientIDList: clientIds, caBundle: caFile }],
        roles: [
          {
            RoleName: 's3-writer',
            AssumeRolePolicyDocument: webIdentityTrust('111122223333', cp.issuer, subject),
          },
        ],
      }),
    );
    return file;
  }

  function doctor(args: string[]): { status: number; report: Report; stderr: string } {
    const r = spawnSync(
      process.execPath,
      [CLI, 'doctor', '--format', 'json', `--kubeconfig=${cp.kubeconfigPath}`, ...args],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    let report: Report;
    try {
      report = JSON.parse(r.stdout) as Report;
    } catch {
      throw new Error(`doctor printed no JSON (exit ${r.status}): ${r.stdout}${r.stderr}`);
    }
    return { status: r.status ?? -1, report, stderr: r.stderr };
  }

  const statusOf = (r: Report, id: string): string | undefined => r.checks.find((c) => c.id === id)?.status;

  before(async () => {
    cp = await startControlPlane();
    work = mkdtempSync(join(tmpdir(), 'openirsa-e2e-doctor-'));
    caFile = join(work, 'ca.pem');
    writeFileSync(caFile, cp.caPem);
    webhook = await startWebhook(cp, work, {
      namespaceLabels: LABEL,
      roleAnnotation: ROLE_ANNOTATION,
      role: ROLE,
    });
    await createNamespace(cp, ns, LABEL);
    await createServiceAccount(cp, ns, 'app', { [ROLE_ANNOTATION]: ROLE });
  });

  after(async () => {
    await webhook?.stop();
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a healthy chain: every link passes, exit 0', () => {
    const { status, report } = doctor([
      '-n',
      ns,
      '--service-account',
      'app',
      '--issuer-ca-file',
      caFile,
      '--sts-config',
      stsConfig(`system:serviceaccount:${ns}:app`),
    ]);
    assert.equal(report.firstBroken, null, JSON.stringify(report.checks, null, 1));
    assert.equal(status, 0);
    // The API server's own URL has a port, which AWS IAM would refuse (openirsa sts accepts it): a warning, not a break.
    const discovery = report.checks.find((c) => c.id === 'issuer-discovery')!;
    assert.ok(
      discovery.status === 'pass' || (discovery.status === 'warn' && /port/.test(discovery.detail)),
      discovery.detail,
    );
    for (const id of [
      'webhook-registered',
      'webhook-reachable',
      'service-account',
      'pod-mutated',
      'token',
      'issuer-consistent',
      'jwks-published',
      'trust-policy',
    ]) {
      assert.equal(
        statusOf(report, id),
        'pass',
        `${id}: ${JSON.stringify(report.checks.find((c) => c.id === id))}`,
      );
    }
  });

  test('broken: the ServiceAccount has no role annotation', async () => {
    await createServiceAccount(cp, ns, 'bare', {});
    const { status, report } = doctor(['-n', ns, '--service-account', 'bare', '--issuer-ca-file', caFile]);
    assert.equal(status, 1);
    assert.equal(report.firstBroken, 'service-account');
    assert.match(
      report.checks.find((c) => c.id === 'service-account')!.fix!,
      /kubectl annotate serviceaccount/,
    );
  });

  test('broken: the namespace is not selected by the webhook, so new pods are not mutated', async () => {
    const other = uniqueName('unlabelled');
    await createNamespace(cp, other);
    await createServiceAccount(cp, other, 'app', { [ROLE_ANNOTATION]: ROLE });
    const { status, report } = doctor(['-n', other, '--service-account', 'app', '--issuer-ca-file', caFile]);
    assert.equal(status, 1);
    assert.equal(report.firstBroken, 'pod-mutated');
  });

  test('broken: the issuer is not trusted over HTTPS (no CA given)', () => {
    const { status, report } = doctor(['-n', ns, '--service-account', 'app']);
    assert.equal(status, 1);
    assert.equal(report.firstBroken, 'issuer-discovery');
    assert.match(report.checks.find((c) => c.id === 'issuer-discovery')!.detail, /tls|certificate|CA/i);
  });

  test('broken: the trust policy names another ServiceAccount, and the failing condition is named', () => {
    const { status, report } = doctor([
      '-n',
      ns,
      '--service-account',
      'app',
      '--issuer-ca-file',
      caFile,
      '--sts-config',
      stsConfig(`system:serviceaccount:${ns}:someone-else`),
    ]);
    assert.equal(status, 1);
    assert.equal(report.firstBroken, 'trust-policy');
    assert.match(JSON.stringify(report.checks.find((c) => c.id === 'trust-policy')), /:sub|someone-else/);
  });

  test('broken: the provider does not list the token audience', () => {
    const { status, report } = doctor([
      '-n',
      ns,
      '--service-account',
      'app',
      '--issuer-ca-file',
      caFile,
      '--sts-config',
      stsConfig(`system:serviceaccount:${ns}:app`, ['other-audience']),
    ]);
    assert.equal(status, 1);
    assert.equal(report.firstBroken, 'trust-policy');
    assert.match(report.checks.find((c) => c.id === 'trust-policy')!.detail, /audience/i);
  });

  test('bad input: a context the kubeconfig lacks is one line and exit 2', () => {
    const r = spawnSync(
      process.execPath,
      [CLI, 'doctor', `--kubeconfig=${cp.kubeconfigPath}`, '--context', 'nope', '--service-account', 'x'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr.trim(),
      `openirsa: --context "nope" is not in --kubeconfig ${cp.kubeconfigPath} (contexts: openirsa-e2e)`,
    );
  });

  // ---- The client configuration, found as kubectl finds it: each source on this real API server.

  interface Kubeconfig {
    clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
    users: Array<{ name: string; user: Record<string, unknown> }>;
    contexts: Array<{ name: string; context: Record<string, unknown> }>;
    'current-context'?: string;
  }
  const admin = (): Kubeconfig => fromYaml(readFileSync(cp.kubeconfigPath, 'utf8')) as Kubeconfig;
  const writeKubeconfig = (file: string, doc: Partial<Kubeconfig>): string => {
    writeFileSync(file, toYaml({ apiVersion: 'v1', kind: 'Config', ...doc }));
    return file;
  };

  /** doctor with only the environment given (no KUBECONFIG, a HOME without .kube unless given). */
  function doctorEnv(
    args: string[],
    env: NodeJS.ProcessEnv,
    command: string[] = [process.execPath, CLI],
  ): { status: number; report: Report; stderr: string } {
    const home = join(work, 'empty-home');
    mkdirSync(home, { recursive: true });
    const r = spawnSync(command[0]!, [...command.slice(1), 'doctor', '--format', 'json', ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH, HOME: home, ...env },
    });
    let report: Report;
    try {
      report = JSON.parse(r.stdout) as Report;
    } catch {
      throw new Error(`doctor printed no JSON (exit ${r.status}): ${r.stdout}${r.stderr}`);
    }
    return { status: r.status ?? -1, report, stderr: r.stderr };
  }

  const healthy = (r: { status: number; report: Report }, source: RegExp): void => {
    assert.equal(r.report.firstBroken, null, JSON.stringify(r.report.checks, null, 1));
    assert.equal(r.status, 0);
    const api = r.report.checks.find((c) => c.id === 'api-server')!;
    assert.equal(api.status, 'pass');
    assert.match(api.detail, source);
    assert.match(api.detail, /runs Kubernetes v\d+\.\d+/);
    // The ServiceAccount was read in the namespace the configuration gave (no -n in these runs).
    assert.equal(statusOf(r.report, 'service-account'), 'pass');
  };

  test('config source: KUBECONFIG lists files, merged as kubectl does (missing skipped, first wins), namespace from the context', () => {
    const { clusters, users, contexts } = admin();
    const dir = mkdtempSync(join(work, 'kubeconfig-list-'));
    const a = writeKubeconfig(join(dir, 'a.yaml'), { clusters, users });
    // b shadows the cluster with a dead server: the first file to define a name wins, so a's server is used.
    const b = writeKubeconfig(join(dir, 'b.yaml'), {
      clusters: [{ name: clusters[0]!.name, cluster: { server: 'https://127.0.0.1:1' } }],
      contexts: [{ name: 'team', context: { ...contexts[0]!.context, namespace: ns } }],
      'current-context': 'team',
    });
    const list = [join(dir, 'missing.yaml'), a, b].join(':');
    const r = doctorEnv(['--service-account', 'app', '--issuer-ca-file', caFile], { KUBECONFIG: list });
    healthy(r, new RegExp(`^${cp.url} \\(context team from KUBECONFIG=${list}\\)`));
  });

  test('config source: ~/.kube/config when neither --kubeconfig nor KUBECONFIG is set', () => {
    const home = mkdtempSync(join(work, 'home-'));
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), readFileSync(cp.kubeconfigPath));
    const r = doctorEnv(['-n', ns, '--service-account', 'app', '--issuer-ca-file', caFile], { HOME: home });
    healthy(r, new RegExp(`from ${home}/\\.kube/config\\)`));
  });

  test('config source: --context picks a context; the current one, unreachable, stops doctor at the API server', async () => {
    const cfg = admin();
    const dead = await freePort();
    const file = writeKubeconfig(join(work, 'two-contexts.yaml'), {
      clusters: [...cfg.clusters, { name: 'gone', cluster: { server: `https://127.0.0.1:${dead}` } }],
      users: cfg.users,
      contexts: [
        { name: 'gone', context: { cluster: 'gone', user: cfg.users[0]!.name } },
        { name: 'lab', context: { ...cfg.contexts[0]!.context, namespace: ns } },
      ],
      'current-context': 'gone',
    });
    const chosen = doctorEnv(
      [`--kubeconfig=${file}`, '--context', 'lab', '--service-account', 'app', '--issuer-ca-file', caFile],
      {},
    );
    healthy(chosen, /\(context lab from --kubeconfig /);
    const down = doctorEnv([`--kubeconfig=${file}`, '--service-account', 'app'], {});
    assert.equal(down.status, 1);
    assert.equal(down.report.firstBroken, 'api-server');
    assert.deepEqual(
      down.report.checks.map((c) => c.id),
      ['api-server'],
    );
    assert.equal(
      down.report.checks[0]!.detail,
      `cannot reach https://127.0.0.1:${dead} (context gone from --kubeconfig ${file}): connection refused (nothing listens there) [ECONNREFUSED]`,
    );
    // The text form: that one link, then the summary; no advice about later links.
    const text = spawnSync(
      process.execPath,
      [CLI, 'doctor', `--kubeconfig=${file}`, '--service-account', 'app'],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(text.status, 1);
    assert.equal(text.stdout.split('\n').filter((l) => /^(>> | {3})[✓✗!-] /.test(l)).length, 1, text.stdout);
    assert.match(
      text.stdout,
      new RegExp(`^>> ✗ Kubernetes API server reachable: cannot reach https://127\\.0\\.0\\.1:${dead} `),
    );
  });

  test('the API server rejects the kubeconfig user: a 401 stops doctor at the API server', () => {
    const cfg = admin();
    const file = writeKubeconfig(join(work, 'bad-token.yaml'), {
      clusters: cfg.clusters,
      users: [{ name: 'stale', user: { token: 'not-a-valid-token' } }],
      contexts: [{ name: 'stale', context: { cluster: cfg.clusters[0]!.name, user: 'stale' } }],
      'current-context': 'stale',
    });
    const r = doctorEnv([`--kubeconfig=${file}`, '-n', ns, '--service-account', 'app'], {});
    assert.equal(r.status, 1);
    assert.deepEqual(
      r.report.checks.map((c) => [c.id, c.status]),
      [['api-server', 'fail']],
    );
    assert.match(r.report.checks[0]!.detail, /answered 401 Unauthorized/);
  });

  test('config source: in-cluster, with a ServiceAccount token mounted where a pod has it', async () => {
    // A private mount namespace puts the token at /var/run/secrets/kubernetes.io/serviceaccount for doctor alone.
    const unshare = spawnSync('unshare', ['-m', '--propagation', 'private', 'true']);
    if (unshare.status !== 0)
      throw new Error(
        `this test needs root and unshare(1) (util-linux) to mount a pod's ServiceAccount folder: ${unshare.error?.message ?? unshare.stderr.toString()}`,
      );
    await cp.call('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'doctor-runner' },
    });
    await cp.call('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${ns}-doctor-runner` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'doctor-runner', namespace: ns }],
    });
    const tr = await cp.call<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${ns}/serviceaccounts/doctor-runner/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    );
    const sa = mkdtempSync(join(work, 'serviceaccount-'));
    writeFileSync(join(sa, 'token'), tr.status.token);
    writeFileSync(join(sa, 'ca.crt'), cp.caPem);
    writeFileSync(join(sa, 'namespace'), ns);
    const mount =
      'mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && ' +
      'mount --bind "$0" /run/secrets/kubernetes.io/serviceaccount && exec "$@"';
    const { hostname, port } = new URL(cp.url);
    const r = doctorEnv(
      ['--service-account', 'app', '--issuer-ca-file', caFile],
      { KUBERNETES_SERVICE_HOST: hostname, KUBERNETES_SERVICE_PORT: port },
      ['unshare', '-m', '--propagation', 'private', 'sh', '-c', mount, sa, process.execPath, CLI],
    );
    healthy(r, new RegExp(`^${cp.url} \\(context inClusterContext from the in-cluster configuration\\)`));
  });

  // Last: it takes the webhook down.
  test('broken: the webhook is down — not answering, and pods are refused (failurePolicy Fail)', async () => {
    await webhook.stop();
    const { status, report } = doctor(['-n', ns, '--service-account', 'app', '--issuer-ca-file', caFile]);
    assert.equal(status, 1);
    assert.equal(report.firstBroken, 'webhook-reachable');
    assert.equal(statusOf(report, 'pod-mutated'), 'fail');
  });
});

describe('openirsa doctor: a self-hosted issuer whose JWKS does not publish the signing key', () => {
  let cp: ControlPlane;
  let issuerServe: CliProcess;
  let work: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'openirsa-e2e-doctor-jwks-'));
    const port = await freePort();
    const issuer = `https://127.0.0.1:${port}`;
    cp = await startControlPlane({ serviceAccountKey: keygen(), issuer, jwksUri: `${issuer}/keys.json` });
    // The documents are built from another key: what a stale JWKS looks like after a key rotation.
    const stale = keygen();
    const pub = join(work, 'stale.pub');
    writeFileSync(pub, stale.publicKeyPem);
    const docs = join(work, 'docs');
    const out = spawnSync(
      process.execPath,
      [CLI, 'issuer', 'documents', '--issuer', issuer, '--public-key', pub, '--out', docs],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(out.status, 0, out.stderr);
    const tls = await servingCertificate(cp, work);
    issuerServe = (
      await serveHttps(cp, ['issuer', 'serve', '--dir', docs], tls, '/.well-known/openid-configuration', port)
    ).proc;
    writeFileSync(join(work, 'ca.pem'), cp.caPem);
    await createServiceAccount(cp, 'default', 'app', { [ROLE_ANNOTATION]: ROLE });
  });

  after(async () => {
    await issuerServe?.stop();
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("the token's kid is not published: the issuer link is named, and the key check fails too", () => {
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'doctor',
        '--format',
        'json',
        `--kubeconfig=${cp.kubeconfigPath}`,
        '-n',
        'default',
        '--service-account',
        'app',
        '--issuer-ca-file',
        join(work, 'ca.pem'),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(r.status, 1);
    // No webhook is registered on this cluster, so that link is broken too; the key links must still be checked.
    const byId = (id: string) => report.checks.find((c) => c.id === id)!;
    assert.equal(byId('issuer-consistent').status, 'pass');
    assert.equal(byId('issuer-discovery').status, 'fail');
    assert.match(byId('issuer-discovery').detail, /kid/);
    assert.equal(byId('jwks-published').status, 'fail');
    assert.match(byId('jwks-published').detail, new RegExp(`kid ${cp.keyId} is not in the published JWKS`));
  });
});
