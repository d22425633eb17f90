// What the differential run against an independent IAM simulator found (issue 11): policy variables that cannot
// be resolved, variables before the fifth colon of a Resource ARN, ForAnyValue with IfExists over a missing key,
// and the readings AWS does not document (case in an ARN's head, ARNs with fewer than six parts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePolicy, explain, formatExplanation, type RequestContext } from '../../../src/iam/index.js';

const ACCT = '111122223333';
const SESSION = `arn:aws:sts::${ACCT}:assumed-role/app/pod`;

/** An identity-policy request by a role session: it has no aws:username. */
const roleRequest = (resource: string, keys: Record<string, string | string[]> = {}): RequestContext => ({
  action: 'iam:GetUser',
  resource,
  conditionKeys: { 'aws:PrincipalArn': SESSION, 'aws:PrincipalAccount': ACCT, ...keys },
});

const policy = (...statements: object[]) => ({ Version: '2012-10-17', Statement: statements });
const decide = (doc: object, ctx: RequestContext) => evaluatePolicy(doc, ctx, 'identity').decision;
const allowAll = { Effect: 'Allow', Action: '*', Resource: '*' };

describe('a policy variable that cannot be resolved never widens an Allow nor narrows a Deny (item 6)', () => {
  const notOwnUser = {
    Effect: 'Allow',
    Action: 'iam:*',
    NotResource: `arn:aws:iam::${ACCT}:user/\${aws:username}`,
  };

  it('Allow + NotResource with ${aws:username} for a role session allows nothing', () => {
    for (const r of [`arn:aws:iam::${ACCT}:user/bob`, `arn:aws:iam::${ACCT}:role/admin`, 'arn:aws:s3:::x']) {
      const result = evaluatePolicy(policy(notOwnUser), roleRequest(r), 'identity');
      assert.equal(result.decision, 'ImplicitDeny', r);
      const el = result.statements[0]!.elements.find((e) => e.element === 'NotResource')!;
      assert.equal(el.undetermined, true);
      assert.match(el.reason, /cannot be resolved/);
    }
  });

  it('the same statement for a user with aws:username excludes exactly that user', () => {
    const alice = { 'aws:username': 'alice' };
    assert.equal(decide(policy(notOwnUser), roleRequest(`arn:aws:iam::${ACCT}:user/bob`, alice)), 'Allow');
    assert.equal(
      decide(policy(notOwnUser), roleRequest(`arn:aws:iam::${ACCT}:user/alice`, alice)),
      'ImplicitDeny',
    );
  });

  it('Deny + NotResource or Resource with an unresolvable variable still denies', () => {
    for (const el of [
      { NotResource: `arn:aws:iam::${ACCT}:user/\${aws:username}` },
      { Resource: `arn:aws:iam::${ACCT}:user/\${aws:username}` },
    ]) {
      const doc = policy(allowAll, { Effect: 'Deny', Action: 'iam:*', ...el });
      assert.equal(
        decide(doc, roleRequest(`arn:aws:iam::${ACCT}:user/bob`)),
        'ExplicitDeny',
        JSON.stringify(el),
      );
    }
  });

  it('a definite answer elsewhere still decides: a matching sibling entry, a failing Action', () => {
    const doc = policy({
      Effect: 'Allow',
      Action: 'iam:GetUser',
      Resource: [`arn:aws:iam::${ACCT}:user/\${aws:username}`, `arn:aws:iam::${ACCT}:user/common`],
    });
    assert.equal(decide(doc, roleRequest(`arn:aws:iam::${ACCT}:user/common`)), 'Allow');
    const deny = policy(allowAll, {
      Effect: 'Deny',
      Action: 's3:*',
      Resource: `arn:aws:iam::${ACCT}:user/\${aws:username}`,
    });
    assert.equal(decide(deny, roleRequest(`arn:aws:iam::${ACCT}:user/bob`)), 'Allow', 'the Action decides');
  });

  it('conditions: positive true and negated false hold; otherwise the pair is undetermined', () => {
    const cond = (effect: string, operator: string, values: string[]) =>
      policy(...(effect === 'Deny' ? [allowAll] : []), {
        Effect: effect,
        Action: '*',
        Resource: '*',
        Condition: { [operator]: { 'aws:PrincipalTag/team': values } },
      });
    const tagged = roleRequest('arn:aws:s3:::b', { 'aws:PrincipalTag/team': 'red' });
    const rows: Array<[string, string, string[], string]> = [
      ['Allow', 'StringEquals', ['${aws:username}', 'red'], 'Allow'], // "red" matches whatever the variable is
      ['Allow', 'StringEquals', ['${aws:username}', 'blue'], 'ImplicitDeny'], // undetermined: no grant
      ['Allow', 'StringNotEquals', ['${aws:username}'], 'ImplicitDeny'],
      ['Deny', 'StringNotEquals', ['${aws:username}'], 'ExplicitDeny'], // undetermined: the Deny applies
      ['Deny', 'StringNotEquals', ['${aws:username}', 'red'], 'Allow'], // "red" decides: no deny
      ['Deny', 'StringEquals', ['${aws:username}'], 'ExplicitDeny'],
      ['Allow', 'StringEquals', ["${aws:username, 'red'}"], 'Allow'], // a default resolves it
      ['Allow', 'ForAllValues:StringLike', ['${aws:username}*'], 'ImplicitDeny'],
    ];
    for (const [effect, operator, values, want] of rows) {
      const doc = cond(effect, operator, values);
      assert.equal(decide(doc, tagged), want, `${effect} ${operator} ${JSON.stringify(values)}`);
    }
    const doc = cond('Allow', 'StringEquals', ['${aws:username}']);
    const shown = formatExplanation(explain(evaluatePolicy(doc, tagged, 'identity'), tagged));
    assert.match(shown, /\? StringEquals aws:PrincipalTag\/team: .*cannot be resolved/);
  });

  it('an empty string is no value (a "null data set"): the variable does not resolve, its default applies', () => {
    const doc = policy({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::b/${aws:username}/*' });
    const empty = { 'aws:username': '' };
    assert.equal(decide(doc, roleRequest('arn:aws:s3:::b//x', empty)), 'ImplicitDeny');
    assert.equal(decide(doc, roleRequest('arn:aws:s3:::b/alice/x', empty)), 'ImplicitDeny');
    const deny = policy(allowAll, {
      Effect: 'Deny',
      Action: '*',
      Resource: 'arn:aws:s3:::b/${aws:username}/*',
    });
    assert.equal(decide(deny, roleRequest('arn:aws:s3:::b/alice/x', empty)), 'ExplicitDeny');
    const withDefault = policy({
      Effect: 'Allow',
      Action: '*',
      Resource: "arn:aws:s3:::b/${aws:username, 'common'}/*",
    });
    assert.equal(decide(withDefault, roleRequest('arn:aws:s3:::b/common/x', empty)), 'Allow');
  });
});

describe('variables only after the fifth colon of a Resource ARN (item 7)', () => {
  const keys = { 'aws:PrincipalAccount': ACCT };
  it('before the fifth colon ${...} is plain text, never substituted', () => {
    const doc = policy({
      Effect: 'Allow',
      Action: '*',
      Resource: 'arn:aws:sns:eu-west-1:${aws:PrincipalAccount}:alerts',
    });
    assert.equal(decide(doc, roleRequest(`arn:aws:sns:eu-west-1:${ACCT}:alerts`, keys)), 'ImplicitDeny');
    assert.equal(
      decide(doc, roleRequest('arn:aws:sns:eu-west-1:${aws:PrincipalAccount}:alerts', keys)),
      'Allow',
      'compared as text',
    );
    const region = policy({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:${aws:RequestedRegion}::b' });
    assert.equal(
      decide(region, roleRequest('arn:aws:s3:eu-west-1::b', { 'aws:RequestedRegion': 'eu-west-1' })),
      'ImplicitDeny',
    );
  });

  it('after it they are substituted, colons in the key name included', () => {
    const doc = policy({
      Effect: 'Allow',
      Action: '*',
      Resource: 'arn:aws:s3:::bucket/${aws:PrincipalAccount}/*',
    });
    assert.equal(decide(doc, roleRequest(`arn:aws:s3:::bucket/${ACCT}/x`, keys)), 'Allow');
    assert.equal(decide(doc, roleRequest('arn:aws:s3:::bucket/444455556666/x', keys)), 'ImplicitDeny');
  });
});

describe('ForAnyValue with IfExists over a missing key or empty list is false (item 8)', () => {
  const doc = policy({
    Effect: 'Allow',
    Action: '*',
    Resource: '*',
    Condition: { 'ForAnyValue:StringEqualsIfExists': { 'aws:TagKeys': ['team'] } },
  });
  it('identity policy on aws:TagKeys', () => {
    assert.equal(decide(doc, roleRequest('*')), 'ImplicitDeny');
    assert.equal(decide(doc, roleRequest('*', { 'aws:TagKeys': [] })), 'ImplicitDeny');
    assert.equal(decide(doc, roleRequest('*', { 'aws:TagKeys': ['team', 'x'] })), 'Allow');
  });

  it('the same shape on an IRSA trust policy’s aud', () => {
    const issuer = 'oidc.example.com/cluster-a';
    const provider = `arn:aws:iam::${ACCT}:oidc-provider/${issuer}`;
    const trust = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: provider },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            'ForAnyValue:StringEqualsIfExists': { [`${issuer}:aud`]: 'sts.amazonaws.com' },
            StringEquals: { [`${issuer}:sub`]: 'system:serviceaccount:ns:app' },
          },
        },
      ],
    };
    const ctx = (keys: Record<string, string | string[]>): RequestContext => ({
      action: 'sts:AssumeRoleWithWebIdentity',
      principal: { type: 'Federated', id: provider },
      conditionKeys: { [`${issuer}:sub`]: 'system:serviceaccount:ns:app', ...keys },
    });
    assert.equal(evaluatePolicy(trust, ctx({})).decision, 'ImplicitDeny');
    assert.equal(evaluatePolicy(trust, ctx({ [`${issuer}:aud`]: [] })).decision, 'ImplicitDeny');
    assert.equal(evaluatePolicy(trust, ctx({ [`${issuer}:aud`]: 'sts.amazonaws.com' })).decision, 'Allow');
  });
});

describe('readings AWS does not document: the one that grants less wins', () => {
  it('partition, service or region not in lowercase: an Allow needs both readings, a Deny takes either', () => {
    const allow = policy({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:S3:::bucket/*' });
    const deny = policy(allowAll, { Effect: 'Deny', Action: '*', Resource: 'arn:aws:S3:::bucket/*' });
    assert.equal(decide(allow, roleRequest('arn:aws:s3:::bucket/x')), 'ImplicitDeny');
    assert.equal(decide(deny, roleRequest('arn:aws:s3:::bucket/x')), 'ExplicitDeny');
    assert.equal(decide(deny, roleRequest('arn:aws:s3:::other/x')), 'Allow', 'no reading matches');
    const region = policy({ Effect: 'Allow', Action: '*', Resource: `arn:aws:sqs:EU-WEST-1:${ACCT}:q` });
    assert.equal(decide(region, roleRequest(`arn:aws:sqs:eu-west-1:${ACCT}:q`)), 'ImplicitDeny');
    // the resource part stays case-sensitive (AWS: "In the Resource element, the IAM user name is case sensitive")
    const user = policy({ Effect: 'Allow', Action: '*', Resource: `arn:aws:iam::${ACCT}:user/Bob` });
    assert.equal(decide(user, roleRequest(`arn:aws:iam::${ACCT}:user/bob`)), 'ImplicitDeny');
    assert.equal(decide(user, roleRequest(`arn:aws:iam::${ACCT}:user/Bob`)), 'Allow');
  });

  it('an ARN with fewer than six parts: as written, or with the missing parts as *', () => {
    const allow = policy({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3' });
    const deny = policy(allowAll, { Effect: 'Deny', Action: '*', Resource: 'arn:aws:s3' });
    assert.equal(decide(allow, roleRequest('arn:aws:s3:::bucket')), 'ImplicitDeny');
    assert.equal(decide(deny, roleRequest('arn:aws:s3:::bucket')), 'ExplicitDeny');
    assert.equal(decide(deny, roleRequest(`arn:aws:sqs:eu-west-1:${ACCT}:q`)), 'Allow');
    // a trailing * reads the same both ways
    const star = policy({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:*' });
    assert.equal(decide(star, roleRequest('arn:aws:s3:::bucket')), 'Allow');
    const result = evaluatePolicy(allow, roleRequest('arn:aws:s3:::bucket'), 'identity');
    assert.match(
      result.statements[0]!.elements.find((e) => e.element === 'Resource')!.reason,
      /3 of an ARN's six parts/,
    );
  });
});

describe('an operator without a set operator on a list value (AWS: multivalued keys require one)', () => {
  const doc = (effect: string, operator: string) =>
    policy(...(effect === 'Deny' ? [allowAll] : []), {
      Effect: effect,
      Action: '*',
      Resource: '*',
      Condition: { [operator]: { 'aws:TagKeys': 'team' } },
    });
  it('never grants where the reported AWS reading (false) and openirsa’s (any / none) disagree', () => {
    assert.equal(
      decide(doc('Allow', 'StringEquals'), roleRequest('*', { 'aws:TagKeys': ['team'] })),
      'ImplicitDeny',
    );
    assert.equal(
      decide(doc('Allow', 'StringNotEquals'), roleRequest('*', { 'aws:TagKeys': ['x'] })),
      'ImplicitDeny',
    );
    assert.equal(
      decide(doc('Allow', 'StringEqualsIfExists'), roleRequest('*', { 'aws:TagKeys': [] })),
      'ImplicitDeny',
    );
    assert.equal(
      decide(doc('Allow', 'StringEquals'), roleRequest('*', { 'aws:TagKeys': 'team' })),
      'Allow',
      'a string is one value',
    );
  });
  it('and a Deny still applies', () => {
    assert.equal(
      decide(doc('Deny', 'StringNotEquals'), roleRequest('*', { 'aws:TagKeys': ['x'] })),
      'ExplicitDeny',
    );
    assert.equal(
      decide(doc('Deny', 'StringEquals'), roleRequest('*', { 'aws:TagKeys': ['x'] })),
      'Allow',
      'both readings: false',
    );
  });
});
