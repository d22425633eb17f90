/** Test fixtures for the STS: fixed keys, token signing (honest and forged), config objects. */
import { createHmac, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { exportJWK, type JWK } from 'jose';
import assert from 'node:assert/strict';
import { buildConfig, type StsConfig } from '../../src/sts/config.js';
import { StsError } from '../../src/sts/protocol.js';
import { TokenError } from '../../src/oidc/errors.js';
import { stsErrorOf } from '../../src/sts/token-errors.js';
import { rsa2048KeyPair } from './fixture-keys.js';

export const ISSUER = 'https://issuer.example.com/id/TEST1';
export const ISSUER_ID = 'issuer.example.com/id/TEST1';
export const ACCOUNT = '111122223333';
export const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER_ID}`;
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/s3-writer`;
export const SUB = 'system:serviceaccount:great-namespace:great-serviceaccount';
/** A fixed clock: 2026-01-01T00:00:00Z. */
export const NOW = Date.UTC(2026, 0, 1) / 1000;
export const SESSION_KEY = Buffer.alloc(32, 7).toString('base64');

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JWK;
}

export async function makeKey(
  kid: string,
  alg: 'RS256' | 'ES256' | 'ES384' | 'RS512' = 'RS256',
): Promise<TestKey> {
  const pair = alg.startsWith('RS')
    ? rsa2048KeyPair()
    : generateKeyPairSync('ec', { namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, use: 'sig', alg };
  return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk };
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Sign arbitrary header/payload with a key (no validation: forged tokens welcome). */
export function signToken(
  key: TestKey,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const h = { alg: key.alg, kid: key.kid, ...header };
  const input = `${b64(h)}.${b64(payload)}`;
  const alg = String(h.alg);
  let sig: Buffer;
  if (alg.startsWith('RS'))
    sig = createSign(`sha${alg.slice(2)}`)
      .update(input)
      .sign(key.privateKey);
  else if (alg.startsWith('ES'))
    sig = createSign(`sha${alg.slice(2)}`)
      .update(input)
      .sign({ key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  else if (alg.startsWith('HS'))
    sig = createHmac(`sha${alg.slice(2)}`, key.publicKey.export({ type: 'spki', format: 'pem' }))
      .update(input)
      .digest();
  else sig = Buffer.alloc(0);
  return `${input}.${sig.toString('base64url')}`;
}

export function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    aud: ['sts.amazonaws.com'],
    exp: NOW + 3600,
    iat: NOW - 10,
    iss: ISSUER,
    nbf: NOW - 10,
    sub: SUB,
    ...over,
  };
}

export const TRUST_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Federated: PROVIDER_ARN },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: {
        StringEquals: { [`${ISSUER_ID}:sub`]: SUB, [`${ISSUER_ID}:aud`]: 'sts.amazonaws.com' },
      },
    },
  ],
};

export function configDoc(keys: TestKey[], over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    accountId: ACCOUNT,
    partition: 'aws',
    region: 'us-east-1',
    sessionKey: SESSION_KEY,
    oidcProviders: [
      {
        Url: ISSUER,
        ClientIDList: ['sts.amazonaws.com'],
        ThumbprintList: [],
        jwks: { keys: keys.map((k) => k.jwk) },
      },
    ],
    roles: [
      {
        RoleName: 's3-writer',
        Path: '/',
        AssumeRolePolicyDocument: TRUST_POLICY,
        MaxSessionDuration: 7200,
        RolePolicyList: [
          {
            PolicyName: 'write',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::great-bucket/*' },
              ],
            },
          },
        ],
      },
    ],
    ...over,
  };
}

export function testConfig(keys: TestKey[], over: Record<string, unknown> = {}): StsConfig {
  return buildConfig(configDoc(keys, over), 'test-config.yaml');
}

/** What a test needs from a response: status and, for errors, AWS's code and (unescaped) message. */
export interface Reply {
  status: number;
  body: string;
  code?: string;
  message?: string;
}

/** What the STS answers for an error: an StsError as it is, an oidc TokenError through the STS's mapping. */
export function asStsError(err: unknown): StsError | undefined {
  if (err instanceof TokenError) return stsErrorOf(err);
  return err instanceof StsError ? err : undefined;
}

/**
 * `ok`, or the StsError it rejects with as `CODE: message` (any other error fails the test); `withExplanation`
 * adds the explanation (the denial log's reason) as ` [why]`.
 */
export async function stsOutcome(p: Promise<unknown>, withExplanation = false): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    const e = asStsError(err);
    assert.ok(e, String(err));
    const why = withExplanation && e.explanation ? ` [${e.explanation}]` : '';
    return `${e.code}: ${e.message}${why}`;
  }
}

export function parseReply(out: { status: number; body: string }): Reply {
  const code = /<Code>([^<]*)<\/Code>/.exec(out.body)?.[1];
  const raw = /<Message>([^<]*)<\/Message>/.exec(out.body)?.[1];
  const message = raw?.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return { status: out.status, body: out.body, code, message };
}

export function webIdentityForm(token: string, over: Record<string, string> = {}): string {
  return new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: ROLE_ARN,
    RoleSessionName: 'test-session',
    WebIdentityToken: token,
    ...over,
  }).toString();
}
