import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKubeConfig } from '../../../src/kube/client.js';
import { leanListWatch, loadKubeConnection } from '../../../src/kube/lean.js';
import type { ListWatch } from '../../../src/kube/reflector.js';
import { AssociationApiSource } from '../../../src/agent/association-source.js';
import { clientNodeAssociationListWatch } from '../../../src/agent/kube.js';
import { ASSOCIATION_API_PATH, AssociationIndex } from '../../../src/agent/association.js';
import { KubeReplay } from '../../helpers/kube-replay.js';
import { memoryLogger, until } from '../../helpers/wait-and-log.js';

const pia = (name: string, spec: Record<string, unknown>, rv: string) => ({
  apiVersion: 'openirsa.io/v1alpha1',
  kind: 'PodIdentityAssociation',
  metadata: { name, uid: `uid-${name}`, generation: 1, resourceVersion: rv },
  spec,
});
const role = (n: string) => `arn:aws:iam::111122223333:role/${n}`;

/** The agent reads the objects through client-node, the webhook through its lean transport: both are run. */
const transports: Array<[string, (url: string) => { api: ListWatch; close(): void }]> = [
  [
    'client-node',
    (url) => ({
      api: clientNodeAssociationListWatch(loadKubeConfig({ kubeApi: url })),
      close: () => undefined,
    }),
  ],
  [
    'lean',
    (url) => {
      const kube = loadKubeConnection({ kubeApi: url });
      return { api: leanListWatch(kube, ASSOCIATION_API_PATH), close: () => kube.close() };
    },
  ],
];

for (const [transport, connect] of transports) {
  test(`PodIdentityAssociation list/watch keeps the index: invalid objects skipped and logged, updates and deletes applied (${transport})`, async () => {
    const list = {
      apiVersion: 'openirsa.io/v1alpha1',
      kind: 'PodIdentityAssociationList',
      metadata: { resourceVersion: '10' },
      items: [
        pia('apps-reader', { namespace: 'apps', serviceAccount: 'reader', roleArn: role('app') }, '5'),
        pia('broken', { namespace: 'apps', serviceAccount: 'x', roleArn: 'not-an-arn' }, '6'),
      ],
    };
    const events = [
      {
        type: 'ADDED',
        object: pia('apps-web', { namespace: 'apps', serviceAccount: 'web', roleArn: role('web') }, '11'),
      },
      {
        type: 'MODIFIED',
        object: pia(
          'apps-reader',
          { namespace: 'apps', serviceAccount: 'reader', roleArn: role('app-2') },
          '12',
        ),
      },
      // an object turned invalid no longer grants anything
      {
        type: 'MODIFIED',
        object: pia('apps-web', { namespace: 'apps', serviceAccount: 'web', roleArn: 'nope' }, '13'),
      },
    ].map((e) => JSON.stringify(e));
    const api = new KubeReplay()
      .on(`list ${ASSOCIATION_API_PATH}`, { status: 200, body: JSON.stringify(list) })
      .on(`watch ${ASSOCIATION_API_PATH}`, { watch: events, end: false });
    await api.start();
    const { logger, lines } = memoryLogger();
    const index = new AssociationIndex();
    const conn = connect(api.url);
    const src = new AssociationApiSource(conn.api, index, logger, {
      initialBackoffMs: 20,
    });
    try {
      await src.start();
      assert.ok(index.lookup('apps', 'reader'), 'the valid object is indexed at the first list');
      assert.equal(index.has('apps', 'x'), false);
      assert.ok(
        lines.some((l) =>
          String(l.err).includes(
            'PodIdentityAssociation broken: spec.roleArn "not-an-arn" is not an IAM role ARN',
          ),
        ),
      );
      await until(() => index.lookup('apps', 'reader')?.roleArn === role('app-2'), 5000, 'the update');
      await until(() => !index.has('apps', 'web'), 5000, 'the invalid update to remove the association');
    } finally {
      src.stop();
      conn.close();
      await api.stop();
    }
  });

  test(`a DELETED event removes the association (${transport})`, async () => {
    const api = new KubeReplay()
      .on(`list ${ASSOCIATION_API_PATH}`, {
        status: 200,
        body: JSON.stringify({
          metadata: { resourceVersion: '3' },
          items: [pia('a', { namespace: 'n', serviceAccount: 's', roleArn: role('r') }, '2')],
        }),
      })
      .on(`watch ${ASSOCIATION_API_PATH}`, {
        watch: [
          JSON.stringify({
            type: 'DELETED',
            object: pia('a', { namespace: 'n', serviceAccount: 's', roleArn: role('r') }, '4'),
          }),
        ],
        end: false,
      });
    await api.start();
    const index = new AssociationIndex();
    const conn = connect(api.url);
    const src = new AssociationApiSource(conn.api, index, memoryLogger().logger, {
      initialBackoffMs: 20,
    });
    try {
      await src.start();
      await until(() => index.size === 0, 5000, 'the delete');
    } finally {
      src.stop();
      conn.close();
      await api.stop();
    }
  });
}
