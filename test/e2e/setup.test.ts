/**
 * `openirsa setup` as a user runs it (the built CLI, the standard AWS environment, a kubeconfig), on a real
 * kube-apiserver whose --service-account-issuer is a self-hosted HTTPS issuer:
 *  - against openirsa's own IAM API (`sts serve` with iamApi): the issuer phase reads the cluster's own keys
 *    (`--from-cluster`), publishes the documents to a folder served over HTTPS and passes `issuer check`; then the
 *    provider (thumbprint auto), the role and the ServiceAccount through the API server; `setup verify` makes the
 *    real exchange; a new pod of the ServiceAccount is admitted by `openirsa webhook` with the env and the token
 *    volume, and its token gets the role's credentials at openirsa's STS. Re-run: every step unchanged. `setup
 *    delete` removes what setup created and nothing else. Partial states (a provider with other client ids, a role
 *    with another trust statement, a ServiceAccount with other annotations) are extended, then given back as they
 *    were — with the provider re-created under the same URL, which the STS once refused as a thumbprint mismatch.
 *  - against moto's IAM server (an independent implementation of IAM): the same phases, re-run and partial states;
 *    the exchange at an openirsa STS seeded with what setup wrote into moto.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Agent, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { stringify as toYaml } from 'yaml';
import * as IAM from '@aws-sdk/client-iam';
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { decodeJwt } from 'jose';
import { cleanEnv, venvTool } from '../helpers/sts-harness.js';
import { IRSA_VOLUME_NAME } from '../../src/webhook/constants.js';
import { decodePolicyText } from '../../src/iam/policy.js';
import { CLI, freePort, keygen, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  createNamespace,
  createPod,
  createServiceAccount,
  envOf,
  eventually,
  pod,
  servingCertificate,
  sleep,
  projectedToken,
  serveHttps,
  spawnProcess,
  startWebhook,
  uniqueName,
  type CliProcess,
  type RunningWebhook,
} from './support.js';

const exec = promisify(execFile);
const ACCOUNT = '111122223333';
/** moto's account for any credentials. */
const MOTO_ACCOUNT = '123456789012';
const ADMIN = { accessKeyId: 'AKIAOPENIRSASETUPE2E', secretAccessKey: 'e2e-setup-secret-'.padEnd(40, 'q') };
const LABELS = { 'openirsa-e2e': 'setup' };
const ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
const CREATED_BY = 'openirsa.io/created-by';
const EC2_STATEMENT = {
  Sid: 'Ec2',
  Effect: 'Allow',
  Principal: { Service: 'ec2.amazonaws.com' },
  Action: 'sts:AssumeRole',
};

let cp: ControlPlane;
let work: string;
let caFile: string;
let docsDir: string;
let issuerServer: Server;
let issuer: string;
let tls: { certFile: string; keyFile: string };
let sts: { proc: CliProcess; url: string };
let webhook: RunningWebhook;
let agent: Agent;

/** `openirsa sts serve` over HTTPS with `config`. */
function startSts(name: string, config: Record<string, unknown>): Promise<{ proc: CliProcess; url: string }> {
  const configFile = join(work, `${name}.yaml`);
  writeFileSync(configFile, toYaml(config));
  return serveHttps(cp, ['sts', 'serve', '--config', configFile], tls, '/healthz');
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'openirsa-e2e-setup-'));
  // The issuer is a folder served over HTTPS (as a bucket or a web server would): whatever setup publishes there
  // is what STS and `issuer check` read. The API server signs tokens with that issuer and its own key.
  docsDir = join(work, 'published');
  mkdirSync(docsDir);
  const issuerPort = await freePort();
  issuer = `https://127.0.0.1:${issuerPort}`;
  cp = await startControlPlane({
    serviceAccountKey: keygen(),
    issuer,
    jwksUri: `${issuer}/openid/v1/jwks`,
  });
  caFile = join(work, 'ca.pem');
  writeFileSync(caFile, cp.caPem);
  tls = await servingCertificate(cp, work);
  issuerServer = createServer(
    { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) },
    (req, res) => {
      const path = new URL(req.url ?? '/', issuer).pathname;
      if (path !== '/.well-known/openid-configuration' && path !== '/openid/v1/jwks') {
        res.statusCode = 404;
        return res.end();
      }
      try {
        const body = readFileSync(join(docsDir, path));
        res.setHeader('content-type', 'application/json');
        res.end(body);
      } catch {
        res.statusCode = 404;
        res.end();
      }
    },
  );
  await new Promise<void>((r) => issuerServer.listen(issuerPort, '127.0.0.1', r));
  agent = new Agent({ ca: cp.caPem, keepAlive: true });
  sts = await startSts('sts', {
    accountId: ACCOUNT,
    sessionKey: Buffer.alloc(32, 5).toString('base64'),
    oidcProviders: [],
    roles: [],
    iamApi: { admin: ADMIN },
  });
  webhook = await startWebhook(cp, work, {
    namespaceLabels: LABELS,
    roleAnnotation: ROLE_ANNOTATION,
    role: `arn:aws:iam::${ACCOUNT}:role/probe`,
    args: ['--service-account-lookup-grace-period=5s'],
  });
});

after(async () => {
  await webhook?.stop();
  await sts?.proc.stop();
  agent?.destroy();
  await new Promise((r) => (issuerServer ? issuerServer.close(r) : r(undefined)));
  await cp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The environment a user's shell would have: no ambient AWS settings, IAM and STS where the test says. */
function awsEnv(iamUrl: string, stsUrl: string, creds: { accessKeyId: string; secretAccessKey: string }) {
  return cleanEnv({
    AWS_ENDPOINT_URL_IAM: iamUrl,
    AWS_ENDPOINT_URL_STS: stsUrl,
    AWS_CA_BUNDLE: caFile,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    KUBECONFIG: cp.kubeconfigPath,
    NO_PROXY: '127.0.0.1,localhost',
  });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `openirsa <args>` from dist/, as a user runs it. */
async function openirsa(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { env, timeout: 120_000 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The status word of each step line (phase → created / updated / unchanged / deleted …). */
function statuses(stdout: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of stdout.split('\n')) {
    const m =
      /^(issuer|provider|role|serviceaccount) +.*?: (created|updated|unchanged|deleted|published|issuer check passed)/.exec(
        line,
      );
    if (m) (out[m[1]!] ??= []).push(m[2]!);
  }
  return out;
}

const iamClient = (endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }) =>
  new IAM.IAMClient({
    endpoint,
    region: 'us-east-1',
    credentials: creds,
    requestHandler: new NodeHttpHandler({ httpsAgent: agent }),
    maxAttempts: 1,
  });

async function trustOf(
  iam: IAM.IAMClient,
  role: string,
): Promise<{ Statement: Array<Record<string, unknown>> }> {
  const r = await iam.send(new IAM.GetRoleCommand({ RoleName: role }));
  return JSON.parse(decodePolicyText(r.Role!.AssumeRolePolicyDocument!)) as {
    Statement: Array<Record<string, unknown>>;
  };
}

async function serviceAccount(ns: string, name: string) {
  return cp.request('GET', `/api/v1/namespaces/${ns}/serviceaccounts/${name}`);
}

/**
 * A new pod of the ServiceAccount: admitted with the role's env and the projected token volume; its token (a
 * TokenRequest bound to the pod, with the volume's audience, as the kubelet makes it) traded at `stsUrl` for the
 * role's credentials, whose GetCallerIdentity is returned.
 */
async function podCallerArn(ns: string, sa: string, roleArn: string, stsUrl: string): Promise<string> {
  const name = uniqueName('app');
  // The webhook learns the annotation setup just wrote through its watch, a moment later under load: a dry-run pod
  // shows when it has (as a deploy would retry), then the real pod is created.
  await eventually('the webhook to see the role annotation', async () => {
    const p = await createPod(cp, ns, pod(name, sa), true);
    return envOf(p.spec.containers[0]).AWS_ROLE_ARN === roleArn ? true : undefined;
  });
  const created = await createPod(cp, ns, pod(name, sa));
  const container = created.spec.containers[0]!;
  const env = envOf(container);
  assert.equal(env.AWS_ROLE_ARN, roleArn, 'the webhook injected the role setup annotated');
  assert.ok(env.AWS_WEB_IDENTITY_TOKEN_FILE, 'and the token file');
  const mount = container.volumeMounts?.find((m) => m.name === IRSA_VOLUME_NAME);
  assert.equal(mount?.mountPath, dirname(env.AWS_WEB_IDENTITY_TOKEN_FILE));
  assert.ok(
    created.spec.volumes?.some((v) => v.name === IRSA_VOLUME_NAME),
    'and the projected token volume',
  );
  const { token, audience } = await projectedToken(cp, ns, created);
  assert.equal(audience, 'sts.amazonaws.com');
  assert.deepEqual(decodeJwt(token).aud, ['sts.amazonaws.com']);
  const client = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
    new STSClient({
      endpoint: stsUrl,
      region: 'us-east-1',
      requestHandler: new NodeHttpHandler({ httpsAgent: agent }),
      maxAttempts: 1,
      credentials,
    });
  const assumed = await client({ accessKeyId: 'unused', secretAccessKey: 'unused' }).send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: env.AWS_ROLE_ARN,
      RoleSessionName: name,
      WebIdentityToken: token,
    }),
  );
  const c = assumed.Credentials!;
  const id = await client({
    accessKeyId: c.AccessKeyId!,
    secretAccessKey: c.SecretAccessKey!,
    sessionToken: c.SessionToken!,
  }).send(new GetCallerIdentityCommand({}));
  return id.Arn!;
}

describe("setup against openirsa's IAM API", () => {
  const ns = uniqueName('payments');
  const env = () => awsEnv(sts.url, sts.url, ADMIN);
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/payments-api`;
  const providerArn = () => `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer.slice('https://'.length)}`;
  const args = () => [
    'setup',
    '--issuer',
    issuer,
    '--publish-to',
    docsDir,
    '--issuer-ca-file',
    caFile,
    '--thumbprint',
    'auto',
    '--account-id',
    ACCOUNT,
    '-n',
    ns,
    '--service-account',
    'api',
    '--create-service-account',
    '--role-name',
    'payments-api',
    '--policy-arn',
    'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
  ];
  let iam: IAM.IAMClient;

  before(async () => {
    iam = iamClient(sts.url, ADMIN);
    await createNamespace(cp, ns, LABELS);
    // Bystanders setup must never touch: another ServiceAccount of the namespace and a role of the account.
    await createServiceAccount(cp, ns, 'bystander', { team: 'payments' });
    await iam.send(
      new IAM.CreateRoleCommand({
        RoleName: 'bystander',
        AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [EC2_STATEMENT] }),
      }),
    );
  });

  test('from nothing, in one command: issuer from the cluster published and checked, provider, role, ServiceAccount; verify and a new pod get the role', async () => {
    const r = await openirsa(args(), env());
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    assert.match(
      lines[0]!,
      new RegExp(`^issuer +${issuer}: published 2 documents to ${docsDir} \\(verified\\)$`),
    );
    assert.match(lines[1]!, /^issuer +https:\/\/127\.0\.0\.1:\d+: issuer check passed$/);
    assert.match(
      lines[2]!,
      new RegExp(
        `^provider +IAM OIDC provider ${providerArn()}: created \\(client id sts\\.amazonaws\\.com, thumbprints [0-9a-f]{40}\\)$`,
      ),
    );
    assert.match(
      lines[3]!,
      new RegExp(`^role +role ${roleArn}: created \\(trusts system:serviceaccount:${ns}:api, 1 policy\\)$`),
    );
    assert.match(
      lines[4]!,
      new RegExp(
        `^serviceaccount +ServiceAccount ${ns}/api: created \\(annotated ${ROLE_ANNOTATION}=${roleArn}\\)$`,
      ),
    );
    assert.equal(lines.length, 5, r.stdout);
    // The published documents are the cluster's own keys under the public issuer.
    const jwks = JSON.parse(readFileSync(join(docsDir, 'openid/v1/jwks'), 'utf8')) as {
      keys: Array<{ kid: string }>;
    };
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      [cp.keyId],
    );
    const apiServerJwks = await cp.request('GET', '/openid/v1/jwks', undefined, { anonymous: true });
    assert.deepEqual(jwks, apiServerJwks.json, "the published JWKS is the API server's");
    const discovery = JSON.parse(readFileSync(join(docsDir, '.well-known/openid-configuration'), 'utf8')) as {
      issuer: string;
      jwks_uri: string;
    };
    assert.equal(discovery.issuer, issuer);
    assert.equal(discovery.jwks_uri, `${issuer}/openid/v1/jwks`);
    // The ServiceAccount, through the real API server: annotated, labelled as setup's.
    const sa = (await serviceAccount(ns, 'api')).json as {
      metadata: { annotations: Record<string, string>; labels: Record<string, string> };
    };
    assert.equal(sa.metadata.annotations[ROLE_ANNOTATION], roleArn);
    assert.equal(sa.metadata.labels[CREATED_BY], 'openirsa-setup');

    const verify = await openirsa(['setup', 'verify', '-n', ns, '--service-account', 'api', '--json'], env());
    assert.equal(verify.code, 0, `${verify.stdout}\n${verify.stderr}`);
    const checks = JSON.parse(verify.stdout) as {
      ok: boolean;
      checks: Array<{ id: string; status: string; detail?: string }>;
    };
    assert.equal(checks.ok, true);
    assert.ok(
      checks.checks.every((c) => c.status === 'pass'),
      verify.stdout,
    );
    assert.ok(
      checks.checks.some((c) => c.detail?.includes(`arn:aws:sts::${ACCOUNT}:assumed-role/payments-api/`)),
      `GetCallerIdentity names the role:\n${verify.stdout}`,
    );

    // doctor's checklist with the AWS side: every link passes, the AWS ones included.
    const doctor = await openirsa(
      [
        'doctor',
        '-n',
        ns,
        '--service-account',
        'api',
        '--issuer-ca-file',
        caFile,
        '--aws',
        '--aws-exchange',
        '--format',
        'json',
      ],
      env(),
    );
    assert.equal(doctor.code, 0, `${doctor.stdout}\n${doctor.stderr}`);
    const doctorChecks = (JSON.parse(doctor.stdout) as { checks: Array<{ id: string; status: string }> })
      .checks;
    const aws = doctorChecks.filter((c) => c.id.startsWith('aws-'));
    assert.equal(aws.length, 3, doctor.stdout);
    assert.ok(
      aws.every((c) => c.status === 'pass'),
      doctor.stdout,
    );

    const arn = await podCallerArn(ns, 'api', roleArn, sts.url);
    assert.match(arn, new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/payments-api/app-`));
  });

  test('run again: every step says unchanged, nothing is written', async () => {
    const r = await openirsa(args(), env());
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(statuses(r.stdout), {
      issuer: ['unchanged'],
      provider: ['unchanged'],
      role: ['unchanged'],
      serviceaccount: ['unchanged'],
    });
    assert.match(r.stdout, /^nothing to do: everything is as asked$/m);
    assert.doesNotMatch(r.stdout, /issuer check/, 'no IAM change, so no issuer check');
    const json = await openirsa([...args(), '--json'], env());
    const out = JSON.parse(json.stdout) as { complete: boolean; steps: Array<{ status: string }> };
    assert.equal(out.complete, true);
    assert.deepEqual(
      out.steps.map((s) => s.status),
      ['unchanged', 'unchanged', 'unchanged'],
    );
  });

  test('setup delete removes what setup created and nothing else', async () => {
    const deleteArgs = [
      'setup',
      'delete',
      ...args()
        .slice(1)
        .filter((a) => a !== docsDir && a !== '--publish-to'),
    ];
    const dry = await openirsa([...deleteArgs, '--dry-run'], env());
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout.match(/: would delete \(/g)?.length, 3, dry.stdout);
    await iam.send(new IAM.GetRoleCommand({ RoleName: 'payments-api' }));
    const del = await openirsa(deleteArgs, env());
    assert.equal(del.code, 0, `${del.stdout}\n${del.stderr}`);
    assert.deepEqual(statuses(del.stdout), {
      serviceaccount: ['deleted'],
      role: ['deleted'],
      provider: ['deleted'],
    });
    assert.equal((await serviceAccount(ns, 'api')).status, 404);
    await assert.rejects(iam.send(new IAM.GetRoleCommand({ RoleName: 'payments-api' })), {
      name: 'NoSuchEntityException',
    });
    await assert.rejects(
      iam.send(new IAM.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn() })),
      { name: 'NoSuchEntityException' },
    );
    // Nothing else: the other ServiceAccount, the other role, the published documents.
    const other = (await serviceAccount(ns, 'bystander')).json as {
      metadata: { annotations: Record<string, string> };
    };
    assert.deepEqual(other.metadata.annotations, { team: 'payments' });
    assert.deepEqual((await trustOf(iam, 'bystander')).Statement, [EC2_STATEMENT]);
    assert.ok(existsSync(join(docsDir, 'openid/v1/jwks')));
  });

  test('partial states: a provider with other client ids, a role with another statement, a ServiceAccount with other annotations are extended, the pod gets the role through the re-created provider, and delete gives them back', async () => {
    const tp = await openirsa(['issuer', 'thumbprint', issuer, '--json'], env());
    assert.equal(tp.code, 0, tp.stderr);
    // The provider of the same URL, re-created (the STS once kept a TLS session whose missing chain failed it).
    await iam.send(
      new IAM.CreateOpenIDConnectProviderCommand({
        Url: issuer,
        ClientIDList: ['other-app'],
        ThumbprintList: [(JSON.parse(tp.stdout) as { thumbprint: string }).thumbprint],
      }),
    );
    await iam.send(
      new IAM.CreateRoleCommand({
        RoleName: 'payments-api',
        AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [EC2_STATEMENT] }),
      }),
    );
    await createServiceAccount(cp, ns, 'api', { team: 'payments' });
    const r = await openirsa(
      args().filter((a) => a !== '--create-service-account'),
      env(),
    );
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(statuses(r.stdout), {
      issuer: ['unchanged', 'issuer check passed'],
      provider: ['updated'],
      role: ['updated'],
      serviceaccount: ['updated'],
    });
    assert.match(
      r.stdout,
      /provider .*: updated \(add client id sts\.amazonaws\.com; other client ids and thumbprints kept\)/,
    );
    const p = await iam.send(
      new IAM.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn() }),
    );
    assert.deepEqual(p.ClientIDList, ['other-app', 'sts.amazonaws.com']);
    const trust = await trustOf(iam, 'payments-api');
    assert.deepEqual(trust.Statement[0], EC2_STATEMENT);
    assert.equal(trust.Statement.length, 2);
    const attached = await iam.send(new IAM.ListAttachedRolePoliciesCommand({ RoleName: 'payments-api' }));
    assert.deepEqual(
      attached.AttachedPolicies!.map((a) => a.PolicyArn),
      ['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'],
    );
    const sa = (await serviceAccount(ns, 'api')).json as {
      metadata: { annotations: Record<string, string> };
    };
    assert.deepEqual(sa.metadata.annotations, { team: 'payments', [ROLE_ANNOTATION]: roleArn });

    const arn = await podCallerArn(ns, 'api', roleArn, sts.url);
    assert.match(arn, new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/payments-api/`));
    assert.match((await openirsa(args(), env())).stdout, /nothing to do/);

    const del = await openirsa(
      [
        'setup',
        'delete',
        ...args()
          .slice(1)
          .filter((a) => a !== docsDir && a !== '--publish-to'),
      ],
      env(),
    );
    assert.equal(del.code, 0, `${del.stdout}\n${del.stderr}`);
    assert.match(del.stdout, /serviceaccount .*: updated \(remove annotation/);
    assert.match(del.stdout, /role .*: updated \(remove trust statement OpenirsaSetup[0-9a-f]{16}/);
    assert.match(del.stdout, /provider .*: unchanged \(existed before setup/);
    const kept = (await serviceAccount(ns, 'api')).json as {
      metadata: { annotations: Record<string, string> };
    };
    assert.deepEqual(kept.metadata.annotations, { team: 'payments' });
    assert.deepEqual((await trustOf(iam, 'payments-api')).Statement, [EC2_STATEMENT]);
    const still = await iam.send(
      new IAM.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn() }),
    );
    assert.deepEqual(
      still.ClientIDList,
      ['other-app', 'sts.amazonaws.com'],
      'client ids others may rely on stay',
    );
  });
});

describe(
  "setup against moto's IAM server (an independent IAM)",
  // No skip: without moto this suite fails loudly (venvTool names what to install).
  () => {
    const ns = uniqueName('moto');
    const MOTO = { accessKeyId: 'testing', secretAccessKey: 'testing' };
    const roleArn = `arn:aws:iam::${MOTO_ACCOUNT}:role/moto-api`;
    let moto: CliProcess | undefined;
    let motoUrl: string;
    let iam: IAM.IAMClient;
    let seeded: { proc: CliProcess; url: string } | undefined;
    const args = (...more: string[]) => [
      '--issuer',
      issuer,
      '--issuer-ca-file',
      caFile,
      '--thumbprint',
      'auto',
      '--account-id',
      MOTO_ACCOUNT,
      '-n',
      ns,
      '--service-account',
      'api',
      '--role-name',
      'moto-api',
      ...more,
    ];
    // STS is openirsa's; until the seeded one runs, the IAM half needs none.
    const env = () => awsEnv(motoUrl, seeded?.url ?? sts.url, MOTO);

    before(async () => {
      const port = await freePort();
      motoUrl = `http://127.0.0.1:${port}`;
      moto = spawnProcess(venvTool('moto_server'), ['-H', '127.0.0.1', '-p', String(port)]);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const up = await fetch(`${motoUrl}/moto-api/`).then(
          () => true,
          () => false,
        );
        if (up) break;
        if (moto.child.exitCode !== null || Date.now() > deadline)
          throw new Error(`moto_server did not start:\n${moto.output()}`);
        await sleep(250);
      }
      iam = new IAM.IAMClient({ endpoint: motoUrl, region: 'us-east-1', credentials: MOTO, maxAttempts: 1 });
      await createNamespace(cp, ns, LABELS);
      // The issuer documents are published by the tests above; here setup runs without the issuer phase.
      if (!existsSync(join(docsDir, 'openid/v1/jwks'))) {
        const r = await openirsa(['setup', ...args('--publish-to', docsDir, '--phases', 'issuer')], env());
        assert.equal(r.code, 0, r.stderr);
      }
    });

    after(async () => {
      await seeded?.proc.stop();
      await moto?.stop();
    });

    test('from nothing: provider, role and ServiceAccount in moto and the cluster; re-run unchanged; the pod gets the role at an STS seeded from moto; verify; delete', async () => {
      const r = await openirsa(['setup', ...args('--create-service-account')], env());
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.deepEqual(statuses(r.stdout), {
        issuer: ['issuer check passed'],
        provider: ['created'],
        role: ['created'],
        serviceaccount: ['created'],
      });
      const again = await openirsa(['setup', ...args('--create-service-account')], env());
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(statuses(again.stdout), {
        provider: ['unchanged'],
        role: ['unchanged'],
        serviceaccount: ['unchanged'],
      });

      // What moto holds now, given to openirsa's STS: the provider and the role as setup wrote them.
      const providerArn = `arn:aws:iam::${MOTO_ACCOUNT}:oidc-provider/${issuer.slice('https://'.length)}`;
      const p = await iam.send(
        new IAM.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }),
      );
      assert.deepEqual(p.ClientIDList, ['sts.amazonaws.com']);
      assert.equal(p.ThumbprintList?.length, 1);
      assert.deepEqual(
        p.Tags?.map((t) => [t.Key, t.Value]),
        [[CREATED_BY, 'openirsa-setup']],
      );
      const trust = await trustOf(iam, 'moto-api');
      seeded = await startSts('sts-from-moto', {
        accountId: MOTO_ACCOUNT,
        sessionKey: Buffer.alloc(32, 6).toString('base64'),
        oidcProviders: [{ Url: issuer, ClientIDList: p.ClientIDList, ThumbprintList: p.ThumbprintList }],
        roles: [{ RoleName: 'moto-api', AssumeRolePolicyDocument: trust }],
      });
      const arn = await podCallerArn(ns, 'api', roleArn, seeded.url);
      assert.match(arn, new RegExp(`^arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/moto-api/`));
      const verify = await openirsa(['setup', 'verify', '-n', ns, '--service-account', 'api'], env());
      assert.equal(verify.code, 0, `${verify.stdout}\n${verify.stderr}`);
      assert.match(verify.stdout, new RegExp(`assumed-role/moto-api/`));

      const del = await openirsa(['setup', 'delete', ...args()], env());
      assert.equal(del.code, 0, `${del.stdout}\n${del.stderr}`);
      assert.deepEqual(statuses(del.stdout), {
        serviceaccount: ['deleted'],
        role: ['deleted'],
        provider: ['deleted'],
      });
      await assert.rejects(iam.send(new IAM.GetRoleCommand({ RoleName: 'moto-api' })), {
        name: 'NoSuchEntityException',
      });
      assert.equal((await serviceAccount(ns, 'api')).status, 404);
    });

    test('partial states in moto: a provider with other client ids and thumbprints and a role with another statement are extended, then given back', async () => {
      // moto 5.2 has no AddClientIDToOpenIDConnectProvider (its IAM answers an HTML page), so here the provider
      // already lists the audience among other client ids and setup adds the issuer's thumbprint to another one.
      await iam.send(
        new IAM.CreateOpenIDConnectProviderCommand({
          Url: issuer,
          ClientIDList: ['other-app', 'sts.amazonaws.com'],
          ThumbprintList: ['0123456789abcdef0123456789abcdef01234567'],
        }),
      );
      await iam.send(
        new IAM.CreateRoleCommand({
          RoleName: 'moto-api',
          AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [EC2_STATEMENT] }),
        }),
      );
      await createServiceAccount(cp, ns, 'api');
      const r = await openirsa(['setup', ...args()], env());
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.deepEqual(statuses(r.stdout), {
        issuer: ['issuer check passed'],
        provider: ['updated'],
        role: ['updated'],
        serviceaccount: ['updated'],
      });
      assert.match(
        r.stdout,
        /provider .*: updated \(add thumbprint [0-9a-f]{40}; other client ids and thumbprints kept\)/,
      );
      const providerArn = `arn:aws:iam::${MOTO_ACCOUNT}:oidc-provider/${issuer.slice('https://'.length)}`;
      const p = await iam.send(
        new IAM.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }),
      );
      assert.deepEqual(p.ClientIDList, ['other-app', 'sts.amazonaws.com']);
      assert.equal(p.ThumbprintList?.length, 2, 'its thumbprint kept, the issuer’s added');
      const trust = await trustOf(iam, 'moto-api');
      assert.deepEqual(trust.Statement[0], EC2_STATEMENT);
      assert.equal(trust.Statement.length, 2);
      assert.match((await openirsa(['setup', ...args()], env())).stdout, /nothing to do/);

      const del = await openirsa(['setup', 'delete', ...args()], env());
      assert.equal(del.code, 0, `${del.stdout}\n${del.stderr}`);
      assert.match(del.stdout, /provider .*: unchanged \(existed before setup/);
      assert.deepEqual((await trustOf(iam, 'moto-api')).Statement, [EC2_STATEMENT]);
      const sa = (await serviceAccount(ns, 'api')).json as {
        metadata: { annotations?: Record<string, string> };
      };
      assert.equal(sa.metadata.annotations?.[ROLE_ANNOTATION], undefined);
    });
  },
);
