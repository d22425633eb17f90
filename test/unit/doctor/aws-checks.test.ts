import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assumedRoleMatches,
  checkAwsExchange,
  checkAwsProvider,
  checkAwsTrust,
} from '../../../src/doctor/aws-checks.js';

const PROVIDER = 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/a';
const ROLE = 'arn:aws:iam::111122223333:role/irsa/app';
const trust = (sub: string, aud = 'sts.amazonaws.com') =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: PROVIDER },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { 'oidc.example.com/a:sub': sub, 'oidc.example.com/a:aud': aud } },
      },
    ],
  });
const SUB = 'system:serviceaccount:app:web';

test('aws-provider: pass with the audience; fail when missing, without the client id, or unreadable', () => {
  assert.equal(
    checkAwsProvider({ value: { clientIds: ['x', 'sts.amazonaws.com'] } }, PROVIDER, 'sts.amazonaws.com')
      .status,
    'pass',
  );
  const missing = checkAwsProvider({ missing: true }, PROVIDER, 'sts.amazonaws.com');
  assert.equal(missing.status, 'fail');
  assert.match(missing.detail, /does not exist/);
  const noAud = checkAwsProvider({ value: { clientIds: ['x'] } }, PROVIDER, 'sts.amazonaws.com');
  assert.equal(noAud.status, 'fail');
  assert.match(noAud.fix!, /add-client-id-to-open-id-connect-provider .* --client-id sts\.amazonaws\.com/);
  assert.match(checkAwsProvider({ error: 'AccessDenied: no' }, PROVIDER, 'a').detail, /AccessDenied: no/);
});

test('aws-trust: the engine decides, and a refusal names the failing condition', () => {
  const ok = checkAwsTrust({ value: { trustPolicy: trust(SUB) } }, ROLE, PROVIDER, {
    sub: SUB,
    aud: 'sts.amazonaws.com',
  });
  assert.equal(ok.status, 'pass', ok.detail);
  const other = checkAwsTrust(
    { value: { trustPolicy: trust('system:serviceaccount:app:api') } },
    ROLE,
    PROVIDER,
    {
      sub: SUB,
      aud: 'sts.amazonaws.com',
    },
  );
  assert.equal(other.status, 'fail');
  assert.match(other.detail, /oidc\.example\.com\/a:sub/);
  const aud = checkAwsTrust({ value: { trustPolicy: trust(SUB, 'other') } }, ROLE, PROVIDER, {
    sub: SUB,
    aud: 'sts.amazonaws.com',
  });
  assert.equal(aud.status, 'fail');
  assert.match(aud.detail, /:aud/);
  assert.equal(checkAwsTrust({ missing: true }, ROLE, PROVIDER, { sub: SUB, aud: 'a' }).status, 'fail');
  assert.match(
    checkAwsTrust({ value: { trustPolicy: '{' } }, ROLE, PROVIDER, { sub: SUB, aud: 'a' }).detail,
    /does not parse/,
  );
});

test('aws-exchange: the caller must be a session of the role (path ignored, account and partition compared)', () => {
  assert.equal(assumedRoleMatches(ROLE, 'arn:aws:sts::111122223333:assumed-role/app/s'), true);
  assert.equal(assumedRoleMatches(ROLE, 'arn:aws:sts::111122223334:assumed-role/app/s'), false);
  assert.equal(assumedRoleMatches(ROLE, 'arn:aws-cn:sts::111122223333:assumed-role/app/s'), false);
  assert.equal(assumedRoleMatches(ROLE, 'arn:aws:sts::111122223333:assumed-role/app2/s'), false);
  assert.equal(assumedRoleMatches(ROLE, 'arn:aws:iam::111122223333:user/app'), false);
  assert.equal(
    checkAwsExchange({ value: { callerArn: 'arn:aws:sts::111122223333:assumed-role/app/s' } }, ROLE).status,
    'pass',
  );
  assert.equal(
    checkAwsExchange({ value: { callerArn: 'arn:aws:sts::111122223333:assumed-role/x/s' } }, ROLE).status,
    'fail',
  );
  assert.match(checkAwsExchange({ error: 'InvalidIdentityToken: x' }, ROLE).detail, /InvalidIdentityToken/);
});
