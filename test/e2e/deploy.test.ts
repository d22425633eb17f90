/**
 * deploy/ against the real API server: the kustomize overlays and the Helm chart render, and every object is
 * accepted by kube-apiserver (server-side dry run with strict field validation; cert-manager's own CRDs are
 * installed so Certificate and Issuer are validated against their real schemas). Any rejection or warning fails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments, parseDocument } from 'yaml';
import { createCa, issueCertificate } from '../../src/pki/index.js';
import { SCOPE, SCOPE_LABEL, SKIP_POD_LABEL } from '../../src/webhook/constants.js';
import { crdDir, runBinary, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { DEFAULT_WEBHOOK_ENTRIES, FAIL_CLOSED_WEBHOOK_ENTRIES, helmOn } from './support.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEPLOY = join(ROOT, 'deploy');
const CHART = join(DEPLOY, 'helm/openirsa-webhook');

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
} & Record<string, unknown>;

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions: { key: string; operator: string; values?: string[] }[];
}

interface Webhook {
  name: string;
  admissionReviewVersions: string[];
  failurePolicy: string;
  timeoutSeconds: number;
  reinvocationPolicy: string;
  sideEffects: string;
  clientConfig: {
    caBundle?: string;
    service: { name: string; namespace: string; path: string; port: number };
  };
  namespaceSelector: Selector;
  objectSelector: Selector;
  rules: { operations: string[]; resources: string[] }[];
}

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
  const helm = (args: string[]) => helmOn(cp, work)(args);
  const render = (dir: string) => {
    const r = kubectl(['kustomize', dir]);
    assert.equal(r.status, 0, `kubectl kustomize ${dir} failed:\n${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    const crds = crdDir(); // fails loudly before the control plane starts if the build step was skipped
    if (!existsSync(join(crds, 'monitoring.coreos.com_servicemonitors.yaml')))
      throw new Error(
        `the ServiceMonitor CRD is missing in ${crds}: run \`bash scripts/control-plane.sh build\``,
      );
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
      'crd/servicemonitors.monitoring.coreos.com',
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

    const mwc = find(objs, 'MutatingWebhookConfiguration') as Obj & { webhooks: Webhook[] };
    // Safe by default: Ignore for everything, Fail only for what opts in (failure-policy.test.ts shows the behaviour).
    assert.deepEqual(
      mwc.webhooks.map((w) => [w.name, w.failurePolicy]),
      DEFAULT_WEBHOOK_ENTRIES,
    );
    for (const wh of mwc.webhooks) {
      assert.deepEqual(wh.admissionReviewVersions, ['v1', 'v1beta1']);
      assert.equal(wh.timeoutSeconds, 10);
      assert.equal(wh.reinvocationPolicy, 'IfNeeded');
      assert.equal(wh.sideEffects, 'None');
      assert.deepEqual(wh.clientConfig.service, {
        name: 'openirsa-webhook',
        namespace: 'openirsa',
        path: '/mutate',
        port: 443,
      });
      assert.deepEqual(wh.objectSelector.matchExpressions[0], {
        key: SKIP_POD_LABEL,
        operator: 'DoesNotExist',
      });
      assert.deepEqual(wh.rules[0]!.operations, ['CREATE']);
      assert.deepEqual(wh.rules[0]!.resources, ['pods']);
      const scope = wh.namespaceSelector.matchExpressions.find((e) => e.key === SCOPE_LABEL);
      assert.ok(
        scope?.operator === 'In'
          ? !scope.values!.includes(SCOPE.disabled)
          : scope?.operator === 'NotIn' && scope.values!.includes(SCOPE.disabled),
        `${wh.name} leaves namespaces labelled ${SCOPE_LABEL}=${SCOPE.disabled} out`,
      );
    }
    // The webhook's own namespace carries the label that keeps it out.
    const namespace = find(objs, 'Namespace', 'openirsa') as Obj & {
      metadata: { labels: Record<string, string> };
    };
    assert.equal(namespace.metadata.labels[SCOPE_LABEL], SCOPE.disabled);
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
    const mwc = find(objs, 'MutatingWebhookConfiguration') as Obj & { webhooks: Webhook[] };
    for (const wh of mwc.webhooks)
      assert.equal(Buffer.from(wh.clientConfig.caBundle!, 'base64').toString('utf8'), caPem, wh.name);
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

  test('kustomize component fail-closed: Fail everywhere but the system namespaces, which get an Ignore entry', () => {
    const copy = join(work, 'kustomize-fail-closed');
    cpSync(join(DEPLOY, 'kustomize'), copy, { recursive: true });
    mkdirSync(join(copy, 'my-overlay'));
    writeFileSync(
      join(copy, 'my-overlay/kustomization.yaml'),
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../cert-manager]\n' +
        'components: [../components/fail-closed]\n',
    );
    const text = render(join(copy, 'my-overlay'));
    const mwc = find(docs(text), 'MutatingWebhookConfiguration') as Obj & { webhooks: Webhook[] };
    assert.deepEqual(
      mwc.webhooks.map((w) => [w.name, w.failurePolicy]),
      FAIL_CLOSED_WEBHOOK_ENTRIES,
    );
    const [main, system] = mwc.webhooks as [Webhook, Webhook];
    const systemNamespaces = ['kube-system', 'kube-public', 'kube-node-lease', 'cert-manager'];
    assert.ok(
      main.namespaceSelector.matchExpressions.some(
        (e) =>
          e.key === 'kubernetes.io/metadata.name' &&
          e.operator === 'NotIn' &&
          isDeepStrictEqual(e.values, systemNamespaces),
      ),
      'the Fail entry leaves the system namespaces out',
    );
    assert.deepEqual(system.namespaceSelector.matchExpressions[0], {
      key: 'kubernetes.io/metadata.name',
      operator: 'In',
      values: systemNamespaces,
    });
    assert.equal(mwc.metadata.annotations?.['cert-manager.io/inject-ca-from'], 'openirsa/openirsa-webhook');
    dryRun(['-f', '-'], text);
  });

  /** The certificate values a test passes to the chart (a CA and a serving certificate for the given Service). */
  const chartTls = async (fullname: string, namespace: string) => {
    const dir = mkdtempSync(join(work, 'tls-'));
    const ca = await createCa('openirsa chart test CA', 2);
    const leaf = await issueCertificate(ca, {
      commonName: `${fullname}.${namespace}.svc`,
      dnsNames: [`${fullname}.${namespace}.svc`],
      ipAddresses: [],
      days: 2,
    });
    const file = (name: string, text: string, mode = 0o644) => {
      writeFileSync(join(dir, name), text, { mode });
      return join(dir, name);
    };
    return {
      caPem: ca.cert,
      certPem: leaf.cert,
      keyPem: leaf.key,
      caFile: file('ca.crt', ca.cert),
      certFile: file('tls.crt', leaf.cert),
      keyFile: file('tls.key', leaf.key, 0o600),
    };
  };

  for (const mode of ['certManager', 'selfSigned', 'existingSecret', 'inline'] as const) {
    test(`helm template (certificates.mode=${mode}) is accepted`, async () => {
      const release = `openirsa-${mode.toLowerCase()}`;
      const fullname = `${release}-openirsa-webhook`; // release name + chart name
      const ns = kubectl(['create', 'namespace', release]);
      assert.equal(ns.status, 0, ns.stderr);
      const tls = await chartTls(fullname, release);
      const modeArgs = {
        certManager: [],
        selfSigned: [],
        existingSecret: [
          '--set',
          'certificates.existingSecret=my-tls',
          '--set-file',
          `certificates.caBundle=${tls.caFile}`,
        ],
        inline: [
          ...[
            '--set-file',
            `certificates.cert=${tls.certFile}`,
            '--set-file',
            `certificates.key=${tls.keyFile}`,
          ],
          ...['--set-file', `certificates.caBundle=${tls.caFile}`],
        ],
      }[mode];
      const values = ['--set', `certificates.mode=${mode}`, ...modeArgs];
      const lint = runBinary('helm', ['lint', '--strict', CHART, ...values]);
      assert.equal(lint.status, 0, `helm lint:\n${lint.stdout}\n${lint.stderr}`);
      const r = runBinary('helm', ['template', release, CHART, '--namespace', release, ...values]);
      assert.equal(r.status, 0, r.stderr);
      const objs = docs(r.stdout);
      const mwc = find(objs, 'MutatingWebhookConfiguration') as Obj & { webhooks: Webhook[] };
      assert.equal(mwc.webhooks.length, 3);
      const wh = mwc.webhooks[0]!;
      assert.equal(wh.clientConfig.service.namespace, release);
      assert.equal(wh.clientConfig.service.name, fullname);
      assert.ok(
        wh.namespaceSelector.matchExpressions[0]!.values!.includes(release),
        'the release namespace is excluded',
      );
      for (const other of mwc.webhooks)
        assert.equal(other.clientConfig.caBundle, wh.clientConfig.caBundle, other.name);
      const dep = find(objs, 'Deployment') as Obj & {
        spec: {
          replicas: number;
          template: { spec: { volumes: { name: string; secret?: { secretName: string } }[] } };
        };
      };
      const mounted = dep.spec.template.spec.volumes.find((v) => v.name === 'certs')?.secret?.secretName;
      const secrets = objs.filter((o) => o.kind === 'Secret') as (Obj & { data: Record<string, string> })[];
      const b64 = (text: string) => Buffer.from(text).toString('base64');
      if (mode === 'selfSigned') {
        const [secret] = secrets;
        assert.equal(
          wh.clientConfig.caBundle,
          secret!.data['ca.crt'],
          'caBundle and the Secret share one CA',
        );
        assert.match(
          Buffer.from(wh.clientConfig.caBundle!, 'base64').toString(),
          /^-----BEGIN CERTIFICATE-----/,
        );
        assert.equal(mounted, secret!.metadata.name);
      } else if (mode === 'inline') {
        const [secret] = secrets;
        assert.equal(wh.clientConfig.caBundle, b64(tls.caPem));
        assert.equal(secret!.data['tls.crt'], b64(tls.certPem));
        assert.equal(secret!.data['tls.key'], b64(tls.keyPem));
        assert.equal(mounted, secret!.metadata.name);
      } else if (mode === 'existingSecret') {
        assert.equal(secrets.length, 0, 'the chart does not manage your Secret');
        assert.equal(wh.clientConfig.caBundle, b64(tls.caPem));
        assert.equal(mounted, 'my-tls');
      } else {
        assert.equal(wh.clientConfig.caBundle, undefined);
        assert.equal(mwc.metadata.annotations?.['cert-manager.io/inject-ca-from'], `${release}/${fullname}`);
        const cert = find(objs, 'Certificate', fullname) as Obj & { spec: { secretName: string } };
        assert.equal(mounted, cert.spec.secretName);
        find(objs, 'Issuer', `${fullname}-ca`);
      }
      assert.equal(dep.spec.replicas, 2);
      dryRun(['-f', '-'], r.stdout);
    });
  }

  test('helm install + upgrade (selfSigned) for real: the generated CA is kept across upgrades (lookup)', () => {
    const release = 'openirsa-webhook';
    const ns = 'openirsa-helm';
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
      ...['upgrade', release, CHART, '-n', ns],
      ...['--set', 'certificates.mode=selfSigned', '--set', 'replicaCount=3'],
    ]);
    assert.equal(caBundle(), first, 'upgrade reused the CA instead of generating a new one');
    const replicas = kubectl(['get', 'deployment', '-n', ns, release, '-o', 'jsonpath={.spec.replicas}']);
    assert.equal(replicas.stdout, '3', 'the upgrade did apply');
    helm(['uninstall', release, '-n', ns, '--wait']);
  });

  let packaged = '';
  test('scripts/chart.sh: helm lint --strict (defaults and ci/*.yaml) and helm package', () => {
    const out = join(work, 'chart-package');
    const r = spawnSync('bash', [join(ROOT, 'scripts/chart.sh'), out], { encoding: 'utf8' });
    assert.equal(r.status, 0, `scripts/chart.sh:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    const ciFiles = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('.yaml'));
    assert.equal(
      r.stderr.match(/1 chart\(s\) linted, 0 chart\(s\) failed/g)?.length,
      1 + ciFiles.length,
      `defaults + ${ciFiles.map((f) => `ci/${f}`).join(' + ')}`,
    );
    packaged = r.stdout.trim();
    const chartYaml = parseDocument(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')).toJS() as {
      version: string;
    };
    assert.equal(packaged, join(out, `openirsa-webhook-${chartYaml.version}.tgz`));
    const files = spawnSync('tar', ['tzf', packaged], { encoding: 'utf8' }).stdout.split('\n');
    assert.ok(files.includes('openirsa-webhook/values.schema.json'), files.join(' '));
    assert.ok(files.includes('openirsa-webhook/templates/servicemonitor.yaml'));
    assert.ok(!files.some((f) => f.includes('/ci/')), 'CI values files stay out of the package');
  });

  test('the packaged chart with non-default values: install, upgrade and uninstall for real', async () => {
    assert.ok(packaged, 'the package test ran first');
    const release = 'platform';
    const ns = 'platform-irsa-system';
    const fullname = 'platform-irsa'; // release + nameOverride
    const tls = await chartTls(fullname, ns);
    const ciValues = join(CHART, 'ci/non-default-values.yaml');
    helm([
      ...['install', release, packaged, '-n', ns, '--create-namespace', '-f', ciValues],
      ...['--set', 'certificates.mode=inline', '--set-file', `certificates.cert=${tls.certFile}`],
      ...[
        '--set-file',
        `certificates.key=${tls.keyFile}`,
        '--set-file',
        `certificates.caBundle=${tls.caFile}`,
      ],
    ]);
    const get = <T>(...args: string[]): T => {
      const r = kubectl(['get', ...args, '-o', 'json']);
      assert.equal(r.status, 0, `kubectl get ${args.join(' ')}:\n${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    };
    type Deployment = {
      metadata: { annotations: Record<string, string> };
      spec: {
        replicas: number;
        strategy: Record<string, unknown>;
        template: {
          metadata: { labels: Record<string, string>; annotations: Record<string, string> };
          spec: Record<string, unknown> & {
            containers: {
              image: string;
              imagePullPolicy: string;
              args: string[];
              env: { name: string; value: string }[];
              ports: { name: string; containerPort: number }[];
              securityContext: Record<string, unknown>;
              readinessProbe?: unknown;
              livenessProbe: { periodSeconds: number };
              volumeMounts: { name: string; mountPath: string }[];
              resources: Record<string, unknown>;
            }[];
            volumes: { name: string; secret?: { secretName: string } }[];
            securityContext: Record<string, unknown>;
          };
        };
      };
    };
    const dep = get<Deployment>('deployment', '-n', ns, fullname);
    const pod = dep.spec.template.spec;
    const c = pod.containers[0]!;
    assert.equal(dep.spec.replicas, 3);
    assert.deepEqual(dep.spec.strategy, { type: 'Recreate' });
    assert.equal(dep.metadata.annotations['example.com/deployed-by'], 'ci');
    assert.equal(dep.spec.template.metadata.annotations['example.com/scrape'], 'false');
    assert.equal(dep.spec.template.metadata.labels['example.com/team'], 'platform');
    assert.equal(dep.spec.template.metadata.labels[SKIP_POD_LABEL], 'true');
    assert.equal(
      c.image,
      'registry.example.com/mirror/openirsa:0.1.0@sha256:0000000000000000000000000000000000000000000000000000000000000000',
    );
    assert.equal(c.imagePullPolicy, 'Always');
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'mirror-pull' }]);
    assert.equal(pod.serviceAccountName, 'irsa-webhook');
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/os': 'linux' });
    assert.equal((pod.tolerations as unknown[]).length, 1);
    assert.ok(
      (pod.affinity as Record<string, unknown>).nodeAffinity,
      'affinity replaced the default anti-affinity',
    );
    assert.deepEqual(
      (pod.topologySpreadConstraints as { labelSelector: unknown }[])[0]!.labelSelector,
      { matchLabels: { 'app.kubernetes.io/instance': release } },
      'templates in topologySpreadConstraints are rendered',
    );
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      fsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
    });
    assert.equal(c.readinessProbe, undefined, 'readinessProbe: null removes the probe');
    assert.equal(c.livenessProbe.periodSeconds, 20);
    assert.deepEqual(c.resources, {
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { cpu: '1', memory: '384Mi' },
    });
    for (const arg of [
      '--port=9443',
      '--metrics-port=9998',
      `--namespace=${ns}`,
      '--annotation-prefix=irsa.example.com',
      '--token-audience=sts.example.com',
      '--token-expiration=3600',
      '--token-mount-path=/var/run/secrets/irsa.example.com/serviceaccount',
      '--aws-default-region=eu-west-1',
      '--sts-regional-endpoint=true',
      '--service-account-lookup-grace-period=250ms',
      '--watch-config-map=true',
      '--v=3',
      '--compose-role-arn=arn:aws:iam::111122223333:role/',
      `--service-name=${release}`,
    ])
      assert.ok(c.args.includes(arg), `${arg} in ${c.args.join(' ')}`);
    assert.deepEqual(
      c.env.filter((e) => e.name !== 'NODE_OPTIONS'),
      [
        { name: 'HTTPS_PROXY', value: 'http://proxy.example.com:3128' },
        { name: 'RELEASE', value: release },
      ],
    );
    assert.deepEqual(
      c.ports.map((p) => [p.name, p.containerPort]),
      [
        ['https', 9443],
        ['metrics', 9998],
      ],
    );
    assert.ok(c.volumeMounts.some((m) => m.name === 'extra-ca' && m.mountPath === '/etc/ssl/extra'));
    assert.ok(pod.volumes.some((v) => v.name === 'extra-ca'));
    assert.equal(pod.volumes.find((v) => v.name === 'certs')?.secret?.secretName, `${fullname}-cert`);

    const sa = get<{ metadata: { annotations: Record<string, string> } }>(
      'serviceaccount',
      '-n',
      ns,
      'irsa-webhook',
    );
    assert.equal(sa.metadata.annotations['example.com/release'], release);
    const binding = get<{ subjects: { name: string; namespace: string }[] }>('clusterrolebinding', fullname);
    assert.deepEqual(
      binding.subjects.map((s) => [s.name, s.namespace]),
      [['irsa-webhook', ns]],
    );

    const svc = get<{
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: { type: string; ports: { name: string; port: number }[] };
    }>('service', '-n', ns, fullname);
    assert.equal(svc.spec.type, 'NodePort');
    assert.deepEqual(
      svc.spec.ports.map((p) => [p.name, p.port]),
      [
        ['https', 8443],
        ['metrics', 9998],
      ],
    );
    assert.equal(svc.metadata.labels['example.com/team'], 'platform');
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(svc.metadata.annotations ?? {}).filter(([k]) => !k.startsWith('meta.helm.sh/')),
      ),
      { 'example.com/lb': 'internal' },
      'prometheusAnnotations: false',
    );

    const sm = get<{
      metadata: { labels: Record<string, string> };
      spec: { endpoints: Record<string, unknown>[] };
    }>('servicemonitor', '-n', ns, fullname);
    assert.equal(sm.metadata.labels.release, 'kube-prometheus-stack');
    assert.deepEqual(sm.spec.endpoints[0], {
      port: 'metrics',
      path: '/metrics',
      scheme: 'http',
      interval: '15s',
      scrapeTimeout: '10s',
      honorLabels: true,
      relabelings: [{ action: 'replace', targetLabel: 'cluster', replacement: 'lab-a' }],
      metricRelabelings: [{ action: 'drop', sourceLabels: ['__name__'], regex: 'go_.*' }],
      followRedirects: false,
    });

    const cm = get<{ data: Record<string, string> }>('configmap', '-n', ns, 'pod-identity-webhook');
    assert.deepEqual(JSON.parse(cm.data.config!), {
      [`${ns}/migrated-app`]: {
        RoleARN: 'arn:aws:iam::111122223333:role/migrated-app',
        Audience: 'sts.example.com',
        UseRegionalSTS: true,
        TokenExpiration: 7200,
      },
      '*/any-namespace': { RoleARN: 'arn:aws:iam::111122223333:role/any-namespace' },
    });

    const pdb = get<{ spec: Record<string, unknown> }>('poddisruptionbudget', '-n', ns, fullname);
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.equal(pdb.spec.minAvailable, undefined);

    const mwcOf = () =>
      get<{ metadata: { annotations: Record<string, string> }; webhooks: Webhook[] }>(
        'mutatingwebhookconfiguration',
        fullname,
      );
    let mwc = mwcOf();
    assert.equal(mwc.metadata.annotations['example.com/owner'], 'platform');
    assert.deepEqual(
      mwc.webhooks.map((w) => [w.name, w.failurePolicy]),
      DEFAULT_WEBHOOK_ENTRIES,
    );
    for (const wh of mwc.webhooks) {
      assert.equal(wh.timeoutSeconds, 5);
      assert.equal(wh.reinvocationPolicy, 'Never');
      assert.equal(wh.clientConfig.service.port, 8443, 'the API server calls service.port');
      assert.equal(wh.clientConfig.caBundle, Buffer.from(tls.caPem).toString('base64'));
      assert.deepEqual(wh.namespaceSelector.matchLabels, { 'irsa.example.com/enabled': 'true' });
      assert.deepEqual(wh.namespaceSelector.matchExpressions.at(-1), {
        key: 'team',
        operator: 'NotIn',
        values: ['sandbox'],
      });
      assert.deepEqual(wh.objectSelector.matchLabels, { 'irsa.example.com/inject': 'true' });
      assert.deepEqual(wh.objectSelector.matchExpressions[0], {
        key: SKIP_POD_LABEL,
        operator: 'DoesNotExist',
      });
      assert.deepEqual(wh.objectSelector.matchExpressions.at(-1), { key: 'tier', operator: 'Exists' });
    }
    assert.deepEqual(mwc.webhooks[0]!.namespaceSelector.matchExpressions[0]!.values, [ns, 'legacy-irsa']);
    assert.deepEqual(mwc.webhooks[1]!.namespaceSelector.matchExpressions[0]!.values, [
      ...[
        ns,
        'legacy-irsa',
        'kube-system',
        'kube-public',
        'kube-node-lease',
        'cert-manager',
        'calico-system',
      ],
    ]);
    const chartSecret = get<{ data: Record<string, string> }>('secret', '-n', ns, `${fullname}-cert`);
    assert.equal(chartSecret.data['tls.crt'], Buffer.from(tls.certPem).toString('base64'));

    // Upgrade: your own Secret (its ca.crt found by lookup), failurePolicy Fail, one replica, no ConfigMap.
    const own = kubectl([
      ...['create', 'secret', 'generic', 'platform-tls', '-n', ns, '--type=kubernetes.io/tls'],
      ...[
        `--from-file=tls.crt=${tls.certFile}`,
        `--from-file=tls.key=${tls.keyFile}`,
        `--from-file=ca.crt=${tls.caFile}`,
      ],
    ]);
    assert.equal(own.status, 0, own.stderr);
    helm([
      ...['upgrade', release, packaged, '-n', ns, '-f', ciValues],
      ...['--set', 'certificates.mode=existingSecret', '--set', 'certificates.existingSecret=platform-tls'],
      ...['--set', 'mutatingWebhook.failurePolicy=Fail', '--set', 'replicaCount=1'],
      ...['--set', 'webhook.configMapData=null'],
    ]);
    const upgraded = get<Deployment>('deployment', '-n', ns, fullname);
    assert.equal(upgraded.spec.replicas, 1);
    assert.equal(
      upgraded.spec.template.spec.volumes.find((v) => v.name === 'certs')?.secret?.secretName,
      'platform-tls',
    );
    assert.ok(upgraded.spec.template.spec.containers[0]!.args.includes('--watch-config-map=false'));
    mwc = mwcOf();
    assert.deepEqual(
      mwc.webhooks.map((w) => [w.name, w.failurePolicy]),
      FAIL_CLOSED_WEBHOOK_ENTRIES,
    );
    for (const wh of mwc.webhooks)
      assert.equal(
        wh.clientConfig.caBundle,
        Buffer.from(tls.caPem).toString('base64'),
        'ca.crt read from the Secret',
      );
    const gone = (...args: string[]) => {
      const r = kubectl(['get', ...args]);
      assert.notEqual(r.status, 0, `${args.join(' ')} still exists`);
      assert.match(r.stderr, /NotFound/);
    };
    gone('secret', '-n', ns, `${fullname}-cert`);
    gone('configmap', '-n', ns, 'pod-identity-webhook');
    gone('poddisruptionbudget', '-n', ns, fullname);

    helm(['uninstall', release, '-n', ns, '--wait']);
    gone('mutatingwebhookconfiguration', fullname);
    gone('clusterrole', fullname);
    gone('clusterrolebinding', fullname);
    gone('deployment', '-n', ns, fullname);
    gone('service', '-n', ns, fullname);
    gone('servicemonitor', '-n', ns, fullname);
    gone('serviceaccount', '-n', ns, 'irsa-webhook');
    gone('role', '-n', ns, fullname);
    const kept = kubectl(['get', 'secret', '-n', ns, 'platform-tls']);
    assert.equal(kept.status, 0, 'uninstall leaves the Secret you manage alone');
  });

  test('ci values with certManager and an existing ClusterIssuer: no chart issuers; accepted by the CRDs', () => {
    const release = 'openirsa-issuer';
    const ns = kubectl(['create', 'namespace', release]);
    assert.equal(ns.status, 0, ns.stderr);
    const r = runBinary('helm', [
      'template',
      release,
      CHART,
      '-n',
      release,
      '-f',
      join(CHART, 'ci/non-default-values.yaml'),
    ]);
    assert.equal(r.status, 0, r.stderr);
    const objs = docs(r.stdout);
    assert.equal(objs.filter((o) => o.kind === 'Issuer').length, 0, 'no private CA when issuerRef is given');
    const cert = find(objs, 'Certificate') as Obj & { spec: Record<string, unknown> };
    assert.deepEqual(cert.spec.issuerRef, {
      name: 'internal-ca',
      kind: 'ClusterIssuer',
      group: 'cert-manager.io',
    });
    assert.equal(cert.spec.duration, '720h');
    assert.equal(cert.spec.renewBefore, '240h');
    find(objs, 'ServiceMonitor');
    dryRun(['-f', '-'], r.stdout);
  });

  test('helm rejects bad values with a clear message that names the value (and never echoes a key)', async () => {
    const tls = await chartTls('x-openirsa-webhook', 'default');
    const cases: [string[], RegExp][] = [
      [['--set', 'certificates.mode=bogus'], /at '\/certificates\/mode': value must be one of 'certManager'/],
      [['--set', 'pki.certManager.enabled=false'], /additional propert(y|ies) .*pki/is],
      [['--set', 'config.annotationPrefix=x'], /additional propert(y|ies) .*config/is],
      [['--set', 'mutatingWebhook.failurePolicy=fail'], /failurePolicy/],
      [['--set', 'mutatingWebhook.timeoutSeconds=31'], /timeoutSeconds/],
      [
        ['--set', 'serviceAccount.create=false'],
        /serviceAccount\.name is required when serviceAccount\.create is false/,
      ],
      [
        ['--set', 'certificates.mode=existingSecret'],
        /certificates\.existingSecret .* is required with certificates\.mode=existingSecret/,
      ],
      [
        ['--set', 'certificates.mode=existingSecret', '--set', 'certificates.existingSecret=mine'],
        /needs the CA that signed Secret default\/mine: set certificates\.caBundle/,
      ],
      [
        [
          '--set',
          'certificates.mode=inline',
          '--set-file',
          `certificates.cert=${tls.certFile}`,
          '--set-file',
          `certificates.caBundle=${tls.caFile}`,
        ],
        /certificates\.key must be a PEM private key/,
      ],
      [
        [
          '--set',
          'certificates.mode=inline',
          '--set-file',
          `certificates.key=${tls.keyFile}`,
          '--set',
          'certificates.cert=garbage',
        ],
        /certificates\.cert must be a PEM certificate/,
      ],
      [
        ['--set-file', `certificates.key=${tls.keyFile}`],
        /certificates\.cert and certificates\.key are used only with certificates\.mode=inline \(mode is certManager\)/,
      ],
      [
        [
          '--set',
          'certificates.mode=existingSecret',
          '--set',
          'certificates.existingSecret=mine',
          '--set',
          `certificates.caBundle=${Buffer.from(tls.caPem).toString('base64')}`,
        ],
        /certificates\.caBundle must be PEM/,
      ],
      [
        ['--set', 'certificates.certManager.issuerRef.kind=ClusterIssuer'],
        /certificates\.certManager\.issuerRef\.name is required/,
      ],
    ];
    const keyBody = tls.keyPem.split('\n')[1]!;
    for (const [args, message] of cases) {
      const r = runBinary('helm', ['template', 'x', CHART, ...args]);
      assert.notEqual(r.status, 0, `helm template ${args.join(' ')} was accepted`);
      assert.match(r.stderr, message, `helm template ${args.join(' ')}`);
      assert.ok(!r.stderr.includes(keyBody), 'the private key is not echoed');
      assert.ok(r.stderr.split('\n').length < 15, `a short message, not a dump:\n${r.stderr}`);
    }
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
