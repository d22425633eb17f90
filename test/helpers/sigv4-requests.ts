// SigV4-signed STS requests as the verifier receives them, made with the AWS SDK's own signer.
import type { SignatureV4 } from '@smithy/signature-v4';
import { issueCredentials, type IssueInput, type IssuedCredentials } from '../../src/sts/credentials.js';
import type { SignedRequest } from '../../src/sts/sigv4.js';

/** Temporary credentials of role `r` in account 111122223333, sealed with `key`, issued at `now` for an hour. */
export function sessionCredentials(
  key: Buffer,
  now: number,
  over: Partial<IssueInput> = {},
  random?: (n: number) => Buffer,
): IssuedCredentials {
  return issueCredentials(
    {
      partition: 'aws',
      account: '111122223333',
      roleName: 'r',
      roleId: 'AROAAAAAAAAAAAAAAAAAA',
      sessionName: 's',
      durationSeconds: 3600,
      now,
      ...over,
    },
    key,
    random,
  );
}

export const GET_CALLER_IDENTITY = 'Action=GetCallerIdentity&Version=2011-06-15';

/** A presigned GET of GetCallerIdentity (aws-iam-authenticator's form: its cluster id header signed). */
export async function presignedGet(
  signer: SignatureV4,
  at: number,
  opts: { expiresIn?: number; headers?: Record<string, string>; unsignableHeaders?: Set<string> } = {},
): Promise<SignedRequest> {
  const pre = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: 'sts.local',
      path: '/',
      headers: opts.headers ?? { host: 'sts.local', 'x-k8s-aws-id': 'c1' },
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    },
    {
      signingDate: new Date(at),
      expiresIn: opts.expiresIn ?? 60,
      ...(opts.unsignableHeaders ? { unsignableHeaders: opts.unsignableHeaders } : {}),
    },
  );
  const query = Object.entries(pre.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return { method: 'GET', path: '/', query, headers: pre.headers, body: '' };
}

/** A form POST signed in the Authorization header, header names lower-cased as node gives them. */
export async function signedPost(
  signer: SignatureV4,
  at: number,
  body = GET_CALLER_IDENTITY,
  opts: { contentType?: string; unsignableHeaders?: Set<string> } = {},
): Promise<SignedRequest> {
  const req = await signer.sign(
    {
      method: 'POST',
      protocol: 'https:',
      hostname: 'sts.local',
      path: '/',
      headers: {
        host: 'sts.local',
        'content-type': opts.contentType ?? 'application/x-www-form-urlencoded; charset=utf-8',
      },
      query: {},
      body,
    },
    {
      signingDate: new Date(at),
      ...(opts.unsignableHeaders ? { unsignableHeaders: opts.unsignableHeaders } : {}),
    },
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
  return { method: 'POST', path: '/', query: '', headers, body };
}
