/* eslint-disable no-control-regex -- these tests look for control characters */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  STSClient,
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  AssumeRoleWithWebIdentityCommand,
  type Credentials,
} from '@aws-sdk/client-sts';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { startServer, type RunningServer } from '../../../src/sts/server.js';
import { NodeSha256 } from '../../../src/sts/sigv4.js';
import { openSession } from '../../../src/sts/credentials.js';
import { plainHttpWarning } from '../../../src/sts/server.js';
import {
  ACCOUNT,
  PROVIDER_ARN,
  ROLE_ARN,
  claims,
  configDoc,
  makeKey,
  parseReply,
  signToken,
  webIdentityForm,
} from '../../helpers/sts-fixtures.js';
import { buildConfig } from '../../../src/sts/config.js';

const key = await makeKey('srv');
let srv: RunningServer;
const now = () => Math.floor(Date.now() / 1000);
const token = () => signToken(key, claims({ exp: now() + 600, iat: now(), nbf: now() }));

before(async () => {
  const doc = configDoc([key]);
  (doc.roles as unknown[]).push(
    {
      RoleName: 'chained',
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: ROLE_ARN }, Action: ['sts:AssumeRole', 'sts:TagSession'] },
        ],
      },
    },
    {
      RoleName: 'account-trust',
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' },
        ],
      },
    },
  );
  srv = await startServer({ config: buildConfig(doc, 'server-test.yaml'), bodyLimit: 32 * 1024 });
});
after(() => srv.close(100));

async function http(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(srv.url + path, {
    method,
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
  const text = await res.text();
  return { ...parseReply({ status: res.status, body: text }), headers: res.headers };
}

type SdkCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

/** An SDK client of the test server; dummy keys (AssumeRoleWithWebIdentity needs none) unless others are given. */
function stsClient(credentials: SdkCredentials = { accessKeyId: 'x', secretAccessKey: 'y' }) {
  return new STSClient({ endpoint: srv.url, region: 'us-east-1', credentials });
}

/** STS credentials as the SDK takes them. */
function sdkCredentials(c: Credentials): SdkCredentials {
  return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
}

/** Credentials of a web identity session of ROLE_ARN named `sdk`. */
async function webIdentityCreds(): Promise<SdkCredentials> {
  const r = await stsClient().send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: ROLE_ARN,
      RoleSessionName: 'sdk',
      WebIdentityToken: token(),
    }),
  );
  return sdkCredentials(r.Credentials!);
}

/** The query string of a GetCallerIdentity request presigned for 60 s with `creds`, signing `headers` too. */
async function presignedCallerIdentity(
  creds: SdkCredentials,
  { method = 'GET', headers = {} }: { method?: string; headers?: Record<string, string> } = {},
) {
  const u = new URL(srv.url);
  const signer = new SignatureV4({
    service: 'sts',
    region: 'us-east-1',
    credentials: creds,
    sha256: NodeSha256,
  });
  const pre = await signer.presign(
    {
      method,
      protocol: 'http:',
      hostname: u.hostname,
      port: Number(u.port),
      path: '/',
      headers: { host: u.host, ...headers },
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    },
    { expiresIn: 60 },
  );
  return new URLSearchParams(pre.query as Record<string, string>).toString().replace(/\+/g, '%20');
}

test('POST and GET forms; request id header equals the body RequestId; content type text/xml', async () => {
  const post = await http('POST', '/', webIdentityForm(token()));
  assert.equal(post.status, 200);
  assert.equal(post.headers.get('content-type'), 'text/xml');
  assert.equal(post.headers.get('x-amzn-requestid'), /<RequestId>([^<]+)</.exec(post.body)![1]);
  const get = await http('GET', `/?${webIdentityForm(token())}`);
  assert.equal(get.status, 200);
  assert.match(get.body, new RegExp(`<Provider>${PROVIDER_ARN}</Provider>`));
});

test('malformed requests of every kind get AWS error XML, never a 500', async () => {
  assert.equal((await http('GET', '/healthz')).body, 'ok\n');
  const cases: Array<[string, string, string | undefined, number, string, RegExp | string]> = [
    ['PUT', '/', 'Action=GetCallerIdentity', 405, 'MethodNotAllowed', /PUT/],
    ['POST', '/', '', 400, 'MissingAction', 'Missing Action'],
    ['POST', '/', 'Version=2011-06-15', 400, 'MissingAction', 'Missing Action'],
    [
      'POST',
      '/',
      'Action=AssumeRoleWithWebIdentity&Version=2010-01-01',
      400,
      'InvalidAction',
      'Could not find operation AssumeRoleWithWebIdentity for version 2010-01-01',
    ],
    [
      'POST',
      '/',
      'Action=AssumeRoleWithWebIdentity',
      400,
      'InvalidAction',
      'Could not find operation AssumeRoleWithWebIdentity for version NO_VERSION_SPECIFIED',
    ],
    [
      'POST',
      '/',
      'Action=Frobnicate&Version=2011-06-15',
      400,
      'InvalidAction',
      'Could not find operation Frobnicate for version 2011-06-15',
    ],
    ['POST', '/', '\u0000\u0001binary%zz&&==', 400, 'MissingAction', 'Missing Action'],
    [
      'POST',
      '/',
      'Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=%E0%A4%A',
      400,
      'ValidationError',
      /Value null at 'roleSessionName'/,
    ],
    [
      'POST',
      '/',
      'Action=GetCallerIdentity&Version=2011-06-15',
      403,
      'MissingAuthenticationToken',
      'Request is missing Authentication Token',
    ],
    ['POST', '/', 'x='.padEnd(40 * 1024, 'a'), 413, 'RequestEntityTooLarge', /exceeds the limit/],
    [
      'POST',
      '/some/path',
      'Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::111122223333:role/s3-writer&RoleSessionName=ab&WebIdentityToken=abcd',
      400,
      'InvalidIdentityToken',
      /not a valid JWT/,
    ],
  ];
  for (const [method, path, body, status, code, message] of cases) {
    const r = await http(method, path, body);
    assert.equal(r.status, status, `${method} ${body?.slice(0, 40)}: ${r.body}`);
    assert.equal(r.code, code);
    if (typeof message === 'string') assert.equal(r.message, message);
    else assert.match(r.message!, message);
    assert.match(r.body, /^<ErrorResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/">/);
    assert.ok(!/at .*\.(ts|js):\d+/.test(r.body), 'no stack trace');
  }
  const j = await http('POST', '/', 'Action=Nope&Version=2011-06-15', { accept: 'application/json' });
  assert.equal(JSON.parse(j.body).Error.Code, 'InvalidAction');
});

test('a NUL or escape code in a parameter comes back escaped in well-formed error XML (issue 10 item 8)', async () => {
  const r = await http('POST', '/', webIdentityForm(token(), { RoleSessionName: 'a\u0000b\u001b[2J' }));
  assert.equal(r.status, 400);
  assert.equal(r.code, 'ValidationError');
  assert.match(r.body, /^[\u0009\u000a\u0020-\ud7ff\ue000-\ufffd]*$/u, 'only XML 1.0 characters');
  assert.match(r.message!, /Value 'a\\u0000b\\u001B\[2J' at 'roleSessionName'/);
  const client = stsClient();
  await assert.rejects(
    client.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: ROLE_ARN,
        RoleSessionName: 'a\u0000b',
        WebIdentityToken: token(),
      }),
    ),
    (e: Error & { name: string }) => e.name === 'ValidationError' && e.message.includes('a\\u0000b'),
  );
});

test('stale credentials attached to AssumeRoleWithWebIdentity are rejected as AWS does', async () => {
  const r = await http('POST', '/', webIdentityForm(token()), { 'x-amz-security-token': 'stale' });
  assert.equal(r.status, 403);
  assert.equal(r.code, 'InvalidClientTokenId');
  assert.equal(r.message, 'The security token included in the request is invalid.');
  const signed = stsClient({ accessKeyId: 'AKIASTALE', secretAccessKey: 'x', sessionToken: 'bm90LW91cnM=' });
  await assert.rejects(
    signed.send(new GetCallerIdentityCommand({})),
    (e: Error & { name: string }) => e.name === 'InvalidClientTokenId',
  );
});

test('GetCallerIdentity via the SDK, and the presigned GET + Accept: application/json form', async () => {
  const creds = await webIdentityCreds();
  const client = stsClient(creds);
  const id = await client.send(new GetCallerIdentityCommand({}));
  assert.equal(id.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/s3-writer/sdk`);
  assert.equal(id.Account, ACCOUNT);
  const qs = await presignedCallerIdentity(creds, { headers: { 'x-k8s-aws-id': 'my-cluster' } });
  const res = await fetch(`${srv.url}/?${qs}`, {
    headers: { accept: 'application/json', 'x-k8s-aws-id': 'my-cluster' },
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as {
    GetCallerIdentityResponse: { GetCallerIdentityResult: { Arn: string } };
  };
  assert.equal(
    body.GetCallerIdentityResponse.GetCallerIdentityResult.Arn,
    `arn:aws:sts::${ACCOUNT}:assumed-role/s3-writer/sdk`,
  );
});

test('a presigned GetCallerIdentity URL cannot be turned into AssumeRole by a body (issue 10 item 1)', async () => {
  const creds = await webIdentityCreds();
  const qs = await presignedCallerIdentity(creds, { method: 'POST' });
  const ok = await http('POST', `/?${qs}`);
  assert.equal(ok.status, 200, ok.body);
  assert.match(ok.body, /<GetCallerIdentityResult>/);
  const smuggled = `Action=AssumeRole&Version=2011-06-15&RoleArn=${encodeURIComponent(`arn:aws:iam::${ACCOUNT}:role/chained`)}&RoleSessionName=stolen`;
  const r = await http('POST', `/?${qs}`, smuggled);
  assert.equal(r.status, 403);
  assert.equal(r.code, 'SignatureDoesNotMatch');
  assert.doesNotMatch(r.body, /SecretAccessKey/);
});

test('role chaining: AssumeRole with web-identity credentials when the trust policy names the role', async () => {
  const creds = await webIdentityCreds();
  const client = stsClient(creds);
  const r = await client.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/chained`,
      RoleSessionName: 'hop',
      Tags: [{ Key: 'team', Value: 'a' }],
    }),
  );
  assert.equal(r.AssumedRoleUser!.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/chained/hop`);
  assert.ok(r.PackedPolicySize! > 0, 'session tags make a packed policy size');
  const chained = stsClient(sdkCredentials(r.Credentials!));
  assert.equal(
    (await chained.send(new GetCallerIdentityCommand({}))).Arn,
    `arn:aws:sts::${ACCOUNT}:assumed-role/chained/hop`,
  );
  await assert.rejects(
    client.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/chained`,
        RoleSessionName: 'long',
        DurationSeconds: 7200,
      }),
    ),
    (e: Error) =>
      e.name === 'ValidationError' &&
      e.message ===
        'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
  );
  await assert.rejects(
    client.send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/account-trust`, RoleSessionName: 'x1' }),
    ),
    (e: Error) =>
      e.name === 'AccessDenied' &&
      e.message ===
        `User: arn:aws:sts::${ACCOUNT}:assumed-role/s3-writer/sdk is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/account-trust`,
  );
});

test('session policies bound role chaining: an explicit Deny of sts:* in Policy stops AssumeRole (issue 10 item 2)', async () => {
  const anon = stsClient();
  const chain = async (Policy: object | undefined) => {
    const w = await anon.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: ROLE_ARN,
        RoleSessionName: 'bounded',
        WebIdentityToken: token(),
        Policy: Policy && JSON.stringify(Policy),
      }),
    );
    const client = stsClient(sdkCredentials(w.Credentials!));
    return client.send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/chained`, RoleSessionName: 'hop' }),
    );
  };
  const denyAll = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'sts:*', Resource: '*' }] };
  await assert.rejects(chain(denyAll), (e: Error & { name: string }) => {
    assert.equal(e.name, 'AccessDenied');
    assert.equal(
      e.message,
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/s3-writer/bounded is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/chained`,
    );
    return true;
  });
  // The trust policy names the caller's role: the session policy must allow the call too.
  const s3Only = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] };
  await assert.rejects(chain(s3Only), (e: Error & { name: string }) => e.name === 'AccessDenied');
  const allowChain = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }],
  };
  assert.ok((await chain(allowChain)).Credentials?.AccessKeyId);
  assert.ok(
    (await chain(undefined)).Credentials?.AccessKeyId,
    'no session policy: the trust policy alone decides',
  );
});

test('an AssumeRole tag key __proto__ is an ordinary tag, as AWS takes it, never silently dropped (issue 10 item 13)', async () => {
  const creds = await webIdentityCreds();
  const client = stsClient(creds);
  const r = await client.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/chained`,
      RoleSessionName: 'proto',
      Tags: [{ Key: '__proto__', Value: 'x' }],
      TransitiveTagKeys: ['__proto__'],
    }),
  );
  assert.ok(r.PackedPolicySize! > 0, 'the tag is counted in the packed policy size');
  const session = openSession(r.Credentials!.SessionToken!, srv.service.deps.config.sessionKeys)!;
  assert.ok(Object.hasOwn(session.tags!, '__proto__'));
  assert.equal(session.tags!['__proto__'], 'x');
  assert.deepEqual(session.transitiveTagKeys, ['__proto__']);
  // A transitive key that is not a session tag is refused, __proto__ included (not found on the prototype).
  await assert.rejects(
    client.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/chained`,
        RoleSessionName: 'proto2',
        Tags: [{ Key: 'team', Value: 'a' }],
        TransitiveTagKeys: ['__proto__'],
      }),
    ),
    (e: Error & { name: string }) => e.name === 'InvalidParameterValue',
  );
});

test('a 413 says Connection: close, so a keep-alive client does not reuse the dropped socket (issue 10 item 10)', async () => {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const send = (body: string, chunked: boolean) =>
    new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = httpRequest(
        srv.url,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': Buffer.byteLength(body) }),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  try {
    for (const chunked of [false, true]) {
      const big = await send('x='.padEnd(40 * 1024, 'a'), chunked);
      assert.deepEqual(big, { status: 413, connection: 'close' }, `chunked: ${chunked}`);
      const next = await send('Action=GetCallerIdentity&Version=2011-06-15', false);
      assert.equal(next.status, 403, 'the next request of the same client gets an answer, not ECONNRESET');
    }
  } finally {
    agent.destroy();
  }
});

test('graceful close: in-flight keep-alive clients are let go', async () => {
  const r = await http('POST', '/', webIdentityForm(token()));
  assert.equal(r.status, 200);
});

test('plain HTTP on an address other machines reach is warned about; loopback and TLS are not (issue 10 item 13)', () => {
  for (const host of ['0.0.0.0', '::', '10.0.0.5', '[::]', 'sts.example.com', '128.0.0.1'])
    assert.match(plainHttpWarning(host, false) ?? '', /serving plain HTTP on .* clear text/, host);
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', 'LOCALHOST'])
    assert.equal(plainHttpWarning(host, false), undefined, host);
  assert.equal(plainHttpWarning('0.0.0.0', true), undefined);
});
