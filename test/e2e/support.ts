/**
 * Shared pieces of the e2e suite: spawning the real CLI (dist/src/cli/bin.js), waiting for its servers, and the
 * Kubernetes objects the tests create. Not a test file (the runner only picks up *.test.ts).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate, loadCa, type PemPair } from '../../src/pki/index.js';
import { CLI, freePort, httpCall, runBinary, type ControlPlane } from '../helpers/control-plane.js';
import { IRSA_VOLUME_NAME, SKIP_POD_LABEL } from '../../src/webhook/constants.js';

export const IMAGE = 'public.ecr.aws/docker/library/busybox:1.36';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let counter = 0;
/** A unique DNS-1123 name (namespaces never finish deleting without a controller-manager, so never reuse one). */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

export interface CliProcess {
  child: ChildProcess;
  /** Everything it printed so far (stdout + stderr). */
  output(): string;
  stop(): Promise<void>;
}

/** Spawns `openirsa <args>` from dist/ (built by `npm run test:e2e`); fails loudly when it is missing. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\``);
  return spawnProcess(process.execPath, [CLI, ...args], env);
}

/** Spawns any program, collecting its output; killed when this process exits, SIGTERM then SIGKILL on stop(). */
export function spawnProcess(command: string, args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_PROXY: '127.0.0.1,localhost', ...env },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', kill);
  return {
    child,
    output: () => out,
    async stop() {
      process.off('exit', kill);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls an HTTP(S) URL until it answers 200; throws with the process output if the process dies or time runs out. */
export async function waitForHttp(
  url: string,
  proc: CliProcess,
  ca?: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(
        `process exited (${proc.child.exitCode ?? proc.child.signalCode}) before ${url} answered:\n${proc.output()}`,
      );
    }
    try {
      const r = await httpCall('GET', url, undefined, ca ? { ca } : {}, undefined, 2000);
      if (r.status === 200) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${url} (${last}):\n${proc.output()}`);
}

/**
 * A server of the CLI (`sts serve`, `issuer serve`: `args`) on 127.0.0.1 over HTTPS with `tls` (a certificate of the
 * control plane's CA), on `port` or a free one; resolves once `readyPath` answers 200.
 */
export async function serveHttps(
  cp: ControlPlane,
  args: string[],
  tls: { certFile: string; keyFile: string },
  readyPath: string,
  port?: number,
): Promise<{ proc: CliProcess; url: string }> {
  const p = port ?? (await freePort());
  const url = `https://127.0.0.1:${p}`;
  const proc = spawnCli([
    ...args,
    '--port',
    String(p),
    '--host',
    '127.0.0.1',
    '--tls-cert',
    tls.certFile,
    '--tls-key',
    tls.keyFile,
  ]);
  try {
    await waitForHttp(`${url}${readyPath}`, proc, cp.caPem);
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return { proc, url };
}

/**
 * The token the kubelet projects into a mutated pod's token volume (IRSA's unless `volumeName` says another): a
 * TokenRequest bound to the pod, with the volume's audience and expiry.
 */
export async function projectedToken(
  cp: ControlPlane,
  namespace: string,
  created: Pod,
  volumeName: string = IRSA_VOLUME_NAME,
): Promise<{ token: string; audience: string }> {
  const volume = created.spec.volumes?.find((v) => v.name === volumeName) as
    | {
        projected: {
          sources: Array<{ serviceAccountToken: { audience: string; expirationSeconds: number } }>;
        };
      }
    | undefined;
  const projection = volume?.projected.sources[0]?.serviceAccountToken;
  assert.ok(projection, `pod ${created.metadata.name} has no ${volumeName} volume`);
  const tr = await cp.call<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${created.spec.serviceAccountName}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        audiences: [projection.audience],
        expirationSeconds: projection.expirationSeconds,
        boundObjectRef: {
          kind: 'Pod',
          apiVersion: 'v1',
          name: created.metadata.name,
          uid: created.metadata.uid,
        },
      },
    },
  );
  return { token: tr.status.token, audience: projection.audience };
}

/** Polls `check` until it returns a value (not undefined) or time runs out. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
  );
}

/** A serving certificate for 127.0.0.1 signed by the control plane's CA (so a caBundle of cp.caPem trusts it). */
export async function servingCertificate(
  cp: ControlPlane,
  dir?: string,
): Promise<PemPair & { certFile: string; keyFile: string }> {
  const ca = await loadCa(cp.ca);
  const pair = await issueCertificate(ca, {
    commonName: '127.0.0.1',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    days: 2,
  });
  const d = dir ?? mkdtempSync(join(tmpdir(), 'openirsa-e2e-tls-'));
  const certFile = join(d, 'tls.crt');
  const keyFile = join(d, 'tls.key');
  writeFileSync(certFile, pair.cert);
  writeFileSync(keyFile, pair.key, { mode: 0o600 });
  return { ...pair, certFile, keyFile };
}

export interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; bindMountOptions?: string[] }[];
  restartPolicy?: string;
  [k: string]: unknown;
}

export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
  };
  spec: {
    serviceAccountName?: string;
    containers: Container[];
    initContainers?: Container[];
    volumes?: { name: string; [k: string]: unknown }[];
    nodeSelector?: Record<string, string>;
    [k: string]: unknown;
  };
}

export function pod(
  name: string,
  serviceAccountName: string,
  extra: Partial<Pod['spec']> = {},
  meta: Partial<Pod['metadata']> = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...meta },
    spec: { serviceAccountName, containers: [{ name: 'app', image: IMAGE }], ...extra },
  };
}

export async function createNamespace(
  cp: ControlPlane,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  await cp.call('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels },
  });
}

export async function createServiceAccount(
  cp: ControlPlane,
  namespace: string,
  name: string,
  annotations: Record<string, string> = {},
): Promise<{ metadata: { uid: string } }> {
  return cp.call('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, annotations },
  });
}

/** Creates a pod (or, with dryRun, has the API server admit it without storing it) and returns the API server's object. */
export async function createPod(
  cp: ControlPlane,
  namespace: string,
  body: Pod,
  dryRun = false,
): Promise<Pod> {
  return cp.call<Pod>('POST', `/api/v1/namespaces/${namespace}/pods${dryRun ? '?dryRun=All' : ''}`, body);
}

export async function getPod(cp: ControlPlane, namespace: string, name: string): Promise<Pod> {
  return cp.call<Pod>('GET', `/api/v1/namespaces/${namespace}/pods/${name}`);
}

export function envOf(c: Container | undefined): Record<string, string | undefined> {
  return Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));
}

/** What a webhook launcher gets: host files and the ports to listen on (loopback). */
export interface WebhookLaunch {
  kubeconfig: string;
  certFile: string;
  keyFile: string;
  port: number;
  metricsPort: number;
}

export interface RunningWebhook {
  proc: CliProcess;
  url: string;
  /** Name of the MutatingWebhookConfiguration it registered. */
  configuration: string;
  stop(): Promise<void>;
}

export interface WebhookClientConfig {
  url: string;
  caBundle: string;
}

/**
 * Starts `openirsa webhook` out of cluster (TLS from the control plane's CA), registers a MutatingWebhookConfiguration
 * with `url:` + caBundle for namespaces labelled `namespaceLabels`, and waits until the API server calls it.
 * `webhooks` replaces that configuration's one entry (e.g. with the entries the Helm chart renders).
 */
export async function startWebhook(
  cp: ControlPlane,
  work: string,
  options: {
    args?: string[];
    namespaceLabels: Record<string, string>;
    roleAnnotation: string;
    role: string;
    webhooks?: (clientConfig: WebhookClientConfig) => object[];
    /** Starts the webhook some other way (e.g. from the image); default: `openirsa webhook` from dist/. */
    launch?: (files: WebhookLaunch) => CliProcess;
  },
): Promise<RunningWebhook> {
  const tls = await servingCertificate(cp, work);
  const port = await freePort();
  const metricsPort = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const launch =
    options.launch ??
    ((f: WebhookLaunch) =>
      spawnCli([
        'webhook',
        '--in-cluster=false',
        `--kubeconfig=${f.kubeconfig}`,
        `--port=${f.port}`,
        `--metrics-port=${f.metricsPort}`,
        '--bind-address=127.0.0.1',
        `--tls-cert=${f.certFile}`,
        `--tls-key=${f.keyFile}`,
        ...(options.args ?? []),
      ]));
  const proc = launch({
    kubeconfig: cp.kubeconfigPath,
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    port,
    metricsPort,
  });
  const caBundle = Buffer.from(cp.caPem).toString('base64');
  try {
    // Ready, not just alive: /readyz answers 200 once the ServiceAccount cache has synced, so the first pod a test
    // creates is mutated (waiting on /healthz let a pod race the cache).
    await waitForHttp(`${url}/readyz`, proc, cp.caPem);
    await cp.call('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: `openirsa-e2e-${port}` },
      webhooks: options.webhooks?.({ url: `${url}/mutate`, caBundle }) ?? [
        {
          name: 'pod-identity-webhook.openirsa.io',
          admissionReviewVersions: ['v1', 'v1beta1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          reinvocationPolicy: 'IfNeeded',
          timeoutSeconds: 10,
          clientConfig: { url: `${url}/mutate`, caBundle },
          rules: [
            {
              operations: ['CREATE'],
              apiGroups: [''],
              apiVersions: ['v1'],
              resources: ['pods'],
              scope: 'Namespaced',
            },
          ],
          objectSelector: { matchExpressions: [{ key: SKIP_POD_LABEL, operator: 'DoesNotExist' }] },
          namespaceSelector: { matchLabels: options.namespaceLabels },
        },
      ],
    });
    // The API server honours a new webhook configuration after a short informer delay: wait until it calls us.
    const ns = uniqueName('probe');
    await createNamespace(cp, ns, options.namespaceLabels);
    await createServiceAccount(cp, ns, 'probe', { [options.roleAnnotation]: options.role });
    await eventually('the webhook to mutate a dry-run pod', async () => {
      const p = await createPod(cp, ns, pod('probe', 'probe'), true);
      return envOf(p.spec.containers[0]).AWS_ROLE_ARN === options.role ? true : undefined;
    });
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return { proc, url, configuration: `openirsa-e2e-${port}`, stop: () => proc.stop() };
}

/** `helm` against the control plane, with its caches under `work`; asserts it succeeds and returns its stdout. */
export function helmOn(cp: ControlPlane, work: string): (args: string[]) => string {
  return (args) => {
    const r = runBinary('helm', args, {
      env: {
        KUBECONFIG: cp.kubeconfigPath,
        HELM_CACHE_HOME: join(work, 'helm-cache'),
        HELM_CONFIG_HOME: join(work, 'helm-config'),
        HELM_DATA_HOME: join(work, 'helm-data'),
      },
    });
    assert.equal(r.status, 0, `helm ${args.join(' ')}:\n${r.stderr}`);
    return r.stdout;
  };
}

/** Names of the entries of deploy/'s MutatingWebhookConfiguration (docs/deploy.md, failure policy). */
export const WEBHOOK_ENTRY = {
  main: 'pod-identity-webhook.openirsa.io',
  requiredNamespaces: 'required-namespaces.pod-identity-webhook.openirsa.io',
  requiredPods: 'required-pods.pod-identity-webhook.openirsa.io',
  systemNamespaces: 'system-namespaces.pod-identity-webhook.openirsa.io',
} as const;

/** [name, failurePolicy] of each entry of the default configuration (Helm chart and kustomize). */
export const DEFAULT_WEBHOOK_ENTRIES = [
  [WEBHOOK_ENTRY.main, 'Ignore'],
  [WEBHOOK_ENTRY.requiredNamespaces, 'Fail'],
  [WEBHOOK_ENTRY.requiredPods, 'Fail'],
];

/** The same with failurePolicy Fail (Helm value, or the kustomize component fail-closed). */
export const FAIL_CLOSED_WEBHOOK_ENTRIES = [
  [WEBHOOK_ENTRY.main, 'Fail'],
  [WEBHOOK_ENTRY.systemNamespaces, 'Ignore'],
];

/** `kubectl --kubeconfig <admin> ARGS` on `cp` (INPUT on stdin); asserts it succeeded and returns its stdout. */
export function kubectl(cp: ControlPlane, args: string[], input?: string): string {
  const r = runBinary(
    'kubectl',
    ['--kubeconfig', cp.kubeconfigPath, ...args],
    input === undefined ? {} : { input },
  );
  assert.equal(r.status, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
