/**
 * EKS Pod Identity on a cluster that is not EKS, on the real control plane:
 *
 *   PodIdentityAssociation (kubectl apply) → `openirsa webhook --watch-pod-identity-associations` sets the pod up in
 *   container-credentials mode → TokenRequest bound to the pod with the volume's audience (what the kubelet does)
 *   → `openirsa agent` (TokenReview, or the cluster's JWKS + the pod's lookup) → sts:AssumeRole with EKS's session
 *   tags from the agent's own IRSA role → the AWS SDK for JavaScript v3, boto3 and the AWS CLI, each with exactly the
 *   injected environment (the agent's URL on loopback), → GetCallerIdentity = the associated role.
 * Then: the pod deleted → its token is refused; the association changed → the next session has the new role.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { CONTAINER_CREDENTIALS_DEFAULTS } from '../../src/webhook/constants.js';
import { freePort, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { venvTool } from '../helpers/sts-harness.js';
import {
  createNamespace,
  kubectl as kubectlOn,
  createPod,
  createServiceAccount,
  envOf,
  eventually,
  pod,
  servingCertificate,
  projectedToken,
  serveHttps,
  spawnCli,
  startWebhook,
  uniqueName,
  waitForHttp,
  type CliProcess,
  type Pod,
  type RunningWebhook,
} from './support.js';
import { agentTrust, webIdentityTrust } from '../helpers/trust-policy.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ACCOUNT = '111122223333';
const AGENT_ROLE = `arn:aws:iam::${ACCOUNT}:role/openirsa-agent`;
const APP_ROLE = `arn:aws:iam::${ACCOUNT}:role/app`;
const APP2_ROLE = `arn:aws:iam::${ACCOUNT}:role/app-2`;
const LABELS = { 'openirsa-e2e': 'agent' };
const CRD = join(ROOT, 'deploy/helm/openirsa-webhook/crds/openirsa.io_podidentityassociations.yaml');

/** One credentials request with the pod's token, as the SDKs make it. */
async function ask(url: string, token: string): Promise<{ status: number; text: string }> {
  const r = await fetch(url, { headers: { authorization: token } });
  return { status: r.status, text: await r.text() };
}

const trustAgent = (namespace: string) => agentTrust(AGENT_ROLE, namespace);

describe('openirsa agent on a real control plane', () => {
  let cp: ControlPlane;
  let work: string;
  let caFile: string;
  let stsUrl: string;
  let sts: CliProcess | undefined;
  let webhook: RunningWebhook | undefined;
  const agents: { name: string; proc: CliProcess; url: string }[] = [];
  const namespace = uniqueName('apps');

  const kubectl = (args: string[], input?: string): string => kubectlOn(cp, args, input);
  const association = (roleArn: string) =>
    toYaml({
      apiVersion: 'openirsa.io/v1alpha1',
      kind: 'PodIdentityAssociation',
      metadata: { name: `${namespace}-reader` },
      spec: { namespace, serviceAccount: 'reader', roleArn },
    });

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'openirsa-e2e-agent-'));
    cp = await startControlPlane();
    caFile = join(work, 'ca.crt');
    writeFileSync(caFile, cp.caPem);
    const tls = await servingCertificate(cp, work);

    kubectl(['apply', '-f', CRD]);
    kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/podidentityassociations.openirsa.io',
    ]);

    const config = {
      accountId: ACCOUNT,
      oidcProviders: [{ Url: cp.issuer, ClientIDList: ['sts.amazonaws.com'], caBundle: caFile }],
      roles: [
        {
          RoleName: 'openirsa-agent',
          AssumeRolePolicyDocument: webIdentityTrust(
            ACCOUNT,
            cp.issuer,
            'system:serviceaccount:openirsa-system:openirsa-agent',
          ),
        },
        { RoleName: 'app', AssumeRolePolicyDocument: trustAgent(namespace) },
        { RoleName: 'app-2', AssumeRolePolicyDocument: trustAgent(namespace) },
      ],
    };
    writeFileSync(join(work, 'sts.yaml'), toYaml(config));
    const served = await serveHttps(
      cp,
      ['sts', 'serve', '--config', join(work, 'sts.yaml')],
      tls,
      '/healthz',
    );
    sts = served.proc;
    stsUrl = served.url;

    // The agent's own identity: IRSA for its ServiceAccount (a TokenRequest, as the kubelet would project it).
    await createNamespace(cp, 'openirsa-system');
    await createServiceAccount(cp, 'openirsa-system', 'openirsa-agent');
    const agentToken = await cp.call<{ status: { token: string } }>(
      'POST',
      '/api/v1/namespaces/openirsa-system/serviceaccounts/openirsa-agent/token',
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: ['sts.amazonaws.com'], expirationSeconds: 3600 },
      },
    );
    const agentTokenFile = join(work, 'agent-token');
    writeFileSync(agentTokenFile, agentToken.status.token, { mode: 0o600 });
    const agentEnv = {
      AWS_ROLE_ARN: AGENT_ROLE,
      AWS_WEB_IDENTITY_TOKEN_FILE: agentTokenFile,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_STS: stsUrl,
      NODE_EXTRA_CA_CERTS: caFile,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    for (const [name, auth] of [
      ['token-review', []],
      ['jwks', ['--auth', 'jwks', '--issuer', cp.issuer, '--ca-bundle', caFile]],
    ] as const) {
      const port = await freePort();
      const probe = await freePort();
      const proc = spawnCli(
        [
          'agent',
          '--cluster-name',
          'e2e',
          '--bind-host',
          '127.0.0.1',
          '--port',
          String(port),
          '--probe-address',
          `127.0.0.1:${probe}`,
          '--kubeconfig',
          cp.kubeconfigPath,
          ...auth,
        ],
        agentEnv,
      );
      await waitForHttp(`http://127.0.0.1:${probe}/readyz`, proc);
      agents.push({ name, proc, url: `http://127.0.0.1:${port}/v1/credentials` });
    }

    webhook = await startWebhook(cp, work, {
      args: ['--watch-pod-identity-associations'],
      namespaceLabels: LABELS,
      roleAnnotation: 'eks.amazonaws.com/role-arn',
      role: `arn:aws:iam::${ACCOUNT}:role/probe`,
    });
    await createNamespace(cp, namespace, LABELS);
    await createServiceAccount(cp, namespace, 'reader');
    kubectl(['apply', '-f', '-'], association(APP_ROLE));
  });

  after(async () => {
    for (const a of agents) await a.proc.stop();
    await webhook?.stop();
    await sts?.stop();
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A pod admitted by the webhook, and its token as the kubelet would write it (TokenRequest bound to the pod). */
  async function admittedPod(): Promise<{
    pod: Pod;
    env: Record<string, string | undefined>;
    tokenFile: string;
    token: string;
  }> {
    const created = await eventually('the webhook to set the pod up for container credentials', async () => {
      const p = await createPod(cp, namespace, pod(uniqueName('reader'), 'reader'), true);
      return envOf(p.spec.containers[0]).AWS_CONTAINER_CREDENTIALS_FULL_URI ? true : undefined;
    }).then(() => createPod(cp, namespace, pod(uniqueName('reader'), 'reader')));
    const env = envOf(created.spec.containers[0]);
    assert.equal(env.AWS_CONTAINER_CREDENTIALS_FULL_URI, CONTAINER_CREDENTIALS_DEFAULTS.fullUri);
    assert.equal(env.AWS_ROLE_ARN, undefined, 'container-credentials mode, not web identity');
    const { token, audience } = await projectedToken(
      cp,
      namespace,
      created,
      CONTAINER_CREDENTIALS_DEFAULTS.volumeName,
    );
    assert.equal(audience, 'pods.eks.amazonaws.com');
    const root = mkdtempSync(join(work, 'pod-root-'));
    const tokenFile = join(root, env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE!);
    mkdirSync(dirname(tokenFile), { recursive: true });
    writeFileSync(tokenFile, token, { mode: 0o600 });
    return { pod: created, env, tokenFile, token };
  }

  /** The injected env with the two host-side changes: the token file's place and the agent's loopback URL. */
  const clientEnv = (
    env: Record<string, string | undefined>,
    tokenFile: string,
    url: string,
  ): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    ...env,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: url,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_STS: stsUrl,
    NODE_EXTRA_CA_CERTS: caFile,
    AWS_CA_BUNDLE: caFile,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    NO_PROXY: '127.0.0.1,localhost',
  });

  const SDKS: [string, (env: NodeJS.ProcessEnv) => string][] = [
    [
      'AWS SDK for JavaScript v3',
      (env) => {
        const script = `import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
        console.log((await new STSClient({}).send(new GetCallerIdentityCommand({}))).Arn);`;
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
          cwd: ROOT,
          env,
          encoding: 'utf8',
          timeout: 60_000,
        });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.trim();
      },
    ],
    [
      'boto3',
      (env) => {
        const r = spawnSync(
          venvTool('python'),
          ['-c', 'import boto3; print(boto3.client("sts").get_caller_identity()["Arn"])'],
          { env, encoding: 'utf8', timeout: 60_000 },
        );
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.trim();
      },
    ],
    [
      'AWS CLI',
      (env) => {
        const r = spawnSync(
          venvTool('aws'),
          ['sts', 'get-caller-identity', '--query', 'Arn', '--output', 'text'],
          { env, encoding: 'utf8', timeout: 60_000 },
        );
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.trim();
      },
    ],
  ];

  test('three real SDKs get the associated role through each agent, with only the injected environment', async () => {
    const p = await admittedPod();
    for (const a of agents)
      for (const [sdk, callerArn] of SDKS)
        assert.match(
          callerArn(clientEnv(p.env, p.tokenFile, a.url)),
          new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/app/eks-e2e-${p.pod.metadata.name}-[0-9a-f]{8}$`),
          `${sdk} via the ${a.name} agent\n${a.proc.output().slice(-2000)}`,
        );
  });

  test('the pod deleted: its token is refused by both agents', async () => {
    const p = await admittedPod();
    for (const a of agents) assert.equal((await ask(a.url, p.token)).status, 200);
    await cp.call(
      'DELETE',
      `/api/v1/namespaces/${namespace}/pods/${p.pod.metadata.name}?gracePeriodSeconds=0`,
    );
    for (const a of agents) {
      const r = await eventually(
        `the ${a.name} agent to refuse the deleted pod's token`,
        async () => {
          const res = await ask(a.url, p.token);
          return res.status === 400 ? res : undefined;
        },
        20_000,
      );
      assert.match(
        r.text,
        /^\[[0-9a-f-]{36}\]: \(InvalidTokenException\): Token is not valid: .+, fault: client\n$/,
        a.name,
      );
    }
  });

  test('the association changed: the next session gets the new role', async () => {
    const p = await admittedPod();
    const role = async (a: (typeof agents)[number]) => SDKS[0]![1](clientEnv(p.env, p.tokenFile, a.url));
    for (const a of agents) assert.match(await role(a), /assumed-role\/app\//);
    kubectl(['apply', '-f', '-'], association(APP2_ROLE));
    for (const a of agents)
      await eventually(
        `the ${a.name} agent to use the new role`,
        async () => ((await role(a)).includes('assumed-role/app-2/') ? true : undefined),
        20_000,
      );
    kubectl(['delete', 'podidentityassociation', `${namespace}-reader`]);
    for (const a of agents)
      await eventually(
        `the ${a.name} agent to refuse once the association is gone`,
        async () => {
          const res = await ask(a.url, p.token);
          return res.status === 404 ? true : undefined;
        },
        20_000,
      );
  });
});
