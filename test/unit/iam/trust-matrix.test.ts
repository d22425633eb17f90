// The IRSA trust-policy matrix: realistic trust policies and web-identity requests, with the expected decision
// AND what the explanation must say (the statement, the element, and the most likely fix).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  evaluatePolicy,
  explain,
  formatExplanation,
  oidcProviderArn,
  type ConditionValue,
  type Decision,
  type RequestContext,
} from '../../../src/iam/index.js';

const ACCOUNT = '111122223333';
const ID = 'oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const OTHER_ID = 'oidc.eks.us-west-2.amazonaws.com/id/0THERC1USTER0000000000000000000';
const ARN = oidcProviderArn('aws', ACCOUNT, `https://${ID}`);
const SUB = 'system:serviceaccount:great-namespace:great-serviceaccount';
const AUD = 'sts.amazonaws.com';

interface Req {
  sub?: string;
  aud?: ConditionValue;
  provider?: string;
  id?: string;
  action?: string;
  extra?: Record<string, ConditionValue>;
}

/** The request the STS builds for AssumeRoleWithWebIdentity (keys named after the token's issuer). */
function request(r: Req = {}): RequestContext {
  const id = r.id ?? ID;
  const keys: Record<string, ConditionValue> = {
    [`${id}:sub`]: r.sub ?? SUB,
    [`${id}:aud`]: r.aud ?? AUD,
    ...r.extra,
  };
  return {
    action: r.action ?? 'sts:AssumeRoleWithWebIdentity',
    principal: { type: 'Federated', id: r.provider ?? oidcProviderArn('aws', ACCOUNT, id) },
    conditionKeys: keys,
  };
}

type Stmt = Record<string, unknown>;
function allow(condition?: Record<string, unknown>, over: Stmt = {}): Stmt {
  const s: Stmt = { Effect: 'Allow', Principal: { Federated: ARN }, Action: 'sts:AssumeRoleWithWebIdentity' };
  if (condition) s.Condition = condition;
  return { ...s, ...over };
}
function policy(...statements: Stmt[]): unknown {
  return { Version: '2012-10-17', Statement: statements };
}
const exact = (sub: unknown = SUB, aud: unknown = AUD): Record<string, unknown> => ({
  StringEquals: { [`${ID}:sub`]: sub, [`${ID}:aud`]: aud },
});

interface Case {
  name: string;
  policy: unknown;
  req?: Req;
  decision: Decision;
  /** Every pattern must appear in the text explanation. */
  text?: RegExp[];
  /** Every pattern must appear in some fix (problem + fix). */
  fix?: RegExp[];
}

const cases: Case[] = [
  {
    name: 'sub and aud exact',
    policy: policy(allow(exact())),
    decision: 'Allow',
    text: [/ALLOWED/, /allowed by \$\.Statement\[0\]/],
  },
  {
    name: 'wrong ServiceAccount name',
    policy: policy(allow(exact())),
    req: { sub: 'system:serviceaccount:great-namespace:other' },
    decision: 'ImplicitDeny',
    fix: [/ServiceAccount great-namespace\/other/, /allow "system:serviceaccount:great-namespace:other"/],
  },
  {
    name: 'wrong namespace',
    policy: policy(allow(exact())),
    req: { sub: 'system:serviceaccount:default:great-serviceaccount' },
    decision: 'ImplicitDeny',
    fix: [
      /allows namespace\(s\) "great-namespace"/,
      /run the pod as great-namespace\/great-serviceaccount \(the ServiceAccount the role trusts\)/,
    ],
    text: [/✗ StringEquals .*:sub/],
  },
  {
    name: 'namespace wildcard with StringLike allows any SA of the namespace',
    policy: policy(
      allow({
        StringLike: { [`${ID}:sub`]: 'system:serviceaccount:great-namespace:*' },
        StringEquals: { [`${ID}:aud`]: AUD },
      }),
    ),
    req: { sub: 'system:serviceaccount:great-namespace:anything' },
    decision: 'Allow',
  },
  {
    name: 'namespace wildcard with StringLike: other namespace',
    policy: policy(allow({ StringLike: { [`${ID}:sub`]: 'system:serviceaccount:great-namespace:*' } })),
    req: { sub: 'system:serviceaccount:kube-system:anything' },
    decision: 'ImplicitDeny',
    fix: [/namespace/],
  },
  {
    name: 'StringEquals with a literal * (namespace wildcard)',
    policy: policy(allow(exact('system:serviceaccount:great-namespace:*'))),
    decision: 'ImplicitDeny',
    fix: [/StringEquals compares literally/, /as a pattern it would match/, /use "StringLike"/],
  },
  {
    name: 'StringEquals with a literal * (crossplane provider-aws-*)',
    policy: policy(
      allow({ StringEquals: { [`${ID}:sub`]: 'system:serviceaccount:crossplane-system:provider-aws-*' } }),
    ),
    req: { sub: 'system:serviceaccount:crossplane-system:provider-aws-12345' },
    decision: 'ImplicitDeny',
    fix: [/StringLike/],
  },
  {
    name: 'StringEquals with a literal * matches only a literal *',
    policy: policy(allow(exact('system:serviceaccount:great-namespace:*'))),
    req: { sub: 'system:serviceaccount:great-namespace:*' },
    decision: 'Allow',
  },
  {
    name: 'aud typo sts.amazon.com',
    policy: policy(allow(exact(SUB, 'sts.amazon.com'))),
    decision: 'ImplicitDeny',
    fix: [/audience is "sts.amazonaws.com"/, /eks.amazonaws.com\/audience/],
  },
  {
    name: 'aud array with ForAnyValue: one matches',
    policy: policy(
      allow({
        StringEquals: { [`${ID}:sub`]: SUB },
        'ForAnyValue:StringEquals': { [`${ID}:aud`]: [AUD, 'other'] },
      }),
    ),
    req: { aud: ['x', AUD] },
    decision: 'Allow',
  },
  {
    name: 'aud array with ForAnyValue: none matches',
    policy: policy(allow({ 'ForAnyValue:StringEquals': { [`${ID}:aud`]: [AUD] } })),
    req: { aud: ['x', 'y'] },
    decision: 'ImplicitDeny',
    text: [/some value of .*:aud/],
  },
  {
    name: 'aud list in policy (OR) with plain StringEquals',
    policy: policy(allow(exact(SUB, ['other', AUD]))),
    decision: 'Allow',
  },
  {
    name: 'ForAllValues on a key the token lacks is vacuously true',
    policy: policy(
      allow({
        StringEquals: { [`${ID}:sub`]: SUB },
        'ForAllValues:StringEquals': { [`${ID}:amr`]: ['mfa'] },
      }),
    ),
    decision: 'Allow',
    text: [/ForAllValues is true when the key is missing/],
  },
  {
    name: 'explicit Deny of a namespace wins over Allow',
    policy: policy(allow(), {
      Effect: 'Deny',
      Principal: '*',
      Action: 'sts:*',
      Condition: { StringLike: { [`${ID}:sub`]: 'system:serviceaccount:great-namespace:*' } },
    }),
    decision: 'ExplicitDeny',
    fix: [/explicit Deny always wins/, /\$\.Statement\[1\]/],
    text: [/DENIED \(ExplicitDeny\)/],
  },
  {
    name: 'explicit Deny that does not match',
    policy: policy(allow(), {
      Effect: 'Deny',
      Principal: '*',
      Action: 'sts:*',
      Condition: { StringLike: { [`${ID}:sub`]: 'system:serviceaccount:kube-system:*' } },
    }),
    decision: 'Allow',
  },
  {
    name: 'Deny unless aud is sts (StringNotEquals), correct aud',
    policy: policy(allow(), {
      Effect: 'Deny',
      Principal: { Federated: ARN },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringNotEquals: { [`${ID}:aud`]: AUD } },
    }),
    decision: 'Allow',
  },
  {
    name: 'Deny unless aud is sts (StringNotEquals), wrong aud',
    policy: policy(allow(), {
      Effect: 'Deny',
      Principal: { Federated: ARN },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringNotEquals: { [`${ID}:aud`]: AUD } },
    }),
    req: { aud: 'other' },
    decision: 'ExplicitDeny',
  },
  {
    name: 'Federated principal of another cluster (same host)',
    policy: policy(allow(exact())),
    req: { id: OTHER_ID },
    decision: 'ImplicitDeny',
    fix: [/another cluster or issuer path/, new RegExp(`set the Federated principal to .*${OTHER_ID}`)],
  },
  {
    name: 'Federated principal of another issuer host',
    policy: policy(allow(exact())),
    req: { id: 'issuer.example.com/cluster-a' },
    decision: 'ImplicitDeny',
    fix: [
      /trusts the issuer https:\/\/oidc\.eks/,
      /token was issued by https:\/\/issuer\.example\.com\/cluster-a/,
    ],
  },
  {
    name: 'provider in another account',
    policy: policy(allow(exact())),
    req: { provider: oidcProviderArn('aws', '444455556666', ID) },
    decision: 'ImplicitDeny',
    fix: [/per account/, /444455556666/],
  },
  {
    name: 'Federated principal differs by a trailing slash',
    policy: policy(allow(undefined, { Principal: { Federated: `${ARN}/` } })),
    decision: 'ImplicitDeny',
    fix: [/differ only by a trailing slash/],
  },
  {
    name: 'condition key differs by a trailing slash',
    policy: policy(allow({ StringEquals: { [`${ID}/:sub`]: SUB } })),
    decision: 'ImplicitDeny',
    fix: [/trailing slash/, new RegExp(`use "${ID.replace(/\./g, '\\.')}:sub"`)],
  },
  {
    name: 'condition key of another issuer',
    policy: policy(allow({ StringEquals: { [`${OTHER_ID}:sub`]: SUB } })),
    decision: 'ImplicitDeny',
    fix: [/names provider/, /rename the key/],
  },
  {
    name: 'condition key with https://',
    policy: policy(allow({ StringEquals: { [`https://${ID}:sub`]: SUB } })),
    decision: 'ImplicitDeny',
    fix: [/starts with https:\/\//, /without https:\/\//],
  },
  {
    name: 'custom claim as a condition key is missing',
    policy: policy(allow({ StringEquals: { [`${ID}:sub`]: SUB, [`${ID}:email`]: 'a@example.com' } })),
    decision: 'ImplicitDeny',
    fix: [/only aud, sub, amr and azp/],
  },
  {
    name: 'condition key names are case-insensitive',
    policy: policy(allow({ StringEquals: { [`${ID.toUpperCase()}:SUB`]: SUB, [`${ID}:Aud`]: AUD } })),
    decision: 'Allow',
  },
  {
    name: 'condition values are case-sensitive',
    policy: policy(allow(exact(SUB.toUpperCase()))),
    decision: 'ImplicitDeny',
    fix: [/case-sensitive/],
  },
  {
    name: 'OIDC provider put under AWS principal',
    policy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: 'sts:AssumeRoleWithWebIdentity',
        },
      ],
    },
    decision: 'ImplicitDeny',
    fix: [/Federated principal/],
  },
  {
    name: 'sts:AssumeRole instead of AssumeRoleWithWebIdentity',
    policy: policy(allow(exact(), { Action: 'sts:AssumeRole' })),
    decision: 'ImplicitDeny',
    fix: [/use "Action": "sts:AssumeRoleWithWebIdentity"/],
  },
  { name: 'Action sts:*', policy: policy(allow(exact(), { Action: 'sts:*' })), decision: 'Allow' },
  {
    name: 'Action sts:AssumeRoleWith*',
    policy: policy(allow(exact(), { Action: 'sts:AssumeRoleWith*' })),
    decision: 'Allow',
  },
  {
    name: 'Action is case-insensitive',
    policy: policy(allow(exact(), { Action: 'STS:assumerolewithwebidentity' })),
    decision: 'Allow',
  },
  {
    name: 'Action list',
    policy: policy(allow(exact(), { Action: ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession'] })),
    decision: 'Allow',
  },
  {
    name: 'NotAction that does not exclude web identity',
    policy: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Federated: ARN }, NotAction: 'sts:AssumeRole', Condition: exact() },
      ],
    },
    decision: 'Allow',
  },
  {
    name: 'NotAction that excludes web identity',
    policy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: ARN },
          NotAction: 'sts:AssumeRoleWith*',
          Condition: exact(),
        },
      ],
    },
    decision: 'ImplicitDeny',
    text: [/excluded by NotAction "sts:AssumeRoleWith\*"/],
  },
  {
    name: 'Principal "*" with conditions',
    policy: policy(allow(exact(), { Principal: '*' })),
    decision: 'Allow',
  },
  {
    name: 'Principal {"AWS": "*"} matches a federated caller',
    policy: policy(allow(exact(), { Principal: { AWS: '*' } })),
    decision: 'Allow',
  },
  {
    name: 'no condition at all: any ServiceAccount',
    policy: policy(allow()),
    req: { sub: 'system:serviceaccount:evil:sa' },
    decision: 'Allow',
  },
  {
    name: 'second statement allows the request',
    policy: policy(allow(exact('system:serviceaccount:a:a')), allow(exact())),
    decision: 'Allow',
    text: [/allowed by \$\.Statement\[1\]/, /✗ \$\.Statement\[0\] Allow/, /✓ \$\.Statement\[1\] Allow/],
  },
  {
    name: 'Statement as a single object, with Sid',
    policy: { Version: '2012-10-17', Statement: { ...allow(exact()), Sid: 'IRSA' } },
    decision: 'Allow',
    text: [/\$\.Statement \(Sid "IRSA"\)/],
  },
  {
    name: 'several Federated principals, one matches',
    policy: policy(
      allow(exact(), { Principal: { Federated: [oidcProviderArn('aws', ACCOUNT, OTHER_ID), ARN] } }),
    ),
    decision: 'Allow',
  },
  {
    name: 'sub with ? wildcard',
    policy: policy(
      allow({ StringLike: { [`${ID}:sub`]: 'system:serviceaccount:great-namespace:great-serviceaccoun?' } }),
    ),
    decision: 'Allow',
  },
  {
    name: 'sub list (OR)',
    policy: policy(allow(exact(['system:serviceaccount:x:y', SUB]))),
    decision: 'Allow',
  },
  {
    name: 'StringNotEquals on sub in an Allow excludes one ServiceAccount',
    policy: policy(allow({ StringNotEquals: { [`${ID}:sub`]: SUB } })),
    decision: 'ImplicitDeny',
    text: [/does not satisfy StringNotEquals/],
  },
  {
    name: 'token with session tags needs sts:TagSession',
    policy: policy(allow(exact())),
    req: { action: 'sts:TagSession' },
    decision: 'ImplicitDeny',
    fix: [/add "sts:TagSession"/],
  },
  {
    name: 'sts:TagSession allowed',
    policy: policy(allow(exact(), { Action: ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession'] })),
    req: { action: 'sts:TagSession' },
    decision: 'Allow',
  },
  {
    name: 'token with a source identity needs sts:SetSourceIdentity',
    policy: policy(allow(exact())),
    req: { action: 'sts:SetSourceIdentity' },
    decision: 'ImplicitDeny',
    fix: [/sts:SetSourceIdentity/],
  },
  {
    name: 'unresolvable policy variable',
    policy: policy(
      allow({ StringLike: { [`${ID}:sub`]: 'system:serviceaccount:${aws:PrincipalTag/ns}:*' } }),
    ),
    decision: 'ImplicitDeny',
    text: [/cannot be resolved/],
  },
  {
    name: 'policy variable resolved from the request',
    policy: policy(
      allow({
        StringEquals: { [`${ID}:sub`]: 'system:serviceaccount:great-namespace:${sts:RoleSessionName}' },
      }),
    ),
    req: { extra: { 'sts:RoleSessionName': 'great-serviceaccount' } },
    decision: 'Allow',
  },
  {
    name: 'IfExists on a claim the token lacks',
    policy: policy(allow({ ...exact(), StringEqualsIfExists: { [`${ID}:azp`]: 'client' } })),
    decision: 'Allow',
  },
  {
    name: 'Null: require amr absent',
    policy: policy(allow({ ...exact(), Null: { [`${ID}:amr`]: 'true' } })),
    decision: 'Allow',
  },
  {
    name: 'DateLessThan aws:CurrentTime, after the cut-off',
    policy: policy(allow({ ...exact(), DateLessThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } })),
    req: { extra: { 'aws:CurrentTime': '2026-11-28T22:00:00Z' } },
    decision: 'ImplicitDeny',
    fix: [/aws:CurrentTime/],
  },
  {
    name: 'IpAddress aws:SourceIp inside',
    policy: policy(allow({ ...exact(), IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } })),
    req: { extra: { 'aws:SourceIp': '10.20.30.40' } },
    decision: 'Allow',
  },
  {
    name: 'Service principal only',
    policy: policy(allow(undefined, { Principal: { Service: 'ec2.amazonaws.com' } })),
    decision: 'ImplicitDeny',
    fix: [/Federated principal/],
  },
  {
    name: 'no Allow statement',
    policy: policy({ Effect: 'Deny', Principal: '*', Action: 'sts:AssumeRole' }),
    decision: 'ImplicitDeny',
    fix: [/add an Allow statement/],
  },
  {
    name: 'GitHub Actions style sub',
    policy: policy({
      Effect: 'Allow',
      Principal: { Federated: oidcProviderArn('aws', ACCOUNT, 'token.actions.githubusercontent.com') },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:org/repo:*' } },
    }),
    req: { id: 'token.actions.githubusercontent.com', sub: 'repo:org/repo:ref:refs/heads/main' },
    decision: 'Allow',
  },
  {
    name: '2008-10-17 policy does not substitute variables',
    policy: {
      Version: '2008-10-17',
      Statement: [
        allow({
          StringEquals: { [`${ID}:sub`]: 'system:serviceaccount:great-namespace:${sts:RoleSessionName}' },
        }),
      ],
    },
    req: { extra: { 'sts:RoleSessionName': 'great-serviceaccount' } },
    decision: 'ImplicitDeny',
  },
];

describe('IRSA trust-policy matrix', () => {
  it('has at least 40 cases', () => assert.ok(cases.length >= 40, `${cases.length} cases`));
  for (const c of cases) {
    it(`${c.decision}: ${c.name}`, () => {
      const req = request(c.req);
      const result = evaluatePolicy(c.policy, req);
      assert.equal(result.decision, c.decision);
      const e = explain(result, req);
      assert.equal(e.allowed, c.decision === 'Allow');
      const text = formatExplanation(e);
      for (const re of c.text ?? []) assert.match(text, re);
      const fixes = e.fixes.map((f) => `${f.path} ${f.problem} ${f.fix}`).join('\n');
      for (const re of c.fix ?? []) assert.match(fixes, re);
      if (c.decision === 'Allow') assert.equal(e.fixes.length, 0);
      else {
        assert.ok(e.fixes.length > 0, 'a denial always comes with a fix');
        assert.match(text, /most likely fix/);
      }
      // Every statement and element has a reason naming something.
      for (const st of result.statements) for (const el of st.elements) assert.ok(el.reason.length > 10);
      // The JSON form round-trips.
      assert.deepEqual(JSON.parse(JSON.stringify(e)), e);
    });
  }
});
