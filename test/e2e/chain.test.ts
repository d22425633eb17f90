/**
 * The whole IRSA chain on a real control plane, twice: with `openirsa sts serve` reading the API server's own
 * discovery endpoints, and with the documents from `openirsa issuer documents` served by `openirsa issuer serve`.
 *
 *   ServiceAccount (role annotation) → Pod → `openirsa webhook` injects env + projected token volume
 *   → TokenRequest bound to the pod with the volume's audience and expiry (what the kubelet does) → token file
 *   → AWS SDK for JavaScript v3, in a child process with exactly the injected env, plus the STS endpoint
 *   → AssumeRoleWithWebIdentity → GetCallerIdentity = arn:aws:sts::111122223333:assumed-role/s3-writer/…
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import {
  freePort,
  httpCall,
  keygen,
  startControlPlane,
  type ControlPlane,
} from '../helpers/control-plane.js';
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
  startWebhook,
  uniqueName,
  type CliProcess,
  type Pod,
  type RunningWebhook,
} from './support.js';
import { webIdentityTrust } from '../helpers/trust-policy.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/s3-writer`;
const ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
const LABELS = { 'openirsa-e2e': 'chain' };

/** Runs GetCallerIdentity with the AWS SDK v3 default credential chain, in a clean child process. */
const SDK_SCRIPT = `
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
try {
  const out = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  console.log(JSON.stringify({ ok: true, Arn: out.Arn, Account: out.Account, UserId: out.UserId }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: e.name, message: e.message }));
}
`;

interface SdkResult {
  ok: boolean;
  Arn?: string;
  Account?: string;
  UserId?: string;
  name?: string;
  message?: string;
}

const modes = [
  { name: "STS reads the API server's own discovery endpoints", selfHosted: false },
  { name: 'STS reads `openirsa issuer documents` served by `openirsa issuer serve`', selfHosted: true },
];

for (const mode of modes) {
  describe(`whole chain: ${mode.name}`, () => {
    let cp: ControlPlane;
    let webhook: RunningWebhook | undefined;
    let sts: CliProcess | undefined;
    let issuerServe: CliProcess | undefined;
    let work: string;
    let stsUrl: string;
    let issuerHost: string;
    let caFile: string;

    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'openirsa-e2e-chain-'));
      const key = keygen();
      let issuer: string | undefined;
      let issuerPort = 0;
      if (mode.selfHosted) {
        issuerPort = await freePort();
        issuer = `https://127.0.0.1:${issuerPort}`;
      }
      cp = await startControlPlane({
        serviceAccountKey: key,
        ...(issuer ? { issuer, jwksUri: `${issuer}/keys.json` } : {}),
      });
      issuerHost = new URL(cp.issuer).host;
      caFile = join(work, 'ca.crt');
      writeFileSync(caFile, cp.caPem);
      const tls = await servingCertificate(cp, work);

      if (mode.selfHosted) {
        const pub = join(work, 'sa-signer.pub');
        writeFileSync(pub, key.publicKeyPem);
        const docs = join(work, 'issuer-docs');
        const out = spawnSync(
          process.execPath,
          [
            'dist/src/cli/bin.js',
            'issuer',
            'documents',
            '--issuer',
            cp.issuer,
            '--public-key',
            pub,
            '--out',
            docs,
          ],
          { cwd: ROOT, encoding: 'utf8' },
        );
        assert.equal(out.status, 0, out.stderr);
        issuerServe = (
          await serveHttps(
            cp,
            ['issuer', 'serve', '--dir', docs],
            tls,
            '/.well-known/openid-configuration',
            issuerPort,
          )
        ).proc;
      }

      const config = {
        accountId: ACCOUNT,
        oidcProviders: [{ Url: cp.issuer, ClientIDList: ['sts.amazonaws.com'], caBundle: caFile }],
        roles: [
          {
            RoleName: 's3-writer',
            AssumeRolePolicyDocument: webIdentityTrust(
              ACCOUNT,
              cp.issuer,
              'system:serviceaccount:great-namespace:great-serviceaccount',
            ),
          },
        ],
      };
      const configFile = join(work, 'sts.yaml');
      writeFileSync(configFile, toYaml(config));
      const served = await serveHttps(cp, ['sts', 'serve', '--config', configFile], tls, '/healthz');
      sts = served.proc;
      stsUrl = served.url;

      webhook = await startWebhook(cp, work, {
        namespaceLabels: LABELS,
        roleAnnotation: ROLE_ANNOTATION,
        role: ROLE,
        // Each test creates its ServiceAccount just before the pod, as a deploy does; under load the watch can be
        // a moment behind, which the reference's grace-period lookup exists for.
        args: ['--service-account-lookup-grace-period=5s'],
      });
    });

    after(async () => {
      await webhook?.stop();
      await sts?.stop();
      await issuerServe?.stop();
      await cp?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    /** Creates the pod, gets its token as the kubelet would, and runs the SDK with the pod's env. */
    async function runPod(
      namespace: string,
      serviceAccount: string,
    ): Promise<{ pod: Pod; result: SdkResult; token: string }> {
      const created = await createPod(cp, namespace, pod(uniqueName('app'), serviceAccount));
      const env = envOf(created.spec.containers[0]);
      assert.equal(env.AWS_ROLE_ARN, ROLE, 'the webhook injected the role');
      const { token } = await projectedToken(cp, namespace, created);
      // The kubelet would write it inside the container at AWS_WEB_IDENTITY_TOKEN_FILE; we write it under a
      // private root and point the same variable there (the only change to the injected env).
      const root = mkdtempSync(join(work, 'pod-root-'));
      const tokenFile = join(root, env.AWS_WEB_IDENTITY_TOKEN_FILE!);
      mkdirSync(dirname(tokenFile), { recursive: true });
      writeFileSync(tokenFile, token, { mode: 0o600 });

      const childEnv: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        ...env,
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_STS: stsUrl,
        NODE_EXTRA_CA_CERTS: caFile,
        // No shared config or credentials from the machine running the tests.
        AWS_CONFIG_FILE: join(root, 'no-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(root, 'no-credentials'),
        AWS_EC2_METADATA_DISABLED: 'true',
        NO_PROXY: '127.0.0.1,localhost',
      };
      const out = spawnSync(process.execPath, ['--input-type=module', '-e', SDK_SCRIPT], {
        cwd: ROOT,
        env: childEnv,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(out.status, 0, `SDK child failed: ${out.stderr}`);
      const line = out.stdout.trim().split('\n').pop()!;
      return { pod: created, result: JSON.parse(line) as SdkResult, token };
    }

    test('the SDK with the injected env gets credentials; GetCallerIdentity is the s3-writer assumed role', async () => {
      await createNamespace(cp, 'great-namespace', LABELS);
      await createServiceAccount(cp, 'great-namespace', 'great-serviceaccount', { [ROLE_ANNOTATION]: ROLE });
      const { result } = await runPod('great-namespace', 'great-serviceaccount');
      if (!result.ok) await sleep(1000); // let the STS's denial log line arrive for the message below
      assert.equal(
        result.ok,
        true,
        `SDK error: ${result.name}: ${result.message}\nsts log:\n${sts!.output()}`,
      );
      assert.match(result.Arn!, new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/s3-writer/[\\w+=,.@-]+$`));
      assert.equal(result.Account, ACCOUNT);
    });

    test('a ServiceAccount in another namespace is denied, and the explanation names the failing condition', async () => {
      const ns = uniqueName('other-namespace');
      await createNamespace(cp, ns, LABELS);
      await createServiceAccount(cp, ns, 'great-serviceaccount', { [ROLE_ANNOTATION]: ROLE });
      const { result } = await runPod(ns, 'great-serviceaccount');
      assert.equal(result.ok, false, 'the SDK must not get credentials');
      assert.equal(result.name, 'AccessDenied', result.message);
      assert.match(result.message!, /Not authorized to perform sts:AssumeRoleWithWebIdentity/);
      // The AWS-compatible message stays terse; openirsa's log says which condition failed and with what value.
      // The log line may land a moment after the response.
      const log = await eventually(
        'the denial in the STS log',
        async () => (sts!.output().includes('"event":"denied"') ? sts!.output() : undefined),
        10_000,
      ).catch(() => sts!.output());
      assert.ok(log.includes(`${issuerHost}:sub`), `the STS log names the failing condition key:\n${log}`);
      assert.ok(
        log.includes(`system:serviceaccount:${ns}:great-serviceaccount`),
        'and the subject that failed it',
      );
    });

    if (mode.selfHosted) {
      test("the self-hosted JWKS is identical to the API server's own", async () => {
        const ours = await httpCall('GET', `${cp.issuer}/keys.json`, undefined, { ca: cp.caPem });
        const apiServer = await cp.request('GET', '/openid/v1/jwks', undefined, { anonymous: true });
        assert.equal(ours.status, 200);
        assert.equal(apiServer.status, 200);
        assert.deepEqual(ours.json, apiServer.json);
        assert.equal(ours.text.trim(), apiServer.text.trim(), 'byte for byte');
        const discovery = await cp.request('GET', '/.well-known/openid-configuration', undefined, {
          anonymous: true,
        });
        const served = await httpCall('GET', `${cp.issuer}/.well-known/openid-configuration`, undefined, {
          ca: cp.caPem,
        });
        assert.deepEqual(served.json, discovery.json, 'and so is the discovery document');
        assert.equal(readFileSync(caFile, 'utf8'), cp.caPem);
      });
    }
  });
}
