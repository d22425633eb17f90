import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdentityCache } from '../../../src/webhook/cache.js';
import { ConfigMapApiSource, ServiceAccountApiSource } from '../../../src/webhook/service-account-sources.js';
import { loadKubeConnection } from '../../../src/kube/lean.js';
import { loadKubeConfig } from '../../../src/kube/client.js';
import { KubeReplay, fixture, lines } from '../../helpers/kube-replay.js';
import { memoryLogger, until } from '../../helpers/wait-and-log.js';

const SA_PATH = '/api/v1/serviceaccounts';

function newCache(extra: { gracePeriodMs?: number; fetch?: ServiceAccountApiSource } = {}) {
  const { logger, lines: logLines } = memoryLogger();
  const holder: { src?: ServiceAccountApiSource } = {};
  const cache = new IdentityCache({
    annotationPrefix: 'eks.amazonaws.com',
    tokenAudience: 'sts.amazonaws.com',
    stsRegionalEndpoint: false,
    tokenExpiration: 86400n,
    logger,
    gracePeriodMs: extra.gracePeriodMs ?? 0,
    fetchServiceAccount: (ns, n) => holder.src!.fetch(ns, n),
  });
  return { cache, logger, logLines, holder };
}

test('SA list (paginated) + watch events + 410 ERROR event → relist + 500 → backoff + bookmark + server-side end → re-watch from last RV', async () => {
  const api = new KubeReplay()
    .on(
      `list ${SA_PATH}`,
      { status: 200, body: fixture('serviceaccounts-list-page1.json') },
      { status: 200, body: fixture('serviceaccounts-list-page2.json') },
      { status: 200, body: fixture('serviceaccounts-list-relist.json') },
    )
    .on(
      `watch ${SA_PATH}`,
      { watch: lines('serviceaccounts-watch-1.jsonl'), end: false },
      {
        status: 500,
        body: '{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcd unavailable","code":500}',
      },
      { watch: lines('serviceaccounts-watch-2.jsonl'), end: true },
      { watch: [], end: false },
    );
  await api.start();
  const { cache, logger, holder } = newCache();
  const src = new ServiceAccountApiSource({
    kube: loadKubeConnection({ kubeApi: api.url }),
    cache,
    annotationPrefix: 'eks.amazonaws.com',
    logger,
    resyncPeriodMs: 60_000,
    initialBackoffMs: 20,
    maxBackoffMs: 100,
  });
  holder.src = src;
  try {
    src.start();
    await src.reflector.synced;
    await until(() => cache.get('ci', 'newest').found, 5000, 'the event after the relist');
    await until(() => api.count((r) => r.query.get('watch') === 'true') >= 4, 5000, 'fourth watch');
    const lists = api.requests.filter((r) => r.query.get('watch') !== 'true');
    assert.equal(lists.length, 3, 'two pages, then one relist');
    assert.equal(lists[0]!.query.get('limit'), '500');
    assert.ok(lists[1]!.query.get('continue'), 'second page uses the continue token');
    const watches = api.requests.filter((r) => r.query.get('watch') === 'true');
    assert.deepEqual(
      watches.slice(0, 4).map((w) => w.query.get('resourceVersion')),
      ['100', '200', '200', '251'],
      'watch from the list RV, relist after 410, retry from the same RV after 500, then from the last event RV (after a bookmark)',
    );
    assert.equal(watches[0]!.query.get('allowWatchBookmarks'), 'true');
    assert.ok(Number(watches[0]!.query.get('timeoutSeconds')) >= 60);
    // Final state: 'great-serviceaccount' and 'builder' vanished in the relist/delete, 'late' too (relist).
    assert.equal(cache.get('great-namespace', 'great-serviceaccount').found, false);
    assert.equal(cache.get('ci', 'builder').found, false);
    assert.equal(cache.get('great-namespace', 'late').found, false);
    assert.equal(
      cache.get('great-namespace', 'default').settings?.roleArn,
      'arn:aws:iam::111122223333:role/default',
    );
    assert.equal(cache.get('ci', 'after-gone').found, true);
    assert.equal(src.reflector.hasSynced, true);
  } finally {
    src.stop();
    await api.stop();
  }
});

test('watch events are applied: modified annotations and deletes (before any relist)', async () => {
  const api = new KubeReplay()
    .on(
      `list ${SA_PATH}`,
      { status: 200, body: fixture('serviceaccounts-list-page1.json') },
      { status: 200, body: fixture('serviceaccounts-list-page2.json') },
    )
    .on(`watch ${SA_PATH}`, { watch: lines('serviceaccounts-watch-1.jsonl').slice(0, 3), end: false });
  await api.start();
  const { cache, logger, holder } = newCache();
  const src = new ServiceAccountApiSource({
    kube: loadKubeConnection({ kubeApi: api.url }),
    cache,
    annotationPrefix: 'eks.amazonaws.com',
    logger,
    resyncPeriodMs: 60_000,
    initialBackoffMs: 20,
  });
  holder.src = src;
  try {
    src.start();
    await src.reflector.synced;
    assert.deepEqual(cache.get('great-namespace', 'great-serviceaccount').settings, {
      roleArn: 'arn:aws:iam::111122223333:role/s3-writer',
      audience: 'sts.amazonaws.com',
      useRegionalSts: false,
      tokenExpiration: 3600n,
    });
    await until(() => !cache.get('ci', 'builder').found, 5000, 'delete');
    assert.equal(
      cache.get('great-namespace', 'late').settings?.roleArn,
      'arn:aws:iam::111122223333:role/late',
    );
    assert.deepEqual(cache.get('great-namespace', 'default').settings, {
      roleArn: 'arn:aws:iam::111122223333:role/default',
      audience: 'sts.amazonaws.com',
      useRegionalSts: true,
      tokenExpiration: 86400n,
    });
  } finally {
    src.stop();
    await api.stop();
  }
});

test('HTTP 410 on the watch → relist; list failures retried with backoff, not synced until then', async () => {
  const api = new KubeReplay()
    .on(
      `list ${SA_PATH}`,
      {
        status: 403,
        body: '{"kind":"Status","apiVersion":"v1","status":"Failure","message":"forbidden","reason":"Forbidden","code":403}',
      },
      { status: 200, body: fixture('serviceaccounts-list-page2.json') },
      { status: 200, body: fixture('serviceaccounts-list-relist.json') },
    )
    .on(
      `watch ${SA_PATH}`,
      {
        status: 410,
        body: '{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old","reason":"Expired","code":410}',
      },
      { watch: [], end: false },
    );
  await api.start();
  const { cache, logger, holder } = newCache();
  const src = new ServiceAccountApiSource({
    kube: loadKubeConnection({ kubeApi: api.url }),
    cache,
    annotationPrefix: 'eks.amazonaws.com',
    logger,
    resyncPeriodMs: 60_000,
    initialBackoffMs: 30,
  });
  holder.src = src;
  try {
    src.start();
    await until(() => src.reflector.lastError !== undefined, 3000, 'first list error');
    assert.equal(src.reflector.hasSynced, false);
    await src.reflector.synced;
    await until(() => cache.get('ci', 'after-gone').found, 3000, 'relist after HTTP 410');
    assert.equal(cache.get('ci', 'builder').found, false);
    assert.equal(
      api.count((r) => r.query.get('watch') !== 'true'),
      3,
    );
  } finally {
    src.stop();
    await api.stop();
  }
});

test('grace period GET fallback against the API: 200 adds, 404 → not found', async () => {
  const api = new KubeReplay()
    .on(`list ${SA_PATH}`, { status: 200, body: fixture('serviceaccounts-list-page2.json') })
    .on(`watch ${SA_PATH}`, { watch: [], end: false })
    .on('get /api/v1/namespaces/great-namespace/serviceaccounts/fetched', {
      status: 200,
      body: fixture('serviceaccount-get.json'),
    });
  await api.start();
  const { cache, logger, holder } = newCache({ gracePeriodMs: 2000 });
  const src = new ServiceAccountApiSource({
    kube: loadKubeConnection({ kubeApi: api.url }),
    cache,
    annotationPrefix: 'eks.amazonaws.com',
    logger,
    resyncPeriodMs: 60_000,
  });
  holder.src = src;
  try {
    src.start();
    await src.reflector.synced;
    const t0 = Date.now();
    const r = await cache.lookup('great-namespace', 'fetched');
    assert.equal(r.mode, 'web-identity');
    assert.ok(Date.now() - t0 < 1500, 'answered by the GET, not the grace timeout');
    assert.equal(await src.fetch('great-namespace', 'nope'), undefined);
  } finally {
    src.stop();
    await api.stop();
  }
});

test('ConfigMap source: field selector, list then watch update', async () => {
  const path = '/api/v1/namespaces/eks/configmaps';
  const api = new KubeReplay()
    .on(`list ${path}`, { status: 200, body: fixture('configmap-list.json') })
    .on(`watch ${path}`, { watch: lines('configmap-watch.jsonl'), end: false });
  await api.start();
  const { cache, logger } = newCache();
  const src = new ConfigMapApiSource({
    kube: loadKubeConnection({ kubeApi: api.url }),
    cache,
    logger,
    resyncPeriodMs: 60_000,
    namespace: 'eks',
  });
  try {
    src.start();
    await src.reflector.synced;
    assert.equal(api.requests[0]!.query.get('fieldSelector'), 'metadata.name=pod-identity-webhook');
    await until(
      () => cache.get('x', 'any-ns').settings?.roleArn === 'arn:aws:iam::111122223333:role/wildcard2',
      3000,
      'watch update',
    );
    assert.equal(cache.get('great-namespace', 'cm-sa').found, false, 'update removed the old key');
  } finally {
    src.stop();
    await api.stop();
  }
});

test('loadKubeConfig and loadKubeConnection: the same clear errors without a usable API configuration', () => {
  for (const load of [loadKubeConfig, loadKubeConnection]) {
    assert.throws(() => load({ env: {} }), /no Kubernetes API configured/);
    assert.throws(
      () => load({ kubeconfig: '/nonexistent/kubeconfig' }),
      /cannot load the Kubernetes client configuration/,
    );
  }
});

test('a watch that stays silent is re-established from the last resourceVersion, without backoff or a warning', async () => {
  // ADDED, MODIFIED, DELETED (the fixture's 410 ERROR event after them would force a relist).
  const events = lines('serviceaccounts-watch-1.jsonl').slice(0, 3);
  const api = new KubeReplay()
    .on(`list ${SA_PATH}`, { status: 200, body: fixture('serviceaccounts-list-page2.json') })
    // The first watch delivers events then goes silent (a dead connection); later ones stay open.
    .on(`watch ${SA_PATH}`, { watch: events, end: false }, { watch: [], end: false });
  await api.start();
  const { cache, logger, logLines, holder } = newCache();
  const src = new ServiceAccountApiSource({
    kube: loadKubeConnection({ kubeApi: api.url }),
    cache,
    annotationPrefix: 'eks.amazonaws.com',
    logger,
    resyncPeriodMs: 60_000,
    // Long backoff: a re-watch that waited for it would not come within the test's patience.
    initialBackoffMs: 60_000,
    watchIdleTimeoutMs: 300,
  });
  holder.src = src;
  try {
    src.start();
    await src.reflector.synced;
    const watches = () => api.requests.filter((r) => r.query.get('watch') === 'true');
    await until(() => watches().length >= 2, 10_000, 'a second watch after the idle timeout');
    const lastRv = events
      .map((l) => (JSON.parse(l) as { object: { metadata: { resourceVersion?: string } } }).object)
      .map((o) => o.metadata.resourceVersion)
      .filter((rv): rv is string => Boolean(rv))
      .at(-1);
    assert.ok(lastRv, 'the fixture has resourceVersions');
    assert.equal(watches()[1]!.query.get('resourceVersion'), lastRv);
    assert.equal(
      api.count((r) => r.query.get('watch') !== 'true'),
      1,
      'no relist',
    );
    assert.equal(src.reflector.lastError, undefined);
    assert.ok(
      logLines.some((l) => l.msg === 'watch idle; re-watching from the last resourceVersion'),
      'the idle re-watch is logged',
    );
    assert.ok(!logLines.some((l) => l.level === 40), 'no warning');
  } finally {
    src.stop();
    await api.stop();
  }
});
