// Cases mutation testing showed no test held in src/iam/conditions.ts and src/iam/evaluate.ts (issue 10, "Tests
// that would let a security regression through").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cidrContains,
  evaluatePolicy,
  type ConditionValue,
  type RequestContext,
} from '../../../src/iam/index.js';

const KEY = 'test:Key';
function condition(operator: string, values: unknown, keys: Record<string, ConditionValue>): string {
  const doc = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: '*',
        Condition: { [operator]: { [KEY]: values } },
      },
    ],
  };
  return evaluatePolicy(doc, { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', conditionKeys: keys })
    .decision;
}

test('ForAnyValue with a negated operator and the key missing does not match; ForAllValues does', () => {
  for (const op of [
    'StringNotEquals',
    'StringNotLike',
    'StringNotEqualsIgnoreCase',
    'ArnNotLike',
    'NotIpAddress',
  ]) {
    assert.equal(condition(`ForAnyValue:${op}`, ['a'], {}), 'ImplicitDeny', `ForAnyValue:${op}, missing`);
    assert.equal(condition(`ForAllValues:${op}`, ['a'], {}), 'Allow', `ForAllValues:${op}, missing`);
  }
  assert.equal(condition('ForAnyValue:StringNotEquals', ['a'], { [KEY]: ['a', 'b'] }), 'Allow');
  assert.equal(condition('ForAnyValue:StringNotEquals', ['a'], { [KEY]: ['a'] }), 'ImplicitDeny');
});

test('CIDR matching: range ends, explicit /32 and /128, IPv6 prefixes, families never mix', () => {
  const cases: Array<[string, string, boolean]> = [
    ['10.0.0.0/24', '10.0.0.0', true],
    ['10.0.0.0/24', '10.0.0.255', true],
    ['10.0.0.0/24', '10.0.1.0', false],
    ['10.0.0.0/24', '9.255.255.255', false],
    ['10.0.0.1/32', '10.0.0.1', true],
    ['10.0.0.1/32', '10.0.0.2', false],
    ['10.0.0.1', '10.0.0.1', true],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['2001:db8::/32', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:db8::/32', '2001:db9::', false],
    ['2001:db8::1/128', '2001:db8::1', true],
    ['2001:db8::1/128', '2001:db8::2', false],
    ['2001:db8:8000::/33', '2001:db8:7fff::1', false],
    ['2001:db8:8000::/33', '2001:db8:8000::1', true],
    // An IPv4 caller never matches an IPv6 range (not even ::/0 or the mapped range), nor the reverse.
    ['::/0', '10.0.0.1', false],
    ['::ffff:0:0/96', '10.0.0.1', false],
    ['0.0.0.0/0', '::1', false],
  ];
  for (const [cidr, ip, want] of cases) assert.equal(cidrContains(cidr, ip), want, `${cidr} ∋ ${ip}`);
  assert.equal(condition('IpAddress', '10.0.0.0/24', { [KEY]: '10.0.0.255' }), 'Allow');
  assert.equal(condition('NotIpAddress', '10.0.0.0/24', { [KEY]: '10.0.0.255' }), 'ImplicitDeny');
});

test('ArnLike / ArnNotLike: colons inside the resource part are part of the resource', () => {
  assert.equal(condition('ArnLike', 'arn:aws:s3:::b/a:*', { [KEY]: 'arn:aws:s3:::b/a:x:y' }), 'Allow');
  assert.equal(
    condition('ArnNotLike', 'arn:aws:s3:::b/a:*', { [KEY]: 'arn:aws:s3:::b/a:x:y' }),
    'ImplicitDeny',
  );
  assert.equal(condition('ArnLike', 'arn:aws:iam::*:role/a*', { [KEY]: 'arn:aws:iam::1:role/a:b' }), 'Allow');
  assert.equal(condition('ArnLike', 'arn:aws:s3:::b/a:y', { [KEY]: 'arn:aws:s3:::b/a:x:y' }), 'ImplicitDeny');
  assert.equal(condition('ArnNotLike', 'arn:aws:s3:::b/a:y', { [KEY]: 'arn:aws:s3:::b/a:x:y' }), 'Allow');
  // The account segment does not swallow colons.
  assert.equal(
    condition('ArnLike', 'arn:aws:iam::1:role/*', { [KEY]: 'arn:aws:iam::2:role/x' }),
    'ImplicitDeny',
  );
});

const ctx = (over: Partial<RequestContext>): RequestContext => ({
  action: 's3:GetObject',
  conditionKeys: {},
  ...over,
});
const statement = (st: Record<string, unknown>) => ({
  Version: '2012-10-17',
  Statement: [{ Resource: '*', ...st }],
});

test('actions: wildcards match by prefix and case-insensitively; Action "*" in a Deny denies everything', () => {
  const allowGet = statement({ Effect: 'Allow', Action: 's3:Get*' });
  for (const action of ['s3:GetObject', 's3:getobject', 'S3:GETBUCKETPOLICY', 's3:Get'])
    assert.equal(evaluatePolicy(allowGet, ctx({ action }), 'identity').decision, 'Allow', action);
  for (const action of ['s3:PutObject', 's3:ListGet', 'ec2:GetConsoleOutput', 's3x:GetObject'])
    assert.equal(evaluatePolicy(allowGet, ctx({ action }), 'identity').decision, 'ImplicitDeny', action);
  assert.equal(
    evaluatePolicy(statement({ Effect: 'Allow', Action: 'S3:GET*' }), ctx({}), 'identity').decision,
    'Allow',
  );
  assert.equal(
    evaluatePolicy(statement({ Effect: 'Allow', Action: 's3:Get?bject' }), ctx({}), 'identity').decision,
    'Allow',
  );
  const both = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', Action: '*', Resource: '*' },
    ],
  };
  for (const action of ['s3:GetObject', 'iam:CreateRole', 'sts:AssumeRole'])
    assert.equal(evaluatePolicy(both, ctx({ action }), 'identity').decision, 'ExplicitDeny', action);
});

test('Deny with NotResource on a request without a resource still denies', () => {
  const doc = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', Action: '*', NotResource: 'arn:aws:s3:::safe/*' },
    ],
  };
  assert.equal(
    evaluatePolicy(doc, ctx({ action: 'sts:GetCallerIdentity' }), 'identity').decision,
    'ExplicitDeny',
  );
  assert.equal(evaluatePolicy(doc, ctx({ resource: 'arn:aws:s3:::safe/k' }), 'identity').decision, 'Allow');
  assert.equal(
    evaluatePolicy(doc, ctx({ resource: 'arn:aws:s3:::other/k' }), 'identity').decision,
    'ExplicitDeny',
  );
});

test('principals: another account root, or a role ARN in another partition, never names this caller', () => {
  const caller = 'arn:aws:sts::111122223333:assumed-role/app/s';
  const trust = (principal: unknown) => ({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' }],
  });
  const decide = (principal: unknown) =>
    evaluatePolicy(
      trust(principal),
      {
        action: 'sts:AssumeRole',
        principal: { type: 'AWS', id: caller },
        conditionKeys: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:role/app' },
      },
      'trust',
    ).decision;
  assert.equal(decide({ AWS: 'arn:aws:iam::111122223333:root' }), 'Allow');
  assert.equal(decide({ AWS: '111122223333' }), 'Allow');
  assert.equal(decide({ AWS: 'arn:aws:iam::444455556666:root' }), 'ImplicitDeny');
  assert.equal(decide({ AWS: '444455556666' }), 'ImplicitDeny');
  assert.equal(decide({ AWS: 'arn:aws:iam::111122223333:role/app' }), 'Allow');
  assert.equal(decide({ AWS: 'arn:aws-cn:iam::111122223333:role/app' }), 'ImplicitDeny');
  assert.equal(decide({ AWS: 'arn:aws-cn:iam::111122223333:root' }), 'ImplicitDeny');
  assert.equal(decide({ AWS: 'arn:aws:iam::111122223333:role/other' }), 'ImplicitDeny');
});
