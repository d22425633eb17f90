/**
 * Safe by default, on a real kube-apiserver. The webhook's Deployment never runs here (no kubelet), which is exactly a
 * webhook whose image cannot be pulled or whose certificate cert-manager has not issued yet. With the Helm chart's
 * and kustomize's default values, pods that do not use IRSA are still created in a new namespace, and so are IRSA pods
 * (without credentials: the price of Ignore); namespaces and pods that opt in with openirsa.io/webhook=required are
 * refused; the documented alternative (failurePolicy Fail / the fail-closed component) refuses pods everywhere but in
 * the system namespaces. With the webhook up behind the chart's own entries, every entry mutates, once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, cpSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { SCOPE, SCOPE_LABEL, SKIP_POD_LABEL } from '../../src/webhook/constants.js';
import { crdDir, runBinary, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  createNamespace,
  envOf,
  eventually,
  IMAGE,
  pod,
  startWebhook,
  uniqueName,
  type Pod,
  type RunningWebhook,
  DEFAULT_WEBHOOK_ENTRIES,
  helmOn,
  WEBHOOK_ENTRY,
} from './support.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHART = join(ROOT, 'deploy/helm/openirsa-webhook');
const KUSTOMIZE = join(ROOT, 'deploy/kustomize');
const ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
const ROLE = 'arn:aws:iam::111122223333:role/s3-writer';
const { main: MAIN, requiredNamespaces: REQUIRED_NAMESPACES, requiredPods: REQUIRED_PODS } = WEBHOOK_ENTRY;

type Admission = { created: true; pod: Pod } | { created: false; message: string };

describe('failure policy: a default install never blocks pods that do not use IRSA', () => {
  let cp: ControlPlane;
  let work: string;
  const kubectl = (args: string[], input?: string) => {
    const r = runBinary(
      'kubectl',
      ['--kubeconfig', cp.kubeconfigPath, ...args],
      input === undefined ? {} : { input },
    );
    assert.equal(r.status, 0, `kubectl ${args.join(' ')}:\n${r.stderr}`);
    return r.stdout;
  };
  const helm = (args: string[]) => helmOn(cp, work)(args);

  /** Creates a pod for real (or, with dryRun, only through admission) and reports what the API server said. */
  const admit = async (namespace: string, body: Pod, dryRun = false): Promise<Admission> => {
    const r = await cp.request(
      'POST',
      `/api/v1/namespaces/${namespace}/pods${dryRun ? '?dryRun=All' : ''}`,
      body,
    );
    if (r.status === 201 || r.status === 200) return { created: true, pod: r.json as Pod };
    return {
      created: false,
      message: `HTTP ${r.status}: ${(r.json as { message?: string } | undefined)?.message ?? r.text}`,
    };
  };
  const assertCreated = async (namespace: string, body: Pod, why: string): Promise<Pod> => {
    const a = await admit(namespace, body);
    assert.ok(a.created, `${why}: refused (${a.created ? '' : a.message})`);
    return a.pod;
  };
  const assertRefusedBy = async (entry: string, namespace: string, body: Pod, why: string) => {
    const a = await admit(namespace, body);
    assert.ok(!a.created, `${why}: created`);
    assert.match(a.message, new RegExp(`failed calling webhook "${entry.replaceAll('.', '\\.')}"`), why);
  };
  /**
   * Makes sure a namespace exists as the controller-manager (absent here) would leave it, with ServiceAccount
   * `default`, and adds ServiceAccount `app` annotated with a role (a pod of it would get credentials).
   */
  const prepare = async (ns: string, labels: Record<string, string> = {}) => {
    if ((await cp.request('GET', `/api/v1/namespaces/${ns}`)).status === 404)
      await createNamespace(cp, ns, labels);
    for (const [name, annotations] of [
      ['default', {}],
      ['app', { [ROLE_ANNOTATION]: ROLE }],
    ] as const) {
      const r = await cp.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name, annotations },
      });
      assert.ok(
        r.status === 201 || r.status === 409,
        `ServiceAccount ${ns}/${name}: HTTP ${r.status} ${r.text}`,
      );
    }
    return ns;
  };
  const fresh = (prefix: string, labels: Record<string, string> = {}) => prepare(uniqueName(prefix), labels);
  /** A pod of ServiceAccount `default`, hardened enough for a Pod Security `restricted` namespace (like openirsa's). */
  const plainPod = (labels: Record<string, string> = {}) =>
    pod(
      uniqueName('plain'),
      'default',
      {
        securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'app',
            image: IMAGE,
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
      { labels },
    );
  const irsaPod = (labels: Record<string, string> = {}) => pod(uniqueName('irsa'), 'app', {}, { labels });
  const hasCredentials = (p: Pod) => envOf(p.spec.containers[0]).AWS_ROLE_ARN === ROLE;
  /** Waits until the API server uses a new or changed configuration (it honours one after an informer delay). */
  const untilRefused = async (entry: string, namespace: string, labels: Record<string, string> = {}) =>
    eventually(
      `pod creation in ${namespace} to be refused by ${entry}`,
      async () => {
        const a = await admit(namespace, plainPod(labels), true);
        if (!a.created && a.message.includes(`"${entry}"`)) return true;
        throw new Error(a.created ? 'still admitted' : a.message); // eventually() reports the last one
      },
      90_000,
    );
  const untilAdmitted = async (namespace: string) =>
    eventually(
      `pod creation in ${namespace} to be admitted again`,
      async () => ((await admit(namespace, plainPod(), true)).created ? true : undefined),
      90_000,
    );

  before(async () => {
    const crds = crdDir(); // fails loudly before the control plane starts if the build step was skipped
    // Webhook Services resolve to their endpoints (none: the Deployment never runs), so "down" is an immediate
    // "no endpoints" as on a node whose webhook pods are not ready, not a dial into whatever answers a ClusterIP here.
    cp = await startControlPlane({ apiServerArgs: ['--enable-aggregator-routing=true'] });
    work = mkdtempSync(join(tmpdir(), 'openirsa-failure-policy-'));
    // cert-manager's CRDs, so the defaults (certificates.mode=certManager) install as they would in a cluster where
    // cert-manager has not issued the certificate yet.
    const files = readdirSync(crds).filter((f) => f.startsWith('cert-manager.io_'));
    kubectl(['apply', '--server-side', ...files.flatMap((f) => ['-f', join(crds, f)])]);
    kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/certificates.cert-manager.io']);
    for (const ns of ['kube-system', 'cert-manager']) await prepare(ns);
  });
  after(async () => {
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Deletes a MutatingWebhookConfiguration left by a failed test, so the next test starts from a clean cluster. */
  const removeConfiguration = async (name: string) => {
    await cp.request('DELETE', `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`);
  };

  test('helm install with default values, webhook down: pods that do not use IRSA are created', async (t) => {
    const release = 'openirsa-webhook';
    const releaseNs = 'openirsa-system';
    t.after(() => removeConfiguration(release));
    helm(['install', release, CHART, '-n', releaseNs, '--create-namespace']);
    const mwc = JSON.parse(kubectl(['get', 'mutatingwebhookconfiguration', release, '-o', 'json'])) as {
      webhooks: { name: string; failurePolicy: string }[];
    };
    assert.deepEqual(
      mwc.webhooks.map((w) => [w.name, w.failurePolicy]),
      DEFAULT_WEBHOOK_ENTRIES,
    );
    const required = await fresh('required', { [SCOPE_LABEL]: SCOPE.required });
    await untilRefused(REQUIRED_NAMESPACES, required); // the configuration is live, and the webhook is down

    // The proof: a new namespace, a plain pod, created for real.
    const newNs = await fresh('new');
    const created = await assertCreated(newNs, plainPod(), 'a plain pod in a new namespace');
    assert.equal(envOf(created.spec.containers[0]).AWS_ROLE_ARN, undefined);
    // The price of Ignore: a pod of an annotated ServiceAccount starts without credentials while the webhook is down.
    const plain = await fresh('plain');
    assert.ok(
      !hasCredentials(
        await assertCreated(plain, irsaPod(), 'an IRSA pod in a namespace that did not opt in'),
      ),
    );
    await assertCreated('kube-system', plainPod(), 'a pod in kube-system');
    // What opted in fails closed; the system namespaces never do; the skip label always wins.
    await assertRefusedBy(
      REQUIRED_NAMESPACES,
      required,
      irsaPod(),
      'an IRSA pod in a namespace labelled required',
    );
    await assertRefusedBy(
      REQUIRED_PODS,
      plain,
      irsaPod({ [SCOPE_LABEL]: SCOPE.required }),
      'a pod labelled required',
    );
    await assertCreated(
      'kube-system',
      plainPod({ [SCOPE_LABEL]: SCOPE.required }),
      'a required pod in kube-system',
    );
    await assertCreated(required, plainPod({ [SKIP_POD_LABEL]: 'true' }), 'a skip-labelled pod');

    // The documented alternative: failurePolicy Fail refuses pods in every namespace but the system ones.
    helm(['upgrade', release, CHART, '-n', releaseNs, '--set', 'mutatingWebhook.failurePolicy=Fail']);
    const another = await fresh('new');
    await untilRefused(MAIN, another);
    await assertRefusedBy(MAIN, another, plainPod(), 'failurePolicy=Fail: a plain pod in a new namespace');
    await assertRefusedBy(MAIN, plain, irsaPod(), 'failurePolicy=Fail: an IRSA pod');
    for (const ns of ['kube-system', 'cert-manager', releaseNs])
      await assertCreated(await prepare(ns), plainPod(), `failurePolicy=Fail: a pod in ${ns}`);
    const disabled = await fresh('disabled', { [SCOPE_LABEL]: SCOPE.disabled });
    await assertCreated(disabled, plainPod(), 'failurePolicy=Fail: a namespace labelled disabled');

    helm(['uninstall', release, '-n', releaseNs, '--wait']);
    await untilAdmitted(required);
  });

  test('kustomize (cert-manager overlay) with its defaults, webhook down: the same; then the fail-closed component', async (t) => {
    t.after(() => removeConfiguration('openirsa-webhook'));
    const applied = kubectl(['apply', '-k', join(KUSTOMIZE, 'cert-manager')]);
    assert.match(applied, /mutatingwebhookconfiguration.*openirsa-webhook (created|configured)/);
    const required = await fresh('required', { [SCOPE_LABEL]: SCOPE.required });
    await untilRefused(REQUIRED_NAMESPACES, required);

    const newNs = await fresh('new');
    await assertCreated(newNs, plainPod(), 'a plain pod in a new namespace');
    const plain = await fresh('plain');
    assert.ok(
      !hasCredentials(
        await assertCreated(plain, irsaPod(), 'an IRSA pod in a namespace that did not opt in'),
      ),
    );
    await assertRefusedBy(
      REQUIRED_PODS,
      plain,
      irsaPod({ [SCOPE_LABEL]: SCOPE.required }),
      'a pod labelled required',
    );

    // The component, from an overlay of the user's own.
    const copy = join(work, 'kustomize');
    cpSync(KUSTOMIZE, copy, { recursive: true });
    mkdirSync(join(copy, 'my-overlay'));
    writeFileSync(
      join(copy, 'my-overlay/kustomization.yaml'),
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../cert-manager]\n' +
        'components: [../components/fail-closed]\n',
    );
    kubectl(['apply', '-k', join(copy, 'my-overlay')]);
    const another = await fresh('new');
    await untilRefused(MAIN, another);
    await assertRefusedBy(MAIN, another, plainPod(), 'fail-closed: a plain pod in a new namespace');
    for (const ns of ['kube-system', 'cert-manager', 'openirsa'])
      await assertCreated(await prepare(ns), plainPod(), `fail-closed: a pod in ${ns}`);

    kubectl(['delete', 'mutatingwebhookconfiguration', 'openirsa-webhook']);
    await untilAdmitted(another);
  });

  test("webhook up behind the chart's own entries: every namespace in scope is mutated once; then it stops", async () => {
    const releaseNs = 'openirsa-up';
    await prepare(releaseNs);
    const rendered = runBinary('helm', ['template', 'openirsa-webhook', CHART, '-n', releaseNs]);
    assert.equal(rendered.status, 0, rendered.stderr);
    const mwc = parseAllDocuments(rendered.stdout)
      .map((d) => d.toJS() as { kind: string; webhooks: { clientConfig: unknown }[] } | null)
      .find((o) => o?.kind === 'MutatingWebhookConfiguration')!;
    const webhook: RunningWebhook = await startWebhook(cp, work, {
      namespaceLabels: {},
      roleAnnotation: ROLE_ANNOTATION,
      role: ROLE,
      // The chart's entries as rendered, pointed at the out-of-cluster process instead of the Service.
      webhooks: (clientConfig) => mwc.webhooks.map((w) => ({ ...w, clientConfig })),
    });
    try {
      const plain = await fresh('plain');
      const required = await fresh('required', { [SCOPE_LABEL]: SCOPE.required });
      const disabled = await fresh('disabled', { [SCOPE_LABEL]: SCOPE.disabled });
      const mutatedOnce = (p: Pod, why: string) => {
        assert.ok(hasCredentials(p), `${why}: mutated`);
        const env = (p.spec.containers[0]!.env ?? []).filter((e) => e.name === 'AWS_ROLE_ARN');
        assert.equal(env.length, 1, `${why}: one AWS_ROLE_ARN`);
        assert.equal(
          p.spec.volumes!.filter((v) => v.name === 'aws-iam-token').length,
          1,
          `${why}: one token volume`,
        );
      };
      mutatedOnce(await assertCreated(plain, irsaPod(), 'plain'), 'a namespace that did not opt in');
      mutatedOnce(
        await assertCreated(required, irsaPod(), 'required'),
        'a namespace labelled required (two entries)',
      );
      mutatedOnce(
        await assertCreated(plain, irsaPod({ [SCOPE_LABEL]: SCOPE.required }), 'required pod'),
        'a pod labelled required (two entries)',
      );
      // kube-system is in scope (Ignore): controllers there keep their IRSA credentials, as with the reference.
      mutatedOnce(await assertCreated('kube-system', irsaPod(), 'kube-system'), 'kube-system');
      for (const [ns, why] of [
        [disabled, 'a namespace labelled disabled'],
        [releaseNs, "the webhook's own namespace"],
      ] as const)
        assert.ok(!hasCredentials(await assertCreated(ns, irsaPod(), why)), `${why}: not mutated`);
      assert.ok(
        !hasCredentials(await assertCreated(plain, irsaPod({ [SKIP_POD_LABEL]: 'true' }), 'skip')),
        'skip label',
      );

      // Down: refused connections. Ignore admits unmutated, the opted-in entries refuse.
      await webhook.stop();
      await untilRefused(REQUIRED_NAMESPACES, required);
      assert.ok(!hasCredentials(await assertCreated(plain, irsaPod(), 'webhook stopped: plain')));
      await assertRefusedBy(
        REQUIRED_PODS,
        plain,
        irsaPod({ [SCOPE_LABEL]: SCOPE.required }),
        'webhook stopped',
      );
    } finally {
      await webhook.stop();
      await removeConfiguration(webhook.configuration);
    }
  });
});
