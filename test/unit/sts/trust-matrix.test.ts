/**
 * Trust-policy matrix through the whole AssumeRoleWithWebIdentity path: a real signed token, a role whose trust
 * policy varies, the decision, and the explanation a denial carries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assumeRoleWithWebIdentity } from '../../../src/sts/web-identity.js';
import { KeyStore } from '../../../src/oidc/keys.js';
import { StsError } from '../../../src/sts/protocol.js';
import {
  ISSUER_ID,
  NOW,
  PROVIDER_ARN,
  ROLE_ARN,
  SUB,
  claims,
  configDoc,
  makeKey,
  signToken,
} from '../../helpers/sts-fixtures.js';
import { buildConfig } from '../../../src/sts/config.js';

const key = await makeKey('k');
const SUBK = `${ISSUER_ID}:sub`;
const AUDK = `${ISSUER_ID}:aud`;
const WI = 'sts:AssumeRoleWithWebIdentity';
const fed = { Federated: PROVIDER_ARN };
const allow = (cond?: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  Effect: 'Allow',
  Principal: fed,
  Action: WI,
  ...(cond ? { Condition: cond } : {}),
  ...extra,
});
const TAGS = {
  'https://aws.amazon.com/tags': { principal_tags: { team: ['payments'] }, transitive_tag_keys: ['team'] },
};
const SOURCE = { 'https://aws.amazon.com/source_identity': 'alice' };

interface Case {
  name: string;
  statements: Record<string, unknown>[];
  token?: Record<string, unknown>;
  session?: string;
  roleArn?: string;
  allowed: boolean;
  /** Substring (or regex) the denial explanation must contain. */
  why?: string | RegExp;
}

const cases: Case[] = [
  { name: 'sub exact', statements: [allow({ StringEquals: { [SUBK]: SUB } })], allowed: true },
  {
    name: 'sub of another service account',
    statements: [allow({ StringEquals: { [SUBK]: 'system:serviceaccount:great-namespace:other' } })],
    allowed: false,
    why: SUB,
  },
  {
    name: 'namespace wildcard with StringLike',
    statements: [allow({ StringLike: { [SUBK]: 'system:serviceaccount:great-namespace:*' } })],
    allowed: true,
  },
  {
    name: 'wildcard for another namespace',
    statements: [allow({ StringLike: { [SUBK]: 'system:serviceaccount:other-ns:*' } })],
    allowed: false,
    why: SUBK,
  },
  {
    name: 'StringEquals with a literal * (classic mistake)',
    statements: [allow({ StringEquals: { [SUBK]: 'system:serviceaccount:great-namespace:*' } })],
    allowed: false,
    why: 'StringEquals',
  },
  {
    name: '? wildcard in StringLike',
    statements: [
      allow({ StringLike: { [SUBK]: 'system:serviceaccount:great-namespace:great-serviceaccoun?' } }),
    ],
    allowed: true,
  },
  {
    name: 'sub and aud both exact',
    statements: [allow({ StringEquals: { [SUBK]: SUB, [AUDK]: 'sts.amazonaws.com' } })],
    allowed: true,
  },
  {
    name: 'aud condition with the wrong audience',
    statements: [allow({ StringEquals: { [AUDK]: 'sts.amazon.com' } })],
    allowed: false,
    why: AUDK,
  },
  {
    name: 'aud array token with ForAnyValue:StringEquals',
    statements: [allow({ 'ForAnyValue:StringEquals': { [AUDK]: ['sts.amazonaws.com', 'x'] } })],
    token: { aud: ['other', 'sts.amazonaws.com'] },
    allowed: true,
  },
  {
    name: 'several policy values are OR-ed',
    statements: [allow({ StringEquals: { [SUBK]: ['a', SUB] } })],
    allowed: true,
  },
  {
    name: 'explicit Deny on the subject wins over Allow',
    statements: [
      allow(),
      { Effect: 'Deny', Principal: fed, Action: WI, Condition: { StringEquals: { [SUBK]: SUB } } },
    ],
    allowed: false,
    why: /explicit Deny/i,
  },
  {
    name: 'Deny whose condition does not match does not block',
    statements: [
      allow(),
      { Effect: 'Deny', Principal: fed, Action: WI, Condition: { StringEquals: { [SUBK]: 'someone-else' } } },
    ],
    allowed: true,
  },
  {
    name: 'Deny with a wildcard StringLike on sub',
    statements: [
      allow(),
      {
        Effect: 'Deny',
        Principal: fed,
        Action: WI,
        Condition: { StringLike: { [SUBK]: '*:great-namespace:*' } },
      },
    ],
    allowed: false,
  },
  {
    name: 'Federated principal of another cluster',
    statements: [
      {
        ...allow(),
        Principal: { Federated: 'arn:aws:iam::111122223333:oidc-provider/oidc.other.example/id/X' },
      },
    ],
    allowed: false,
    why: 'Principal',
  },
  {
    name: 'Federated principal in a list',
    statements: [
      {
        ...allow(),
        Principal: { Federated: ['arn:aws:iam::111122223333:oidc-provider/x.example', PROVIDER_ARN] },
      },
    ],
    allowed: true,
  },
  { name: 'Principal "*"', statements: [{ ...allow(), Principal: '*' }], allowed: true },
  {
    name: 'AWS account principal does not cover a federated caller',
    statements: [{ ...allow(), Principal: { AWS: 'arn:aws:iam::111122223333:root' } }],
    allowed: false,
    why: 'Principal',
  },
  {
    name: 'Action sts:AssumeRole only',
    statements: [{ ...allow(), Action: 'sts:AssumeRole' }],
    allowed: false,
    why: 'Action',
  },
  { name: 'Action sts:*', statements: [{ ...allow(), Action: 'sts:*' }], allowed: true },
  {
    name: 'Action sts:AssumeRoleWith*',
    statements: [{ ...allow(), Action: 'sts:AssumeRoleWith*' }],
    allowed: true,
  },
  {
    name: 'Action in other case',
    statements: [{ ...allow(), Action: 'STS:assumerolewithwebidentity' }],
    allowed: true,
  },
  {
    name: 'NotAction that does not list the action',
    statements: [{ Effect: 'Allow', Principal: fed, NotAction: 'sts:AssumeRole' }],
    allowed: true,
  },
  {
    name: 'NotAction that lists it',
    statements: [{ Effect: 'Allow', Principal: fed, NotAction: WI }],
    allowed: false,
    why: 'NotAction',
  },
  {
    name: 'condition on a custom claim (not a key AWS exposes)',
    statements: [allow({ StringEquals: { [`${ISSUER_ID}:email`]: 'a@b.c' } })],
    token: { email: 'a@b.c' },
    allowed: false,
    why: `${ISSUER_ID}:email`,
  },
  {
    name: 'StringEqualsIfExists on a missing key',
    statements: [allow({ StringEqualsIfExists: { [`${ISSUER_ID}:azp`]: 'x' } })],
    allowed: true,
  },
  {
    name: 'StringEqualsIfExists on a present key that differs',
    statements: [allow({ StringEqualsIfExists: { [`${ISSUER_ID}:azp`]: 'x' } })],
    token: { azp: 'y' },
    allowed: false,
  },
  {
    name: 'Null true on an absent amr',
    statements: [allow({ Null: { [`${ISSUER_ID}:amr`]: 'true' } })],
    allowed: true,
  },
  {
    name: 'Null false on an absent amr',
    statements: [allow({ Null: { [`${ISSUER_ID}:amr`]: 'false' } })],
    allowed: false,
  },
  {
    name: 'multi-valued amr with ForAnyValue:StringLike',
    statements: [allow({ 'ForAnyValue:StringLike': { [`${ISSUER_ID}:amr`]: 'auth*' } })],
    token: { amr: ['authenticated', 'pwd'] },
    allowed: true,
  },
  {
    name: 'StringNotEquals a different sub',
    statements: [allow({ StringNotEquals: { [SUBK]: 'system:serviceaccount:kube-system:x' } })],
    allowed: true,
  },
  {
    name: 'StringNotEquals the same sub',
    statements: [allow({ StringNotEquals: { [SUBK]: SUB } })],
    allowed: false,
  },
  {
    name: 'StringNotLike on a missing key is true',
    statements: [allow({ StringNotLike: { [`${ISSUER_ID}:azp`]: '*' } })],
    allowed: true,
  },
  {
    name: 'StringEqualsIgnoreCase',
    statements: [allow({ StringEqualsIgnoreCase: { [SUBK]: SUB.toUpperCase() } })],
    allowed: true,
  },
  {
    name: 'StringEquals is case-sensitive',
    statements: [allow({ StringEquals: { [SUBK]: SUB.toUpperCase() } })],
    allowed: false,
  },
  {
    name: 'condition key names are case-insensitive',
    statements: [allow({ StringEquals: { [SUBK.toUpperCase()]: SUB } })],
    allowed: true,
  },
  {
    name: 'policy variable from sts:RoleSessionName',
    statements: [
      allow({ StringLike: { [SUBK]: 'system:serviceaccount:great-namespace:${sts:RoleSessionName}' } }),
    ],
    session: 'great-serviceaccount',
    allowed: true,
  },
  {
    name: 'policy variable that does not resolve to the sub',
    statements: [
      allow({ StringLike: { [SUBK]: 'system:serviceaccount:great-namespace:${sts:RoleSessionName}' } }),
    ],
    session: 'someone',
    allowed: false,
  },
  {
    name: 'DateLessThan aws:CurrentTime',
    statements: [allow({ DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } })],
    allowed: true,
  },
  {
    name: 'DateGreaterThan aws:CurrentTime',
    statements: [allow({ DateGreaterThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } })],
    allowed: false,
  },
  {
    name: 'IpAddress matching the caller',
    statements: [allow({ IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } })],
    allowed: true,
  },
  {
    name: 'IpAddress not matching the caller',
    statements: [allow({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } })],
    allowed: false,
  },
  {
    name: 'Bool aws:SecureTransport',
    statements: [allow({ Bool: { 'aws:SecureTransport': 'true' } })],
    allowed: true,
  },
  {
    name: 'NumericLessThan aws:EpochTime',
    statements: [allow({ NumericLessThan: { 'aws:EpochTime': String(NOW + 10) } })],
    allowed: true,
  },
  {
    name: 'NumericGreaterThan aws:EpochTime',
    statements: [allow({ NumericGreaterThan: { 'aws:EpochTime': String(NOW + 10) } })],
    allowed: false,
  },
  {
    name: 'session tags without sts:TagSession',
    statements: [allow()],
    token: TAGS,
    allowed: false,
    why: 'sts:TagSession',
  },
  {
    name: 'session tags with sts:TagSession',
    statements: [{ ...allow(), Action: [WI, 'sts:TagSession'] }],
    token: TAGS,
    allowed: true,
  },
  {
    name: 'tag value condition on aws:RequestTag',
    statements: [
      { ...allow({ StringEquals: { 'aws:RequestTag/team': 'payments' } }), Action: [WI, 'sts:TagSession'] },
    ],
    token: TAGS,
    allowed: true,
  },
  {
    name: 'ForAllValues on aws:TagKeys',
    statements: [
      {
        ...allow({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'env'] } }),
        Action: [WI, 'sts:TagSession'],
      },
    ],
    token: TAGS,
    allowed: true,
  },
  {
    name: 'source identity without sts:SetSourceIdentity',
    statements: [allow()],
    token: SOURCE,
    allowed: false,
    why: 'sts:SetSourceIdentity',
  },
  {
    name: 'source identity with sts:SetSourceIdentity and a condition',
    statements: [
      {
        ...allow({ StringEquals: { 'sts:SourceIdentity': 'alice' } }),
        Action: [WI, 'sts:SetSourceIdentity'],
      },
    ],
    token: SOURCE,
    allowed: true,
  },
  {
    name: 'second statement applies',
    statements: [allow({ StringEquals: { [SUBK]: 'x' } }), allow({ StringEquals: { [SUBK]: SUB } })],
    allowed: true,
  },
  {
    name: 'only aud checked (allowed, though unsafe)',
    statements: [allow({ StringEquals: { [AUDK]: 'sts.amazonaws.com' } })],
    allowed: true,
  },
  {
    name: 'role that does not exist',
    statements: [allow()],
    roleArn: 'arn:aws:iam::111122223333:role/nope',
    allowed: false,
    why: 'does not exist',
  },
  {
    name: 'role in another account',
    statements: [allow()],
    roleArn: 'arn:aws:iam::999999999999:role/s3-writer',
    allowed: false,
    why: 'account',
  },
];

test('GitHub Actions extra claims are condition keys; workflow_ref is not', async () => {
  const { webIdentityKeys } = await import('../../../src/sts/web-identity.js');
  const gh = 'https://token.actions.githubusercontent.com';
  const keys = webIdentityKeys(
    {
      provider: { url: gh, arn: 'x', clientIds: [], keyPrefix: 'token.actions.githubusercontent.com' },
      audience: 'sts.amazonaws.com',
      subject: 'repo:acme/api:ref:refs/heads/main',
      claims: {
        repository: 'acme/api',
        job_workflow_ref: 'acme/api/.github/workflows/d.yml@refs/heads/main',
        workflow_ref: 'w',
        email: 'e',
      },
      alg: 'RS256',
      exp: 0,
      signatureVerified: true,
    },
    's',
    {},
  );
  assert.equal(keys['token.actions.githubusercontent.com:repository'], 'acme/api');
  assert.match(String(keys['token.actions.githubusercontent.com:job_workflow_ref']), /d.yml/);
  assert.equal(keys['token.actions.githubusercontent.com:workflow_ref'], undefined);
  assert.equal(keys['token.actions.githubusercontent.com:email'], undefined);
});

test('the matrix has at least 40 cases', () => assert.ok(cases.length >= 40, String(cases.length)));

for (const c of cases) {
  test(`trust: ${c.name} → ${c.allowed ? 'allowed' : 'denied'}`, async () => {
    const doc = configDoc([key]);
    (doc.roles as Array<Record<string, unknown>>)[0]!.AssumeRolePolicyDocument = {
      Version: '2012-10-17',
      Statement: c.statements,
    };
    const config = buildConfig(doc, 'matrix.yaml');
    const keys = new KeyStore(config.providers);
    const trace: Array<{ step: string; ok: boolean; detail: string }> = [];
    let err: StsError | undefined;
    try {
      const r = await assumeRoleWithWebIdentity(
        {
          roleArn: c.roleArn ?? ROLE_ARN,
          roleSessionName: c.session ?? 'matrix',
          webIdentityToken: signToken(key, claims(c.token ?? {})),
          policyArns: [],
        },
        { config, getKey: keys.getKey, now: () => NOW * 1000 },
        { secureTransport: true, sourceIp: '127.0.0.1' },
        trace,
      );
      assert.ok(c.allowed, `expected a denial, got ${r.arn}`);
      assert.ok(trace.every((t) => t.ok));
    } catch (e) {
      if (!(e instanceof StsError)) throw e;
      err = e;
    }
    if (!c.allowed) {
      assert.ok(err, 'expected AccessDenied / InvalidIdentityToken');
      if (!c.roleArn?.includes('999999999999')) {
        assert.equal(err.code, 'AccessDenied');
        assert.equal(err.message, 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
      }
      if (c.why) {
        const text = `${err.explanation}\n${trace.map((t) => `${t.detail}\n${('lines' in t ? ((t as { lines?: string[] }).lines ?? []) : []).join('\n')}`).join('\n')}`;
        if (typeof c.why === 'string')
          assert.ok(text.includes(c.why), `explanation lacks ${c.why}:\n${text}`);
        else assert.match(text, c.why);
      }
    } else assert.equal(err, undefined, err?.explanation);
  });
}
