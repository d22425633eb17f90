// Parsing and validation as IAM does it: string-or-array everywhere, trust vs identity rules, IAM's messages and
// the JSON path of the problem.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkPolicy,
  decodePolicyText,
  MalformedPolicyError,
  parsePolicy,
  PolicySizeError,
} from '../../../src/iam/index.js';

const FED = 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC';
const trust = (
  st: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { Federated: FED }, Action: 'sts:AssumeRoleWithWebIdentity', ...st },
  ],
  ...extra,
});

function problem(
  input: unknown,
  kind: 'trust' | 'identity' = 'trust',
): MalformedPolicyError | PolicySizeError {
  const { problems } = checkPolicy(input, kind);
  assert.ok(problems.length > 0, 'expected a problem');
  return problems[0]!;
}

describe('policy parsing', () => {
  it('normalises string-or-array and Statement object-or-array', () => {
    const p = parsePolicy(
      {
        Version: '2012-10-17',
        Statement: {
          Sid: 'a b',
          Effect: 'Allow',
          Principal: { Federated: [FED] },
          Action: 'sts:AssumeRoleWithWebIdentity',
        },
      },
      'trust',
    );
    assert.equal(p.statements.length, 1);
    const st = p.statements[0]!;
    assert.equal(st.path, '$.Statement');
    assert.deepEqual(st.action, ['sts:AssumeRoleWithWebIdentity']);
    assert.deepEqual(st.principal, { Federated: [FED] });
    assert.equal(st.sid, 'a b');
  });
  it('accepts JSON text, URL-encoded JSON text (get-role), numbers and booleans as condition values', () => {
    const doc = trust({
      Condition: { Bool: { 'aws:SecureTransport': true }, NumericLessThan: { 'x:n': 5 } },
    });
    const text = JSON.stringify(doc);
    assert.equal(parsePolicy(text, 'trust').statements.length, 1);
    const p = parsePolicy(encodeURIComponent(text), 'trust');
    assert.deepEqual(
      p.statements[0]!.conditions.map((c) => c.values),
      [['true'], ['5']],
    );
    assert.equal(decodePolicyText('%7B%22a%22%3A1%7D'), '{"a":1}');
  });
  it('Version is optional (2008 rules), and only two versions exist', () => {
    assert.equal(parsePolicy({ Statement: trust({}).Statement }, 'trust').version, undefined);
    const e = problem(trust({}, { Version: '2012-10-18' }));
    assert.equal(e.message, 'Syntax errors in policy.');
    assert.equal(e.path, '$.Version');
  });
  it('Principal "*" and all principal types', () => {
    const p = parsePolicy(
      {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' },
          {
            Effect: 'Allow',
            Principal: {
              AWS: [
                '111122223333',
                'arn:aws:iam::111122223333:root',
                'arn:aws:iam::111122223333:role/x/y',
                'arn:aws:sts::111122223333:assumed-role/y/s',
              ],
              Service: 'ec2.amazonaws.com',
              Federated: ['accounts.google.com', 'arn:aws:iam::111122223333:saml-provider/Okta'],
              CanonicalUser: 'a'.repeat(64),
            },
            Action: 'sts:AssumeRole',
          },
        ],
      },
      'trust',
    );
    assert.equal(p.statements[0]!.principal, '*');
  });
});

interface Bad {
  name: string;
  doc: unknown;
  kind?: 'trust' | 'identity';
  message: string | RegExp;
  path: string;
}

const bad: Bad[] = [
  { name: 'not JSON', doc: '{"Version":', message: 'Syntax errors in policy.', path: '$' },
  { name: 'not an object', doc: [], message: 'Syntax errors in policy.', path: '$' },
  {
    name: 'unknown top-level element',
    doc: trust({}, { Foo: 1 }),
    message: 'Syntax errors in policy.',
    path: '$.Foo',
  },
  { name: 'no Statement', doc: { Version: '2012-10-17' }, message: 'Syntax errors in policy.', path: '$' },
  {
    name: 'empty Statement',
    doc: { Version: '2012-10-17', Statement: [] },
    message: 'Syntax errors in policy.',
    path: '$.Statement',
  },
  {
    name: 'Resource in a trust policy',
    doc: trust({ Resource: '*' }),
    message: 'Has prohibited field Resource.',
    path: '$.Statement[0].Resource',
  },
  {
    name: 'NotResource in a trust policy',
    doc: trust({ NotResource: '*' }),
    message: 'Has prohibited field NotResource.',
    path: '$.Statement[0].NotResource',
  },
  {
    name: 'NotPrincipal in a trust policy',
    doc: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', NotPrincipal: { AWS: '111122223333' }, Action: 'sts:AssumeRole' }],
    },
    message: 'Has prohibited field NotPrincipal.',
    path: '$.Statement[0].NotPrincipal',
  },
  {
    name: 'no Principal in a trust policy',
    doc: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] },
    message: 'Missing required field Principal',
    path: '$.Statement[0]',
  },
  {
    name: 'Principal in an identity policy',
    doc: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*' }],
    },
    kind: 'identity',
    message: 'Policy document should not specify a principal.',
    path: '$.Statement[0].Principal',
  },
  {
    name: 'no Resource in an identity policy',
    doc: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*' }] },
    kind: 'identity',
    message: 'Policy statement must contain resources.',
    path: '$.Statement[0]',
  },
  {
    name: 'Resource not an ARN',
    doc: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: ['*', 'bucket'] }],
    },
    kind: 'identity',
    message: 'Resource bucket must be in ARN format or "*".',
    path: '$.Statement[0].Resource[1]',
  },
  {
    name: 'Sid not alphanumeric in an identity policy',
    doc: {
      Version: '2012-10-17',
      Statement: [{ Sid: 'a-b', Effect: 'Allow', Action: 's3:*', Resource: '*' }],
    },
    kind: 'identity',
    message: /Statement IDs \(SID\) must be alpha-numeric/,
    path: '$.Statement[0].Sid',
  },
  {
    name: 'no Action',
    doc: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*' }] },
    message: 'Policy statement must contain actions.',
    path: '$.Statement[0]',
  },
  {
    name: 'empty Action list',
    doc: trust({ Action: [] }),
    message: 'Policy statement must contain actions.',
    path: '$.Statement[0]',
  },
  {
    name: 'Action and NotAction',
    doc: trust({ NotAction: 'sts:AssumeRole' }),
    message: 'Syntax errors in policy.',
    path: '$.Statement[0]',
  },
  {
    name: 'Action without vendor',
    doc: trust({ Action: 'AssumeRoleWithWebIdentity' }),
    message: 'Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.',
    path: '$.Statement[0].Action',
  },
  {
    name: 'Action with two colons',
    doc: trust({ Action: ['sts:a:b'] }),
    message: 'Actions/Condition can contain only one colon.',
    path: '$.Statement[0].Action[0]',
  },
  {
    name: 'Action not a string',
    doc: trust({ Action: 5 }),
    message: 'Syntax errors in policy.',
    path: '$.Statement[0].Action',
  },
  {
    name: 'Effect lower-case',
    doc: trust({ Effect: 'allow' }),
    message: 'The policy failed legacy parsing',
    path: '$.Statement[0].Effect',
  },
  {
    name: 'Effect unknown',
    doc: trust({ Effect: 'Permit' }),
    message: 'Syntax errors in policy.',
    path: '$.Statement[0].Effect',
  },
  {
    name: 'duplicate Sid',
    doc: {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'a', Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' },
        { Sid: 'a', Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' },
      ],
    },
    message: 'Statement IDs (SID) in a single policy must be unique.',
    path: '$.Statement[1].Sid',
  },
  {
    name: 'unknown statement element',
    doc: trust({ Actions: 'x' }),
    message: 'Syntax errors in policy.',
    path: '$.Statement[0].Actions',
  },
  {
    name: 'unknown condition operator',
    doc: trust({ Condition: { StringEqual: { 'a:b': 'c' } } }),
    message: 'Invalid Condition type : StringEqual.',
    path: '$.Statement[0].Condition.StringEqual',
  },
  {
    name: 'condition key without vendor',
    doc: trust({ Condition: { StringEquals: { sub: 'c' } } }),
    message: 'Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.',
    path: '$.Statement[0].Condition.StringEquals.sub',
  },
  {
    name: 'condition value an object',
    doc: trust({ Condition: { StringEquals: { 'a:b': { c: 1 } } } }),
    message: 'Syntax errors in policy.',
    path: '$.Statement[0].Condition.StringEquals["a:b"]',
  },
  {
    name: 'Null with a non-boolean',
    doc: trust({ Condition: { Null: { 'a:b': 'yes' } } }),
    message: 'Syntax errors in policy.',
    path: '$.Statement[0].Condition.Null["a:b"]',
  },
  {
    name: 'bad Federated principal',
    doc: trust({ Principal: { Federated: 'not a domain' } }),
    message: 'Federated principals must be valid domain names or SAML metadata ARNs',
    path: '$.Statement[0].Principal.Federated',
  },
  {
    name: 'OIDC provider as an AWS principal',
    doc: trust({ Principal: { AWS: FED } }),
    message: `Invalid principal in policy: "AWS":"${FED}"`,
    path: '$.Statement[0].Principal.AWS',
  },
  {
    name: 'partial wildcard in an AWS principal',
    doc: trust({ Principal: { AWS: ['arn:aws:iam::111122223333:role/*'] } }),
    message: /Invalid principal in policy/,
    path: '$.Statement[0].Principal.AWS[0]',
  },
  {
    name: 'unknown principal type',
    doc: trust({ Principal: { Oidc: FED } }),
    message: /Invalid principal in policy: "Oidc"/,
    path: '$.Statement[0].Principal.Oidc',
  },
  {
    name: 'Principal a plain string',
    doc: trust({ Principal: FED }),
    message: 'Syntax errors in policy.',
    path: '$.Statement[0].Principal',
  },
];

describe('policy validation errors', () => {
  for (const b of bad) {
    it(b.name, () => {
      const e = problem(b.doc, b.kind);
      if (typeof b.message === 'string') assert.equal(e.message, b.message);
      else assert.match(e.message, b.message);
      assert.equal(e.path, b.path);
      assert.throws(
        () => parsePolicy(b.doc, b.kind ?? 'trust'),
        (err: unknown) => err instanceof Error && err.message === e.message,
      );
    });
  }
  it('errors carry the MalformedPolicyDocument code and a precise detail', () => {
    const e = problem(trust({ Foo: 1 })) as MalformedPolicyError;
    assert.equal(e.code, 'MalformedPolicyDocument');
    assert.match(
      e.describe(),
      /Syntax errors in policy\. \(at \$\.Statement\[0\]\.Foo: unknown statement element "Foo"\)/,
    );
  });
  it('collects every problem', () => {
    const { problems } = checkPolicy(trust({ Resource: '*', Effect: 'allow' }), 'trust');
    assert.deepEqual(problems.map((p) => p.message).sort(), [
      'Has prohibited field Resource.',
      'The policy failed legacy parsing',
    ]);
  });
});

describe('size quotas', () => {
  const big = trust({
    Condition: { StringEquals: { 'x:y': Array.from({ length: 150 }, (_, i) => `value-number-${i}`) } },
  });
  it('trust policies: 2048 characters by default, whitespace not counted', () => {
    const e = problem(big);
    assert.ok(e instanceof PolicySizeError);
    assert.equal(e.code, 'LimitExceeded');
    assert.equal(e.message, 'Cannot exceed quota for ACLSizePerRole: 2048');
    const small = trust({});
    assert.equal(checkPolicy(JSON.stringify(small, null, 8), 'trust').problems.length, 0);
    assert.equal(parsePolicy(JSON.stringify(small, null, 8), 'trust').size, JSON.stringify(small).length);
  });
  it('the quota can be raised or disabled', () => {
    assert.equal(checkPolicy(big, 'trust', { maxSize: 4096 }).problems.length, 0);
    assert.equal(checkPolicy(big, 'trust', { maxSize: 0 }).problems.length, 0);
  });
});
