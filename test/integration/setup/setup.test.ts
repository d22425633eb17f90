/**
 * `openirsa setup` (provider and role phases) through the built CLI against openirsa's own IAM API over HTTPS,
 * the CLI's IAM calls made by the real AWS SDK v3: from nothing, re-run, partial states, delete; the dry-run
 * AWS CLI script run by the real AWS CLI; Terraform parsed by python-hcl2, CloudFormation by cfn-lint; and the
 * token of the ServiceAccount really gets the role at the STS. What needs a kube-apiserver (the ServiceAccount
 * phase, the issuer phase from the cluster's keys, `setup verify`, a pod admitted by the webhook) and moto's IAM
 * are in test/e2e/setup.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as IAM from '@aws-sdk/client-iam';
import { STSClient, AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import { BIN, cleanEnv, startHarness, venvTool, type Harness } from '../../helpers/sts-harness.js';
import { checkAwsTrust } from '../../../src/doctor/aws-checks.js';

const exec = promisify(execFile);
const ACCOUNT = '111122223333';
const ADMIN = { accessKeyId: 'AKIAOPENIRSASETUP001', secretAccessKey: 'setup-admin-secret-'.padEnd(40, 'z') };
let h: Harness;
let iam: IAM.IAMClient;
let agent: Agent;

before(async () => {
  h = await startHarness({
    configure: (c) => {
      c.iamApi = { admin: ADMIN };
      c.roles = [];
      c.oidcProviders = [];
    },
  });
  agent = new Agent({ ca: readFileSync(h.caFile) });
  iam = new IAM.IAMClient({
    region: 'us-east-1',
    endpoint: h.stsUrl,
    credentials: ADMIN,
    requestHandler: { httpsAgent: agent },
  });
});
after(async () => {
  agent?.destroy();
  assert.equal(await h?.stop(), 0);
});

const env = (extra: Record<string, string> = {}) =>
  cleanEnv({
    AWS_ENDPOINT_URL_IAM: h.stsUrl,
    AWS_ENDPOINT_URL_STS: h.stsUrl,
    AWS_CA_BUNDLE: h.caFile,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
    ...extra,
  });

async function setup(args: string[], extra: Record<string, string> = {}) {
  try {
    const r = await exec(process.execPath, [BIN, 'setup', ...args], { env: env(extra) });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const base = (sa: string, role: string, ...more: string[]) => [
  '--issuer',
  h.issuerUrl,
  '-n',
  'great-namespace',
  '--service-account',
  sa,
  '--role-name',
  role,
  '--phases',
  'provider,role',
  '--issuer-ca-file',
  h.caFile,
  ...more,
];
const host = () => h.issuerUrl.slice('https://'.length);
const providerArn = () => `arn:aws:iam::${ACCOUNT}:oidc-provider/${host()}`;

async function assume(role: string, sub: string) {
  const sts = new STSClient({
    region: 'us-east-1',
    endpoint: h.stsUrl,
    requestHandler: { httpsAgent: agent },
  });
  const r = await sts.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/${role}`,
      RoleSessionName: 'setup-test',
      WebIdentityToken: h.mintToken({ sub }),
    }),
  );
  return r.AssumedRoleUser!.Arn!;
}
const sub = (sa: string) => `system:serviceaccount:great-namespace:${sa}`;
const trustOf = async (role: string) =>
  JSON.parse(
    decodeURIComponent(
      (await iam.send(new IAM.GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument!,
    ),
  ) as { Statement: Array<Record<string, unknown>> };

test('from nothing: provider and role created, the token gets the role; re-run unchanged; delete removes both', async () => {
  const policy = join(h.dir, 'reader.json');
  writeFileSync(
    policy,
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    }),
  );
  const args = base(
    'web',
    'web-role',
    '--account-id',
    ACCOUNT,
    '--thumbprint',
    'auto',
    '--policy',
    policy,
    '--policy-arn',
    'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
  );
  const first = await setup(args);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^issuer +https:\/\/localhost:\d+: issuer check passed$/m);
  assert.match(
    first.stdout,
    /^provider +IAM OIDC provider arn:aws:iam::111122223333:oidc-provider\/localhost:\d+: created \(client id sts\.amazonaws\.com, thumbprints [0-9a-f]{40}\)$/m,
  );
  assert.match(
    first.stdout,
    /^role +role arn:aws:iam::111122223333:role\/web-role: created \(trusts system:serviceaccount:great-namespace:web, 2 policies\)$/m,
  );
  assert.equal(
    await assume('web-role', sub('web')),
    `arn:aws:sts::${ACCOUNT}:assumed-role/web-role/setup-test`,
  );
  await assert.rejects(assume('web-role', sub('other')), /AccessDenied|Not authorized/);
  const attached = await iam.send(new IAM.ListAttachedRolePoliciesCommand({ RoleName: 'web-role' }));
  assert.deepEqual(
    attached.AttachedPolicies!.map((p) => p.PolicyArn),
    ['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'],
  );
  assert.deepEqual((await iam.send(new IAM.ListRolePoliciesCommand({ RoleName: 'web-role' }))).PolicyNames, [
    'reader',
  ]);

  const second = await setup(args);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /provider .*: unchanged/);
  assert.match(second.stdout, /role .*: unchanged/);
  assert.match(second.stdout, /^nothing to do: everything is as asked$/m);
  assert.doesNotMatch(second.stdout, /issuer check/, 'no IAM change, so no issuer check needed');

  const json = await setup([...args, '--json']);
  const out = JSON.parse(json.stdout) as { complete: boolean; steps: Array<{ status: string }> };
  assert.equal(out.complete, true);
  assert.deepEqual(
    out.steps.map((s) => s.status),
    ['unchanged', 'unchanged'],
  );

  const del = await setup(['delete', ...args]);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, /role .*: deleted \(created by setup/);
  assert.match(del.stdout, /provider .*: deleted \(created by setup\)/);
  await assert.rejects(
    iam.send(new IAM.GetRoleCommand({ RoleName: 'web-role' })),
    /NoSuchEntity|cannot be found/,
  );
  const again = await setup(['delete', ...args]);
  assert.match(again.stdout, /role .*: unchanged \(does not exist\)/);
});

test('partial states: a provider with other client ids and a role with another statement are extended, never trimmed; delete takes back only ours', async () => {
  // Someone else's provider for the issuer, with its thumbprint and another client id (thumbprint merging is
  // covered by the planner's unit tests).
  const { stdout: tp } = await exec(process.execPath, [BIN, 'issuer', 'thumbprint', h.issuerUrl, '--json']);
  await iam.send(
    new IAM.CreateOpenIDConnectProviderCommand({
      Url: h.issuerUrl,
      ClientIDList: ['other-app'],
      ThumbprintList: [(JSON.parse(tp) as { thumbprint: string }).thumbprint],
    }),
  );
  const other = {
    Sid: 'Ec2',
    Effect: 'Allow',
    Principal: { Service: 'ec2.amazonaws.com' },
    Action: 'sts:AssumeRole',
  };
  await iam.send(
    new IAM.CreateRoleCommand({
      RoleName: 'common',
      AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [other] }),
    }),
  );
  const args = base('api', 'common', '--thumbprint', 'auto', '--account-id', ACCOUNT);
  const r = await setup(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /provider .*: updated \(add client id sts\.amazonaws\.com; other client ids and thumbprints kept\)/,
  );
  assert.match(
    r.stdout,
    /role .*: updated \(trust statement for system:serviceaccount:great-namespace:api added/,
  );
  const p = await iam.send(
    new IAM.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn() }),
  );
  assert.deepEqual(p.ClientIDList, ['other-app', 'sts.amazonaws.com']);
  const trust = await trustOf('common');
  assert.deepEqual(trust.Statement[0], other);
  assert.equal(trust.Statement.length, 2);
  // The engine admits the ServiceAccount with the merged policy, and so does the STS: the first test deleted the
  // provider of this URL and this one re-created it (the STS once resumed a cached TLS session there, whose missing
  // peer chain failed the thumbprint check; test/unit/oidc/keys.test.ts).
  assert.equal(
    checkAwsTrust(
      { value: { trustPolicy: JSON.stringify(trust) } },
      `arn:aws:iam::${ACCOUNT}:role/common`,
      providerArn(),
      {
        sub: sub('api'),
        aud: 'sts.amazonaws.com',
      },
    ).status,
    'pass',
  );
  assert.equal(await assume('common', sub('api')), `arn:aws:sts::${ACCOUNT}:assumed-role/common/setup-test`);
  assert.match((await setup(args)).stdout, /nothing to do/);

  const del = await setup(['delete', ...args]);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, /role .*: updated \(remove trust statement OpenirsaSetup[0-9a-f]{16}/);
  assert.match(del.stdout, /provider .*: unchanged \(existed before setup/);
  assert.deepEqual((await trustOf('common')).Statement, [other]);
  await iam.send(new IAM.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn() }));
});

test('dry-run -o aws-cli: the real AWS CLI runs the script, and setup then finds nothing to do', async () => {
  const args = base(
    'batch',
    'batch-role',
    '--account-id',
    ACCOUNT,
    '--policy-arn',
    'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
  );
  const dry = await setup([...args, '--dry-run', '-o', 'aws-cli']);
  assert.equal(dry.code, 0, dry.stderr);
  await assert.rejects(
    iam.send(new IAM.GetRoleCommand({ RoleName: 'batch-role' })),
    /NoSuchEntity|cannot be found/,
    'dry-run touched nothing',
  );
  const aws = venvTool('aws');
  const script = join(h.dir, 'setup.sh');
  writeFileSync(script, dry.stdout);
  // The script calls `aws`: the venv's CLI first on the PATH.
  await exec('sh', [script], { env: env({ PATH: `${join(aws, '..')}:${process.env.PATH}` }) });
  const after = await setup(args);
  assert.equal(after.code, 0, after.stderr);
  assert.match(after.stdout, /nothing to do/);
});

test('dry-run -o terraform is HCL (python-hcl2) and -o cloudformation passes cfn-lint, for a new and a partial state', async () => {
  const python = venvTool('python');
  const cfnLint = venvTool('cfn-lint');
  const policy = join(h.dir, 'queue.json');
  writeFileSync(
    policy,
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/${aws:PrincipalTag/team}/*' },
      ],
    }),
  );
  for (const [role, sa] of [
    ['fresh-role', 'fresh'],
    ['common', 'api'],
  ] as const) {
    const args = [
      ...base(
        sa,
        role,
        '--account-id',
        ACCOUNT,
        '--policy',
        policy,
        '--policy-arn',
        'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
      ),
      '--dry-run',
    ];
    const tf = await setup([...args, '-o', 'terraform']);
    assert.equal(tf.code, 0, tf.stderr);
    const tfFile = join(h.dir, `${role}.tf`);
    writeFileSync(tfFile, tf.stdout);
    const parsed = JSON.parse(
      (
        await exec(python, [
          '-c',
          'import hcl2, json, sys; print(json.dumps(hcl2.load(open(sys.argv[1]))))',
          tfFile,
        ])
      ).stdout,
    ) as { resource: Array<Record<string, unknown>>; import?: unknown[] };
    // python-hcl2 keeps the quotes of block labels.
    const types = parsed.resource.map((r) => Object.keys(r)[0]!.replace(/"/g, ''));
    assert.ok(
      types.includes('aws_iam_openid_connect_provider') && types.includes('aws_iam_role'),
      types.join(),
    );
    const imported = (parsed.import ?? []).map((i) => String((i as { to: string }).to));
    assert.equal(imported.includes('${aws_iam_role.irsa}'), role === 'common', `imports: ${imported.join()}`);
    assert.ok(
      imported.includes('${aws_iam_openid_connect_provider.issuer}'),
      'the existing provider is imported',
    );
    const cfn = await setup([...args, '-o', 'cloudformation']);
    assert.equal(cfn.code, 0, cfn.stderr);
    const cfnFile = join(h.dir, `${role}.yaml`);
    writeFileSync(cfnFile, cfn.stdout);
    const lint = await exec(cfnLint, ['--format', 'parseable', cfnFile]).catch(
      (e: { stdout: string; code: number }) => e,
    );
    assert.equal(
      (lint as { stdout: string }).stdout.trim(),
      '',
      `cfn-lint on ${role}:\n${(lint as { stdout: string }).stdout}`,
    );
  }
});

test('refusals: an issuer that fails issuer check creates nothing; bad flags are one line, exit 2', async () => {
  const bad = await setup([
    '--issuer',
    'https://127.0.0.1:9/nothing',
    '-n',
    'great-namespace',
    '--service-account',
    'x',
    '--role-name',
    'never',
    '--phases',
    'provider,role',
    '--account-id',
    ACCOUNT,
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /fails 'issuer check', so nothing was created in IAM/);
  await assert.rejects(
    iam.send(new IAM.GetRoleCommand({ RoleName: 'never' })),
    /NoSuchEntity|cannot be found/,
  );
  for (const [args, re] of [
    [['--role-name', 'a b'], /not an IAM role name/],
    [['--phases', 'provider,nope'], /unknown phase "nope"/],
    [['-o', 'terraform'], /-o goes with --dry-run/],
    [['--thumbprint', 'xyz'], /not 40 hex digits/],
    [['--namespace', 'Bad_NS'], /must be Kubernetes names/],
  ] as const) {
    const r = await setup([...base('x', 'r', '--account-id', ACCOUNT), ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  // Without --account-id the account comes from STS GetCallerIdentity (the local STS answers it for STS-issued
  // credentials only, not the IAM admin key: a clear refusal here).
  const noAccount = await setup(base('x', 'r'));
  assert.equal(noAccount.code, 1);
  assert.match(
    noAccount.stderr,
    /^openirsa: setup: cannot find the AWS account \(pass --account-id\): STS GetCallerIdentity: InvalidClientTokenId/,
  );
  const noCreds = await setup(base('x', 'r', '--account-id', ACCOUNT), {
    AWS_SECRET_ACCESS_KEY: 'wrong'.padEnd(40, 'x'),
  });
  assert.equal(noCreds.code, 1);
  assert.match(noCreds.stderr, /reading IAM: SignatureDoesNotMatch/);
  assert.doesNotMatch(noCreds.stderr, /wrongxxx|setup-admin-secret/);
});
