import { join } from 'node:path';
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  BIN,
  cleanEnv,
  sdkCallerIdentity,
  startHarness,
  venvTool,
  type Harness,
} from '../../helpers/sts-harness.js';

const run = promisify(execFile);
let h: Harness;

before(async () => {
  h = await startHarness();
});
after(async () => {
  const code = await h?.stop();
  assert.equal(code, 0, 'sts serve shuts down cleanly on SIGTERM');
});

test('sts serve rejects a bad config at start: exit 2, one line naming file and path', async () => {
  const { writeFileSync } = await import('node:fs');
  const bad = join(h.dir, 'bad.yaml');
  writeFileSync(bad, 'accountId: "111122223333"\nroles:\n  - RoleName: r\n    MaxSessionDuration: 5\n');
  const r = await run(process.execPath, [BIN, 'sts', 'serve', '--config', bad]).catch(
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal((r as { code: number }).code, 2);
  assert.equal(
    (r as { stderr: string }).stderr.trim(),
    `openirsa: invalid config: ${bad}: roles[0].AssumeRolePolicyDocument: is required`,
  );
});

const ARN = /^arn:aws:sts::111122223333:assumed-role\/s3-writer\/[\w+=,.@-]+$/;

test('AWS SDK for JavaScript v3: fromTokenFile with the webhook env, then GetCallerIdentity', async () => {
  const out = await sdkCallerIdentity(h);
  assert.match(out.arn, ARN);
  assert.match(out.akid, /^ASIA[A-Z2-7]{16}$/);
  assert.match(out.userId, /^AROA[A-Z0-9]{17}:/);
  assert.equal(out.account, '111122223333');
  assert.ok(new Date(out.exp).getTime() > Date.now() + 3000_000);
});

test('AWS CLI v1: assume-role-with-web-identity then get-caller-identity with the credentials', async () => {
  const aws = venvTool('aws');
  const env = cleanEnv({ AWS_DEFAULT_REGION: 'us-east-1', AWS_CA_BUNDLE: h.caFile });
  const { stdout } = await run(
    aws,
    [
      'sts',
      'assume-role-with-web-identity',
      '--endpoint-url',
      h.stsUrl,
      '--role-arn',
      h.roleArn,
      '--role-session-name',
      'cli-session',
      '--web-identity-token',
      `file://${h.tokenFile}`,
      '--output',
      'json',
    ],
    { env },
  );
  const r = JSON.parse(stdout);
  assert.equal(r.AssumedRoleUser.Arn, 'arn:aws:sts::111122223333:assumed-role/s3-writer/cli-session');
  assert.equal(r.Provider, h.providerArn);
  assert.equal(r.Audience, 'sts.amazonaws.com');
  assert.equal(r.PackedPolicySize, undefined);
  const { stdout: id } = await run(
    aws,
    ['sts', 'get-caller-identity', '--endpoint-url', h.stsUrl, '--output', 'json'],
    {
      env: {
        ...env,
        AWS_ACCESS_KEY_ID: r.Credentials.AccessKeyId,
        AWS_SECRET_ACCESS_KEY: r.Credentials.SecretAccessKey,
        AWS_SESSION_TOKEN: r.Credentials.SessionToken,
      },
    },
  );
  assert.equal(JSON.parse(id).Arn, 'arn:aws:sts::111122223333:assumed-role/s3-writer/cli-session');
});

test('AWS CLI v1: web identity from env (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ENDPOINT_URL_STS)', async () => {
  const aws = venvTool('aws');
  const { stdout } = await run(aws, ['sts', 'get-caller-identity', '--output', 'json'], {
    env: cleanEnv({
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CA_BUNDLE: h.caFile,
      AWS_ROLE_ARN: h.roleArn,
      AWS_WEB_IDENTITY_TOKEN_FILE: h.tokenFile,
      AWS_ENDPOINT_URL_STS: h.stsUrl,
    }),
  });
  assert.match(JSON.parse(stdout).Arn, ARN);
});

test('boto3: web identity from env, GetCallerIdentity; and explicit endpoint_url', async () => {
  const python = venvTool('python');
  const script = `
import boto3, json, os
sess = boto3.Session()
ident = sess.client('sts').get_caller_identity()
sts = boto3.client('sts', endpoint_url=os.environ['AWS_ENDPOINT_URL_STS'], verify=os.environ['AWS_CA_BUNDLE'])
r = sts.assume_role_with_web_identity(RoleArn=os.environ['AWS_ROLE_ARN'], RoleSessionName='boto3-explicit', WebIdentityToken=open(os.environ['AWS_WEB_IDENTITY_TOKEN_FILE']).read())
c = r['Credentials']
sts2 = boto3.client('sts', endpoint_url=os.environ['AWS_ENDPOINT_URL_STS'], verify=os.environ['AWS_CA_BUNDLE'], aws_access_key_id=c['AccessKeyId'], aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['SessionToken'])
print(json.dumps({'env': ident['Arn'], 'explicit': sts2.get_caller_identity()['Arn']}))
`;
  const { stdout } = await run(python, ['-c', script], {
    env: cleanEnv({
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CA_BUNDLE: h.caFile,
      AWS_ROLE_ARN: h.roleArn,
      AWS_WEB_IDENTITY_TOKEN_FILE: h.tokenFile,
      AWS_ENDPOINT_URL_STS: h.stsUrl,
    }),
  });
  const out = JSON.parse(stdout);
  assert.match(out.env, ARN);
  assert.equal(out.explicit, 'arn:aws:sts::111122223333:assumed-role/s3-writer/boto3-explicit');
});

test('a denied call gets AWS error XML and the server logs the explanation without the token', async () => {
  const token = h.mintToken({ sub: 'system:serviceaccount:other:intruder' });
  const body = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: h.roleArn,
    RoleSessionName: 'x1',
    WebIdentityToken: token,
  });
  const res = await fetchInsecureCa(h, body.toString());
  assert.equal(res.status, 403);
  assert.match(res.body, /<Code>AccessDenied<\/Code>/);
  assert.match(res.body, /<Message>Not authorized to perform sts:AssumeRoleWithWebIdentity<\/Message>/);
  await new Promise((r) => setTimeout(r, 300));
  const log = h.stderr();
  assert.match(log, /system:serviceaccount:other:intruder/);
  const denial = log
    .split('\n')
    .filter((l) => l.includes('"event":"denied"'))
    .map((l) => JSON.parse(l))
    .find((e) => e.claims?.sub === 'system:serviceaccount:other:intruder');
  assert.ok(denial, 'a structured denial log line');
  assert.equal(denial.code, 'AccessDenied');
  assert.equal(denial.roleArn, h.roleArn);
  assert.match(denial.reason, /does not allow sts:AssumeRoleWithWebIdentity/);
  assert.ok(
    denial.statements.some((s: string) => s.includes('StringEquals')),
    'per-statement reasons',
  );
  assert.ok(!log.includes(token), 'the token must never be logged');
  assert.ok(!log.includes(token.split('.')[2]!), 'not even its signature');
});

test('openirsa explain fetches the issuer keys over HTTPS like the server (no inline JWKS)', async () => {
  const args = [
    BIN,
    'explain',
    '--config',
    join(h.dir, 'sts.yaml'),
    '--role-arn',
    h.roleArn,
    '--token',
    h.tokenFile,
  ];
  const ok = await run(process.execPath, args);
  assert.match(ok.stdout, new RegExp(`signature verified \\(JWKS fetched from ${h.issuerUrl}\\)`));
  assert.match(ok.stdout, /result: ALLOWED/);
  const { writeFileSync } = await import('node:fs');
  const bad = join(h.dir, 'other-token');
  writeFileSync(bad, h.mintToken({ sub: 'system:serviceaccount:other:intruder' }));
  const denied = await run(process.execPath, [...args.slice(0, -1), bad]).catch(
    (e: { code: number; stdout: string }) => e,
  );
  assert.equal((denied as { code: number }).code, 3);
  assert.match((denied as { stdout: string }).stdout, /system:serviceaccount:other:intruder/);
});

async function fetchInsecureCa(h: Harness, body: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:https');
  const { readFileSync } = await import('node:fs');
  const u = new URL(h.stsUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: 'POST',
        path: '/',
        ca: readFileSync(h.caFile),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
