import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateKeyPairSync } from 'node:crypto';
import { exportJWK } from 'jose';
import { ACCOUNT, ROOT, cleanEnv, venvTool, type Harness } from '../../helpers/sts-harness.js';
import { signToken } from '../../helpers/sts-fixtures.js';
import {
  APP_ROLE,
  WEB_ROLE,
  podToken,
  startAgentProcess,
  startStsForAgent,
  writeAssociations,
  type AgentProcess,
} from '../../helpers/agent-harness.js';

const run = promisify(execFile);
let h: Harness;
let agent: AgentProcess;
let webAgent: AgentProcess;

before(async () => {
  h = await startStsForAgent();
  const file = join(h.dir, 'associations.yaml');
  writeAssociations(file, [
    { name: 'apps-reader', namespace: 'apps', serviceAccount: 'reader', roleArn: APP_ROLE },
    { name: 'other-reader', namespace: 'other', serviceAccount: 'reader', roleArn: APP_ROLE },
    { name: 'apps-web', namespace: 'apps', serviceAccount: 'web', roleArn: WEB_ROLE },
  ]);
  agent = await startAgentProcess(h, { model: 'agent-identity', associationsFile: file });
  webAgent = await startAgentProcess(h, { model: 'web-identity', associationsFile: file });
});
after(async () => {
  assert.equal(await agent?.stop(), 0, 'the agent stops cleanly on SIGTERM');
  assert.equal(await webAgent?.stop(), 0);
  await h?.stop();
});

/** Exactly the environment the webhook injects in container-credentials mode, pointed at the test agent. */
const webhookEnv = (a: AgentProcess, tokenFile: string) =>
  cleanEnv({
    AWS_CONTAINER_CREDENTIALS_FULL_URI: a.url,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
    AWS_ENDPOINT_URL_STS: h.stsUrl,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
  });

async function jsCallerIdentity(a: AgentProcess, tokenFile: string) {
  const script = `
    import { fromHttp } from '@aws-sdk/credential-providers';
    import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
    const creds = await fromHttp()();
    const id = await new STSClient({}).send(new GetCallerIdentityCommand({})); // the default chain
    console.log(JSON.stringify({ arn: id.Arn, account: id.Account, exp: creds.expiration }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...webhookEnv(a, tokenFile), NODE_EXTRA_CA_CERTS: h.caFile },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { arn: string; account: string; exp: string };
}

function get(
  a: AgentProcess,
  headers: Record<string, string>,
  path = '/v1/credentials',
): Promise<{ status: number; body: string; type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: a.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

const SESSION = (role: string, pod: string) =>
  new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/${role}/eks-lab-${pod}-[0-9a-f]{8}$`);

test('AWS SDK for JavaScript v3 (fromHttp, default chain) gets the associated role from the agent', async () => {
  const t = podToken(h, { namespace: 'apps', serviceAccount: 'reader', pod: 'reader-1' });
  const out = await jsCallerIdentity(agent, t.file);
  assert.match(out.arn, SESSION('app', 'reader-1'));
  assert.equal(out.account, ACCOUNT);
  assert.ok(new Date(out.exp).getTime() > Date.now() + 50 * 60_000);
});

test('boto3 reads the agent with the webhook environment', async () => {
  const t = podToken(h, { namespace: 'apps', serviceAccount: 'reader', pod: 'reader-2' });
  const py = venvTool('python');
  const { stdout } = await run(
    py,
    ['-c', 'import boto3; print(boto3.client("sts").get_caller_identity()["Arn"])'],
    {
      env: { ...webhookEnv(agent, t.file), AWS_CA_BUNDLE: h.caFile },
    },
  );
  assert.match(stdout.trim(), SESSION('app', 'reader-2'));
});

test('the AWS CLI reads the agent with the webhook environment', async () => {
  const t = podToken(h, { namespace: 'apps', serviceAccount: 'reader', pod: 'reader-3' });
  const { stdout } = await run(venvTool('aws'), ['sts', 'get-caller-identity', '--output', 'json'], {
    env: { ...webhookEnv(agent, t.file), AWS_CA_BUNDLE: h.caFile },
  });
  assert.match((JSON.parse(stdout) as { Arn: string }).Arn, SESSION('app', 'reader-3'));
});

test('web-identity model: the pod token is traded with AssumeRoleWithWebIdentity', async () => {
  const t = podToken(h, { namespace: 'apps', serviceAccount: 'web', pod: 'web-1' });
  const out = await jsCallerIdentity(webAgent, t.file);
  assert.match(out.arn, SESSION('app-web-identity', 'web-1'));
});

test('session tags reach STS: the trust policy allows namespace "apps" only (STS refusal passed on)', async () => {
  const t = podToken(h, { namespace: 'other', serviceAccount: 'reader', pod: 'reader-x' });
  const r = await get(agent, { authorization: t.token });
  assert.equal(r.status, 403);
  assert.equal(r.type, 'text/plain; charset=utf-8');
  assert.match(
    r.body,
    /^\[[0-9a-f-]{36}\]: \(AccessDenied\): User: arn:aws:sts::111122223333:assumed-role\/openirsa-agent\/\S+ is not authorized to perform: sts:(AssumeRole|TagSession) on resource: arn:aws:iam::111122223333:role\/app, fault: client\n$/,
  );
});

test('the JSON document is exactly the EKS agent shape', async () => {
  const t = podToken(h, { namespace: 'apps', serviceAccount: 'reader', pod: 'reader-4' });
  const r = await get(agent, { authorization: t.token });
  assert.equal(r.status, 200);
  assert.equal(r.type, 'application/json');
  const doc = JSON.parse(r.body) as Record<string, string>;
  assert.deepEqual(Object.keys(doc), ['AccessKeyId', 'SecretAccessKey', 'Token', 'AccountId', 'Expiration']);
  assert.match(doc.AccessKeyId!, /^ASIA/);
  assert.equal(doc.AccountId, ACCOUNT);
  assert.match(doc.Expiration!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('hostile requests get the EKS agent status and body', async () => {
  const now = Math.floor(Date.now() / 1000);
  const base = { namespace: 'apps', serviceAccount: 'reader', pod: 'reader-h' };
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const otherKey = {
    kid: h.key.kid,
    alg: 'RS256',
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    jwk: await exportJWK(pair.publicKey),
  };
  const forged = signToken(
    otherKey,
    JSON.parse(Buffer.from(podToken(h, base).token.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >,
  );
  const cases: [string, Record<string, string>, number, RegExp][] = [
    ['no token', {}, 400, /^Service account token cannot be empty\n$/],
    [
      'not a JWT',
      { authorization: 'abc' },
      400,
      /^Service account token cannot be parsed: token is malformed: token contains an invalid number of segments\n$/,
    ],
    [
      'expired',
      { authorization: podToken(h, { ...base, over: { exp: now - 10 } }).token },
      400,
      /^Service account token failed basic claim validations: token has invalid claims: token is expired\n$/,
    ],
    [
      'forged signature',
      { authorization: forged },
      400,
      /\(InvalidTokenException\): Token signature is not valid, fault: client\n$/,
    ],
    [
      'wrong audience',
      { authorization: podToken(h, { ...base, over: { aud: ['sts.amazonaws.com'] } }).token },
      400,
      /\(InvalidTokenException\): Token audience \["sts.amazonaws.com"\] is not one of \[pods.eks.amazonaws.com\], fault: client\n$/,
    ],
    [
      'other cluster',
      { authorization: podToken(h, { ...base, over: { iss: 'https://other.example.com' } }).token },
      400,
      /\(InvalidTokenException\): Token issuer "https:\/\/other.example.com" is not this cluster's issuer/,
    ],
    [
      'alg none',
      {
        authorization: `${Buffer.from('{"alg":"none"}').toString('base64url')}.${podToken(h, base).token.split('.')[1]}.`,
      },
      400,
      /\(InvalidTokenException\): Token is not a valid JWT/,
    ],
    [
      'no association',
      { authorization: podToken(h, { ...base, serviceAccount: 'nobody' }).token },
      404,
      /^\[[0-9a-f-]{36}\]: \(ResourceNotFoundException\): No Pod Identity Association for service account nobody in namespace apps of cluster lab, fault: client\n$/,
    ],
    [
      'wrong address',
      { authorization: podToken(h, base).token, host: 'evil.example.com' },
      403,
      /^Access Denied\. Called agent through invalid address, please use either \[127\.0\.0\.1\] address not evil\.example\.com\n$/,
    ],
    ['oversized header', { authorization: 'x'.repeat(20_000) }, 431, /^$/],
  ];
  for (const [name, headers, status, body] of cases) {
    const r = await get(agent, headers);
    assert.equal(r.status, status, `${name}: ${r.body}`);
    assert.match(r.body, body, name);
    assert.doesNotMatch(r.body, /SecretAccessKey|eyJ/, `${name}: no secret or token echoed`);
  }
  assert.equal((await get(agent, {}, '/')).status, 404);
});

test('a flood of requests for one pod makes one upstream call (all get the same credentials)', async () => {
  const t = podToken(h, { namespace: 'apps', serviceAccount: 'reader', pod: 'reader-flood' });
  const answers = await Promise.all(
    Array.from({ length: 100 }, () => get(agent, { authorization: t.token })),
  );
  const keys = new Set(
    answers.map(
      (a) => (
        assert.equal(a.status, 200, a.body),
        (JSON.parse(a.body) as { AccessKeyId: string }).AccessKeyId
      ),
    ),
  );
  assert.equal(keys.size, 1, 'one STS session for the pod');
  const again = await get(agent, { authorization: t.token });
  assert.equal(
    (JSON.parse(again.body) as { AccessKeyId: string }).AccessKeyId,
    [...keys][0],
    'served from the cache',
  );
  const other = podToken(h, { namespace: 'apps', serviceAccount: 'reader', pod: 'reader-flood-2' });
  const b = await get(agent, { authorization: other.token });
  assert.notEqual(
    (JSON.parse(b.body) as { AccessKeyId: string }).AccessKeyId,
    [...keys][0],
    'another pod, another session',
  );
});

test('probes and metrics', async () => {
  const r = await fetch(`http://${agent.probe}/readyz`);
  assert.equal(r.status, 200);
  const m = await (await fetch(`http://${agent.probe}/metrics`)).text();
  assert.match(m, /pod_identity_http_response\{code="200"\} \d+/);
  assert.match(m, /pod_identity_http_response\{code="404"\} \d+/);
});
