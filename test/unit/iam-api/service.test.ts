import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  IAMClient,
  CreateRoleCommand,
  GetRoleCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
  ListRolesCommand,
} from '@aws-sdk/client-iam';
import { STSClient, AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import { startServer, type RunningServer } from '../../../src/sts/server.js';
import { buildConfig } from '../../../src/sts/config.js';
import { IamApiService, openIamState, type LiveIam } from '../../../src/iam-api/index.js';
import { MemoryBackend } from '../../../src/iam-api/store.js';
import {
  ISSUER_ID,
  PROVIDER_ARN,
  SUB,
  claims,
  configDoc,
  makeKey,
  signToken,
} from '../../helpers/sts-fixtures.js';

const key = await makeKey('iam-svc');
const ADMIN = { accessKeyId: 'AKIAOPENIRSATEST0001', secretAccessKey: 'x'.repeat(20) + 'y'.repeat(20) };
let srv: RunningServer;
let live: LiveIam;
let logs = '';
const now = () => Math.floor(Date.now() / 1000);
const token = (sub = SUB) => signToken(key, claims({ sub, exp: now() + 600, iat: now(), nbf: now() }));

const trust = (sub: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: PROVIDER_ARN },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${ISSUER_ID}:sub`]: sub } },
      },
    ],
  });

before(async () => {
  const doc = { ...configDoc([key]), roles: [], iamApi: { admin: ADMIN, store: 'memory' } };
  const seed = buildConfig(doc, 'iam-service-test.yaml');
  const logger = pino(
    { level: 'info' },
    new Writable({ write: (c, _e, cb) => ((logs += c.toString()), cb()) }),
  );
  live = await openIamState(seed, { backend: new MemoryBackend() });
  srv = await startServer({
    config: live.config(),
    logger,
    iam: new IamApiService({ api: seed.iamApi!, store: live.store, config: live.config, logger }),
  });
  live.onConfig((c) => srv.service.updateConfig(c));
});
after(async () => {
  await srv.close(100);
  await live.stop();
});

const iam = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
  new IAMClient({ endpoint: srv.url, region: 'us-east-1', credentials, maxAttempts: 1 });
const sts = () =>
  new STSClient({
    endpoint: srv.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
  });

async function assume(roleName: string, sub = SUB) {
  const r = await sts().send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: `arn:aws:iam::111122223333:role/${roleName}`,
      RoleSessionName: 's1',
      WebIdentityToken: token(sub),
    }),
  );
  return {
    accessKeyId: r.Credentials!.AccessKeyId!,
    secretAccessKey: r.Credentials!.SecretAccessKey!,
    sessionToken: r.Credentials!.SessionToken!,
  };
}

test('a role created through the IAM API is honoured by the next AssumeRoleWithWebIdentity; a trust change denies the same token', async () => {
  const admin = iam(ADMIN);
  await assert.rejects(assume('app'), { name: 'AccessDenied' });
  await admin.send(new CreateRoleCommand({ RoleName: 'app', AssumeRolePolicyDocument: trust(SUB) }));
  const creds = await assume('app');
  assert.match(creds.accessKeyId, /^ASIA/);
  await admin.send(
    new UpdateAssumeRolePolicyCommand({
      RoleName: 'app',
      PolicyDocument: trust('system:serviceaccount:x:other'),
    }),
  );
  await assert.rejects(assume('app'), (err: Error) => {
    assert.equal(err.name, 'AccessDenied');
    assert.equal(err.message, 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
    return true;
  });
});

test('STS session credentials may call what their role allows, and get AWS AccessDenied naming the missing permission', async () => {
  const admin = iam(ADMIN);
  await admin.send(new CreateRoleCommand({ RoleName: 'reader', AssumeRolePolicyDocument: trust(SUB) }));
  await admin.send(
    new PutRolePolicyCommand({
      RoleName: 'reader',
      PolicyName: 'read-roles',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['iam:GetRole', 'iam:ListRoles'],
            Resource: 'arn:aws:iam::111122223333:role/*',
          },
        ],
      }),
    }),
  );
  const session = iam(await assume('reader'));
  const got = await session.send(new GetRoleCommand({ RoleName: 'reader' }));
  assert.equal(got.Role!.Arn, 'arn:aws:iam::111122223333:role/reader');
  assert.ok((await session.send(new ListRolesCommand({}))).Roles!.length >= 1);
  await assert.rejects(
    session.send(new CreateRoleCommand({ RoleName: 'evil', AssumeRolePolicyDocument: trust(SUB) })),
    (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(err.name, 'AccessDenied');
      assert.equal(err.$metadata?.httpStatusCode, 403);
      assert.equal(
        err.message,
        'User: arn:aws:sts::111122223333:assumed-role/reader/s1 is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::111122223333:role/evil because no identity-based policy allows the iam:CreateRole action',
      );
      return true;
    },
  );
  await new Promise((r) => setTimeout(r, 50));
  const denial = logs
    .split('\n')
    .filter((l) => l.includes('"iam_denied"'))
    .map((l) => JSON.parse(l))
    .find((e) => e.action === 'CreateRole');
  assert.ok(denial, 'the denial is logged');
  assert.ok(
    denial.statements.some((s: string) => s.includes('action "iam:CreateRole" is not')),
    JSON.stringify(denial.statements),
  );
  assert.ok(!logs.includes(ADMIN.secretAccessKey), 'the admin secret never reaches the log');
});

test('unauthenticated, wrongly signed and unknown-key calls are refused with AWS codes', async () => {
  const anon = await fetch(srv.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'Action=ListRoles&Version=2010-05-08',
  });
  assert.equal(anon.status, 403);
  assert.match(await anon.text(), /<Code>MissingAuthenticationToken<\/Code>/);
  await assert.rejects(iam({ ...ADMIN, secretAccessKey: 'z'.repeat(40) }).send(new ListRolesCommand({})), {
    name: 'SignatureDoesNotMatch',
  });
  await assert.rejects(
    iam({ accessKeyId: 'AKIAUNKNOWNKEY000001', secretAccessKey: ADMIN.secretAccessKey }).send(
      new ListRolesCommand({}),
    ),
    {
      name: 'InvalidClientTokenId',
    },
  );
});

test('Action names of Object.prototype are unknown actions, not code paths', async () => {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { NodeSha256 } = await import('../../../src/sts/sigv4.js');
  const signer = new SignatureV4({
    service: 'iam',
    region: 'us-east-1',
    credentials: ADMIN,
    sha256: NodeSha256,
  });
  const url = new URL(srv.url);
  for (const action of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    const body = `Action=${action}&Version=2010-05-08`;
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    const res = await fetch(srv.url, { method: 'POST', headers: signed.headers, body });
    const text = await res.text();
    assert.equal(res.status, 400, `${action}: ${text}`);
    assert.match(text, /<Code>InvalidAction<\/Code>/);
  }
});
