/**
 * The IAM API in a cluster: two `openirsa sts serve` replicas share their IAM state through the real
 * kube-apiserver (one ConfigMap per changed entity, resourceVersion-conditional writes, list/watch).
 *  - a role created through replica A is honoured by replica B within a second (AssumeRoleWithWebIdentity with a
 *    TokenRequest token of the API server's own issuer);
 *  - concurrent updates of one role (and of one seed provider) through both replicas all survive;
 *  - a trust-policy change through B denies the token at A within a second; a restarted replica reads it all back.
 */
import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { after, before, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import {
  AddClientIDToOpenIDConnectProviderCommand,
  CreateRoleCommand,
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  IAMClient,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { freePort, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  createNamespace,
  createServiceAccount,
  servingCertificate,
  spawnCli,
  waitForHttp,
  type CliProcess,
} from './support.js';

const ACCOUNT = '111122223333';
const NS = 'openirsa-iam';
const ADMIN = { accessKeyId: 'AKIAOPENIRSAE2E00001', secretAccessKey: 'e2e-admin-secret-'.padEnd(40, 'x') };

let cp: ControlPlane;
let work: string;
let caFile: string;
let configFile: string;
let tls: { certFile: string; keyFile: string };
const replicas: Array<{ proc: CliProcess; url: string }> = [];
let agent: Agent;

async function startReplica(): Promise<{ proc: CliProcess; url: string }> {
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const proc = spawnCli([
    'sts',
    'serve',
    '--config',
    configFile,
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--tls-cert',
    tls.certFile,
    '--tls-key',
    tls.keyFile,
  ]);
  await waitForHttp(`${url}/healthz`, proc, cp.caPem);
  return { proc, url };
}

const handler = () => new NodeHttpHandler({ httpsAgent: agent });
const iam = (url: string) =>
  new IAMClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: ADMIN,
    requestHandler: handler(),
    maxAttempts: 1,
  });
const sts = (url: string) =>
  new STSClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    requestHandler: handler(),
    maxAttempts: 1,
  });

function trust(issuerHost: string, sa: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuerHost}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${issuerHost}:sub`]: `system:serviceaccount:${NS}:${sa}`,
            [`${issuerHost}:aud`]: 'sts.amazonaws.com',
          },
        },
      },
    ],
  });
}

async function token(sa: string): Promise<string> {
  const tr = await cp.call<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${NS}/serviceaccounts/${sa}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: ['sts.amazonaws.com'], expirationSeconds: 3600 },
    },
  );
  return tr.status.token;
}

async function assume(url: string, roleName: string, jwt: string) {
  return sts(url).send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/${roleName}`,
      RoleSessionName: 'e2e',
      WebIdentityToken: jwt,
    }),
  );
}

/** Polls `fn` until it resolves; returns how long that took (ms). Fails after `limitMs`. */
async function within(limitMs: number, fn: () => Promise<unknown>): Promise<number> {
  const start = Date.now();
  let last: unknown;
  while (Date.now() - start < limitMs) {
    try {
      await fn();
      return Date.now() - start;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`not within ${limitMs} ms: ${(last as Error)?.message}`);
}

before(async () => {
  cp = await startControlPlane();
  work = mkdtempSync(join(tmpdir(), 'openirsa-e2e-iam-'));
  caFile = join(work, 'ca.pem');
  writeFileSync(caFile, cp.caPem);
  agent = new Agent({ ca: cp.caPem, keepAlive: true });
  tls = await servingCertificate(cp, work);
  await createNamespace(cp, NS);
  await createServiceAccount(cp, NS, 'app');
  await createServiceAccount(cp, NS, 'other');
  configFile = join(work, 'sts.yaml');
  writeFileSync(
    configFile,
    toYaml({
      accountId: ACCOUNT,
      sessionKey: Buffer.alloc(32, 9).toString('base64'),
      oidcProviders: [{ Url: cp.issuer, ClientIDList: ['sts.amazonaws.com'], caBundle: caFile }],
      iamApi: { admin: ADMIN, store: { kubernetes: { namespace: NS, kubeconfig: cp.kubeconfigPath } } },
    }),
  );
  replicas.push(await startReplica(), await startReplica());
});

after(async () => {
  for (const r of replicas) await r.proc.stop();
  agent?.destroy();
  await cp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a role created through replica A is honoured by replica B within a second', async () => {
  const [a, b] = replicas;
  const issuerHost = cp.issuer.replace(/^https:\/\//, '');
  const jwt = await token('app');
  await assert.rejects(assume(b!.url, 'writer', jwt), { name: 'AccessDenied' });
  await iam(a!.url).send(
    new CreateRoleCommand({ RoleName: 'writer', AssumeRolePolicyDocument: trust(issuerHost, 'app') }),
  );
  const ms = await within(1000, () => assume(b!.url, 'writer', jwt));
  console.log(`# replica B honoured the new role after ${ms} ms`);
  const cms = await cp.call<{ items: Array<{ metadata: { labels: Record<string, string> } }> }>(
    'GET',
    `/api/v1/namespaces/${NS}/configmaps?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dopenirsa`,
  );
  assert.equal(cms.items.filter((c) => c.metadata.labels['iam.openirsa.dev/kind'] === 'role').length, 1);

  await iam(b!.url).send(
    new UpdateAssumeRolePolicyCommand({ RoleName: 'writer', PolicyDocument: trust(issuerHost, 'other') }),
  );
  const denied = await within(1000, async () => {
    await assert.rejects(assume(a!.url, 'writer', jwt), { name: 'AccessDenied' });
  });
  console.log(`# replica A applied the trust change after ${denied} ms`);
  await assume(a!.url, 'writer', await token('other'));
});

test('concurrent updates through both replicas never lose one', async () => {
  const [a, b] = replicas;
  const issuerHost = cp.issuer.replace(/^https:\/\//, '');
  await iam(a!.url).send(
    new CreateRoleCommand({ RoleName: 'tagged', AssumeRolePolicyDocument: trust(issuerHost, 'app') }),
  );
  await within(1000, () => iam(b!.url).send(new GetRoleCommand({ RoleName: 'tagged' })));
  const n = 12;
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      iam((i % 2 ? a : b)!.url).send(
        new TagRoleCommand({ RoleName: 'tagged', Tags: [{ Key: `k${i}`, Value: String(i) }] }),
      ),
    ),
  );
  // The seed provider: its first change creates its ConfigMap (create-if-absent races, then updates).
  const providerArn = `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuerHost}`;
  await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      iam((i % 2 ? a : b)!.url).send(
        new AddClientIDToOpenIDConnectProviderCommand({
          OpenIDConnectProviderArn: providerArn,
          ClientID: `aud-${i}`,
        }),
      ),
    ),
  );
  for (const r of [a, b]) {
    await within(1000, async () => {
      const role = await iam(r!.url).send(new GetRoleCommand({ RoleName: 'tagged' }));
      assert.equal(role.Role!.Tags!.length, n);
      const p = await iam(r!.url).send(
        new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }),
      );
      assert.equal(p.ClientIDList!.length, 7);
    });
  }
});

test('a restarted replica reads the state back from the API server', async () => {
  const a = replicas.shift()!;
  await a.proc.stop();
  const fresh = await startReplica();
  replicas.push(fresh);
  const role = await iam(fresh.url).send(new GetRoleCommand({ RoleName: 'tagged' }));
  assert.equal(role.Role!.Tags!.length, 12);
  await assume(fresh.url, 'writer', await token('other'));
});
