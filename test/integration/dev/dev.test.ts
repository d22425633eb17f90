import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, ROOT, cleanEnv, venvTool, DEV_FREE_PORTS } from '../../helpers/sts-harness.js';

const run = promisify(execFile);
const ARN = /^arn:aws:sts::111122223333:assumed-role\/s3-writer\/[\w+=,.@-]+$/;

interface DevJson {
  stateDir: string;
  stsUrl: string;
  tokenFile: string;
  stsConfigFile: string;
  env: Record<string, string>;
  podIdentityEnv: Record<string, string>;
  podIdentityEnvFile: string;
  mutation: { allowed: boolean; env: Record<string, string>; patch: unknown[] };
}

let dir: string;
let child: ChildProcess;
let dev: DevJson;
let stderr = '';

/** `openirsa dev --json` on free ports; resolves with its start-up summary. */
function startDev(args: string[]): Promise<{ child: ChildProcess; summary: DevJson }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, 'dev', '--json', ...args], { cwd: dir, env: cleanEnv({}) });
    let out = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve({ child: c, summary: JSON.parse(line) as DevJson });
    });
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (code) => reject(new Error(`openirsa dev exited ${code} before its summary: ${stderr}`)));
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'openirsa-dev-'));
  ({ child, summary: dev } = await startDev(['--state-dir', join(dir, 'state'), ...DEV_FREE_PORTS]));
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

test('the printed summary: mutation of the sample pod and the environment for the role', async () => {
  assert.equal(dev.mutation.allowed, true);
  assert.equal(dev.mutation.env.AWS_ROLE_ARN, 'arn:aws:iam::111122223333:role/s3-writer');
  assert.equal(
    dev.mutation.env.AWS_WEB_IDENTITY_TOKEN_FILE,
    '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
  );
  assert.equal(dev.env.AWS_ROLE_ARN, 'arn:aws:iam::111122223333:role/s3-writer');
  assert.match(dev.env.AWS_ENDPOINT_URL_STS!, /^https:\/\/localhost:\d+$/);
  // Secrets stay private: the signing key, the CA key and the token are 0600.
  for (const f of ['issuer-keys/sa-signer.key', 'ca-key.pem', 'tls.key', 'token', 'sts-session.key']) {
    const mode = (await stat(join(dev.stateDir, f))).mode & 0o777;
    assert.equal(mode, 0o600, `${f} has mode ${mode.toString(8)}`);
  }
  const token = await readFile(dev.tokenFile, 'utf8');
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
  assert.equal(claims.sub, 'system:serviceaccount:great-namespace:great-serviceaccount');
  assert.deepEqual(claims.aud, ['sts.amazonaws.com']);
});

test('AWS SDK for JavaScript v3 with only the printed environment gets the s3-writer role', async () => {
  const script = `
    import { fromTokenFile } from '@aws-sdk/credential-providers';
    import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
    const sts = new STSClient({ credentials: fromTokenFile() });
    const id = await sts.send(new GetCallerIdentityCommand({}));
    console.log(id.Arn);
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: cleanEnv(dev.env),
  });
  assert.match(stdout.trim(), ARN);
});

test('EKS Pod Identity: the SDK and the AWS CLI with the container-credentials environment get the associated role', async () => {
  const POD_ARN =
    /^arn:aws:sts::111122223333:assumed-role\/s3-writer-pod-identity\/eks-dev-s3-uploader-[0-9a-f]{8}$/;
  assert.match(
    dev.podIdentityEnv.AWS_CONTAINER_CREDENTIALS_FULL_URI!,
    /^http:\/\/127\.0\.0\.1:\d+\/v1\/credentials$/,
  );
  const mode = (await stat(dev.podIdentityEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE!)).mode & 0o777;
  assert.equal(mode, 0o600);
  const script = `
    import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
    console.log((await new STSClient({}).send(new GetCallerIdentityCommand({}))).Arn);
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: cleanEnv(dev.podIdentityEnv),
  });
  assert.match(stdout.trim(), POD_ARN);
  const aws = venvTool('aws');
  const cli = await run(
    'bash',
    ['-c', `. "${dev.podIdentityEnvFile}" && "${aws}" sts get-caller-identity --query Arn --output text`],
    {
      env: cleanEnv({}),
    },
  );
  assert.match(cli.stdout.trim(), POD_ARN);
});

test('the AWS CLI as the README shows it: source env.sh, then aws sts get-caller-identity', async () => {
  const aws = venvTool('aws');
  const { stdout } = await run(
    'bash',
    ['-c', `source "${dev.stateDir}/env.sh" && "${aws}" sts get-caller-identity --output json`],
    {
      env: cleanEnv({}),
    },
  );
  assert.match((JSON.parse(stdout) as { Arn: string }).Arn, ARN);
});

test('the IAM API admin is a separate profile: a role made through it is assumed at once, the sample role unchanged', async () => {
  assert.equal((await stat(join(dev.stateDir, 'admin-credentials'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dev.stateDir, 'iam-admin.secret'))).mode & 0o777, 0o600);
  const env = await readFile(join(dev.stateDir, 'env.sh'), 'utf8');
  assert.match(env, /export AWS_SHARED_CREDENTIALS_FILE=.*admin-credentials/);
  assert.doesNotMatch(env, /aws_secret_access_key|AWS_SECRET_ACCESS_KEY/, 'no secret in env.sh');
  const aws = venvTool('aws');
  const trust = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: (await readFile(dev.stsConfigFile, 'utf8')).match(/Federated: (\S+)/)![1] },
        Action: 'sts:AssumeRoleWithWebIdentity',
      },
    ],
  });
  const sh = (cmd: string) =>
    run('bash', ['-c', `source "${dev.stateDir}/env.sh" && ${cmd}`], { env: cleanEnv({}) });
  await sh(
    `"${aws}" iam create-role --profile openirsa-admin --role-name dev-made --assume-role-policy-document '${trust}'`,
  );
  const assumed = await sh(
    `"${aws}" sts assume-role-with-web-identity --role-arn arn:aws:iam::111122223333:role/dev-made --role-session-name s1 --web-identity-token "file://$AWS_WEB_IDENTITY_TOKEN_FILE" --output json`,
  );
  assert.equal(
    JSON.parse(assumed.stdout).AssumedRoleUser.Arn,
    'arn:aws:sts::111122223333:assumed-role/dev-made/s1',
  );
  // Without --profile the sample role's web identity is used, as before; it may not call IAM.
  const { stdout } = await sh(`"${aws}" sts get-caller-identity --output json`);
  assert.match((JSON.parse(stdout) as { Arn: string }).Arn, ARN);
  const denied = (await sh(`"${aws}" iam list-roles`).catch((e) => e)) as { stderr: string };
  assert.match(denied.stderr, /AccessDenied.*assumed-role\/s3-writer\/.*iam:ListRoles/);
});

test('openirsa explain agrees with the running chain, using the files dev wrote', async () => {
  const { stdout } = await run(process.execPath, [
    BIN,
    'explain',
    '--config',
    dev.stsConfigFile,
    '--role-arn',
    dev.env.AWS_ROLE_ARN!,
    '--token',
    dev.tokenFile,
    '--action',
    's3:PutObject',
    '--resource',
    'arn:aws:s3:::openirsa-dev-bucket/report.csv',
  ]);
  assert.match(stdout, /result: ALLOWED .*and allow s3:PutObject/);
});

test('a taken port gives a one-line message naming the flag, and exit 1', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    await assert.rejects(
      run(
        process.execPath,
        [BIN, 'dev', '--state-dir', join(dir, 'state2'), ...DEV_FREE_PORTS, `--sts-port=${port}`],
        {
          env: cleanEnv({}),
        },
      ),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.equal(err.stderr.trim().split('\n').length, 1, err.stderr);
        assert.match(err.stderr, new RegExp(`port ${port} for the sts is already in use.*--sts-port`));
        return true;
      },
    );
  } finally {
    blocker.close();
  }
});

test('--check proves the chain and exits 0, reusing the state of an earlier run', async () => {
  const { stdout } = await run(
    process.execPath,
    [BIN, 'dev', '--check', '--state-dir', dev.stateDir, ...DEV_FREE_PORTS],
    {
      env: cleanEnv({}),
    },
  );
  assert.match(stdout, /state in .*\n/);
  assert.doesNotMatch(stdout, /created now/);
  assert.match(
    stdout,
    /check passed: AssumeRoleWithWebIdentity → arn:aws:sts::111122223333:assumed-role\/s3-writer\//,
  );
});

test('bad flags: one line, exit 2', async () => {
  await assert.rejects(
    run(process.execPath, [BIN, 'dev', '--token-ttl', '5']),
    (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /^openirsa: --token-ttl must be an integer from 600/);
      return true;
    },
  );
});
