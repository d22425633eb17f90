import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkIssuerConsistency,
  checkKeysPublished,
  checkPodMutated,
  checkServiceAccount,
  checkToken,
  checkWebhookRegistered,
  firstBroken,
  formatChecklist,
  type PodFacts,
} from '../../../src/doctor/checks.js';

const P = 'eks.amazonaws.com';
const ARN = 'arn:aws:iam::111122223333:role/s3-writer';

test('webhook registered: found by its /mutate URL, not confused with other pod webhooks', () => {
  const podRule = [{ apiGroups: [''], resources: ['pods'], operations: ['CREATE'] }];
  const none = checkWebhookRegistered([]);
  assert.equal(none.check.status, 'fail');
  const other = checkWebhookRegistered([
    {
      metadata: { name: 'istio' },
      webhooks: [
        { name: 'sidecar.istio.io', rules: podRule, clientConfig: { url: 'https://istiod/inject' } },
      ],
    },
  ]);
  assert.equal(other.check.status, 'fail');
  assert.match(other.check.detail, /sidecar\.istio\.io/);
  const ok = checkWebhookRegistered([
    {
      metadata: { name: 'pod-identity-webhook' },
      webhooks: [
        {
          name: 'iam-for-pods.amazonaws.com',
          rules: [{ apiGroups: ['*'], resources: ['pods'], operations: ['*'] }],
          clientConfig: { url: 'https://127.0.0.1:9443/mutate' },
        },
      ],
    },
  ]);
  assert.equal(ok.check.status, 'pass');
  assert.equal(ok.webhooks.length, 1);
  const wrongResource = checkWebhookRegistered([
    {
      webhooks: [
        {
          name: 'pod-identity',
          rules: [{ apiGroups: [''], resources: ['services'], operations: ['CREATE'] }],
        },
      ],
    },
  ]);
  assert.equal(wrongResource.check.status, 'fail');
});

test('ServiceAccount: missing, unannotated, malformed ARN, good', () => {
  assert.equal(checkServiceAccount(undefined, 'a/b', P).status, 'fail');
  const bare = checkServiceAccount({ namespace: 'a', name: 'b', annotations: {} }, 'a/b', P);
  assert.equal(bare.status, 'fail');
  assert.match(bare.fix!, /kubectl annotate serviceaccount -n a b eks\.amazonaws\.com\/role-arn=/);
  const bad = checkServiceAccount(
    { namespace: 'a', name: 'b', annotations: { [`${P}/role-arn`]: 's3-writer' } },
    'a/b',
    P,
  );
  assert.equal(bad.status, 'fail');
  assert.match(bad.detail, /not a role ARN/);
  const good = checkServiceAccount(
    { namespace: 'a', name: 'b', annotations: { [`${P}/role-arn`]: ARN, [`${P}/audience`]: 'x' } },
    'a/b',
    P,
  );
  assert.equal(good.status, 'pass');
  assert.match(good.detail, /audience=x/);
});

const mutatedPod = (): PodFacts => ({
  metadata: { name: 'p' },
  spec: {
    containers: [
      {
        name: 'app',
        env: [
          { name: 'AWS_ROLE_ARN', value: ARN },
          { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/t' },
        ],
      },
    ],
    volumes: [
      {
        name: 'aws-iam-token',
        projected: {
          sources: [
            {
              serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' },
            },
          ],
        },
      },
    ],
  },
});

test('pod mutated: pass, not mutated, skip label named, hand-set role warned', () => {
  assert.equal(checkPodMutated(mutatedPod(), ARN, 'x', P).status, 'pass');
  const plain: PodFacts = {
    metadata: { labels: { 'eks.amazonaws.com/skip-pod-identity-webhook': 'true' } },
    spec: { containers: [{ name: 'app' }] },
  };
  const c = checkPodMutated(plain, ARN, 'x', P);
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /skip-pod-identity-webhook=true/);
  const other = mutatedPod();
  other.spec!.containers![0]!.env![0]!.value = 'arn:aws:iam::111122223333:role/other';
  assert.equal(checkPodMutated(other, ARN, 'x', P).status, 'warn');
  const skipped = mutatedPod();
  skipped.metadata!.annotations = { [`${P}/skip-containers`]: 'sidecar' };
  skipped.spec!.containers!.push({ name: 'sidecar' });
  assert.equal(checkPodMutated(skipped, ARN, 'x', P).status, 'pass');
});

test('token: audience, subject, expiry', () => {
  const t = {
    header: { alg: 'RS256', kid: 'k' },
    claims: { iss: 'https://i', sub: 'system:serviceaccount:a:b', aud: ['sts.amazonaws.com'], exp: 2000 },
  };
  assert.equal(checkToken(t, 'system:serviceaccount:a:b', 'sts.amazonaws.com', 1000).status, 'pass');
  assert.equal(checkToken(t, 'system:serviceaccount:a:b', 'other', 1000).status, 'fail');
  assert.equal(checkToken(t, 'system:serviceaccount:a:c', 'sts.amazonaws.com', 1000).status, 'fail');
  assert.equal(checkToken(t, 'system:serviceaccount:a:b', 'sts.amazonaws.com', 3000).status, 'fail');
});

test('issuer consistency is byte-exact (trailing slash matters)', () => {
  assert.equal(checkIssuerConsistency('https://i/x', 'https://i/x').status, 'pass');
  assert.equal(checkIssuerConsistency('https://i/x', 'https://i/x/').status, 'fail');
  assert.equal(checkIssuerConsistency('https://i/x', undefined).status, 'warn');
});

test('keys published: token kid missing fails; an unpublished rotation key warns', () => {
  assert.equal(checkKeysPublished(['a'], ['a'], 'a').status, 'pass');
  assert.equal(checkKeysPublished(['a'], ['b'], 'a').status, 'fail');
  assert.equal(checkKeysPublished(['a', 'c'], ['a'], 'a').status, 'warn');
  assert.equal(checkKeysPublished(['a'], undefined, 'a').status, 'skip');
});

test('the checklist marks the first broken link', () => {
  const checks = [
    { id: 'a', title: 'first', status: 'pass' as const, detail: 'ok' },
    { id: 'b', title: 'second', status: 'fail' as const, detail: 'broken', fix: 'do x' },
    { id: 'c', title: 'third', status: 'fail' as const, detail: 'also broken' },
  ];
  assert.equal(firstBroken(checks)?.id, 'b');
  const text = formatChecklist(checks);
  assert.match(text, /^>> ✗ second: broken\n {6}fix: do x$/m);
  assert.match(text, /^ {3}✗ third/m);
  assert.match(text, /first broken link: second$/);
});
