/**
 * The webhook from the image in its real mode: it watches ServiceAccounts on a real kube-apiserver (the
 * @kubernetes/client-node inside the image, over TLS with the kubeconfig a Secret would hold), and the API server
 * calls it for pods created through it. Started with the image's entrypoint, deploy/'s args and the image's user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  deployedContainer,
  imageSummary,
  podVolume,
  runContainer,
  unpackRootfs,
  withFlags,
} from '../helpers/image.js';
import {
  createNamespace,
  createPod,
  createServiceAccount,
  envOf,
  eventually,
  pod,
  startWebhook,
  uniqueName,
  type RunningWebhook,
} from '../e2e/support.js';

const ROLE = 'arn:aws:iam::111122223333:role/s3-writer';
const OTHER_ROLE = 'arn:aws:iam::111122223333:role/s3-reader';
const ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
const LABELS = { 'openirsa-e2e': 'image' };

describe('the webhook from the image on a real kube-apiserver', () => {
  let cp: ControlPlane;
  let webhook: RunningWebhook;
  let work: string;

  before(async () => {
    imageSummary();
    work = mkdtempSync(join(tmpdir(), 'openirsa-image-api-'));
    const rootfs = join(work, 'rootfs');
    const config = unpackRootfs('linux/amd64', rootfs);
    cp = await startControlPlane();
    await createNamespace(cp, 'openirsa');
    const deployed = deployedContainer('deploy/kustomize/base/deployment.yaml', 'Deployment');
    webhook = await startWebhook(cp, work, {
      namespaceLabels: LABELS,
      roleAnnotation: ROLE_ANNOTATION,
      role: ROLE,
      launch: (f) => {
        const c = runContainer(
          rootfs,
          config,
          withFlags(deployed.args, {
            '--port': String(f.port),
            '--metrics-port': String(f.metricsPort),
            '--bind-address': '127.0.0.1',
            '--kubeconfig': '/etc/openirsa/kubeconfig/kubeconfig',
          }),
          {
            env: deployed.env,
            volumes: [
              {
                source: podVolume(
                  join(work, 'vol-certs'),
                  { 'tls.crt': f.certFile, 'tls.key': f.keyFile },
                  65532,
                ),
                target: '/etc/webhook/certs',
              },
              {
                source: podVolume(join(work, 'vol-kubeconfig'), { kubeconfig: f.kubeconfig }, 65532),
                target: '/etc/openirsa/kubeconfig',
              },
            ],
          },
        );
        return { child: c.child, output: () => c.stderr() + c.stdout(), stop: () => c.stop() };
      },
    });
  });

  after(async () => {
    await webhook?.stop();
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a pod created through the API server gets the role of its ServiceAccount, and follows a change', async () => {
    const ns = uniqueName('image');
    await createNamespace(cp, ns, LABELS);
    await createServiceAccount(cp, ns, 'app', { [ROLE_ANNOTATION]: ROLE });
    const created = await eventually('the ServiceAccount in the webhook cache', async () => {
      const p = await createPod(cp, ns, pod('probe', 'app'), true);
      return envOf(p.spec.containers[0]).AWS_ROLE_ARN === ROLE ? p : undefined;
    });
    assert.equal(
      envOf(created.spec.containers[0]).AWS_WEB_IDENTITY_TOKEN_FILE,
      '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
    );
    const stored = await createPod(cp, ns, pod('app', 'app'));
    assert.equal(envOf(stored.spec.containers[0]).AWS_ROLE_ARN, ROLE);

    // The watch inside the image sees the annotation change.
    await cp.call(
      'PATCH',
      `/api/v1/namespaces/${ns}/serviceaccounts/app`,
      {
        metadata: { annotations: { [ROLE_ANNOTATION]: OTHER_ROLE } },
      },
      'application/merge-patch+json',
    );
    await eventually('the new role', async () => {
      const p = await createPod(cp, ns, pod('probe2', 'app'), true);
      return envOf(p.spec.containers[0]).AWS_ROLE_ARN === OTHER_ROLE ? true : undefined;
    });
  });
});
