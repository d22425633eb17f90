/**
 * IRSA on a real node: pods that actually run (kubelet + containerd + runc, `npm run test:node`), from the image the
 * repository builds, read the token the kubelet projects and trade it at `openirsa sts serve` for credentials.
 *
 *   ServiceAccount (role annotation) → Pod (nodeName: the test node) → `openirsa webhook` injects env + projected
 *   token volume → kubelet: TokenRequest bound to the pod, file in the container → AWS SDK for JavaScript v3
 *   default credential chain in the container → AssumeRoleWithWebIdentity → GetCallerIdentity signed with those
 *   credentials → arn:aws:sts::111122223333:assumed-role/s3-writer/…
 *
 * The client script runs on the image's own Node.js with the image's own dependencies (the SDK's credential chain
 * and SigV4 signer come with @aws-sdk/client-s3); it reports through the container's termination message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { issueCertificate, loadCa } from '../../src/pki/index.js';
import { freePort, keygen, startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { webIdentityTrust } from '../helpers/trust-policy.js';
import {
  NODE_API_SERVER_ARGS,
  NODE_IP,
  NODE_NAME,
  builtImage,
  requireNodePrerequisites,
  startNode,
  type RunningNode,
} from '../helpers/node.js';
import {
  createNamespace,
  createServiceAccount,
  envOf,
  eventually,
  spawnCli,
  startWebhook,
  waitForHttp,
  type CliProcess,
  type Pod,
  type RunningWebhook,
} from '../e2e/support.js';

const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/s3-writer`;
const ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
const LABELS = { 'openirsa-node': 'irsa' };
const NAMESPACE = 'irsa-node';
const SERVICE_ACCOUNTS = ['app-image-user', 'app-uid-1000'];
const CLIENT_DIR = '/etc/openirsa-client';

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
} catch (e) {
  report.ok = false;
  report.error = (e.name ?? 'Error') + ': ' + e.message;
}
const line = JSON.stringify(report);
console.log(line);
writeFileSync('/dev/termination-log', line);
`;

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
  containerStatuses?: {
    state?: { terminated?: { exitCode: number; message?: string; reason?: string } };
  }[];
}

describe('IRSA on a real node (kubelet + containerd + runc)', () => {
  let cp: ControlPlane;
  let node: RunningNode | undefined;
  let webhook: RunningWebhook | undefined;
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

    webhook = await startWebhook(cp, work, {
      namespaceLabels: LABELS,
      roleAnnotation: ROLE_ANNOTATION,
      role: ROLE,
      args: ['--aws-default-region=us-east-1'],
    });
    await createNamespace(cp, NAMESPACE, LABELS);
    for (const sa of SERVICE_ACCOUNTS)
      await createServiceAccount(cp, NAMESPACE, sa, { [ROLE_ANNOTATION]: ROLE });
    await cp.call('POST', `/api/v1/namespaces/${NAMESPACE}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'client' },
      data: { 'whoami.mjs': CLIENT_SCRIPT, 'ca.crt': cp.caPem },
    });
  });

  after(async () => {
    await webhook?.stop();
    await sts?.stop();
    await node?.stop();
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Runs the client as a pod on the node; returns the created pod (as mutated) and what the client reported. */
  async function runClient(
    name: string,
    serviceAccount: string,
    securityContext: Record<string, unknown> = {},
  ): Promise<{ created: Pod; report: ClientReport }> {
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
            command: ['/usr/local/bin/node', `${CLIENT_DIR}/whoami.mjs`],
            env: [
              { name: 'AWS_ENDPOINT_URL_STS', value: stsUrl },
              { name: 'NODE_EXTRA_CA_CERTS', value: `${CLIENT_DIR}/ca.crt` },
            ],
            volumeMounts: [{ name: 'client', mountPath: CLIENT_DIR, readOnly: true }],
            terminationMessagePolicy: 'FallbackToLogsOnError',
          },
        ],
        volumes: [{ name: 'client', configMap: { name: 'client' } }],
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
      throw new Error(
        `${e.message}\n--- kubelet\n${node!.kubeletLog()}\n--- containerd\n${node!.containerdLog()}`,
      );
    });
    const terminated = status.containerStatuses?.[0]?.state?.terminated;
    assert.ok(terminated, `no terminated state: ${JSON.stringify(status)}`);
    let report: ClientReport;
    try {
      report = JSON.parse(terminated.message ?? '') as ClientReport;
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
});
