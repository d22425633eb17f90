// Evaluation beyond web identity: AWS principal forms (role chaining), permission policies with Resource and
// variables, several policies, and the structured explanation of permission decisions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  awsPrincipalMatches,
  evaluatePolicies,
  evaluatePolicy,
  explainPolicies,
  formatExplanation,
  MalformedPolicyError,
  parsePolicy,
  type RequestContext,
} from '../../../src/iam/index.js';

const SESSION = 'arn:aws:sts::111122223333:assumed-role/s3-writer/pod-session';

describe('AWS principals', () => {
  const cases: Array<[string, string, boolean]> = [
    ['*', SESSION, true],
    ['111122223333', SESSION, true],
    ['444455556666', SESSION, false],
    ['arn:aws:iam::111122223333:root', SESSION, true],
    ['arn:aws-cn:iam::111122223333:root', SESSION, false],
    ['arn:aws:iam::111122223333:role/s3-writer', SESSION, true],
    ['arn:aws:iam::111122223333:role/team/s3-writer', SESSION, true],
    ['arn:aws:iam::111122223333:role/other', SESSION, false],
    ['arn:aws:iam::444455556666:role/s3-writer', SESSION, false],
    [SESSION, SESSION, true],
    ['arn:aws:sts::111122223333:assumed-role/s3-writer/other', SESSION, false],
    ['arn:aws:iam::111122223333:user/alice', 'arn:aws:iam::111122223333:user/alice', true],
    ['arn:aws:iam::111122223333:user/alice', 'arn:aws:iam::111122223333:user/bob', false],
    ['111122223333', '111122223333', true],
  ];
  for (const [value, caller, expected] of cases) {
    it(`${value} ${expected ? 'names' : 'does not name'} ${caller}`, () =>
      assert.equal(awsPrincipalMatches(value, caller), expected));
  }

  it("role chaining: a trust policy naming a role allows that role's sessions to AssumeRole", () => {
    const doc = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:role/team/s3-writer' },
          Action: 'sts:AssumeRole',
        },
      ],
    };
    const ctx: RequestContext = {
      action: 'sts:AssumeRole',
      principal: { type: 'AWS', id: SESSION },
      conditionKeys: {},
    };
    assert.equal(evaluatePolicy(doc, ctx).decision, 'Allow');
    assert.equal(
      evaluatePolicy(doc, { ...ctx, principal: { type: 'Federated', id: 'x' } }).decision,
      'ImplicitDeny',
    );
    assert.equal(
      evaluatePolicy(doc, {
        ...ctx,
        principal: { type: 'AWS', id: 'arn:aws:sts::111122223333:assumed-role/x/y' },
      }).decision,
      'ImplicitDeny',
    );
  });
});

const writer = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'Write',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:GetObject'],
      Resource: 'arn:aws:s3:::great-bucket/*',
    },
    { Sid: 'Home', Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::homes/${aws:username}/*' },
    { Sid: 'NoSecrets', Effect: 'Deny', Action: 's3:*', Resource: 'arn:aws:s3:::great-bucket/secret/*' },
  ],
};
const put = (resource: string, keys: Record<string, string> = {}): RequestContext => ({
  action: 's3:PutObject',
  resource,
  conditionKeys: keys,
});

describe('permission policies', () => {
  it('Resource wildcards cross slashes and colons; explicit Deny wins', () => {
    assert.equal(evaluatePolicy(writer, put('arn:aws:s3:::great-bucket/a/b:c')).decision, 'Allow');
    assert.equal(evaluatePolicy(writer, put('arn:aws:s3:::other-bucket/a')).decision, 'ImplicitDeny');
    assert.equal(evaluatePolicy(writer, put('arn:aws:s3:::great-bucket/secret/x')).decision, 'ExplicitDeny');
    assert.equal(
      evaluatePolicy(writer, { ...put('arn:aws:s3:::great-bucket/a'), action: 's3:DeleteObject' }).decision,
      'ImplicitDeny',
    );
  });
  it('Resource is case-sensitive, Action is not', () => {
    assert.equal(evaluatePolicy(writer, put('arn:aws:s3:::GREAT-bucket/a')).decision, 'ImplicitDeny');
    assert.equal(
      evaluatePolicy(writer, { ...put('arn:aws:s3:::great-bucket/a'), action: 'S3:putobject' }).decision,
      'Allow',
    );
  });
  it('policy variables in Resource', () => {
    assert.equal(
      evaluatePolicy(writer, put('arn:aws:s3:::homes/alice/x', { 'aws:username': 'alice' })).decision,
      'Allow',
    );
    assert.equal(
      evaluatePolicy(writer, put('arn:aws:s3:::homes/bob/x', { 'aws:username': 'alice' })).decision,
      'ImplicitDeny',
    );
    const r = evaluatePolicy(writer, put('arn:aws:s3:::homes/alice/x'));
    assert.equal(r.decision, 'ImplicitDeny');
    assert.match(
      r.statements[1]!.elements.find((e) => e.element === 'Resource')!.reason,
      /cannot be resolved/,
    );
  });
  it('NotResource and a request without resource', () => {
    const doc = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:*', NotResource: 'arn:aws:s3:::private/*' }],
    };
    assert.equal(evaluatePolicy(doc, put('arn:aws:s3:::public/x')).decision, 'Allow');
    assert.equal(evaluatePolicy(doc, put('arn:aws:s3:::private/x')).decision, 'ImplicitDeny');
    const star = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' }],
    };
    assert.equal(
      evaluatePolicy(star, { action: 'sts:GetCallerIdentity', conditionKeys: {} }).decision,
      'Allow',
    );
  });
  it('several policies: Allow in one, explicit Deny in another wins', () => {
    const denyAll = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Action: 's3:PutObject',
          Resource: '*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ],
    };
    const docs = [
      { name: 'writer', document: writer },
      { name: 'tls-only', document: denyAll },
    ];
    assert.equal(
      evaluatePolicies(docs, put('arn:aws:s3:::great-bucket/a', { 'aws:SecureTransport': 'true' })).decision,
      'Allow',
    );
    const denied = evaluatePolicies(
      docs,
      put('arn:aws:s3:::great-bucket/a', { 'aws:SecureTransport': 'false' }),
    );
    assert.equal(denied.decision, 'ExplicitDeny');
    const e = explainPolicies(denied, put('arn:aws:s3:::great-bucket/a', { 'aws:SecureTransport': 'false' }));
    assert.match(e.summary, /tls-only \$\.Statement\[0\]/);
    assert.equal(e.fixes[0]!.path, 'tls-only:$.Statement[0]');
    const none = evaluatePolicies(docs, put('arn:aws:s3:::nope/a'));
    assert.equal(none.decision, 'ImplicitDeny');
    const text = formatExplanation(explainPolicies(none, put('arn:aws:s3:::nope/a')));
    assert.match(text, /resource "arn:aws:s3:::nope\/a" is not "arn:aws:s3:::great-bucket\/\*"/);
    assert.match(text, /writer \$\.Statement\[0\] \(Sid "Write"\)/);
  });
  it('evaluates pre-parsed policies and raw text; malformed raw input throws MalformedPolicyError', () => {
    const parsed = parsePolicy(writer, 'identity');
    assert.equal(evaluatePolicy(parsed, put('arn:aws:s3:::great-bucket/a')).decision, 'Allow');
    assert.equal(
      evaluatePolicy(JSON.stringify(writer), put('arn:aws:s3:::great-bucket/a')).decision,
      'Allow',
    );
    assert.throws(() => evaluatePolicy('{', put('x')), MalformedPolicyError);
    assert.throws(
      () => evaluatePolicy({ Statement: [{ Effect: 'Allow', Action: 's3:*' }] }, put('x')),
      /must contain resources/,
    );
  });
  it('every statement is reported, matched or not, with its path and Sid', () => {
    const r = evaluatePolicy(writer, put('arn:aws:s3:::great-bucket/a'));
    assert.deepEqual(
      r.statements.map((s) => [s.index, s.sid, s.effect, s.matched, s.path]),
      [
        [0, 'Write', 'Allow', true, '$.Statement[0]'],
        [1, 'Home', 'Allow', false, '$.Statement[1]'],
        [2, 'NoSecrets', 'Deny', false, '$.Statement[2]'],
      ],
    );
  });
});
