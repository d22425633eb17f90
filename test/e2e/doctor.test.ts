/**
 * `openirsa doctor` against a real kube-apiserver: a healthy chain passes, then each link is broken in turn and
 * the checklist must name that link as the first broken one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { CLI, freePort, keygen, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  createNamespace,
  createServiceAccount,
  servingCertificate,
  spawnCli,
  startWebhook,
  uniqueName,
  waitForHttp,
  type CliProcess,
  type RunningWebhook,
} from './support.js';

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
    const host = cp.issuer.replace(/^https:\/\//, '');
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
            AssumeRolePolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${host}` },
                  Action: 'sts:AssumeRoleWithWebIdentity',
                  Condition: {
                    StringEquals: { [`${host}:sub`]: subject, [`${host}:aud`]: 'sts.amazonaws.com' },
                  },
                },
              ],
            },
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
    issuerServe = spawnCli([
      'issuer',
      'serve',
      '--dir',
      docs,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--tls-cert',
      tls.certFile,
      '--tls-key',
      tls.keyFile,
    ]);
    await waitForHttp(`${issuer}/.well-known/openid-configuration`, issuerServe, cp.caPem);
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
