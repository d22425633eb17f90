/**
 * `openirsa webhook` out of cluster against a real kube-apiserver: a MutatingWebhookConfiguration (`url:` + caBundle)
 * points at it, and every assertion reads back what the API server stored after calling it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CONTAINER_CREDENTIALS_DEFAULTS,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_MOUNT_PATH,
  IRSA_VOLUME_NAME,
  POD_IDENTITY_LABEL,
  SKIP_POD_LABEL,
} from '../../src/webhook/constants.js';
import { httpCall, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  IMAGE,
  createNamespace,
  createPod,
  createServiceAccount,
  envOf,
  eventually,
  getPod,
  pod,
  startWebhook,
  uniqueName,
  type RunningWebhook,
  type Pod,
} from './support.js';

const ROLE = 'arn:aws:iam::111122223333:role/s3-writer';
const OTHER_ROLE = 'arn:aws:iam::111122223333:role/s3-reader';
const ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
const TOKEN_FILE = `${DEFAULT_TOKEN_MOUNT_PATH}/token`;
const E2E_LABEL = { 'openirsa-e2e': 'webhook' };
const WEBHOOK_NAMESPACE = 'openirsa-system';

const irsaEnv = (role = ROLE, tokenFile = TOKEN_FILE) => [
  { name: 'AWS_ROLE_ARN', value: role },
  { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: tokenFile },
];
const irsaMount = { name: IRSA_VOLUME_NAME, readOnly: true, mountPath: DEFAULT_TOKEN_MOUNT_PATH };
const irsaVolume = (audience = DEFAULT_TOKEN_AUDIENCE, expirationSeconds = 86400) => ({
  name: IRSA_VOLUME_NAME,
  // defaultMode 420 is the API server's defaulting of a projected volume; the webhook never sets it.
  projected: {
    sources: [{ serviceAccountToken: { audience, expirationSeconds, path: 'token' } }],
    defaultMode: 420,
  },
});

function mutated(p: Pod): boolean {
  return (p.spec.volumes ?? []).some((v) => v.name === IRSA_VOLUME_NAME);
}

describe('openirsa webhook on a real kube-apiserver', () => {
  let cp: ControlPlane;
  let webhook: RunningWebhook;
  let work: string;
  const ccNamespace = uniqueName('cc');

  before(async () => {
    // VolumeBindMountOptions (alpha in 1.37) gives volumeMounts a field newer than the webhook's v0.36 type table.
    cp = await startControlPlane({ apiServerArgs: ['--feature-gates=VolumeBindMountOptions=true'] });
    work = mkdtempSync(join(tmpdir(), 'openirsa-e2e-webhook-'));
    const ccFile = join(work, 'container-credentials.json');
    writeFileSync(
      ccFile,
      JSON.stringify({ identities: [{ namespace: ccNamespace, serviceAccount: 'cc-sa' }] }),
    );
    await createNamespace(cp, WEBHOOK_NAMESPACE);
    webhook = await startWebhook(cp, work, {
      namespaceLabels: E2E_LABEL,
      roleAnnotation: ROLE_ANNOTATION,
      role: ROLE,
      args: [
        `--namespace=${WEBHOOK_NAMESPACE}`,
        '--watch-config-map=true',
        `--watch-container-credentials-config=${ccFile}`,
        '--service-account-lookup-grace-period=3s',
      ],
    });
  });

  after(async () => {
    await webhook?.stop();
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the probe paths deploy/ uses answer over HTTPS on the webhook port: /healthz and /readyz', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const r = await httpCall('GET', `${webhook.url}${path}`, undefined, { ca: cp.caPem });
      assert.equal(r.status, 200, `${path}: ${r.text}`);
    }
  });

  test('IRSA: env, volume and mount exactly as specified in containers, init containers and a native sidecar', async () => {
    const ns = uniqueName('irsa');
    await createNamespace(cp, ns, E2E_LABEL);
    await createServiceAccount(cp, ns, 'great-serviceaccount', { [ROLE_ANNOTATION]: ROLE });
    const created = await createPod(
      cp,
      ns,
      pod('app', 'great-serviceaccount', {
        initContainers: [
          { name: 'init', image: IMAGE },
          { name: 'sidecar', image: IMAGE, restartPolicy: 'Always' },
        ],
        containers: [{ name: 'app', image: IMAGE, env: [{ name: 'FOO', value: 'bar' }] }],
      }),
    );
    const stored = await getPod(cp, ns, 'app');
    assert.deepEqual(stored.spec, created.spec);

    const [init, sidecar] = stored.spec.initContainers!;
    const [app] = stored.spec.containers;
    assert.deepEqual(app!.env, [{ name: 'FOO', value: 'bar' }, ...irsaEnv()]);
    assert.deepEqual(init!.env, irsaEnv());
    assert.deepEqual(sidecar!.env, irsaEnv());
    assert.equal(sidecar!.restartPolicy, 'Always', 'the native sidecar stays a sidecar');
    for (const c of [init!, sidecar!, app!]) {
      const mounts = c.volumeMounts!.filter((m) => m.name === IRSA_VOLUME_NAME);
      assert.deepEqual(mounts, [irsaMount], `${c.name} mounts the token once`);
    }
    // The ServiceAccount admission plugin added kube-api-access-* first; the webhook inserts its volume at index 0.
    assert.deepEqual(stored.spec.volumes![0], irsaVolume());
    assert.equal(stored.spec.volumes!.filter((v) => v.name === IRSA_VOLUME_NAME).length, 1);
    assert.ok(stored.spec.volumes!.some((v) => v.name.startsWith('kube-api-access-')));
  });

  test('a container named in skip-containers is left untouched; the others are mutated', async () => {
    const ns = uniqueName('skip');
    await createNamespace(cp, ns, E2E_LABEL);
    await createServiceAccount(cp, ns, 'sa', { [ROLE_ANNOTATION]: ROLE });
    const p = await createPod(
      cp,
      ns,
      pod(
        'p',
        'sa',
        {
          containers: [
            { name: 'app', image: IMAGE },
            { name: 'skipped', image: IMAGE },
          ],
        },
        {
          annotations: { 'eks.amazonaws.com/skip-containers': 'skipped' },
        },
      ),
    );
    const [app, skipped] = p.spec.containers;
    assert.deepEqual(app!.env, irsaEnv());
    assert.equal(skipped!.env, undefined);
    assert.equal(
      (skipped!.volumeMounts ?? []).some((m) => m.name === IRSA_VOLUME_NAME),
      false,
    );
    assert.ok(mutated(p), 'the pod still gets the volume');
  });

  test('a pod labelled with the skip label is not sent to the webhook (objectSelector)', async () => {
    const ns = uniqueName('optout');
    await createNamespace(cp, ns, E2E_LABEL);
    await createServiceAccount(cp, ns, 'sa', { [ROLE_ANNOTATION]: ROLE });
    const p = await createPod(cp, ns, pod('p', 'sa', {}, { labels: { [SKIP_POD_LABEL]: 'true' } }));
    assert.equal(mutated(p), false);
    assert.equal(p.spec.containers[0]!.env, undefined);
  });

  test('a Windows pod gets the C:\\ token path; the mount path stays in Unix form', async () => {
    const ns = uniqueName('win');
    await createNamespace(cp, ns, E2E_LABEL);
    await createServiceAccount(cp, ns, 'sa', { [ROLE_ANNOTATION]: ROLE });
    const p = await createPod(cp, ns, pod('p', 'sa', { nodeSelector: { 'kubernetes.io/os': 'windows' } }));
    assert.deepEqual(
      p.spec.containers[0]!.env,
      irsaEnv(ROLE, 'C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token'),
    );
    assert.deepEqual(
      p.spec.containers[0]!.volumeMounts!.find((m) => m.name === IRSA_VOLUME_NAME),
      irsaMount,
    );
  });

  test('a field newer than the webhook (volumeMounts[].bindMountOptions, alpha in 1.37) survives the mutation', async () => {
    const ns = uniqueName('future');
    await createNamespace(cp, ns, E2E_LABEL);
    await createServiceAccount(cp, ns, 'sa', { [ROLE_ANNOTATION]: ROLE });
    const spec = {
      volumes: [{ name: 'scratch', emptyDir: {} }],
      containers: [
        {
          name: 'app',
          image: IMAGE,
          volumeMounts: [{ name: 'scratch', mountPath: '/scratch', bindMountOptions: ['noexec'] }],
        },
      ],
    };
    // Control: the API server itself keeps the field (the feature gate is on), so a loss could only be the webhook's.
    const control = await createPod(
      cp,
      ns,
      pod('control', 'sa', spec, { labels: { [SKIP_POD_LABEL]: 'true' } }),
    );
    assert.deepEqual(control.spec.containers[0]!.volumeMounts![0]!.bindMountOptions, ['noexec']);
    const p = await createPod(cp, ns, pod('p', 'sa', spec));
    assert.ok(mutated(p));
    const scratch = p.spec.containers[0]!.volumeMounts!.find((m) => m.name === 'scratch');
    assert.deepEqual(scratch, { name: 'scratch', mountPath: '/scratch', bindMountOptions: ['noexec'] });
  });

  test('a ServiceAccount created a moment before its pod is honoured (grace period)', async () => {
    const ns = uniqueName('grace');
    await createNamespace(cp, ns, E2E_LABEL);
    for (let i = 0; i < 5; i++) {
      await createServiceAccount(cp, ns, `sa-${i}`, { [ROLE_ANNOTATION]: ROLE });
      const p = await createPod(cp, ns, pod(`p-${i}`, `sa-${i}`)); // no wait for the watch to deliver it
      assert.deepEqual(p.spec.containers[0]!.env, irsaEnv(), `pod ${i}`);
    }
  });

  test('changing or removing the annotation changes what the next pod gets', async () => {
    const ns = uniqueName('change');
    await createNamespace(cp, ns, E2E_LABEL);
    await createServiceAccount(cp, ns, 'sa', { [ROLE_ANNOTATION]: ROLE });
    const first = await createPod(cp, ns, pod('first', 'sa'));
    assert.equal(envOf(first.spec.containers[0]).AWS_ROLE_ARN, ROLE);

    await cp.call(
      'PATCH',
      `/api/v1/namespaces/${ns}/serviceaccounts/sa`,
      { metadata: { annotations: { [ROLE_ANNOTATION]: OTHER_ROLE } } },
      'application/merge-patch+json',
    );
    await eventually('the cache to see the new role', async () =>
      envOf((await createPod(cp, ns, pod('probe', 'sa'), true)).spec.containers[0]).AWS_ROLE_ARN ===
      OTHER_ROLE
        ? true
        : undefined,
    );
    const second = await createPod(cp, ns, pod('second', 'sa'));
    assert.deepEqual(second.spec.containers[0]!.env, irsaEnv(OTHER_ROLE));

    await cp.call(
      'PATCH',
      `/api/v1/namespaces/${ns}/serviceaccounts/sa`,
      { metadata: { annotations: { [ROLE_ANNOTATION]: null } } },
      'application/merge-patch+json',
    );
    await eventually('the cache to see the annotation removed', async () =>
      mutated(await createPod(cp, ns, pod('probe', 'sa'), true)) ? undefined : true,
    );
    const third = await createPod(cp, ns, pod('third', 'sa'));
    assert.equal(mutated(third), false);
    assert.equal(third.spec.containers[0]!.env, undefined);
  });

  test('ConfigMap mode: a role mapped in the pod-identity-webhook ConfigMap', async () => {
    const ns = uniqueName('cm');
    await createNamespace(cp, ns, E2E_LABEL);
    await createServiceAccount(cp, ns, 'cm-sa'); // no annotation: the ConfigMap supplies the role
    const cmRole = 'arn:aws:iam::111122223333:role/from-configmap';
    await cp.call('POST', `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'pod-identity-webhook' },
      data: {
        config: JSON.stringify({
          [`${ns}/cm-sa`]: {
            RoleARN: cmRole,
            Audience: 'cm-audience',
            UseRegionalSTS: true,
            TokenExpiration: 3600,
          },
        }),
      },
    });
    const p = await eventually('the ConfigMap mapping to apply', async () => {
      const dry = await createPod(cp, ns, pod('p', 'cm-sa'), true);
      return mutated(dry) ? createPod(cp, ns, pod('p', 'cm-sa')) : undefined;
    });
    assert.deepEqual(p.spec.containers[0]!.env, [
      { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
      ...irsaEnv(cmRole),
    ]);
    assert.deepEqual(p.spec.volumes![0], irsaVolume('cm-audience', 3600));
  });

  test('container-credentials mode: the identities file wins and the label is added', async () => {
    await createNamespace(cp, ccNamespace, E2E_LABEL);
    await createServiceAccount(cp, ccNamespace, 'cc-sa', { [ROLE_ANNOTATION]: ROLE }); // the role is ignored in this mode
    const p = await createPod(cp, ccNamespace, pod('p', 'cc-sa'));
    const tokenFile = `${CONTAINER_CREDENTIALS_DEFAULTS.mountPath}/${CONTAINER_CREDENTIALS_DEFAULTS.tokenPath}`;
    assert.deepEqual(p.spec.containers[0]!.env, [
      { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: CONTAINER_CREDENTIALS_DEFAULTS.fullUri },
      { name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', value: tokenFile },
    ]);
    assert.equal(p.metadata.labels?.[POD_IDENTITY_LABEL], 'enabled');
    assert.deepEqual(
      p.spec.containers[0]!.volumeMounts!.find((m) => m.name === CONTAINER_CREDENTIALS_DEFAULTS.volumeName),
      {
        name: CONTAINER_CREDENTIALS_DEFAULTS.volumeName,
        readOnly: true,
        mountPath: CONTAINER_CREDENTIALS_DEFAULTS.mountPath,
      },
    );
    const vol = p.spec.volumes![0] as {
      name: string;
      projected: {
        sources: { serviceAccountToken: { audience: string; expirationSeconds: number; path: string } }[];
      };
    };
    assert.equal(vol.name, CONTAINER_CREDENTIALS_DEFAULTS.volumeName);
    const sat = vol.projected.sources[0]!.serviceAccountToken;
    assert.equal(sat.audience, CONTAINER_CREDENTIALS_DEFAULTS.audience);
    assert.equal(sat.path, CONTAINER_CREDENTIALS_DEFAULTS.tokenPath);
    assert.ok(
      sat.expirationSeconds >= 79200 && sat.expirationSeconds <= 86400,
      `jittered: ${sat.expirationSeconds}`,
    );
    assert.equal(mutated(p), false, 'no IRSA volume in this mode');
  });

  test('restarting kube-apiserver does not stop the cache from following changes', async () => {
    await cp.restartApiServer();
    const ns = uniqueName('restart');
    await createNamespace(cp, ns, E2E_LABEL);
    // Created after the restart: only a watch that reconnected (or the grace-period GET) can know this role.
    await createServiceAccount(cp, ns, 'sa', { [ROLE_ANNOTATION]: OTHER_ROLE });
    const p = await createPod(cp, ns, pod('p', 'sa'));
    assert.equal(envOf(p.spec.containers[0]).AWS_ROLE_ARN, OTHER_ROLE);
    // And an update, which the grace-period lookup cannot supply (the ServiceAccount exists in the cache already).
    await cp.call(
      'PATCH',
      `/api/v1/namespaces/${ns}/serviceaccounts/sa`,
      { metadata: { annotations: { [ROLE_ANNOTATION]: ROLE } } },
      'application/merge-patch+json',
    );
    await eventually(
      'the cache to follow an update made after the restart',
      async () =>
        envOf((await createPod(cp, ns, pod('probe', 'sa'), true)).spec.containers[0]).AWS_ROLE_ARN === ROLE
          ? true
          : undefined,
      90_000,
    );
  });
});
