/**
 * IRSA on a real node: pods that actually run (kubelet + containerd + runc, `npm run test:node`), from the image the
 * repository builds, read the token the kubelet projects and trade it at `openirsa sts serve` for credentials. The
 * chart is installed with helm as a user installs it (kube-controller-manager and kube-scheduler run it): the webhook
 * as a Deployment the API server calls through its Service, the agent as a DaemonSet.
 *
 *   ServiceAccount (role annotation) → Pod (nodeName: the test node) → the chart's webhook injects env + projected
 *   token volume → kubelet: TokenRequest bound to the pod, file in the container → AWS SDK for JavaScript v3
 *   default credential chain in the container → AssumeRoleWithWebIdentity → GetCallerIdentity signed with those
 *   credentials → arn:aws:sts::111122223333:assumed-role/s3-writer/…
 *
 * The client scripts run on the image's own Node.js with the image's own dependencies; they report through the
 * container's termination message.
 *
 * Then EKS Pod Identity on the same node: the chart's agent DaemonSet (host network, 169.254.170.23 on the node's
 * loopback as the chart's link setup does), and a pod set up by the webhook's container-credentials mode gets the
 * associated role from it with the AWS SDK's own GetCallerIdentity:
 *
 *   PodIdentityAssociation → webhook: AWS_CONTAINER_CREDENTIALS_FULL_URI + token (aud pods.eks.amazonaws.com) →
 *   kubelet mounts it → SDK → http://169.254.170.23/v1/credentials → agent: TokenReview, association →
 *   sts:AssumeRole with session tags, from the agent's own IRSA role → arn:…:assumed-role/app/eks-node-<pod>-<uid>
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { issueCertificate, loadCa } from '../../src/pki/index.js';
import { CONTAINER_CREDENTIALS_DEFAULTS } from '../../src/webhook/constants.js';
import {
  freePort,
  keygen,
  runBinary,
  startControlPlane,
  type ControlPlane,
} from '../helpers/control-plane.js';
import { agentTrust, webIdentityTrust } from '../helpers/trust-policy.js';
import {
  NODE_API_SERVER_ARGS,
  NODE_IP,
  NODE_NAME,
  builtImage,
  requireNodePrerequisites,
  startControllers,
  startNode,
  type RunningControllers,
  type RunningNode,
} from '../helpers/node.js';
import {
  createNamespace,
  kubectl as kubectlOn,
  createPod,
  createServiceAccount,
  envOf,
  eventually,
  pod,
  spawnCli,
  waitForHttp,
  type CliProcess,
  type Container,
  type Pod,
} from '../e2e/support.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHART = join(ROOT, 'deploy/helm/openirsa-webhook');
const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/s3-writer`;
const RELEASE_NAMESPACE = 'openirsa-system';
/** The chart's release: named as the chart, its objects are `openirsa-webhook…`. */
const RELEASE = 'openirsa-webhook';
/** What the chart names the agent's ServiceAccount and DaemonSet. */
const AGENT_NAME = `${RELEASE}-agent`;
const AGENT_ROLE = `arn:aws:iam::${ACCOUNT}:role/openirsa-agent`;
const APP_ROLE = `arn:aws:iam::${ACCOUNT}:role/app`;
/** The cluster name the agent puts in session names and tags. */
const CLUSTER = 'node';
/** ServiceAccounts in container-credentials mode: one with an association, one without. */
const ASSOCIATED_SA = 'pi-app';
const UNASSOCIATED_SA = 'pi-none';
/** EKS's agent addresses: the node setup puts them on an interface of the node (EKS: a link of its own). */
const AGENT_ADDRESSES = ['169.254.170.23/32', 'fd00:ec2::23/128'];

/** `ip addr replace|del ADDRESS dev lo` in the sandbox's network namespace (the node's); the error, if any. */
function ip(verb: 'replace' | 'del', address: string): string | undefined {
  const args = [...(address.includes(':') ? ['-6'] : []), 'addr', verb, address, 'dev', 'lo'];
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return r.status === 0 ? undefined : `ip ${args.join(' ')}: ${r.stderr || r.error?.message}`;
}
const ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
const LABELS = { 'openirsa-node': 'irsa' };
const NAMESPACE = 'irsa-node';
const SERVICE_ACCOUNTS = ['app-image-user', 'app-uid-1000'];
const CLIENT_DIR = '/etc/openirsa-client';

/** The end of every client script: a failure into the report, printed and written as the termination message. */
const REPORT = `} catch (e) {
  report.ok = false;
  report.error = (e.name ?? 'Error') + ': ' + e.message;
}
const line = JSON.stringify(report);
console.log(line);
writeFileSync('/dev/termination-log', line);
`;

/** Runs in the pod: the SDK's default chain, then GetCallerIdentity signed by the SDK's SigV4 signer. */
const CLIENT_SCRIPT = `
import { createRequire } from 'node:module';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
const require = createRequire('/app/package.json');
const { defaultProvider } = require('@aws-sdk/credential-provider-node');
const { SignatureV4 } = require('@smithy/signature-v4');
// What @smithy/hash-node does for the SDK in Node.js (not among the image's dependencies), over node:crypto.
class Sha256 {
  constructor(secret) { this.hash = secret ? createHmac('sha256', secret) : createHash('sha256'); }
  update(data) { this.hash.update(data); }
  async digest() { return new Uint8Array(this.hash.digest()); }
}
const report = {
  uid: process.getuid(),
  gid: process.getgid(),
  env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('AWS_'))),
};
try {
  const file = process.env.AWS_WEB_IDENTITY_TOKEN_FILE;
  const st = statSync(file);
  report.tokenFile = { mode: (st.mode & 0o777).toString(8), uid: st.uid, gid: st.gid };
  const payload = JSON.parse(Buffer.from(readFileSync(file, 'utf8').split('.')[1], 'base64url'));
  report.token = { aud: payload.aud, sub: payload.sub, exp: payload.exp, iat: payload.iat, pod: payload['kubernetes.io']?.pod?.name };
  const credentials = await defaultProvider()();
  report.accessKeyIdPrefix = credentials.accessKeyId.slice(0, 4);
  const url = new URL(process.env.AWS_ENDPOINT_URL_STS);
  const body = 'Action=GetCallerIdentity&Version=2011-06-15';
  const signer = new SignatureV4({ credentials, region: process.env.AWS_REGION, service: 'sts', sha256: Sha256 });
  const signed = await signer.sign({
    method: 'POST', protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: '/', query: {},
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body,
  });
  const xml = await new Promise((resolve, reject) => {
    const req = request({ method: 'POST', host: url.hostname, port: url.port, path: '/', headers: signed.headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
  report.status = xml.status;
  report.arn = /<Arn>([^<]*)<\\/Arn>/.exec(xml.text)?.[1];
  report.ok = xml.status === 200;
  if (!report.ok) report.error = xml.text.slice(0, 500);
${REPORT}`;

/**
 * Runs in a pod in container-credentials mode: one request to the agent as the SDKs make it (status and the shape of
 * the answer, never a secret), then GetCallerIdentity by the AWS SDK's own STS client and default credential chain.
 */
const AGENT_CLIENT_SCRIPT = `
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
const require = createRequire('/app/package.json');
const report = { env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('AWS_'))) };
try {
  const token = readFileSync(process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, 'utf8');
  const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
  report.token = { aud: payload.aud, sub: payload.sub, pod: payload['kubernetes.io']?.pod?.name };
  const r = await fetch(process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: { authorization: token } });
  const text = await r.text();
  report.agent = { status: r.status };
  if (r.ok) {
    const doc = JSON.parse(text);
    report.agent.fields = Object.keys(doc).sort();
    report.agent.accessKeyIdPrefix = doc.AccessKeyId.slice(0, 4);
    report.agent.accountId = doc.AccountId;
  } else report.agent.body = text.slice(0, 500);
  const { STSClient, GetCallerIdentityCommand } = require('@aws-sdk/client-sts');
  report.arn = (await new STSClient({}).send(new GetCallerIdentityCommand({}))).Arn;
  report.ok = true;
${REPORT}`;

interface AgentClientReport {
  ok: boolean;
  env: Record<string, string>;
  token?: { aud: string[]; sub: string; pod?: string };
  agent?: {
    status: number;
    fields?: string[];
    accessKeyIdPrefix?: string;
    accountId?: string;
    body?: string;
  };
  arn?: string;
  error?: string;
}

interface ClientReport {
  ok: boolean;
  uid: number;
  gid: number;
  env: Record<string, string>;
  tokenFile?: { mode: string; uid: number; gid: number };
  token?: { aud: string[]; sub: string; exp: number; iat: number; pod?: string };
  accessKeyIdPrefix?: string;
  status?: number;
  arn?: string;
  error?: string;
}

interface PodStatus {
  phase?: string;
  conditions?: { type: string; status: string }[];
  containerStatuses?: {
    state?: { terminated?: { exitCode: number; message?: string; reason?: string } };
  }[];
}

describe('IRSA on a real node (kubelet + containerd + runc)', () => {
  let cp: ControlPlane;
  let node: RunningNode | undefined;
  let controllers: RunningControllers | undefined;
  let sts: CliProcess | undefined;
  let work: string;
  let image: { archive: string; name: string };
  let stsUrl: string;

  before(async () => {
    requireNodePrerequisites();
    image = builtImage();
    work = mkdtempSync(join(tmpdir(), 'openirsa-node-'));
    cp = await startControlPlane({ serviceAccountKey: keygen(), apiServerArgs: NODE_API_SERVER_ARGS });
    node = await startNode(cp, join(work, 'node'), { images: [image.archive] });

    // STS listens on the node's bridge address, where the pods reach it, with a certificate for that address.
    const ca = await loadCa(cp.ca);
    const tls = await issueCertificate(ca, {
      commonName: NODE_IP,
      dnsNames: [],
      ipAddresses: [NODE_IP],
      days: 2,
    });
    writeFileSync(join(work, 'sts.crt'), tls.cert);
    writeFileSync(join(work, 'sts.key'), tls.key, { mode: 0o600 });
    writeFileSync(join(work, 'ca.crt'), cp.caPem);
    writeFileSync(
      join(work, 'sts.yaml'),
      toYaml({
        accountId: ACCOUNT,
        oidcProviders: [
          { Url: cp.issuer, ClientIDList: ['sts.amazonaws.com'], caBundle: join(work, 'ca.crt') },
        ],
        roles: [
          {
            RoleName: 's3-writer',
            AssumeRolePolicyDocument: webIdentityTrust(
              ACCOUNT,
              cp.issuer,
              SERVICE_ACCOUNTS.map((sa) => `system:serviceaccount:${NAMESPACE}:${sa}`),
            ),
          },
          // The agent's own role (IRSA for its ServiceAccount), and the associated role, which trusts it once.
          {
            RoleName: 'openirsa-agent',
            AssumeRolePolicyDocument: webIdentityTrust(
              ACCOUNT,
              cp.issuer,
              `system:serviceaccount:${RELEASE_NAMESPACE}:${AGENT_NAME}`,
            ),
          },
          {
            RoleName: 'app',
            AssumeRolePolicyDocument: agentTrust(AGENT_ROLE, NAMESPACE),
          },
        ],
      }),
    );
    const stsPort = await freePort();
    stsUrl = `https://${NODE_IP}:${stsPort}`;
    sts = spawnCli([
      'sts',
      'serve',
      '--config',
      join(work, 'sts.yaml'),
      '--port',
      String(stsPort),
      '--host',
      NODE_IP,
      '--tls-cert',
      join(work, 'sts.crt'),
      '--tls-key',
      join(work, 'sts.key'),
    ]);
    await waitForHttp(`${stsUrl}/healthz`, sts, cp.caPem);

    // The node setup EKS's agent expects: its addresses on the node. The chart's link-setup init container puts
    // them on loopback the same way, but its busybox image cannot be pulled here, so the node does it and the
    // chart's step is off (agent.linkSetup.enabled=false, as the chart documents for nodes set up otherwise).
    for (const a of AGENT_ADDRESSES) {
      const failed = ip('replace', a);
      if (failed) throw new Error(failed);
    }
    controllers = await startControllers(cp, join(work, 'controllers'));
    await installChart();
    await createNamespace(cp, NAMESPACE, LABELS);
    for (const sa of SERVICE_ACCOUNTS)
      await createServiceAccount(cp, NAMESPACE, sa, { [ROLE_ANNOTATION]: ROLE });
    for (const sa of [ASSOCIATED_SA, UNASSOCIATED_SA]) await createServiceAccount(cp, NAMESPACE, sa);
    kubectl(
      ['apply', '-f', '-'],
      toYaml({
        apiVersion: 'openirsa.io/v1alpha1',
        kind: 'PodIdentityAssociation',
        metadata: { name: `${NAMESPACE}-${ASSOCIATED_SA}` },
        spec: { namespace: NAMESPACE, serviceAccount: ASSOCIATED_SA, roleArn: APP_ROLE },
      }),
    );
    await cp.call('POST', `/api/v1/namespaces/${NAMESPACE}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'client' },
      data: { 'whoami.mjs': CLIENT_SCRIPT, 'agent-client.mjs': AGENT_CLIENT_SCRIPT, 'ca.crt': cp.caPem },
    });
  });

  after(async () => {
    await controllers?.stop();
    await sts?.stop();
    await node?.stop();
    for (const a of AGENT_ADDRESSES) ip('del', a);
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /**
   * The whole chart, as a user installs it (selfSigned certificates): the webhook as a Deployment behind its Service,
   * the agent as a DaemonSet, the CRD, RBAC. What this node lacks is said where it is set.
   */
  async function installChart(): Promise<void> {
    const [repository, tag] = [
      image.name.slice(0, image.name.lastIndexOf(':')),
      image.name.split(':').pop()!,
    ];
    // No kube-proxy on this node: the API server's own address instead of the kubernetes Service's ClusterIP, which
    // is why both run on the host network (the API server listens on the node's loopback only).
    const apiServer = [
      { name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' },
      { name: 'KUBERNETES_SERVICE_PORT', value: new URL(cp.url).port },
    ];
    const r = runBinary('helm', [
      'install',
      RELEASE,
      CHART,
      '--kubeconfig',
      cp.kubeconfigPath,
      '--namespace',
      RELEASE_NAMESPACE,
      '--create-namespace',
      '--wait',
      '--timeout',
      '4m',
      '--set',
      [
        `image.repository=${repository}`,
        `image.tag=${tag}`,
        // Imported into containerd: no registry is reachable.
        'image.pullPolicy=Never',
        'certificates.mode=selfSigned',
        'replicaCount=1',
        'hostNetwork=true',
        'webhook.awsDefaultRegion=us-east-1',
        'agent.enabled=true',
        `agent.clusterName=${CLUSTER}`,
        `agent.roleArn=${AGENT_ROLE}`,
        `agent.stsEndpoint=${stsUrl}`,
        'agent.linkSetup.enabled=false',
      ].join(','),
      '--set-json',
      `webhook.extraEnv=${JSON.stringify(apiServer)}`,
      '--set-json',
      `agent.extraEnv=${JSON.stringify([
        ...apiServer,
        // STS's certificate is from the cluster's CA, which every pod's ServiceAccount volume carries.
        { name: 'NODE_EXTRA_CA_CERTS', value: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt' },
      ])}`,
    ]);
    if (r.status !== 0)
      throw new Error(
        `helm install: ${r.stderr}${r.stdout}\n${nodeLogs(RELEASE_NAMESPACE, RELEASE)}\n${controllers?.log()}`,
      );
  }

  const kubectl = (args: string[], input?: string): string => kubectlOn(cp, args, input);

  /** The kubelet and containerd logs and the container logs of the pods named `pod…`, for a failure message. */
  function nodeLogs(namespace: string, pod: string): string {
    const dir = join(node!.dir, 'pod-logs');
    const podLogs = (existsSync(dir) ? readdirSync(dir) : [])
      .filter((d) => d.startsWith(`${namespace}_${pod}`))
      .flatMap((d) =>
        readdirSync(join(dir, d)).flatMap((c) =>
          readdirSync(join(dir, d, c)).map(
            (f) => `--- ${c}/${f}\n${readFileSync(join(dir, d, c, f), 'utf8').slice(-3000)}`,
          ),
        ),
      );
    return [
      ...podLogs,
      `--- kubelet\n${node!.kubeletLog()}`,
      `--- containerd\n${node!.containerdLog()}`,
    ].join('\n');
  }

  /** Runs a client script as a pod on the node; returns the created pod (as mutated) and what it reported. */
  async function runClient<R = ClientReport>(
    name: string,
    serviceAccount: string,
    securityContext: Record<string, unknown> = {},
    {
      script = 'whoami.mjs',
      container = {},
      volumes = [],
    }: { script?: string; container?: Partial<Container>; volumes?: unknown[] } = {},
  ): Promise<{ created: Pod; report: R }> {
    const created = await cp.call<Pod>('POST', `/api/v1/namespaces/${NAMESPACE}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: {
        nodeName: NODE_NAME,
        serviceAccountName: serviceAccount,
        // Only the webhook's token: no kube-api-access volume (this control plane runs no controller-manager to
        // publish kube-root-ca.crt).
        automountServiceAccountToken: false,
        restartPolicy: 'Never',
        dnsPolicy: 'Default',
        securityContext,
        containers: [
          {
            name: 'client',
            image: image.name,
            imagePullPolicy: 'Never',
            command: ['/usr/local/bin/node', `${CLIENT_DIR}/${script}`],
            env: [
              { name: 'AWS_ENDPOINT_URL_STS', value: stsUrl },
              { name: 'NODE_EXTRA_CA_CERTS', value: `${CLIENT_DIR}/ca.crt` },
              ...(container.env ?? []),
            ],
            volumeMounts: [
              { name: 'client', mountPath: CLIENT_DIR, readOnly: true },
              ...(container.volumeMounts ?? []),
            ],
            terminationMessagePolicy: 'FallbackToLogsOnError',
          },
        ],
        volumes: [{ name: 'client', configMap: { name: 'client' } }, ...volumes],
      },
    });
    const status = await eventually(
      `pod ${name} to finish`,
      async () => {
        const p = await cp.call<{ status: PodStatus }>('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${name}`);
        return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p.status : undefined;
      },
      180_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${nodeLogs(NAMESPACE, name)}`);
    });
    const terminated = status.containerStatuses?.[0]?.state?.terminated;
    assert.ok(terminated, `no terminated state: ${JSON.stringify(status)}`);
    let report: R;
    try {
      report = JSON.parse(terminated.message ?? '') as R;
    } catch {
      throw new Error(`the client printed no report (exit ${terminated.exitCode}): ${terminated.message}`);
    }
    return { created, report };
  }

  function assertCredentials(report: ClientReport, created: Pod, serviceAccount: string): void {
    assert.equal(report.ok, true, `client failed: ${report.error}\n${JSON.stringify(report)}`);
    assert.equal(report.status, 200);
    assert.match(report.arn ?? '', new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/s3-writer/.+`));
    assert.equal(report.accessKeyIdPrefix, 'ASIA', 'temporary credentials');
    // The environment the SDK used is the webhook's (region included), plus the endpoint the test set.
    const injected = envOf(created.spec.containers[0]);
    assert.equal(injected.AWS_ROLE_ARN, ROLE);
    for (const k of ['AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_REGION', 'AWS_DEFAULT_REGION']) {
      assert.equal(report.env[k], injected[k], k);
    }
    assert.equal(report.env.AWS_REGION, 'us-east-1');
    // The token file is the kubelet's: bound to this pod, for sts.amazonaws.com, of this service account.
    assert.deepEqual(report.token?.aud, ['sts.amazonaws.com']);
    assert.equal(report.token?.sub, `system:serviceaccount:${NAMESPACE}:${serviceAccount}`);
    assert.equal(report.token?.pod, created.metadata.name);
  }

  test("the webhook runs as the chart's Deployment, and the API server calls it through its Service", async () => {
    const deployment = await cp.call<{ status: { readyReplicas?: number } }>(
      'GET',
      `/apis/apps/v1/namespaces/${RELEASE_NAMESPACE}/deployments/${RELEASE}`,
    );
    assert.equal(deployment.status.readyReplicas, 1, 'ready (its /readyz: informers synced)');
    // The chart's configuration names the Service, not a URL.
    const configuration = await cp.call<{ webhooks: { clientConfig: { service?: object; url?: string } }[] }>(
      'GET',
      `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${RELEASE}`,
    );
    for (const w of configuration.webhooks) {
      assert.equal(w.clientConfig.url, undefined);
      assert.deepEqual(w.clientConfig.service, {
        name: RELEASE,
        namespace: RELEASE_NAMESPACE,
        path: '/mutate',
        port: 443,
      });
    }
    // kube-controller-manager published the pod as the Service's ready endpoint: where the API server dials.
    const slices = await cp.call<{
      items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }[];
    }>(
      'GET',
      `/apis/discovery.k8s.io/v1/namespaces/${RELEASE_NAMESPACE}/endpointslices?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${RELEASE}`)}`,
    );
    assert.deepEqual(
      slices.items.flatMap((s) => s.endpoints ?? []).map((e) => [e.addresses, e.conditions?.ready]),
      [[[NODE_IP], true]],
    );
    // The call itself: the chart's failure policy is Ignore, so only a webhook that answered sets the pod up.
    const admitted = await createPod(cp, NAMESPACE, pod('dry-run', SERVICE_ACCOUNTS[0]!), true);
    assert.equal(envOf(admitted.spec.containers[0]).AWS_ROLE_ARN, ROLE);
  });

  test('a pod of an annotated ServiceAccount, as the image user, gets the role with the kubelet-mounted token', async () => {
    const { created, report } = await runClient('client-image-user', 'app-image-user');
    assertCredentials(report, created, 'app-image-user');
    assert.equal(report.uid, 65532, "the image's non-root user");
  });

  test('the same as runAsUser 1000 without fsGroup: the projected token is readable', async () => {
    const { created, report } = await runClient('client-uid-1000', 'app-uid-1000', {
      runAsUser: 1000,
      runAsGroup: 1000,
      runAsNonRoot: true,
    });
    assert.equal(report.uid, 1000);
    assert.ok(report.tokenFile, `no token file: ${report.error}`);
    assertCredentials(report, created, 'app-uid-1000');
    // How the kubelet makes it readable: the file belongs to the pod's single runAsUser, mode 0600.
    assert.deepEqual({ uid: report.tokenFile.uid, mode: report.tokenFile.mode }, { uid: 1000, mode: '600' });
  });
  describe('EKS Pod Identity: openirsa agent as the chart deploys it', () => {
    let agentPod = '';

    before(async () => {
      // The DaemonSet's pod on this node (helm install --wait waited for it to be Ready).
      const pods = await cp.call<{ items: { metadata: { name: string }; spec: { nodeName?: string } }[] }>(
        'GET',
        `/api/v1/namespaces/${RELEASE_NAMESPACE}/pods?labelSelector=${encodeURIComponent('app.kubernetes.io/component=agent')}`,
      );
      assert.deepEqual(
        pods.items.map((p) => p.spec.nodeName),
        [NODE_NAME],
        'one agent pod, on the node',
      );
      agentPod = pods.items[0]!.metadata.name;
    });

    test('a pod of an associated ServiceAccount gets the role from the agent, with the SDK alone', async () => {
      const name = 'pi-client';
      const { created, report } = await runClient<AgentClientReport>(
        name,
        ASSOCIATED_SA,
        {},
        { script: 'agent-client.mjs' },
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${nodeLogs(RELEASE_NAMESPACE, agentPod)}`);
      });
      const agentLog = () => nodeLogs(RELEASE_NAMESPACE, agentPod);
      assert.equal(
        report.ok,
        true,
        `client failed: ${report.error}\n${JSON.stringify(report)}\n${agentLog()}`,
      );
      // Set up by the webhook's container-credentials mode, not IRSA's.
      const injected = envOf(created.spec.containers[0]);
      assert.equal(injected.AWS_CONTAINER_CREDENTIALS_FULL_URI, CONTAINER_CREDENTIALS_DEFAULTS.fullUri);
      assert.equal(injected.AWS_ROLE_ARN, undefined);
      for (const k of ['AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE'])
        assert.equal(report.env[k], injected[k], k);
      // The kubelet's token for the agent's audience, bound to this pod.
      assert.deepEqual(report.token?.aud, [CONTAINER_CREDENTIALS_DEFAULTS.audience]);
      assert.equal(report.token?.sub, `system:serviceaccount:${NAMESPACE}:${ASSOCIATED_SA}`);
      assert.equal(report.token?.pod, name);
      // The agent's answer is the container-credentials document; the SDK's identity is the associated role,
      // in a session named as EKS names it.
      assert.deepEqual(report.agent, {
        status: 200,
        fields: ['AccessKeyId', 'AccountId', 'Expiration', 'SecretAccessKey', 'Token'],
        accessKeyIdPrefix: 'ASIA',
        accountId: ACCOUNT,
      });
      assert.equal(
        report.arn,
        `arn:aws:sts::${ACCOUNT}:assumed-role/app/eks-${CLUSTER}-${name}-${created.metadata.uid!.slice(0, 8)}`,
      );
    });

    test("a pod of a ServiceAccount without an association is refused with the agent's EKS-shaped error", async () => {
      // The webhook sets up only associated ServiceAccounts: this pod carries the same setup itself.
      const d = CONTAINER_CREDENTIALS_DEFAULTS;
      const { created, report } = await runClient<AgentClientReport>(
        'pi-none-client',
        UNASSOCIATED_SA,
        {},
        {
          script: 'agent-client.mjs',
          container: {
            env: [
              { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: d.fullUri },
              { name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', value: `${d.mountPath}/${d.tokenPath}` },
              { name: 'AWS_REGION', value: 'us-east-1' },
            ],
            volumeMounts: [{ name: d.volumeName, mountPath: d.mountPath, readOnly: true }],
          },
          volumes: [
            {
              name: d.volumeName,
              projected: {
                sources: [
                  {
                    serviceAccountToken: { audience: d.audience, expirationSeconds: 3600, path: d.tokenPath },
                  },
                ],
              },
            },
          ],
        },
      );
      assert.equal(
        envOf(created.spec.containers[0]).AWS_CONTAINER_CREDENTIALS_FULL_URI,
        d.fullUri,
        'the pod as written',
      );
      assert.equal(report.ok, false, 'no credentials without an association');
      assert.equal(report.agent?.status, 404, JSON.stringify(report));
      assert.match(
        report.agent.body ?? '',
        new RegExp(
          `^\\[[^\\]]+\\]: \\(ResourceNotFoundException\\): No Pod Identity Association for service account ${UNASSOCIATED_SA} in namespace ${NAMESPACE} of cluster ${CLUSTER}`,
        ),
      );
      assert.equal(report.arn, undefined);
      assert.ok(report.error, 'the SDK reports the failure');
    });
  });
});
