/**
 * Differential test: `openirsa explain` and the STS server must reach the same decision. A matrix of tokens x
 * trust policies x session policies x durations (allowed and denied cases) goes through both the server's
 * AssumeRoleWithWebIdentity and explainWebIdentity; every case must agree on the outcome, and a denial on the
 * error code, status and message AWS would answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyStore } from '../../../src/oidc/keys.js';
import { buildConfig } from '../../../src/sts/config.js';
import { explainWebIdentity } from '../../../src/sts/explain.js';
import { StsError } from '../../../src/sts/protocol.js';
import { assumeRoleWithWebIdentity } from '../../../src/sts/web-identity.js';
import {
  ACCOUNT,
  ISSUER_ID,
  NOW,
  PROVIDER_ARN,
  ROLE_ARN,
  SUB,
  TRUST_POLICY,
  claims,
  configDoc,
  makeKey,
  signToken,
} from '../../helpers/sts-fixtures.js';

const key = await makeKey('k');
const stranger = await makeKey('k');
const WI = 'sts:AssumeRoleWithWebIdentity';
const SUBK = `${ISSUER_ID}:sub`;
const fed = { Federated: PROVIDER_ARN };
const MANAGED = `arn:aws:iam::${ACCOUNT}:policy/read`;

const tokens: Record<string, string> = {
  good: signToken(key, claims()),
  'other service account': signToken(key, claims({ sub: 'system:serviceaccount:great-namespace:other' })),
  'wrong audience': signToken(key, claims({ aud: 'sts.amazon.com' })),
  expired: signToken(key, claims({ exp: NOW - 3600, iat: NOW - 7200, nbf: NOW - 7200 })),
  'unknown issuer': signToken(key, claims({ iss: 'https://elsewhere.example.com' })),
  'signed by another key': signToken(stranger, claims()),
  'not a JWT': 'not-a-jwt-at-all',
  'no sub': signToken(key, claims({ sub: undefined })),
  'session tags': signToken(
    key,
    claims({ 'https://aws.amazon.com/tags': { principal_tags: { team: ['payments'] } } }),
  ),
  'source identity': signToken(key, claims({ 'https://aws.amazon.com/source_identity': 'alice' })),
  'bad session tags': signToken(key, claims({ 'https://aws.amazon.com/tags': [] })),
};

const trustPolicies: Record<string, Record<string, unknown>[]> = {
  'sub and aud exact': TRUST_POLICY.Statement,
  'namespace wildcard': [
    {
      Effect: 'Allow',
      Principal: fed,
      Action: WI,
      Condition: { StringLike: { [SUBK]: 'system:serviceaccount:great-namespace:*' } },
    },
  ],
  'with TagSession and SetSourceIdentity': [
    { Effect: 'Allow', Principal: fed, Action: [WI, 'sts:TagSession', 'sts:SetSourceIdentity'] },
  ],
  'explicit Deny on the subject': [
    { Effect: 'Allow', Principal: fed, Action: WI },
    { Effect: 'Deny', Principal: fed, Action: WI, Condition: { StringEquals: { [SUBK]: SUB } } },
  ],
  'another provider': [
    {
      Effect: 'Allow',
      Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/other.example.com` },
      Action: WI,
    },
  ],
};

const sessionPolicies: Record<string, { policy?: string; policyArns?: string[] }> = {
  none: {},
  'a valid Policy': {
    policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    }),
  },
  'a malformed Policy': { policy: '{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}' },
  'a declared PolicyArn': { policyArns: [MANAGED] },
  'an undeclared PolicyArn': { policyArns: [`arn:aws:iam::${ACCOUNT}:policy/missing`] },
};

const durations: Array<number | undefined> = [undefined, 900, 7200, 7201];

const roles = [ROLE_ARN, `arn:aws:iam::${ACCOUNT}:role/missing`, 'arn:aws:iam::999999999999:role/s3-writer'];

interface Outcome {
  allowed: boolean;
  code?: string;
  status?: number;
  message?: string;
  arn?: string;
}

test('explain and the server agree on every case of the trust matrix', async () => {
  let cases = 0;
  let allowed = 0;
  const codes = new Set<string>();
  for (const [policyName, statements] of Object.entries(trustPolicies)) {
    const doc = configDoc([key], {
      managedPolicies: [
        {
          PolicyName: 'read',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
          },
        },
      ],
    });
    (doc.roles as Array<Record<string, unknown>>)[0]!.AssumeRolePolicyDocument = {
      Version: '2012-10-17',
      Statement: statements,
    };
    const config = buildConfig(doc, 'differential.yaml');
    const keys = new KeyStore(config.providers);
    for (const [tokenName, token] of Object.entries(tokens))
      for (const [sessionName, session] of Object.entries(sessionPolicies))
        for (const durationSeconds of durations)
          for (const roleArn of roles) {
            const name = `${tokenName} / ${policyName} / ${sessionName} / ${durationSeconds ?? 'default'} s / ${roleArn}`;
            let server: Outcome;
            try {
              const r = await assumeRoleWithWebIdentity(
                {
                  roleArn,
                  roleSessionName: 'differential',
                  webIdentityToken: token,
                  durationSeconds,
                  policy: session.policy,
                  policyArns: session.policyArns ?? [],
                },
                { config, getKey: keys.getKey, now: () => NOW * 1000 },
                { secureTransport: true, sourceIp: '127.0.0.1' },
              );
              server = { allowed: true, arn: r.arn };
            } catch (err) {
              if (!(err instanceof StsError)) throw err;
              server = { allowed: false, code: err.code, status: err.status, message: err.message };
            }
            const report = await explainWebIdentity({
              config,
              roleArn,
              token,
              sessionName: 'differential',
              now: NOW * 1000,
              getKey: keys.getKey,
              verifySignature: true,
              keySource: () => 'inline JWKS',
              durationSeconds,
              sourceIp: '127.0.0.1',
              sessionPolicy: session.policy,
              policyArns: session.policyArns,
            });
            const explained: Outcome = report.allowed
              ? { allowed: true, arn: report.assumedRoleArn }
              : { allowed: false, ...report.aws };
            assert.deepEqual(explained, server, name);
            // A denial names the step that failed; an allowance has none.
            assert.equal(
              report.steps.some((s) => !s.ok),
              !server.allowed,
              `${name}: ${JSON.stringify(report.steps)}`,
            );
            cases++;
            if (server.allowed) allowed++;
            else codes.add(server.code!);
          }
  }
  assert.equal(cases, 5 * 11 * 5 * 4 * 3);
  // The matrix covers both outcomes and the distinct refusals.
  assert.ok(allowed >= 20, `only ${allowed} allowed cases`);
  for (const code of [
    'AccessDenied',
    'InvalidIdentityToken',
    'ExpiredTokenException',
    'ValidationError',
    'MalformedPolicyDocument',
    'InvalidParameterValue',
  ])
    assert.ok(codes.has(code), `no case answered ${code}: ${[...codes].join(', ')}`);
});
