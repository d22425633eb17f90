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
import { runBinary, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { parseAllDocuments } from 'yaml';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import {
  createNamespace,
  createServiceAccount,
  serveHttps,
  servingCertificate,
  type CliProcess,
} from './support.js';
import { webIdentityTrust } from '../helpers/trust-policy.js';

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

function startReplica(): Promise<{ proc: CliProcess; url: string }> {
  return serveHttps(cp, ['sts', 'serve', '--config', configFile], tls, '/healthz');
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
  return JSON.stringify(webIdentityTrust(ACCOUNT, issuerHost, `system:serviceaccount:${NS}:${sa}`));
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

test('deploy/kustomize/sts-iam-api: accepted by the API server, its config passes check-config, and its Role lets the STS keep its state', () => {
  const kubectl = (args: string[], input?: string) =>
    runBinary('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args], input === undefined ? {} : { input });
  const rendered = kubectl(['kustomize', join(process.cwd(), 'deploy/kustomize/sts-iam-api')]);
  assert.equal(rendered.status, 0, rendered.stderr);
  const objs = parseAllDocuments(rendered.stdout).map(
    (d) => d.toJSON() as { kind: string; metadata: { name: string }; data?: Record<string, string> },
  );
  const ns = kubectl(['create', 'namespace', 'openirsa']);
  assert.equal(ns.status, 0, ns.stderr);
  const dry = kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], rendered.stdout);
  assert.equal(dry.status, 0, dry.stderr);
  // The example config, with this test's kubeconfig and secret instead of the in-cluster ones.
  const cm = objs.find((o) => o.kind === 'ConfigMap')!;
  const dir = join(work, 'deploy-check');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'secret'), 's'.repeat(40), { mode: 0o600 });
  const config = cm
    .data!['config.yaml']!.replace('/etc/openirsa/iam-admin/secret', join(dir, 'secret'))
    .replace('namespace: openirsa', `namespace: openirsa\n      kubeconfig: ${cp.kubeconfigPath}`);
  writeFileSync(join(dir, 'config.yaml'), config);
  const check = spawnSync(
    process.execPath,
    [join(process.cwd(), 'dist/src/cli/bin.js'), 'sts', 'check-config', '--config', join(dir, 'config.yaml')],
    {
      encoding: 'utf8',
      env: { ...process.env, OPENIRSA_STS_SESSION_KEY: Buffer.alloc(32, 7).toString('base64') },
    },
  );
  assert.equal(check.status, 0, `${check.stdout}\n${check.stderr}`);
  assert.match(check.stdout, /state: ConfigMaps in namespace openirsa/);
  // The Role and its binding for real, then ask the API server what the STS's ServiceAccount may do.
  const rbac = objs.filter((o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind));
  const applied = kubectl(['apply', '-f', '-'], rbac.map((o) => JSON.stringify(o)).join('\n'));
  assert.equal(applied.status, 0, applied.stderr);
  for (const verb of ['get', 'list', 'watch', 'create', 'update', 'delete']) {
    const can = kubectl([
      'auth',
      'can-i',
      verb,
      'configmaps',
      '-n',
      'openirsa',
      '--as',
      'system:serviceaccount:openirsa:openirsa-sts',
    ]);
    assert.equal(can.stdout.trim(), 'yes', `${verb} configmaps: ${can.stdout}${can.stderr}`);
  }
  const other = kubectl([
    'auth',
    'can-i',
    'list',
    'configmaps',
    '-n',
    'default',
    '--as',
    'system:serviceaccount:openirsa:openirsa-sts',
  ]);
  assert.equal(other.stdout.trim(), 'no', 'nothing outside its namespace');
});
