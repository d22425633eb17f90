// What mutation testing of src/iam/evaluate.ts showed no test held (issue 10): principals that are not ARNs,
// NotPrincipal, requests without a principal, the case of an ARN's head, and the elements and reasons explain
// prints from an evaluation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  awsPrincipalMatches,
  evaluatePolicy,
  keyLookup,
  MalformedPolicyError,
  type ParsedPolicy,
  type ParsedStatement,
  type PolicyKind,
  type RequestContext,
} from '../../../src/iam/index.js';

const ACCT = '111122223333';
const SESSION = `arn:aws:sts::${ACCT}:assumed-role/app/s`;
const policy = (...statements: object[]) => ({ Version: '2012-10-17', Statement: statements });
const request = (over: Partial<RequestContext>): RequestContext => ({
  action: 's3:GetObject',
  conditionKeys: {},
  ...over,
});
/** A policy parsed by hand, as evaluatePolicy takes one: for shapes the types allow but parsePolicy refuses. */
const parsed = (
  kind: PolicyKind,
  ...statements: Array<Omit<ParsedStatement, 'index' | 'path' | 'conditions'>>
): ParsedPolicy => ({
  kind,
  size: 0,
  statements: statements.map((st, index) => ({
    index,
    path: `$.Statement[${index}]`,
    conditions: [],
    ...st,
  })),
});
const identity = (doc: unknown, ctx: RequestContext) => evaluatePolicy(doc, ctx, 'identity');
/** The elements of the first statement, as explain prints them: name, matched, reason. */
const elements = (doc: unknown, ctx: RequestContext, kind?: 'identity' | 'trust') =>
  evaluatePolicy(doc, ctx, kind).statements[0]!.elements.map((e) => ({
    element: e.element,
    matched: e.matched,
    reason: e.reason,
    ...(e.undetermined ? { undetermined: true } : {}),
  }));

test('condition keys: any spelling finds a key, and the exact spelling wins over another case of it', () => {
  const lookup = keyLookup({ 'aws:SourceIp': '10.0.0.1', 'aws:username': 'exact', 'AWS:UserName': 'other' });
  assert.equal(lookup('aws:sourceip'), '10.0.0.1');
  assert.equal(lookup('AWS:SOURCEIP'), '10.0.0.1');
  assert.equal(lookup('aws:username'), 'exact');
  assert.equal(lookup('AWS:UserName'), 'other');
  assert.equal(lookup('aws:missing'), undefined);
});

test('an Action is never a policy variable: `${...}` in it is literal text', () => {
  const doc = policy({ Effect: 'Allow', Action: 's3:Get${x}*', Resource: '*' });
  assert.equal(identity(doc, request({ action: 's3:Get${x}Object' })).decision, 'Allow');
  assert.equal(identity(doc, request({ action: 's3:GetObject' })).decision, 'ImplicitDeny');
});

test('a document is parsed unless it is a parsed policy: null and look-alikes are refused, kind from the request', () => {
  assert.throws(() => identity(null, request({})), MalformedPolicyError);
  // A raw document with a `statements` member is not a parsed policy: IAM refuses the unknown element.
  const lookalike = {
    ...policy({ Effect: 'Allow', Action: '*', Resource: '*' }),
    statements: [],
  };
  assert.throws(() => identity(lookalike, request({})), MalformedPolicyError);
  // Without a kind, a document is a trust policy when the request has a principal and an identity policy
  // otherwise (identity policies' Sids are alphanumeric; trust policies' need not be).
  const dashedSid = policy({ Sid: 'a-b', Effect: 'Allow', Action: '*', Resource: '*' });
  assert.throws(() => evaluatePolicy(dashedSid, request({})), MalformedPolicyError);
  const trust = policy({ Sid: 'a-b', Effect: 'Allow', Principal: { AWS: ACCT }, Action: 'sts:AssumeRole' });
  const caller = request({ action: 'sts:AssumeRole', principal: { type: 'AWS', id: SESSION } });
  assert.equal(evaluatePolicy(trust, caller).decision, 'Allow');
  // No size quota when evaluating (explain reads any document; quotas are lint's and IAM's).
  const big = policy(
    ...Array.from({ length: 200 }, (_, i) => ({
      Sid: `S${i}`,
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: '*',
    })),
  );
  assert.ok(JSON.stringify(big).length > 10_000);
  assert.equal(evaluatePolicy(big, request({})).decision, 'Allow');
});

test('AWS principal values: only an account id, its iam root ARN, the caller or its role name the caller', () => {
  // A caller id that is not an ARN (nor an account id) has no account: no account-wide value names it.
  assert.equal(awsPrincipalMatches(`arn:aws:iam::${ACCT}:root`, 'anonymous'), false);
  assert.equal(awsPrincipalMatches(ACCT, 'anonymous'), false);
  assert.equal(awsPrincipalMatches('anonymous', 'anonymous'), true, 'the same id');
  // A caller given as an account id: that account's root ARN names it, in any partition (no ARN to compare).
  assert.equal(awsPrincipalMatches(`arn:aws:iam::${ACCT}:root`, ACCT), true);
  assert.equal(awsPrincipalMatches(`arn:aws-cn:iam::${ACCT}:root`, ACCT), true);
  assert.equal(awsPrincipalMatches('arn:aws:iam::444455556666:root', ACCT), false);
  // A value that is not an ARN (a unique id such as IAM leaves behind for a deleted role) names nobody else.
  assert.equal(awsPrincipalMatches('AROAEXAMPLEEXAMPLE123', SESSION), false);
  assert.equal(awsPrincipalMatches('not an arn', SESSION), false);
  // `root` of another service is not the account.
  assert.equal(awsPrincipalMatches(`arn:aws:sts::${ACCT}:root`, SESSION), false);
  assert.equal(awsPrincipalMatches(`arn:aws:iam::${ACCT}:root`, SESSION), true);
});

test('Federated principals match by exact value only: the AWS account-wide forms do not apply to them', () => {
  const provider = `arn:aws:iam::${ACCT}:oidc-provider/oidc.example.com`;
  // Parsed by hand: IAM refuses an account id or a root ARN under "Federated"; the evaluator must not widen it.
  const trust = (federated: string) =>
    parsed('trust', {
      effect: 'Allow',
      principal: { Federated: [federated] },
      action: ['sts:AssumeRoleWithWebIdentity'],
    });
  const decide = (federated: string) =>
    evaluatePolicy(
      trust(federated),
      request({ action: 'sts:AssumeRoleWithWebIdentity', principal: { type: 'Federated', id: provider } }),
    ).decision;
  assert.equal(decide(provider), 'Allow');
  assert.equal(decide(ACCT), 'ImplicitDeny');
  assert.equal(decide(`arn:aws:iam::${ACCT}:root`), 'ImplicitDeny');
});

test('a statement with a Principal never applies to a request without one, whatever it names', () => {
  const trust = policy({ Effect: 'Allow', Principal: { AWS: ACCT }, Action: 'sts:AssumeRole' });
  const anonymous = request({ action: 'sts:AssumeRole' });
  const result = evaluatePolicy(trust, anonymous, 'trust');
  assert.equal(result.decision, 'ImplicitDeny');
  assert.deepEqual(elements(trust, anonymous, 'trust')[0], {
    element: 'Principal',
    matched: false,
    reason: 'the request has no principal',
  });
  // "*" (or {"AWS": "*"}) is the one principal that matches an anonymous request.
  for (const principal of ['*', { AWS: '*' }])
    assert.equal(
      evaluatePolicy(
        policy({ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' }),
        anonymous,
        'trust',
      ).decision,
      'Allow',
    );
});

test('NotPrincipal (a parsed resource-style statement): matches every principal but the ones it names', () => {
  const role = `arn:aws:iam::${ACCT}:role/app`;
  const doc = parsed(
    'identity',
    { effect: 'Allow', principal: '*', action: ['*'] },
    { effect: 'Deny', notPrincipal: { AWS: [role] }, action: ['*'] },
  );
  const as = (id: string) => evaluatePolicy(doc, request({ principal: { type: 'AWS', id } }));
  assert.equal(as(SESSION).decision, 'Allow', 'a session of the named role is not denied');
  const other = as(`arn:aws:sts::${ACCT}:assumed-role/other/s`);
  assert.equal(other.decision, 'ExplicitDeny');
  assert.deepEqual(
    other.statements[1]!.elements.map((e) => [e.element, e.matched]),
    [
      ['NotPrincipal', true],
      ['Action', true],
    ],
  );
  assert.equal(as(SESSION).statements[1]!.elements[0]!.matched, false);
});

test('conditions: no Condition element without conditions; a Deny applies only when none definitely fails', () => {
  const allowAll = { Effect: 'Allow', Action: '*', Resource: '*' };
  assert.deepEqual(
    elements(policy(allowAll), request({})).map((e) => e.element),
    ['Action', 'Resource'],
  );
  const keys = { 'aws:PrincipalAccount': ACCT, 's3:prefix': 'home/' };
  const matching = policy({ ...allowAll, Condition: { StringEquals: { 'aws:PrincipalAccount': ACCT } } });
  assert.deepEqual(elements(matching, request({ conditionKeys: keys }))[2], {
    element: 'Condition',
    matched: true,
    reason: 'all 1 condition(s) match',
  });
  // One condition undetermined (a variable the request cannot resolve), one definitely false: AND is false.
  const undetermined = { StringLike: { 's3:prefix': '${aws:username}/*' } };
  const deny = (condition: object) =>
    policy(allowAll, { Effect: 'Deny', Action: '*', Resource: '*', Condition: condition });
  assert.equal(identity(deny(undetermined), request({ conditionKeys: keys })).decision, 'ExplicitDeny');
  assert.equal(
    identity(
      deny({ ...undetermined, StringEquals: { 'aws:PrincipalAccount': '444455556666' } }),
      request({ conditionKeys: keys }),
    ).decision,
    'Allow',
  );
});

test("explain's reasons name what was compared: one value quoted, several as a list", () => {
  const resource = 'arn:aws:s3:::c/k';
  const at = (st: object, ctx: RequestContext = request({ resource })) => elements(policy(st), ctx);
  assert.deepEqual(at({ Effect: 'Allow', Action: ['s3:PutObject', 's3:List*'], Resource: '*' })[0], {
    element: 'Action',
    matched: false,
    reason: 'action "s3:GetObject" is not ["s3:PutObject", "s3:List*"]',
  });
  assert.equal(
    at({ Effect: 'Allow', Action: 's3:PutObject', Resource: '*' })[0]!.reason,
    'action "s3:GetObject" is not "s3:PutObject"',
  );
  assert.deepEqual(at({ Effect: 'Allow', NotAction: ['s3:Get*', 'iam:*'], Resource: '*' })[0], {
    element: 'NotAction',
    matched: false,
    reason: 'action "s3:GetObject" is excluded by NotAction "s3:Get*"',
  });
  assert.deepEqual(at({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' })[0], {
    element: 'NotAction',
    matched: true,
    reason: 'action "s3:GetObject" is not in NotAction "iam:*"',
  });
  assert.equal(
    at({ Effect: 'Allow', Action: '*', Resource: ['arn:aws:s3:::a/*', 'arn:aws:s3:::b/*'] })[1]!.reason,
    'resource "arn:aws:s3:::c/k" is not ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"]',
  );
  assert.equal(
    at({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::a/*' })[1]!.reason,
    'resource "arn:aws:s3:::c/k" is not "arn:aws:s3:::a/*"',
  );
  assert.deepEqual(
    at({ Effect: 'Allow', Action: '*', NotResource: ['arn:aws:s3:::c/*', 'arn:aws:s3:::d/*'] })[1],
    {
      element: 'NotResource',
      matched: false,
      reason: 'resource "arn:aws:s3:::c/k" is excluded by NotResource "arn:aws:s3:::c/*"',
    },
  );
  // Several patterns left undetermined: each with its reason.
  const users = [`arn:aws:iam::${ACCT}:user/\${aws:username}`, `arn:aws:iam::${ACCT}:group/\${aws:username}`];
  assert.match(
    at(
      { Effect: 'Allow', Action: '*', Resource: users },
      request({ resource: `arn:aws:iam::${ACCT}:user/bob` }),
    )[1]!.reason,
    /is undetermined \("arn:aws:iam::111122223333:user\/\$\{aws:username\}": .*cannot be resolved.*; "arn:aws:iam::111122223333:group\/\$\{aws:username\}": .*cannot be resolved/,
  );
});

test("explain's reasons for principals: the caller's type and id, and what the statement lists", () => {
  const trust = (principal: unknown) =>
    policy({ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' });
  const caller = request({ action: 'sts:AssumeRole', principal: { type: 'AWS', id: SESSION } });
  const reason = (principal: unknown, ctx = caller) => elements(trust(principal), ctx, 'trust')[0]!.reason;
  const a = `arn:aws:iam::${ACCT}:role/a`;
  const b = `arn:aws:iam::${ACCT}:role/b`;
  assert.equal(reason({ AWS: a }), `AWS principal "${SESSION}" is not "${a}"`);
  assert.equal(reason({ AWS: [a, b] }), `AWS principal "${SESSION}" is not any of ["${a}", "${b}"]`);
  assert.equal(
    reason({ AWS: [] }),
    `the caller is a AWS principal "${SESSION}", but the statement lists only AWS []`,
  );
  assert.equal(
    reason({ Federated: 'accounts.google.com', Service: ['ec2.amazonaws.com', 'lambda.amazonaws.com'] }),
    `the caller is a AWS principal "${SESSION}", but the statement lists only Federated ["accounts.google.com"], Service ["ec2.amazonaws.com", "lambda.amazonaws.com"]`,
  );
  assert.equal(reason({ AWS: ACCT }), `AWS principal "${SESSION}" matches "${ACCT}"`);
  // A principal parsed by hand may carry a type without values (the type allows it): listed as empty.
  const handBuilt = parsed('trust', {
    effect: 'Allow',
    principal: { Federated: undefined, Service: ['ec2.amazonaws.com'] },
    action: ['sts:AssumeRole'],
  });
  assert.equal(
    evaluatePolicy(handBuilt, caller).statements[0]!.elements[0]!.reason,
    `the caller is a AWS principal "${SESSION}", but the statement lists only Federated [], Service ["ec2.amazonaws.com"]`,
  );
});

test("Resource ARNs: the head's partition, service and region are read in both cases, the rest as written", () => {
  const decide = (pattern: string, resource: string) => {
    const result = identity(
      policy({ Effect: 'Allow', Action: '*', Resource: pattern }),
      request({ resource }),
    );
    const el = result.statements[0]!.elements[1]!;
    return el.undetermined ? 'undetermined' : result.decision;
  };
  const s3 = 'arn:aws:s3:::b/k';
  const ec2 = `arn:aws:ec2:us-east-1:${ACCT}:instance/i-1`;
  assert.equal(decide('arn:AWS:s3:::b/*', s3), 'undetermined', 'partition');
  assert.equal(decide('arn:aws:S3:::b/*', s3), 'undetermined', 'service');
  assert.equal(decide(`arn:aws:ec2:US-EAST-1:${ACCT}:instance/*`, ec2), 'undetermined', 'region');
  assert.equal(decide('ARN:aws:s3:::b/*', s3), 'ImplicitDeny', '"arn" itself is not lowercased');
  assert.equal(decide('arn:aws:s3:::B/*', s3), 'ImplicitDeny', 'the resource part is case-sensitive');
  assert.equal(decide('arn:aws:s3:::b/*', 'arn:aws:s3:::B/k'), 'ImplicitDeny');
  assert.match(
    elements(
      policy({ Effect: 'Allow', Action: '*', Resource: 'arn:AWS:s3:::b/*' }),
      request({ resource: s3 }),
    )[1]!.reason,
    /its partition, service or region is not in lowercase, and AWS documents no case rule for them/,
  );
  // The account segment is read as written, like the resource part.
  const other = 'arn:aws:example:us-east-1:Acct:thing/x';
  assert.equal(decide('arn:aws:example:us-east-1:Acct:thing/*', other), 'Allow');
  assert.equal(decide('arn:aws:example:us-east-1:acct:thing/*', other), 'ImplicitDeny');
  // Five parts: read as written and with the sixth as `*`, which disagree here.
  assert.equal(decide('arn:aws:s3:us-east-1:123', 'arn:aws:s3:us-east-1:123:x'), 'undetermined');
  // Colons after the fifth belong to the resource part, where variables are substituted.
  const bob = request({ resource: 'arn:aws:s3:::b/bob:x:y', conditionKeys: { 'aws:username': 'bob' } });
  assert.equal(
    identity(policy({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::b/${aws:username}:x:*' }), bob)
      .decision,
    'Allow',
  );
  assert.equal(
    identity(policy({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::b/${aws:username}:y:*' }), bob)
      .decision,
    'ImplicitDeny',
  );
});
