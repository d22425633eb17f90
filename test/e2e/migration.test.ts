/**
 * The swap of docs/migrate-from-community-chart.md on a real kube-apiserver: the community chart's webhook
 * configuration (its exact shape: `pod-identity-webhook.amazonaws.com`, v1beta1 only, Ignore, no namespace
 * selector), then both side by side, then the chart's own entries alone. A pod created at any step, including
 * right after the old webhook's pods are gone but before its configuration is, gets its credentials exactly once.
 *
 * The old side is an `openirsa webhook` process standing in for the reference: the reference is not on the Go
 * module proxy, and the rule that makes the overlap safe (skip a container that has AWS_ROLE_ARN and a pod that
 * has the aws-iam-token volume, pkg/handler/handler.go) is the one openirsa reproduces and the conformance
 * fixtures check. The new side adds AWS_REGION (the old one does not), which shows when each of them answered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { SKIP_POD_LABEL } from '../../src/webhook/constants.js';
import { runBinary, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  createNamespace,
  createPod,
  createServiceAccount,
  envOf,
  eventually,
  pod,
  startWebhook,
  uniqueName,
  type Pod,
  type RunningWebhook,
} from './support.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHART = join(ROOT, 'deploy/helm/openirsa-webhook');
const ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
const ROLE = 'arn:aws:iam::111122223333:role/s3-writer';
const NEW_REGION = 'eu-west-1';

/** The community chart's MutatingWebhookConfiguration entry (templates/mutatingwebhook.yaml, default values). */
function communityEntry(clientConfig: object): object {
  return {
    name: 'pod-identity-webhook.amazonaws.com',
    admissionReviewVersions: ['v1beta1'],
    failurePolicy: 'Ignore',
    clientConfig,
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    objectSelector: {
      matchExpressions: [
        { key: SKIP_POD_LABEL, operator: 'DoesNotExist', values: [] },
        { key: 'app.kubernetes.io/name', operator: 'NotIn', values: ['amazon-eks-pod-identity-webhook'] },
      ],
    },
    sideEffects: 'None',
  };
}

describe('moving from the community chart: no window where a new pod misses its credentials', () => {
  let cp: ControlPlane;
  let work: string;
  let ns: string;
  const running: RunningWebhook[] = [];

  before(async () => {
    cp = await startControlPlane();
    work = mkdtempSync(join(tmpdir(), 'openirsa-migration-'));
    ns = uniqueName('apps');
    await createNamespace(cp, ns);
    await createServiceAccount(cp, ns, 'app', { [ROLE_ANNOTATION]: ROLE });
  });
  after(async () => {
    for (const w of running) await w.stop();
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Creates a pod for real and checks it carries one set of credentials; returns its environment. */
  const createdWithCredentialsOnce = async (why: string) => {
    const p: Pod = await createPod(cp, ns, pod(uniqueName('app'), 'app'));
    const c = p.spec.containers[0]!;
    assert.deepEqual(
      (c.env ?? []).filter((e) => e.name === 'AWS_ROLE_ARN').map((e) => e.value),
      [ROLE],
      `${why}: AWS_ROLE_ARN once`,
    );
    assert.equal(
      p.spec.volumes!.filter((v) => v.name === 'aws-iam-token').length,
      1,
      `${why}: one token volume`,
    );
    assert.equal(
      (c.volumeMounts ?? []).filter((m) => m.name === 'aws-iam-token').length,
      1,
      `${why}: one mount`,
    );
    return envOf(c);
  };
  const deleteConfiguration = (name: string) =>
    cp.call('DELETE', `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`);

  test('old alone, then both, then openirsa alone', async () => {
    const webhook = (webhooks: (clientConfig: object) => object[], args: string[] = []) =>
      startWebhook(cp, work, {
        namespaceLabels: {},
        roleAnnotation: ROLE_ANNOTATION,
        role: ROLE,
        webhooks,
        args,
      });

    // Before: the community chart's configuration only.
    const old = await webhook((clientConfig) => [communityEntry(clientConfig)]);
    running.push(old);
    assert.equal((await createdWithCredentialsOnce('old alone')).AWS_REGION, undefined);

    // Install openirsa next to it: the chart's own entries, as rendered with default values.
    const rendered = runBinary('helm', ['template', 'openirsa-webhook', CHART, '-n', 'openirsa']);
    assert.equal(rendered.status, 0, rendered.stderr);
    const chartEntries = parseAllDocuments(rendered.stdout)
      .map((d) => d.toJS() as { kind: string; webhooks: object[] } | null)
      .find((o) => o?.kind === 'MutatingWebhookConfiguration')!.webhooks;
    const next = await webhook(
      (clientConfig) => chartEntries.map((w) => ({ ...w, clientConfig })),
      [`--aws-default-region=${NEW_REGION}`],
    );
    running.push(next);
    // Every pod in between is mutated by the old one at least; once the new configuration is live, by both.
    await eventually('openirsa to be called next to the old webhook', async () => {
      const env = await createdWithCredentialsOnce('overlap');
      return env.AWS_REGION === NEW_REGION ? true : undefined;
    });
    await createdWithCredentialsOnce('overlap, both called');

    // Uninstall the old one in the worst order: its pods go first, its configuration (Ignore) a moment later.
    await old.stop();
    assert.equal(
      (await createdWithCredentialsOnce('old pods gone, old configuration left')).AWS_REGION,
      NEW_REGION,
    );
    await deleteConfiguration(old.configuration);
    for (let i = 0; i < 3; i++)
      assert.equal((await createdWithCredentialsOnce('openirsa alone')).AWS_REGION, NEW_REGION);
  });
});
