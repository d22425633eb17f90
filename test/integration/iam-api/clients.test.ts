/**
 * Every IAM action, its errors included, through three real clients against `openirsa sts serve` over HTTPS:
 * the AWS CLI (its own input parsing and `--output json`), boto3, and the AWS SDK for JavaScript v3
 * (@aws-sdk/client-iam). One plan, run by each client with its own names; then the scenario a platform team
 * lives: the CLI registers the issuer and a role, a token gets in at once, a trust change shuts it out.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as IAM from '@aws-sdk/client-iam';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { BIN, ROOT, cleanEnv, startHarness, venvTool, type Harness } from '../../helpers/sts-harness.js';
import { SUB } from '../../helpers/sts-fixtures.js';

const run = promisify(execFile);
const ACCOUNT = '111122223333';
const ADMIN = {
  accessKeyId: 'AKIAOPENIRSAINTEG001',
  secretAccessKey: 'integration-admin-secret-'.padEnd(40, 'q'),
};
const RUNNERS = join(ROOT, 'test/integration/iam-api/runners.py');
let h: Harness;
let agent: Agent;

before(async () => {
  h = await startHarness({
    configure: (c) => {
      c.iamApi = { admin: ADMIN };
      c.roles = [];
    },
  });
  agent = new Agent({ ca: readFileSync(h.caFile) });
});
after(async () => {
  agent?.destroy();
  const code = await h?.stop();
  assert.equal(code, 0);
});

interface Step {
  action: string;
  params: Record<string, unknown>;
  /** 'ok' or the AWS error code. */
  expect: string;
  /** The model's length/range limits, which botocore (CLI, boto3) checks before sending; the JS SDK does not. */
  botocoreRefuses?: true;
  /** Checks on the result (a parsed JSON object: boto3/CLI decode policy documents, the SDK does not). */
  check?: (r: Record<string, unknown>, client: Client) => void;
}
type Client = 'cli' | 'boto3' | 'sdk';
interface Result {
  ok: boolean;
  result?: Record<string, unknown>;
  code?: string;
  message?: string;
}

const doc = (r: unknown, client: Client): unknown =>
  client === 'sdk' ? JSON.parse(decodeURIComponent(String(r))) : r;

function plan(p: string): Step[] {
  const url = `https://${p}.example.com/id/1`;
  const providerArn = `arn:aws:iam::${ACCOUNT}:oidc-provider/${p}.example.com/id/1`;
  const trust = (sub: string) => ({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: providerArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${p}.example.com/id/1:sub`]: sub } },
      },
    ],
  });
  const read = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
  };
  const role = `${p}-app`;
  const policyArn = `arn:aws:iam::${ACCOUNT}:policy/${p}/${p}-pol`;
  const s3ro = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';
  const thumb = 'a'.repeat(40);
  return [
    {
      action: 'CreateOpenIDConnectProvider',
      params: {
        Url: url,
        ClientIDList: ['sts.amazonaws.com'],
        ThumbprintList: [thumb],
        Tags: [{ Key: 'team', Value: 'a' }],
      },
      expect: 'ok',
      check: (r) => assert.equal(r.OpenIDConnectProviderArn, providerArn),
    },
    {
      action: 'CreateOpenIDConnectProvider',
      params: { Url: url, ClientIDList: ['x'] },
      expect: 'EntityAlreadyExists',
    },
    {
      action: 'CreateOpenIDConnectProvider',
      params: { Url: `http://${p}.example.org`, ClientIDList: ['x'] },
      expect: 'InvalidInput',
    },
    {
      action: 'CreateOpenIDConnectProvider',
      params: { Url: `https://${p}.example.org`, ThumbprintList: ['abc'] },
      expect: 'ValidationError',
      botocoreRefuses: true,
    },
    {
      action: 'GetOpenIDConnectProvider',
      params: { OpenIDConnectProviderArn: providerArn },
      expect: 'ok',
      check: (r) => assert.equal(r.Url, `${p}.example.com/id/1`),
    },
    {
      action: 'ListOpenIDConnectProviders',
      params: {},
      expect: 'ok',
      check: (r) =>
        assert.ok((r.OpenIDConnectProviderList as Array<{ Arn: string }>).some((x) => x.Arn === providerArn)),
    },
    {
      action: 'AddClientIDToOpenIDConnectProvider',
      params: { OpenIDConnectProviderArn: providerArn, ClientID: 'other' },
      expect: 'ok',
    },
    {
      action: 'RemoveClientIDFromOpenIDConnectProvider',
      params: { OpenIDConnectProviderArn: providerArn, ClientID: 'sts.amazonaws.com' },
      expect: 'ok',
    },
    {
      action: 'UpdateOpenIDConnectProviderThumbprint',
      params: { OpenIDConnectProviderArn: providerArn, ThumbprintList: ['b'.repeat(40)] },
      expect: 'ok',
    },
    {
      action: 'TagOpenIDConnectProvider',
      params: { OpenIDConnectProviderArn: providerArn, Tags: [{ Key: 'x', Value: '1' }] },
      expect: 'ok',
    },
    {
      action: 'UntagOpenIDConnectProvider',
      params: { OpenIDConnectProviderArn: providerArn, TagKeys: ['team'] },
      expect: 'ok',
    },
    {
      action: 'GetOpenIDConnectProvider',
      params: { OpenIDConnectProviderArn: providerArn },
      expect: 'ok',
      check: (r) => {
        assert.deepEqual(r.ClientIDList, ['other']);
        assert.deepEqual(r.ThumbprintList, ['b'.repeat(40)]);
        assert.deepEqual(r.Tags, [{ Key: 'x', Value: '1' }]);
        assert.ok(new Date(r.CreateDate as string).getUTCFullYear() >= 2026, String(r.CreateDate));
      },
    },
    {
      action: 'GetOpenIDConnectProvider',
      params: { OpenIDConnectProviderArn: `${providerArn}x` },
      expect: 'NoSuchEntity',
    },
    {
      action: 'CreateRole',
      params: {
        RoleName: role,
        Path: `/${p}/`,
        AssumeRolePolicyDocument: JSON.stringify(trust(SUB)),
        Description: 'app role',
        Tags: [{ Key: 'k', Value: 'v' }],
      },
      expect: 'ok',
      check: (r, client) => {
        const x = r.Role as Record<string, unknown>;
        assert.equal(x.Arn, `arn:aws:iam::${ACCOUNT}:role/${p}/${role}`);
        assert.match(String(x.RoleId), /^AROA[A-Z0-9]{17}$/);
        assert.deepEqual(doc(x.AssumeRolePolicyDocument, client), trust(SUB));
      },
    },
    {
      action: 'CreateRole',
      params: { RoleName: `${p}-two`, Path: `/${p}/`, AssumeRolePolicyDocument: JSON.stringify(trust(SUB)) },
      expect: 'ok',
    },
    {
      action: 'CreateRole',
      params: { RoleName: role.toUpperCase(), AssumeRolePolicyDocument: JSON.stringify(trust(SUB)) },
      expect: 'EntityAlreadyExists',
    },
    {
      action: 'CreateRole',
      params: { RoleName: 'bad name', AssumeRolePolicyDocument: JSON.stringify(trust(SUB)) },
      expect: 'ValidationError',
    },
    {
      action: 'CreateRole',
      params: {
        RoleName: `${p}-bad`,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }],
        }),
      },
      expect: 'MalformedPolicyDocument',
    },
    {
      action: 'GetRole',
      params: { RoleName: role },
      expect: 'ok',
      check: (r) => {
        const x = r.Role as Record<string, unknown>;
        assert.equal(x.MaxSessionDuration, 3600);
        assert.equal(x.Description, 'app role');
        assert.deepEqual(x.Tags, [{ Key: 'k', Value: 'v' }]);
      },
    },
    {
      action: 'ListRoles',
      params: { PathPrefix: `/${p}/`, MaxItems: 1 },
      expect: 'ok',
      check: (r) => {
        assert.deepEqual(
          (r.Roles as Array<{ RoleName: string }>).map((x) => x.RoleName),
          [role],
        );
        assert.equal(r.IsTruncated, true);
      },
    },
    {
      action: 'ListRoles',
      params: { PathPrefix: `/${p}/`, MaxItems: 1, Marker: '$marker' },
      expect: 'ok',
      check: (r) => {
        assert.deepEqual(
          (r.Roles as Array<{ RoleName: string }>).map((x) => x.RoleName),
          [`${p}-two`],
        );
        assert.equal(r.IsTruncated, false);
      },
    },
    {
      action: 'ListInstanceProfilesForRole',
      params: { RoleName: role },
      expect: 'ok',
      check: (r) => assert.deepEqual(r.InstanceProfiles, []),
    },
    {
      action: 'UpdateRole',
      params: { RoleName: role, MaxSessionDuration: 7200, Description: 'changed' },
      expect: 'ok',
    },
    {
      action: 'UpdateRole',
      params: { RoleName: role, MaxSessionDuration: 100 },
      expect: 'ValidationError',
      botocoreRefuses: true,
    },
    {
      action: 'UpdateAssumeRolePolicy',
      params: { RoleName: role, PolicyDocument: JSON.stringify(trust('system:serviceaccount:a:b')) },
      expect: 'ok',
    },
    {
      action: 'UpdateAssumeRolePolicy',
      params: { RoleName: role, PolicyDocument: '{"Version":' },
      expect: 'MalformedPolicyDocument',
    },
    { action: 'TagRole', params: { RoleName: role, Tags: [{ Key: 'x', Value: '1' }] }, expect: 'ok' },
    { action: 'UntagRole', params: { RoleName: role, TagKeys: ['k'] }, expect: 'ok' },
    {
      action: 'ListRoleTags',
      params: { RoleName: role },
      expect: 'ok',
      check: (r) => assert.deepEqual(r.Tags, [{ Key: 'x', Value: '1' }]),
    },
    {
      action: 'PutRolePolicy',
      params: { RoleName: role, PolicyName: 'inline', PolicyDocument: JSON.stringify(read) },
      expect: 'ok',
    },
    {
      action: 'PutRolePolicy',
      params: {
        RoleName: role,
        PolicyName: 'huge',
        PolicyDocument: JSON.stringify({
          ...read,
          Statement: [
            {
              ...read.Statement[0],
              Resource: Array.from({ length: 400 }, (_, i) => `arn:aws:s3:::bucket-${i}/*`),
            },
          ],
        }),
      },
      expect: 'LimitExceeded',
    },
    {
      action: 'GetRolePolicy',
      params: { RoleName: role, PolicyName: 'inline' },
      expect: 'ok',
      check: (r, client) => {
        assert.equal(r.PolicyName, 'inline');
        assert.equal(r.RoleName, role);
        assert.deepEqual(doc(r.PolicyDocument, client), read);
      },
    },
    { action: 'GetRolePolicy', params: { RoleName: role, PolicyName: 'nope' }, expect: 'NoSuchEntity' },
    {
      action: 'ListRolePolicies',
      params: { RoleName: role },
      expect: 'ok',
      check: (r) => assert.deepEqual(r.PolicyNames, ['inline']),
    },
    {
      action: 'CreatePolicy',
      params: { PolicyName: `${p}-pol`, Path: `/${p}/`, PolicyDocument: JSON.stringify(read) },
      expect: 'ok',
      check: (r) => assert.equal((r.Policy as { Arn: string }).Arn, policyArn),
    },
    {
      action: 'CreatePolicy',
      params: { PolicyName: `${p}-pol`, PolicyDocument: JSON.stringify(read) },
      expect: 'EntityAlreadyExists',
    },
    {
      action: 'GetPolicy',
      params: { PolicyArn: policyArn },
      expect: 'ok',
      check: (r) => assert.equal((r.Policy as { DefaultVersionId: string }).DefaultVersionId, 'v1'),
    },
    {
      action: 'GetPolicyVersion',
      params: { PolicyArn: policyArn, VersionId: 'v1' },
      expect: 'ok',
      check: (r, client) =>
        assert.deepEqual(doc((r.PolicyVersion as { Document: unknown }).Document, client), read),
    },
    { action: 'AttachRolePolicy', params: { RoleName: role, PolicyArn: policyArn }, expect: 'ok' },
    { action: 'AttachRolePolicy', params: { RoleName: role, PolicyArn: s3ro }, expect: 'ok' },
    {
      action: 'AttachRolePolicy',
      params: { RoleName: role, PolicyArn: 'arn:aws:iam::aws:policy/PowerUserAccess' },
      expect: 'NoSuchEntity',
    },
    {
      action: 'ListAttachedRolePolicies',
      params: { RoleName: role },
      expect: 'ok',
      check: (r) =>
        assert.deepEqual(
          (r.AttachedPolicies as Array<{ PolicyArn: string }>).map((x) => x.PolicyArn),
          [policyArn, s3ro],
        ),
    },
    { action: 'DeleteRole', params: { RoleName: role }, expect: 'DeleteConflict' },
    { action: 'DeletePolicy', params: { PolicyArn: policyArn }, expect: 'DeleteConflict' },
    { action: 'DetachRolePolicy', params: { RoleName: role, PolicyArn: policyArn }, expect: 'ok' },
    { action: 'DetachRolePolicy', params: { RoleName: role, PolicyArn: s3ro }, expect: 'ok' },
    { action: 'DeleteRolePolicy', params: { RoleName: role, PolicyName: 'inline' }, expect: 'ok' },
    { action: 'DeleteRole', params: { RoleName: role }, expect: 'ok' },
    { action: 'DeleteRole', params: { RoleName: `${p}-two` }, expect: 'ok' },
    { action: 'GetRole', params: { RoleName: role }, expect: 'NoSuchEntity' },
    { action: 'DeletePolicy', params: { PolicyArn: policyArn }, expect: 'ok' },
    {
      action: 'DeleteOpenIDConnectProvider',
      params: { OpenIDConnectProviderArn: providerArn },
      expect: 'ok',
    },
  ];
}

function iamEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    AWS_ENDPOINT_URL_IAM: h.stsUrl,
    AWS_CA_BUNDLE: h.caFile,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
    ...extra,
  });
}

async function runPython(kind: 'cli' | 'boto3', steps: Step[], env = iamEnv()): Promise<Result[]> {
  const file = join(h.dir, `plan-${kind}.json`);
  writeFileSync(file, JSON.stringify(steps.map(({ action, params }) => ({ action, params }))));
  const { stdout } = await run(venvTool('python'), [RUNNERS, kind, file], { env, maxBuffer: 16 << 20 });
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Result);
}

const sdkClient = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
  new IAM.IAMClient({
    endpoint: h.stsUrl,
    region: 'us-east-1',
    credentials,
    requestHandler: new NodeHttpHandler({ httpsAgent: agent }),
    maxAttempts: 1,
  });

async function runSdk(steps: Step[], credentials = ADMIN): Promise<Result[]> {
  const client = sdkClient(credentials);
  const out: Result[] = [];
  let marker: string | undefined;
  for (const s of steps) {
    const Command = (IAM as unknown as Record<string, new (input: unknown) => IAM.ListRolesCommand>)[
      `${s.action}Command`
    ]!;
    const params = Object.fromEntries(
      Object.entries(s.params).map(([k, v]) => [k, v === '$marker' ? marker : v]),
    );
    try {
      const r = (await client.send(new Command(params))) as unknown as Record<string, unknown>;
      delete r.$metadata;
      marker = r.Marker as string | undefined;
      out.push({ ok: true, result: r });
    } catch (err) {
      // The SDK names modeled errors by their shape (EntityAlreadyExistsException); the wire code has no suffix.
      out.push({
        ok: false,
        code: (err as Error).name.replace(/Exception$/, ''),
        message: (err as Error).message,
      });
    }
  }
  return out;
}

/** `aws sts assume-role-with-web-identity` with the harness token: the STS half of a pod's start. */
function cliAssume(roleName: string, session: string) {
  return run(
    venvTool('aws'),
    [
      'sts',
      'assume-role-with-web-identity',
      '--endpoint-url',
      h.stsUrl,
      '--role-arn',
      `arn:aws:iam::${ACCOUNT}:role/${roleName}`,
      '--role-session-name',
      session,
      '--web-identity-token',
      `file://${h.tokenFile}`,
      '--output',
      'json',
    ],
    { env: cleanEnv({ AWS_DEFAULT_REGION: 'us-east-1', AWS_CA_BUNDLE: h.caFile }) },
  );
}

function verify(client: Client, steps: Step[], results: Result[]): void {
  assert.equal(results.length, steps.length, `${client}: one result per call`);
  steps.forEach((s, i) => {
    const r = results[i]!;
    const what = `${client} step ${i} ${s.action} ${JSON.stringify(s.params).slice(0, 120)}`;
    if (s.expect === 'ok') {
      assert.ok(r.ok, `${what}: ${r.code}: ${r.message}`);
      s.check?.(r.result ?? {}, client);
    } else {
      const want = s.botocoreRefuses && client !== 'sdk' ? 'ParamValidation' : s.expect;
      assert.equal(r.ok ? 'ok' : r.code, want, `${what}: ${r.message ?? JSON.stringify(r.result)}`);
    }
  });
}

test('the AWS CLI drives every action, with IAM’s errors, and parses every response', async () => {
  const steps = plan('cli');
  verify('cli', steps, await runPython('cli', steps));
});

test('boto3 drives every action, with IAM’s errors', async () => {
  const steps = plan('boto3');
  verify('boto3', steps, await runPython('boto3', steps));
});

test('the AWS SDK for JavaScript v3 (@aws-sdk/client-iam) drives every action, with IAM’s errors', async () => {
  const steps = plan('sdk');
  verify('sdk', steps, await runSdk(steps));
  assert.equal(
    statSync(join(h.dir, 'sts.iam-state.json')).mode & 0o777,
    0o600,
    'the state file beside the config, 0600',
  );
});

test('unauthorized calls are refused: no credentials, and a session whose role allows no iam: action', async () => {
  const steps: Step[] = [{ action: 'ListRoles', params: {}, expect: 'AccessDenied' }];
  // A session of a role (created here) with no permission policies.
  const trust = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: h.providerArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${h.providerArn.split('oidc-provider/')[1]}:sub`]: SUB } },
      },
    ],
  };
  await sdkClient(ADMIN).send(
    new IAM.CreateRoleCommand({ RoleName: 'no-iam', AssumeRolePolicyDocument: JSON.stringify(trust) }),
  );
  const aws = venvTool('aws');
  const { stdout } = await cliAssume('no-iam', 'nosy');
  const c = JSON.parse(stdout).Credentials;
  const session = {
    AWS_ACCESS_KEY_ID: c.AccessKeyId,
    AWS_SECRET_ACCESS_KEY: c.SecretAccessKey,
    AWS_SESSION_TOKEN: c.SessionToken,
  };
  const message = `User: arn:aws:sts::${ACCOUNT}:assumed-role/no-iam/nosy is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::${ACCOUNT}:role/ because no identity-based policy allows the iam:ListRoles action`;
  for (const [client, results] of [
    ['cli', await runPython('cli', steps, iamEnv(session))],
    ['boto3', await runPython('boto3', steps, iamEnv(session))],
    [
      'sdk',
      await runSdk(steps, {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
      } as typeof ADMIN),
    ],
  ] as const) {
    verify(client, steps, results);
    assert.equal(results[0]!.message, message, client);
  }
  const anon = await run(aws, ['iam', 'list-roles', '--no-sign-request', '--output', 'json'], {
    env: iamEnv(),
  }).catch((e: { stderr: string }) => e);
  assert.match(anon.stderr, /\(MissingAuthenticationToken\)/);
});

test('scenario: the CLI registers the issuer and a role; the token gets in at once, and is refused after update-assume-role-policy', async () => {
  const env = iamEnv();
  const aws = venvTool('aws');
  const { stdout: tp } = await run(process.execPath, [BIN, 'issuer', 'thumbprint', h.issuerUrl, '--json']);
  const thumbprint = JSON.parse(tp).thumbprint as string;
  // The harness's seed has this issuer; a real team starts empty: delete it first, then create it with the CLI.
  await run(
    aws,
    ['iam', 'delete-open-id-connect-provider', '--open-id-connect-provider-arn', h.providerArn],
    { env },
  );
  const created = await run(
    aws,
    [
      'iam',
      'create-open-id-connect-provider',
      '--url',
      h.issuerUrl,
      '--client-id-list',
      'sts.amazonaws.com',
      '--thumbprint-list',
      thumbprint,
      '--output',
      'json',
    ],
    { env },
  );
  assert.equal(JSON.parse(created.stdout).OpenIDConnectProviderArn, h.providerArn);
  const host = h.providerArn.split('oidc-provider/')[1]!;
  const trust = (sub: string) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: h.providerArn },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringEquals: { [`${host}:sub`]: sub, [`${host}:aud`]: 'sts.amazonaws.com' } },
        },
      ],
    });
  await run(
    aws,
    ['iam', 'create-role', '--role-name', 'scenario', '--assume-role-policy-document', trust(SUB)],
    { env },
  );
  const assume = () => cliAssume('scenario', 'pod');
  const ok = JSON.parse((await assume()).stdout);
  assert.equal(ok.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/scenario/pod`);
  await run(
    aws,
    [
      'iam',
      'update-assume-role-policy',
      '--role-name',
      'scenario',
      '--policy-document',
      trust('system:serviceaccount:other:sa'),
    ],
    { env },
  );
  const denied = (await assume().catch((e) => e)) as { stderr: string };
  assert.match(
    denied.stderr,
    /An error occurred \(AccessDenied\) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity/,
  );
  // explain reads the same state: the role created through the API is explained, and the denial shown.
  const explained = (await run(process.execPath, [
    BIN,
    'explain',
    '--config',
    join(h.dir, 'sts.yaml'),
    '--role-arn',
    `arn:aws:iam::${ACCOUNT}:role/scenario`,
    '--token',
    h.tokenFile,
  ]).catch((e) => e)) as { code: number; stdout: string };
  assert.equal(explained.code, 3);
  assert.match(explained.stdout, /system:serviceaccount:other:sa/);
  const checked = await run(process.execPath, [
    BIN,
    'sts',
    'check-config',
    '--config',
    join(h.dir, 'sts.yaml'),
  ]);
  assert.match(checked.stdout, /IAM API: on .* stored change\(s\)/);
  assert.match(checked.stdout, /role arn:aws:iam::111122223333:role\/scenario/);
});

test('AWS_ENDPOINT_URL_IAM alone points the JS SDK v3 at the IAM API (no endpoint in code)', async () => {
  const script = `
    import { IAMClient, ListOpenIDConnectProvidersCommand } from '@aws-sdk/client-iam';
    const out = await new IAMClient({}).send(new ListOpenIDConnectProvidersCommand({}));
    console.log(JSON.stringify(out.OpenIDConnectProviderList));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: iamEnv({ NODE_EXTRA_CA_CERTS: h.caFile, AWS_REGION: 'us-east-1' }),
  });
  assert.ok(Array.isArray(JSON.parse(stdout.trim().split('\n').pop()!)));
});
