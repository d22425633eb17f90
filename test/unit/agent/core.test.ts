import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeKey, signToken } from '../../helpers/sts-fixtures.js';
import {
  AgentError,
  AssociationIndex,
  CredentialsCache,
  basicTokenChecks,
  credentialsBody,
  decodePodToken,
  parseAssociation,
  parseAssociationsText,
  planCredentials,
  rfc3339Nano,
  sessionName,
  verifyPodToken,
  identityFromReview,
  targetHost,
  type IssuedCredentials,
  type PodIdentity,
} from '../../../src/agent/index.js';

const NOW = 1_800_000_000;
const ISS = 'https://issuer.example.com/cluster';
const POD: PodIdentity = {
  namespace: 'apps',
  serviceAccount: 'reader',
  podName: 'reader-7d9f',
  podUid: '0a1b2c3d-0000-4000-8000-000000000000',
  exp: NOW + 3600,
};
const claims = (over: Record<string, unknown> = {}) => ({
  iss: ISS,
  aud: ['pods.eks.amazonaws.com'],
  sub: 'system:serviceaccount:apps:reader',
  exp: NOW + 3600,
  nbf: NOW - 1,
  iat: NOW - 1,
  'kubernetes.io': {
    namespace: 'apps',
    serviceaccount: { name: 'reader', uid: 'u' },
    pod: { name: 'reader-7d9f', uid: POD.podUid },
  },
  ...over,
});
const assoc = (over: Record<string, unknown> = {}, name = 'a1') =>
  parseAssociation({
    metadata: { name, uid: 'uid-1', generation: 1 },
    spec: {
      namespace: 'apps',
      serviceAccount: 'reader',
      roleArn: 'arn:aws:iam::111122223333:role/app',
      ...over,
    },
  });

function rejects(fn: () => unknown, status: number, body: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AgentError, String(err));
    assert.equal(err.status, status);
    assert.match(err.body, body);
    return;
  }
  assert.fail('expected an AgentError');
}

test('basicTokenChecks: the EKS agent messages, in its order', () => {
  const key = 'e30'; // {}
  rejects(() => basicTokenChecks(undefined, NOW), 400, /^Service account token cannot be empty$/);
  rejects(() => basicTokenChecks('', NOW), 400, /cannot be empty/);
  rejects(() => basicTokenChecks('a.b', NOW), 400, /token contains an invalid number of segments$/);
  rejects(() => basicTokenChecks('!!.e30.x', NOW), 400, /could not decode header/);
  rejects(() => basicTokenChecks(`${key}.bm9wZQ.x`, NOW), 400, /could not decode claim/);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  rejects(
    () => basicTokenChecks(`${key}.${enc({ exp: NOW })}.x`, NOW),
    400,
    /token has invalid claims: token is expired$/,
  );
  rejects(() => basicTokenChecks(`${key}.${enc({ nbf: NOW + 1 })}.x`, NOW), 400, /token is not valid yet$/);
  rejects(() => basicTokenChecks(`${key}.${enc({ exp: 'soon' })}.x`, NOW), 400, /cannot be parsed/);
  rejects(() => basicTokenChecks('x'.repeat(9000), NOW), 400, /larger than 8192 bytes/);
  assert.equal(
    basicTokenChecks(`${key}.${enc({ exp: NOW + 1 })}.x`, NOW),
    `${key}.${enc({ exp: NOW + 1 })}.x`,
  );
});

test('verifyPodToken: issuer, audience, key, signature, expiry, pod binding', async () => {
  const key = await makeKey('k1');
  const other = await makeKey('k1');
  const o = { now: NOW, issuer: ISS, audiences: ['pods.eks.amazonaws.com'], requestId: 'rid' };
  // null = no key found for the token's kid
  const check = async (token: string, k: typeof key.publicKey | null = key.publicKey) =>
    verifyPodToken(decodePodToken(token, 'rid'), k ?? undefined, o);
  assert.deepEqual(await check(signToken(key, claims())), POD);
  const bad = async (
    token: string,
    re: RegExp,
    status = 400,
    k: typeof key.publicKey | null = key.publicKey,
  ) =>
    assert.rejects(
      check(token, k),
      (e: unknown) => e instanceof AgentError && e.status === status && re.test(e.body),
    );
  await bad(
    signToken(other, claims()),
    /^\[rid\]: \(InvalidTokenException\): Token signature is not valid, fault: client$/,
  );
  await bad(
    signToken(key, claims({ iss: 'https://evil' })),
    /issuer "https:\/\/evil" is not this cluster's issuer/,
  );
  await bad(
    signToken(key, claims({ aud: 'sts.amazonaws.com' })),
    /audience "sts.amazonaws.com" is not one of/,
  );
  await bad(
    signToken(key, claims()),
    /signing key "k1" \(RS256\) is not one of the cluster's keys/,
    400,
    null,
  );
  await bad(signToken(key, claims({ exp: NOW })), /\(ExpiredTokenException\): Token is expired/);
  await bad(signToken(key, claims({ exp: undefined })), /Token has no expiry/);
  await bad(signToken(key, claims({ sub: 'system:serviceaccount:apps:admin' })), /subject does not match/);
  await bad(
    signToken(key, claims({ 'kubernetes.io': { namespace: 'apps', serviceaccount: { name: 'reader' } } })),
    /not bound to a pod/,
  );
  await bad(signToken(key, claims({ 'kubernetes.io': undefined })), /not a Kubernetes service account token/);
  // alg none / HMAC confusion never reach a key
  assert.throws(
    () => decodePodToken(signToken(key, claims(), { alg: 'none' }), 'rid'),
    /InvalidTokenException/,
  );
  assert.throws(
    () => decodePodToken(signToken(key, claims(), { alg: 'HS256' }), 'rid'),
    /InvalidTokenException/,
  );
  // an EC key for an RS token is refused
  const ec = await makeKey('k1', 'ES256');
  await bad(signToken(key, claims()), /signature is not valid/, 400, ec.publicKey);
});

test('identityFromReview: unauthenticated, expired, mismatched', () => {
  const extra = {
    'authentication.kubernetes.io/pod-name': ['reader-7d9f'],
    'authentication.kubernetes.io/pod-uid': [POD.podUid],
  };
  const ok = { authenticated: true, username: 'system:serviceaccount:apps:reader', extra };
  assert.deepEqual(identityFromReview(ok, claims(), NOW, 'r'), POD);
  rejects(
    () => identityFromReview({ authenticated: false, error: 'pod "x" not found' }, claims(), NOW, 'r'),
    400,
    /InvalidTokenException\): Token is not valid: pod "x" not found/,
  );
  rejects(
    () => identityFromReview({ authenticated: false, error: 'token has expired' }, claims(), NOW, 'r'),
    400,
    /ExpiredTokenException/,
  );
  rejects(
    () => identityFromReview({ ...ok, username: 'system:serviceaccount:apps:other' }, claims(), NOW, 'r'),
    400,
    /does not match/,
  );
  rejects(
    () =>
      identityFromReview(
        { ...ok, extra: { ...extra, 'authentication.kubernetes.io/pod-uid': ['x'] } },
        claims(),
        NOW,
        'r',
      ),
    400,
    /does not match/,
  );
});

test('planCredentials: EKS session tags, transitive; disabled; extra tags; web identity; no association', () => {
  const o = {
    model: 'agent-identity' as const,
    clusterName: 'lab',
    clusterArn: 'arn:aws:eks:us-east-1:111122223333:cluster/lab',
  };
  const p = planCredentials(
    POD,
    assoc({ sessionTags: { team: 'data', 'Kubernetes-Namespace': 'spoof' } }),
    o,
    'r',
  );
  assert.deepEqual(p.tags, {
    'eks-cluster-arn': o.clusterArn,
    'eks-cluster-name': 'lab',
    'kubernetes-namespace': 'apps',
    'kubernetes-service-account': 'reader',
    'kubernetes-pod-name': 'reader-7d9f',
    'kubernetes-pod-uid': POD.podUid,
    team: 'data',
  });
  assert.deepEqual(p.transitiveTagKeys, [
    'eks-cluster-arn',
    'eks-cluster-name',
    'kubernetes-namespace',
    'kubernetes-service-account',
    'kubernetes-pod-name',
    'kubernetes-pod-uid',
  ]);
  assert.equal(p.sessionName, 'eks-lab-reader-7d9f-0a1b2c3d');
  assert.equal(
    planCredentials(POD, assoc(), { model: 'agent-identity', clusterName: 'lab' }, 'r').tags[
      'eks-cluster-arn'
    ],
    undefined,
  );
  const off = planCredentials(POD, assoc({ disableSessionTags: true }), o, 'r');
  assert.deepEqual([off.tags, off.transitiveTagKeys], [{}, []]);
  const web = planCredentials(
    POD,
    assoc({ targetRoleArn: 'arn:aws:iam::444455556666:role/t', externalId: 'ext-1' }),
    { ...o, model: 'web-identity' },
    'r',
  );
  assert.deepEqual(
    [web.tags, web.targetRoleArn, web.externalId],
    [{}, 'arn:aws:iam::444455556666:role/t', 'ext-1'],
  );
  assert.notEqual(
    planCredentials(POD, assoc({ roleArn: 'arn:aws:iam::111122223333:role/b' }), o, 'r').cacheKey,
    p.cacheKey,
    'a changed association is a new session',
  );
  rejects(
    () => planCredentials(POD, undefined, o, 'r'),
    404,
    /^\[r\]: \(ResourceNotFoundException\): No Pod Identity Association for service account reader in namespace apps of cluster lab, fault: client$/,
  );
});

test('sessionName stays within 64 characters of [\\w+=,.@-]', () => {
  const n = sessionName('c'.repeat(100), { ...POD, podName: 'p'.repeat(253) });
  assert.equal(n.length, 64);
  assert.match(n, /^[\w+=,.@-]+-0a1b2c3d$/);
});

test('parseAssociation: required fields and bad values are named', () => {
  const bad = (spec: Record<string, unknown>, re: RegExp) =>
    assert.throws(
      () =>
        parseAssociation({
          metadata: { name: 'x' },
          spec: {
            namespace: 'apps',
            serviceAccount: 'r',
            roleArn: 'arn:aws:iam::111122223333:role/app',
            ...spec,
          },
        }),
      re,
    );
  bad({ namespace: undefined }, /PodIdentityAssociation x: spec.namespace is required/);
  bad({ namespace: 'Apps' }, /is not a namespace name/);
  bad({ serviceAccount: 5 }, /spec.serviceAccount must be a string/);
  bad({ roleArn: 'arn:aws:iam::1:role/x' }, /spec.roleArn .* is not an IAM role ARN/);
  bad({ targetRoleArn: 'arn:aws:s3:::b' }, /spec.targetRoleArn/);
  bad({ disableSessionTags: 'yes' }, /must be a boolean/);
  bad({ sessionTags: { 'a*b': 'v' } }, /not a valid tag key/);
  bad({ externalId: 'x' }, /externalId/);
  assert.throws(() => parseAssociation({ metadata: { name: 'x' } }), /spec is missing/);
});

test('AssociationIndex: lookup, conflicts resolved by name, removal', () => {
  const idx = new AssociationIndex();
  idx.replace([assoc({ roleArn: 'arn:aws:iam::111122223333:role/b' }, 'b'), assoc({}, 'a')]);
  assert.equal(idx.lookup('apps', 'reader')?.name, 'a');
  assert.deepEqual(idx.conflicts(), [['a', 'b']]);
  idx.remove('a');
  assert.equal(idx.lookup('apps', 'reader')?.name, 'b');
  assert.equal(idx.has('apps', 'nobody'), false);
});

test('parseAssociationsText: multi-document YAML and Lists; other kinds refused', () => {
  const one =
    'apiVersion: openirsa.io/v1alpha1\nkind: PodIdentityAssociation\nmetadata: {name: a}\nspec: {namespace: apps, serviceAccount: r, roleArn: "arn:aws:iam::111122223333:role/app"}\n';
  assert.equal(parseAssociationsText(`${one}---\n${one.replace('name: a', 'name: b')}`).length, 2);
  assert.equal(
    parseAssociationsText(
      `kind: List\nitems:\n  - ${JSON.stringify({ metadata: { name: 'c' }, spec: { namespace: 'x', serviceAccount: 'y', roleArn: 'arn:aws:iam::111122223333:role/app' } })}\n`,
    ).length,
    1,
  );
  assert.deepEqual(parseAssociationsText(''), []);
  assert.throws(() => parseAssociationsText('kind: ConfigMap\nmetadata: {name: x}\n'), /is a ConfigMap/);
  assert.throws(() => parseAssociationsText('a: [\n'), /invalid YAML/);
});

test('credentials document and Go RFC3339Nano', () => {
  assert.equal(rfc3339Nano(new Date(Date.UTC(2026, 0, 1, 1))), '2026-01-01T01:00:00Z');
  assert.equal(rfc3339Nano(new Date(Date.UTC(2026, 0, 1, 1, 0, 0, 120))), '2026-01-01T01:00:00.12Z');
  const c: IssuedCredentials = {
    accessKeyId: 'ASIA1',
    secretAccessKey: 's',
    sessionToken: 't',
    accountId: '111122223333',
    expiration: new Date(Date.UTC(2026, 0, 1)),
  };
  assert.equal(
    credentialsBody(c),
    '{"AccessKeyId":"ASIA1","SecretAccessKey":"s","Token":"t","AccountId":"111122223333","Expiration":"2026-01-01T00:00:00Z"}',
  );
  assert.equal(
    credentialsBody({ ...c, accountId: '' }).includes('AccountId'),
    false,
    'empty fields left out (omitempty)',
  );
});

test('targetHost strips port and IPv6 brackets', () => {
  assert.equal(targetHost('169.254.170.23'), '169.254.170.23');
  assert.equal(targetHost('169.254.170.23:80'), '169.254.170.23');
  assert.equal(targetHost('[fd00:ec2::23]:80'), 'fd00:ec2::23');
  assert.equal(targetHost('[fd00:ec2::23]'), 'fd00:ec2::23');
  assert.equal(targetHost(undefined), '');
});

test('CredentialsCache: hit, coalesced miss, refresh window, short-lived, stale on outage, not on refusal, LRU', async () => {
  let now = 1_000_000;
  const creds = (ttlMs: number, id = 'A'): IssuedCredentials => ({
    accessKeyId: id,
    secretAccessKey: 's',
    sessionToken: 't',
    accountId: '1',
    expiration: new Date(now + ttlMs),
  });
  const cache = new CredentialsCache({ now: () => now, refreshBeforeMs: 20 * 60_000, maxEntries: 2 });
  let calls = 0;
  let release!: () => void;
  const slow = () =>
    new Promise<IssuedCredentials>((r) => {
      calls++;
      release = () => r(creds(3_600_000, `K${calls}`));
    });
  const all = Array.from({ length: 50 }, () => cache.get('pod', slow));
  release();
  const got = await Promise.all(all);
  assert.equal(calls, 1);
  assert.ok(got.every((c) => c.accessKeyId === 'K1'));
  now += 39 * 60_000;
  assert.equal((await cache.get('pod', slow)).accessKeyId, 'K1', 'fresh until 20 min before expiry');
  now += 2 * 60_000;
  const p = cache.get('pod', slow);
  release();
  assert.equal((await p).accessKeyId, 'K2', 'renewed inside the refresh window');
  // 10-minute credentials are renewed at half-life, not on every request
  const shortFetch = async () => (calls++, creds(10 * 60_000, 'S'));
  await cache.get('short', shortFetch);
  const before = calls;
  now += 4 * 60_000;
  await cache.get('short', shortFetch);
  assert.equal(calls, before);
  now += 2 * 60_000;
  await cache.get('short', shortFetch);
  assert.equal(calls, before + 1);
  // outage: keep serving still-valid credentials; refusal: drop them
  const c2 = new CredentialsCache({ now: () => now, refreshBeforeMs: 20 * 60_000 });
  await c2.get('p', async () => creds(30 * 60_000, 'OLD'));
  now += 15 * 60_000;
  const outage = new AgentError('upstream', 503, 'ServiceUnavailable', 'x');
  assert.equal((await c2.get('p', () => Promise.reject(outage))).accessKeyId, 'OLD');
  const refused = new AgentError('upstream', 403, 'AccessDenied', 'no');
  await assert.rejects(
    c2.get('p', () => Promise.reject(refused)),
    /no/,
  );
  await assert.rejects(
    c2.get('p', () => Promise.reject(outage)),
    /x/,
    'nothing left to serve after a refusal',
  );
  // LRU bound
  for (const k of ['a', 'b', 'c']) await cache.get(k, async () => creds(3_600_000));
  assert.equal(cache.size, 2);
});
