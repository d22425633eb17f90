/**
 * deploy/ against the real API server: the kustomize overlays and the Helm chart render, and every object is
 * accepted by kube-apiserver (server-side dry run with strict field validation; cert-manager's own CRDs are
 * installed so Certificate and Issuer are validated against their real schemas). Any rejection or warning fails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { SKIP_POD_LABEL } from '../../src/webhook/constants.js';
import { crdDir, runBinary, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEPLOY = join(ROOT, 'deploy');
const CHART = join(DEPLOY, 'helm/openirsa-webhook');

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
} & Record<string, unknown>;

function docs(yamlText: string): Obj[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

function find(objs: Obj[], kind: string, name?: string): Obj {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  assert.ok(
    o,
    `${kind}${name ? ` ${name}` : ''} is rendered (have: ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')})`,
  );
  return o;
}

describe('deploy/ manifests on a real kube-apiserver', () => {
  let cp: ControlPlane;
  let work: string;
  const kubectl = (args: string[], input?: string) =>
    runBinary('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args], input === undefined ? {} : { input });
  /** Server-side dry run with strict field validation; fails on any error or warning (Pod Security included). */
  const dryRun = (args: string[], input?: string) => {
    const r = kubectl(['apply', '--dry-run=server', '--validate=strict', ...args], input);
    assert.equal(
      r.status,
      0,
      `kubectl apply --dry-run=server ${args.join(' ')} was rejected:\n${r.stderr}\n${r.stdout}`,
    );
    assert.doesNotMatch(r.stderr, /warning/i, `kubectl printed warnings:\n${r.stderr}`);
    return r.stdout;
  };
  const render = (dir: string) => {
    const r = kubectl(['kustomize', dir]);
    assert.equal(r.status, 0, `kubectl kustomize ${dir} failed:\n${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    const crds = crdDir(); // fails loudly before the control plane starts if the build step was skipped
    cp = await startControlPlane();
    work = mkdtempSync(join(tmpdir(), 'openirsa-deploy-'));
    const files = readdirSync(crds)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join(crds, f));
    const applied = kubectl(['apply', '--server-side', ...files.flatMap((f) => ['-f', f])]);
    assert.equal(applied.status, 0, applied.stderr);
    const established = kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/certificates.cert-manager.io',
      'crd/issuers.cert-manager.io',
    ]);
    assert.equal(established.status, 0, established.stderr);
    // Dry-run objects need their namespace to exist for real.
    const ns = kubectl(['apply', '-f', join(DEPLOY, 'kustomize/namespace/namespace.yaml')]);
    assert.equal(ns.status, 0, ns.stderr);
  });
  after(async () => {
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the kustomize base holds every object with the settings the issue asks for', () => {
    const objs = docs(render(join(DEPLOY, 'kustomize/base')));
    for (const o of objs) {
      if (
        !['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration'].includes(o.kind)
      ) {
        assert.equal(o.metadata.namespace, 'openirsa', `${o.kind}/${o.metadata.name} is namespaced`);
      }
    }
    find(objs, 'Namespace', 'openirsa');
    find(objs, 'ServiceAccount', 'openirsa-webhook');
    const clusterRole = find(objs, 'ClusterRole') as Obj & {
      rules: { resources: string[]; verbs: string[] }[];
    };
    assert.deepEqual(clusterRole.rules, [
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch'] },
    ]);
    const role = find(objs, 'Role') as Obj & { rules: unknown[] };
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
    ]);
    find(objs, 'RoleBinding');
    find(objs, 'ClusterRoleBinding');

    const dep = find(objs, 'Deployment', 'openirsa-webhook') as Obj & {
      spec: {
        replicas: number;
        template: {
          metadata: { labels: Record<string, string> };
          spec: { containers: Record<string, unknown>[]; securityContext: Record<string, unknown> };
        };
      };
    };
    assert.equal(dep.spec.replicas, 2);
    const pod = dep.spec.template;
    assert.equal(pod.metadata.labels[SKIP_POD_LABEL], 'true', 'the webhook never mutates its own pods');
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    const c = pod.spec.containers[0] as {
      args: string[];
      livenessProbe: { httpGet: { path: string } };
      readinessProbe: { httpGet: { path: string } };
      resources: { requests: object; limits: object };
      securityContext: Record<string, unknown>;
    };
    assert.equal(c.args[0], 'webhook');
    assert.ok(c.args.includes('--in-cluster=false'));
    assert.ok(c.args.includes('--namespace=openirsa'), 'the ConfigMap namespace is the webhook namespace');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.ok(c.resources.requests && c.resources.limits);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);

    const pdb = find(objs, 'PodDisruptionBudget') as Obj & { spec: { minAvailable: number } };
    assert.equal(pdb.spec.minAvailable, 1);
    find(objs, 'Service', 'openirsa-webhook');

    const mwc = find(objs, 'MutatingWebhookConfiguration') as Obj & { webhooks: Record<string, unknown>[] };
    const [wh] = mwc.webhooks as [
      {
        admissionReviewVersions: string[];
        failurePolicy: string;
        timeoutSeconds: number;
        reinvocationPolicy: string;
        sideEffects: string;
        clientConfig: { service: { name: string; namespace: string; path: string; port: number } };
        objectSelector: { matchExpressions: { key: string; operator: string }[] };
        rules: { operations: string[]; resources: string[] }[];
      },
    ];
    assert.deepEqual(wh.admissionReviewVersions, ['v1', 'v1beta1']);
    assert.equal(wh.failurePolicy, 'Fail');
    assert.equal(wh.timeoutSeconds, 10);
    assert.equal(wh.reinvocationPolicy, 'IfNeeded');
    assert.equal(wh.sideEffects, 'None');
    assert.deepEqual(wh.clientConfig.service, {
      name: 'openirsa-webhook',
      namespace: 'openirsa',
      path: '/mutate',
      port: 443,
    });
    assert.deepEqual(wh.objectSelector.matchExpressions, [{ key: SKIP_POD_LABEL, operator: 'DoesNotExist' }]);
    assert.deepEqual(wh.rules[0]!.operations, ['CREATE']);
    assert.deepEqual(wh.rules[0]!.resources, ['pods']);
  });

  test('kustomize cert-manager overlay: accepted, Certificate/Issuer valid against cert-manager v1 CRDs', () => {
    const text = render(join(DEPLOY, 'kustomize/cert-manager'));
    const objs = docs(text);
    const mwc = find(objs, 'MutatingWebhookConfiguration');
    assert.equal(mwc.metadata.annotations?.['cert-manager.io/inject-ca-from'], 'openirsa/openirsa-webhook');
    const cert = find(objs, 'Certificate', 'openirsa-webhook') as Obj & {
      spec: { secretName: string; dnsNames: string[] };
    };
    const dep = find(objs, 'Deployment') as Obj & {
      spec: { template: { spec: { volumes: { name: string; secret?: { secretName: string } }[] } } };
    };
    const certVolume = dep.spec.template.spec.volumes.find((v) => v.name === 'certs');
    assert.equal(
      certVolume?.secret?.secretName,
      cert.spec.secretName,
      'the pod mounts the Secret cert-manager writes',
    );
    assert.ok(cert.spec.dnsNames.includes('openirsa-webhook.openirsa.svc'));
    dryRun(['-f', '-'], text);
  });

  test('kustomize self-signed overlay: generate-certs.sh + secretGenerator; caBundle is the CA; accepted', () => {
    const copy = join(work, 'kustomize');
    cpSync(join(DEPLOY, 'kustomize'), copy, { recursive: true });
    for (const f of ['ca.crt', 'ca.key', 'tls.crt', 'tls.key'])
      rmSync(join(copy, 'self-signed', f), { force: true });
    const gen = spawnSync('bash', [join(copy, 'self-signed/generate-certs.sh')], { encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    const text = render(join(copy, 'self-signed'));
    const objs = docs(text);
    const secret = find(objs, 'Secret') as Obj & { type: string; data: Record<string, string> };
    assert.equal(secret.type, 'kubernetes.io/tls');
    const caPem = readFileSync(join(copy, 'self-signed/ca.crt'), 'utf8');
    const mwc = find(objs, 'MutatingWebhookConfiguration') as Obj & {
      webhooks: { clientConfig: { caBundle: string } }[];
    };
    assert.equal(Buffer.from(mwc.webhooks[0]!.clientConfig.caBundle, 'base64').toString('utf8'), caPem);
    const dep = find(objs, 'Deployment') as Obj & {
      spec: { template: { spec: { volumes: { name: string; secret?: { secretName: string } }[] } } };
    };
    assert.equal(
      dep.spec.template.spec.volumes.find((v) => v.name === 'certs')?.secret?.secretName,
      secret.metadata.name,
    );
    // The serving certificate chains to the CA and names the Service.
    const verify = spawnSync(
      'openssl',
      ['verify', '-CAfile', join(copy, 'self-signed/ca.crt'), join(copy, 'self-signed/tls.crt')],
      { encoding: 'utf8' },
    );
    assert.equal(verify.status, 0, verify.stderr + verify.stdout);
    const san = spawnSync(
      'openssl',
      ['x509', '-noout', '-ext', 'subjectAltName', '-in', join(copy, 'self-signed/tls.crt')],
      { encoding: 'utf8' },
    );
    assert.match(san.stdout, /DNS:openirsa-webhook\.openirsa\.svc\b/);
    dryRun(['-f', '-'], text);
  });

  test('kustomize sts: its example config passes `openirsa sts check-config`; everything is accepted', () => {
    const text = render(join(DEPLOY, 'kustomize/sts'));
    const objs = docs(text);
    const cm = find(objs, 'ConfigMap') as Obj & { data: Record<string, string> };
    const configFile = join(work, 'sts-config.yaml');
    writeFileSync(configFile, cm.data['config.yaml']!);
    const check = spawnSync(
      process.execPath,
      [join(ROOT, 'dist/src/cli/bin.js'), 'sts', 'check-config', '--config', configFile],
      {
        encoding: 'utf8',
        env: { ...process.env, OPENIRSA_STS_SESSION_KEY: Buffer.alloc(32, 7).toString('base64') },
      },
    );
    assert.equal(check.status, 0, `sts check-config:\n${check.stdout}\n${check.stderr}`);
    assert.match(check.stdout, /arn:aws:iam::111122223333:role\/s3-writer/);
    const dep = find(objs, 'Deployment', 'openirsa-sts') as Obj & {
      spec: {
        replicas: number;
        template: {
          spec: {
            volumes: { name: string; configMap?: { name: string } }[];
            containers: { args: string[] }[];
          };
        };
      };
    };
    assert.equal(dep.spec.replicas, 2);
    assert.equal(
      dep.spec.template.spec.volumes.find((v) => v.name === 'config')?.configMap?.name,
      cm.metadata.name,
      'the pod mounts the generated (hashed) ConfigMap',
    );
    assert.ok(dep.spec.template.spec.containers[0]!.args.includes('--host=0.0.0.0'));
    dryRun(['-f', '-'], text);
  });

  for (const mode of ['certManager', 'selfSigned'] as const) {
    test(`helm template (certificates.mode=${mode}) is accepted`, () => {
      const release = `openirsa-${mode.toLowerCase()}`;
      const fullname = `${release}-openirsa-webhook`; // release name + chart name
      const ns = kubectl(['create', 'namespace', release]);
      assert.equal(ns.status, 0, ns.stderr);
      const lint = runBinary('helm', ['lint', '--strict', CHART, '--set', `certificates.mode=${mode}`]);
      assert.equal(lint.status, 0, `helm lint:\n${lint.stdout}\n${lint.stderr}`);
      const r = runBinary('helm', [
        'template',
        release,
        CHART,
        '--namespace',
        release,
        '--set',
        `certificates.mode=${mode}`,
      ]);
      assert.equal(r.status, 0, r.stderr);
      const objs = docs(r.stdout);
      const mwc = find(objs, 'MutatingWebhookConfiguration') as Obj & {
        webhooks: {
          clientConfig: { caBundle?: string; service: { name: string; namespace: string } };
          namespaceSelector: { matchExpressions: { values: string[] }[] };
        }[];
      };
      const wh = mwc.webhooks[0]!;
      assert.equal(wh.clientConfig.service.namespace, release);
      assert.ok(
        wh.namespaceSelector.matchExpressions[0]!.values.includes(release),
        'the release namespace is excluded',
      );
      if (mode === 'selfSigned') {
        const secret = find(objs, 'Secret') as Obj & { data: Record<string, string> };
        assert.equal(wh.clientConfig.caBundle, secret.data['ca.crt'], 'caBundle and the Secret share one CA');
        assert.match(
          Buffer.from(wh.clientConfig.caBundle!, 'base64').toString(),
          /^-----BEGIN CERTIFICATE-----/,
        );
      } else {
        assert.equal(wh.clientConfig.caBundle, undefined);
        assert.equal(mwc.metadata.annotations?.['cert-manager.io/inject-ca-from'], `${release}/${fullname}`);
        find(objs, 'Certificate', fullname);
        assert.equal(wh.clientConfig.service.name, fullname);
      }
      assert.equal((find(objs, 'Deployment') as Obj & { spec: { replicas: number } }).spec.replicas, 2);
      dryRun(['-f', '-'], r.stdout);
    });
  }

  test('helm install + upgrade (selfSigned) for real: the generated CA is kept across upgrades (lookup)', () => {
    const release = 'openirsa-webhook';
    const ns = 'openirsa-helm';
    const env = {
      KUBECONFIG: cp.kubeconfigPath,
      HELM_CACHE_HOME: join(work, 'helm-cache'),
      HELM_CONFIG_HOME: join(work, 'helm-config'),
      HELM_DATA_HOME: join(work, 'helm-data'),
    };
    const helm = (args: string[]) => {
      const r = runBinary('helm', args, { env });
      assert.equal(r.status, 0, `helm ${args.join(' ')}:\n${r.stderr}`);
      return r.stdout;
    };
    const caBundle = () => {
      const r = kubectl([
        'get',
        'mutatingwebhookconfiguration',
        release,
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    helm([
      'install',
      release,
      CHART,
      '-n',
      ns,
      '--create-namespace',
      '--set',
      'certificates.mode=selfSigned',
    ]);
    const first = caBundle();
    assert.match(Buffer.from(first, 'base64').toString(), /^-----BEGIN CERTIFICATE-----/);
    const secret = kubectl(['get', 'secret', '-n', ns, `${release}-cert`, '-o', 'jsonpath={.data.ca\\.crt}']);
    assert.equal(secret.stdout, first, 'the stored Secret and the caBundle share one CA');
    helm([
      'upgrade',
      release,
      CHART,
      '-n',
      ns,
      '--set',
      'certificates.mode=selfSigned',
      '--set',
      'replicaCount=3',
    ]);
    assert.equal(caBundle(), first, 'upgrade reused the CA instead of generating a new one');
    const replicas = kubectl(['get', 'deployment', '-n', ns, release, '-o', 'jsonpath={.spec.replicas}']);
    assert.equal(replicas.stdout, '3', 'the upgrade did apply');
  });

  test('helm rejects invalid values with a clear message', () => {
    const r = runBinary('helm', ['template', 'x', CHART, '--set', 'certificates.mode=bogus']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /certificates\.mode must be certManager or selfSigned/);
  });

  test('the dry-run check itself fails on a rejected object (timeoutSeconds 31)', () => {
    const bad = render(join(DEPLOY, 'kustomize/base')).replace('timeoutSeconds: 10', 'timeoutSeconds: 31');
    const r = kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], bad);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /timeoutSeconds/);
  });

  test('cert-manager objects are checked against the real CRD schemas (an unknown field is rejected)', () => {
    const bad = render(join(DEPLOY, 'kustomize/cert-manager')).replace(
      /^ {2}secretName: openirsa-webhook-cert$/m,
      '  secretName: openirsa-webhook-cert\n  secretNme: typo',
    );
    assert.ok(bad.includes('secretNme'), 'the fixture edit applied');
    const r = kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], bad);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /secretNme/);
  });
});
