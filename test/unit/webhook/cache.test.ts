import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IdentityCache,
  RateLimiter,
  serviceAccountSettings,
  stripServiceAccount,
  type CacheDefaults,
  type IdentityCacheOptions,
  type StrippedServiceAccount,
} from '../../../src/webhook/cache.js';
import { memoryLogger, sleep } from '../../helpers/wait-and-log.js';

const D: CacheDefaults = {
  annotationPrefix: 'eks.amazonaws.com',
  tokenAudience: 'sts.amazonaws.com',
  stsRegionalEndpoint: false,
  tokenExpiration: 86400n,
};
const ROLE = 'arn:aws:iam::111122223333:role/s3-writer';
const sa = (ns: string, name: string, annotations: Record<string, string> = {}): StrippedServiceAccount => ({
  namespace: ns,
  name,
  annotations,
});
const ann = (k: string, v: string) => ({ [`eks.amazonaws.com/${k}`]: v });

function cache(extra: Partial<IdentityCacheOptions> = {}) {
  const { logger, lines } = memoryLogger();
  return { c: new IdentityCache({ ...D, logger, gracePeriodMs: 0, ...extra }), lines };
}

test('stripServiceAccount keeps only the prefix annotations', () => {
  const s = stripServiceAccount(
    {
      metadata: {
        name: 'a',
        namespace: 'n',
        resourceVersion: '5',
        uid: 'u',
        annotations: {
          'eks.amazonaws.com/role-arn': ROLE,
          'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(1000),
          'eks.amazonaws.comX/y': 'z',
        },
      },
      secrets: [{ name: 's' }],
    },
    'eks.amazonaws.com',
  );
  assert.deepEqual(s, {
    namespace: 'n',
    name: 'a',
    resourceVersion: '5',
    annotations: { 'eks.amazonaws.com/role-arn': ROLE },
  });
  assert.equal(stripServiceAccount({ metadata: {} }, 'p'), undefined);
  assert.equal(stripServiceAccount(null, 'p'), undefined);
  assert.equal(stripServiceAccount('x', 'p'), undefined);
});

test('addSA: annotations with Go parsing, or the flag defaults', () => {
  assert.deepEqual(serviceAccountSettings(sa('n', 'a'), D), {
    roleArn: '',
    audience: 'sts.amazonaws.com',
    useRegionalSts: false,
    tokenExpiration: 86400n,
  });
  assert.deepEqual(
    serviceAccountSettings(
      sa('n', 'a', {
        ...ann('role-arn', ROLE),
        ...ann('audience', ''),
        ...ann('sts-regional-endpoints', 'T'),
        ...ann('token-expiration', '100'),
      }),
      D,
    ),
    { roleArn: ROLE, audience: '', useRegionalSts: true, tokenExpiration: 600n },
  );
  const bad = serviceAccountSettings(
    sa('n', 'a', { ...ann('sts-regional-endpoints', 'yes'), ...ann('token-expiration', ' 3600') }),
    { ...D, stsRegionalEndpoint: true, tokenExpiration: 7200n },
  );
  assert.equal(bad.useRegionalSts, true);
  assert.equal(bad.tokenExpiration, 7200n);
  assert.equal(
    serviceAccountSettings(sa('n', 'a', ann('token-expiration', '+4000')), D).tokenExpiration,
    4000n,
  );
  // int64 exactly: a value beyond 2^53 is not rounded (the API server then validates it, as with the reference)
  assert.equal(
    serviceAccountSettings(sa('n', 'a', ann('token-expiration', '9223372036854775807')), D).tokenExpiration,
    9223372036854775807n,
  );
});

test('--compose-role-arn composes names, leaves ARNs; malformed ARNs only warn', () => {
  const d = { ...D, composeRoleArn: { partition: 'aws-cn', accountId: '123456789012' } };
  assert.equal(
    serviceAccountSettings(sa('n', 'a', ann('role-arn', 'path/my-role')), d).roleArn,
    'arn:aws-cn:iam::123456789012:role/path/my-role',
  );
  assert.equal(serviceAccountSettings(sa('n', 'a', ann('role-arn', ROLE)), d).roleArn, ROLE);
  assert.equal(serviceAccountSettings(sa('n', 'a', ann('role-arn', '')), d).roleArn, '');
  const { logger, lines } = memoryLogger();
  assert.equal(
    serviceAccountSettings(sa('n', 'a', ann('role-arn', 'not-an-arn')), D, logger).roleArn,
    'not-an-arn',
  );
  assert.ok(lines.some((l) => l.level === 40 && String(l.msg).includes('does not look like')));
});

test('lookup precedence: SA role, CM ns/name, CM */name; no-role vs not-found', async () => {
  const { c } = cache();
  c.addServiceAccount(sa('n', 'annotated', ann('role-arn', ROLE)));
  c.addServiceAccount(sa('n', 'plain'));
  const cmRole = {
    roleArn: 'arn:aws:iam::111122223333:role/cm',
    audience: '',
    useRegionalSts: true,
    tokenExpiration: 0n,
  };
  c.setConfigMapEntries(
    new Map([
      ['n/annotated', { ...cmRole, roleArn: 'arn:aws:iam::111122223333:role/ignored' }],
      ['n/plain', cmRole],
      ['*/wild', { ...cmRole, roleArn: 'arn:aws:iam::111122223333:role/wild' }],
      ['other/wild', { ...cmRole, roleArn: 'arn:aws:iam::111122223333:role/exact' }],
    ]),
  );
  assert.deepEqual(await c.lookup('n', 'annotated'), {
    mode: 'web-identity',
    source: 'service-account',
    settings: {
      roleArn: ROLE,
      audience: 'sts.amazonaws.com',
      useRegionalSts: false,
      tokenExpiration: 86400n,
    },
  });
  const plain = await c.lookup('n', 'plain');
  assert.deepEqual(
    plain,
    { mode: 'web-identity', source: 'config-map', settings: { ...cmRole, tokenExpiration: 86400n } },
    'TokenExpiration 0 → flag',
  );
  assert.equal(
    ((await c.lookup('x', 'wild')) as { settings: { roleArn: string } }).settings.roleArn,
    'arn:aws:iam::111122223333:role/wild',
  );
  assert.equal(
    ((await c.lookup('other', 'wild')) as { settings: { roleArn: string } }).settings.roleArn,
    'arn:aws:iam::111122223333:role/exact',
  );
  assert.deepEqual(await c.lookup('n', 'missing'), { mode: 'none', reason: 'not-found' });
  c.addServiceAccount(sa('n', 'norole'));
  assert.deepEqual(await c.lookup('n', 'norole'), { mode: 'none', reason: 'no-role' });
  // Removing the annotation removes the role; deleting the SA makes it unknown.
  c.addServiceAccount(sa('n', 'annotated'));
  assert.deepEqual(await c.lookup('n', 'annotated'), {
    mode: 'web-identity',
    source: 'config-map',
    settings: {
      roleArn: 'arn:aws:iam::111122223333:role/ignored',
      audience: '',
      useRegionalSts: true,
      tokenExpiration: 86400n,
    },
  });
  c.removeServiceAccount('n', 'norole');
  assert.deepEqual(await c.lookup('n', 'norole'), { mode: 'none', reason: 'not-found' });
  // A CM update drops the keys that are gone.
  c.setConfigMapEntries(new Map());
  assert.deepEqual(await c.lookup('x', 'wild'), { mode: 'none', reason: 'not-found' });
});

test('container credentials win; common configurations from SA, exact CM, or (false, 86400)', async () => {
  const ids = new Set(['n/cc', 'n/cm', 'n/none', 'n/role']);
  const { c } = cache({
    containerCredentials: { has: (ns, s) => ids.has(`${ns}/${s}`) },
    tokenExpiration: 7200n,
  });
  c.addServiceAccount(
    sa('n', 'cc', { ...ann('sts-regional-endpoints', 'true'), ...ann('token-expiration', '3600') }),
  );
  c.addServiceAccount(sa('n', 'role', ann('role-arn', ROLE)));
  c.setConfigMapEntries(
    new Map([
      ['n/cm', { roleArn: 'r', audience: '', useRegionalSts: true, tokenExpiration: 5000n }],
      ['*/none', { roleArn: 'r', audience: '', useRegionalSts: true, tokenExpiration: 5000n }],
    ]),
  );
  assert.deepEqual(await c.lookup('n', 'cc'), {
    mode: 'container-credentials',
    common: { useRegionalSts: true, tokenExpiration: 3600n },
  });
  assert.deepEqual(await c.lookup('n', 'role'), {
    mode: 'container-credentials',
    common: { useRegionalSts: false, tokenExpiration: 7200n },
  });
  assert.deepEqual(await c.lookup('n', 'cm'), {
    mode: 'container-credentials',
    common: { useRegionalSts: true, tokenExpiration: 5000n },
  });
  assert.deepEqual(
    await c.lookup('n', 'none'),
    { mode: 'container-credentials', common: { useRegionalSts: false, tokenExpiration: 86400n } },
    'no * fallback, constant not flag',
  );
});

test('replaceServiceAccounts removes vanished entries; onUsed fires once', () => {
  let used = 0;
  const { c } = cache({ onUsed: () => used++ });
  c.replaceServiceAccounts([sa('a', '1'), sa('a', '2')]);
  c.replaceServiceAccounts([sa('a', '2'), sa('b', '3')]);
  assert.equal(c.size, 2);
  assert.deepEqual(Object.keys(JSON.parse(c.dump())), ['a/2', 'b/3']);
  assert.equal(used, 1);
});

test('debug dump format and clear', () => {
  const { c } = cache();
  assert.equal(c.dump(), '{}');
  c.addServiceAccount(sa('n', 'b', ann('role-arn', ROLE)));
  c.addServiceAccount(sa('m', 'a'));
  assert.equal(
    c.dump(),
    '{\n "m/a": {\n  "RoleARN": "",\n  "Audience": "sts.amazonaws.com",\n  "UseRegionalSTS": false,\n  "TokenExpiration": 86400\n },\n "n/b": {\n  "RoleARN": "' +
      ROLE +
      '",\n  "Audience": "sts.amazonaws.com",\n  "UseRegionalSTS": false,\n  "TokenExpiration": 86400\n }\n}',
  );
  c.setConfigMapEntries(
    new Map([['*/x', { roleArn: 'r', audience: '', useRegionalSts: false, tokenExpiration: 1n }]]),
  );
  c.clear();
  assert.equal(c.dump(), '{}');
  assert.equal(c.get('q', 'x').found, false);
});

test('debug dump: Go’s string escaping and the exact int64 (json.MarshalIndent of the reference’s map)', () => {
  const { c } = cache();
  c.addServiceAccount(
    sa('n', 'x', {
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/a<b>&c\u2028"',
      'eks.amazonaws.com/token-expiration': '9223372036854775807',
    }),
  );
  assert.equal(
    c.dump(),
    '{\n "n/x": {\n  "RoleARN": "arn:aws:iam::111122223333:role/a\\u003cb\\u003e\\u0026c\\u2028\\"",\n' +
      '  "Audience": "sts.amazonaws.com",\n  "UseRegionalSTS": false,\n  "TokenExpiration": 9223372036854775807\n }\n}',
  );
});

test('grace period: an SA added during the wait is used', async () => {
  const { c, lines } = cache({ gracePeriodMs: 1000 });
  const t0 = Date.now();
  const p = c.lookup('n', 'late');
  setTimeout(() => c.addServiceAccount(sa('n', 'late', ann('role-arn', ROLE))), 50);
  const r = await p;
  assert.equal(r.mode, 'web-identity');
  assert.ok(Date.now() - t0 < 900, 'woken by the notification, not the timeout');
  assert.ok(lines.some((l) => String(l.msg).includes('grace period')));
});

test('grace period: timeout → not-found', async () => {
  const { c } = cache({ gracePeriodMs: 80 });
  const t0 = Date.now();
  assert.deepEqual(await c.lookup('n', 'never'), { mode: 'none', reason: 'not-found' });
  assert.ok(Date.now() - t0 >= 75);
});

test('GET fallback: fetched SA is used; a failed GET is retried by a later request (no never-retry quirk)', async () => {
  const calls: string[] = [];
  let fail = true;
  const { c } = cache({
    gracePeriodMs: 300,
    fetchServiceAccount: async (ns, name) => {
      calls.push(`${ns}/${name}`);
      if (fail) throw new Error('boom');
      return sa(ns, name, ann('role-arn', ROLE));
    },
  });
  assert.deepEqual(await c.lookup('n', 'x'), { mode: 'none', reason: 'not-found' });
  assert.deepEqual(calls, ['n/x']);
  fail = false;
  const t0 = Date.now();
  const r = await c.lookup('n', 'x');
  assert.equal(r.mode, 'web-identity');
  assert.ok(Date.now() - t0 < 250);
  assert.deepEqual(calls, ['n/x', 'n/x']);
  // Concurrent waiters share one GET.
  const { c: c2 } = cache({
    gracePeriodMs: 500,
    fetchServiceAccount: async (ns, name) => {
      calls.push('c2');
      await sleep(30);
      return sa(ns, name, ann('role-arn', ROLE));
    },
  });
  const rs = await Promise.all([c2.lookup('n', 'y'), c2.lookup('n', 'y'), c2.lookup('n', 'y')]);
  assert.ok(rs.every((x) => x.mode === 'web-identity'));
  assert.equal(calls.filter((x) => x === 'c2').length, 1);
});

test('GET fallback: 404 (undefined) → not-found after the grace period, retried later', async () => {
  let n = 0;
  const { c } = cache({ gracePeriodMs: 50, fetchServiceAccount: async () => (n++, undefined) });
  assert.equal((await c.lookup('n', 'z')).mode, 'none');
  assert.equal((await c.lookup('n', 'z')).mode, 'none');
  assert.equal(n, 2);
});

test('rate limiter: burst then 10/s', () => {
  let now = 0;
  const rl = new RateLimiter(10, 20, () => now);
  for (let i = 0; i < 20; i++) assert.equal(rl.reserve(), 0);
  assert.equal(rl.reserve(), 100);
  assert.equal(rl.reserve(), 200);
  now = 1000;
  assert.equal(rl.reserve(), 0);
});

test('stop releases waiters', async () => {
  const { c } = cache({ gracePeriodMs: 10_000 });
  const p = c.lookup('n', 'w');
  await sleep(10);
  c.stop();
  assert.deepEqual(await p, { mode: 'none', reason: 'not-found' });
});
