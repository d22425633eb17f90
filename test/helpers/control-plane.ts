/**
 * A real Kubernetes control plane for the e2e tests: etcd + kube-apiserver built by `scripts/control-plane.sh build`,
 * started on free loopback ports the way controller-runtime's envtest does (sigs.k8s.io/controller-runtime pkg/internal/testing/controlplane), with
 *  - a test CA (src/pki) for the serving certificate and an admin client certificate (O=system:masters),
 *  - RBAC authorization, the service-account issuer flags and an explicit --service-account-jwks-uri,
 *  - discovery (/.well-known/openid-configuration, /openid/v1/jwks) open to anonymous callers,
 *  - a kubeconfig written to `<dir>/kubeconfig`.
 * `startControlPlane` stops everything it started when it fails; `stop()` is idempotent, and an exit hook kills
 * the processes if a test forgets (or crashes before) calling it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCa, issueCertificate, type PemPair } from '../../src/pki/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = join(ROOT, 'scripts/control-plane.sh');

export const BINARIES = ['etcd', 'kube-apiserver', 'kubectl', 'helm'] as const;
export type Binary = (typeof BINARIES)[number];

/** The folder holding the pinned binaries; the script is the one source of truth for versions and the cache path. */
export function binDir(): string {
  if (process.env.OPENIRSA_K8S_BIN) return process.env.OPENIRSA_K8S_BIN;
  const out = spawnSync('bash', [SCRIPT, 'path'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`bash scripts/control-plane.sh path failed: ${out.stderr}`);
  return out.stdout.trim();
}

/** cert-manager's CRDs fetched by `build` (to validate deploy/'s Certificate and Issuer objects). */
export function crdDir(): string {
  const out = spawnSync('bash', [SCRIPT, 'crds'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`bash scripts/control-plane.sh crds failed: ${out.stderr}`);
  const dir = out.stdout.trim();
  if (!existsSync(join(dir, 'VERSION'))) {
    throw new Error(`cert-manager CRDs are missing in ${dir}: run \`bash scripts/control-plane.sh build\``);
  }
  return dir;
}

/** Absolute path of a pinned binary; throws (never skips) when it is missing, telling how to build it. */
export function binary(name: Binary): string {
  const path = join(binDir(), name);
  if (!existsSync(path)) {
    throw new Error(
      `${name} is missing at ${path}. The e2e suite needs a real control plane: run ` +
        '`bash scripts/control-plane.sh build` (cold: tens of minutes; cached afterwards).',
    );
  }
  return path;
}

/** Key id exactly as kube-apiserver derives it: base64url (no padding) of SHA-256 over the DER SPKI public key. */
export function keyIdFromPublicKey(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url');
}

/** A free TCP port on 127.0.0.1 (listen on 0, close). Racy by nature; start() retries on a bind failure. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface ServiceAccountKey {
  privateKeyPem: string;
  publicKeyPem: string;
}

export const CLI = join(ROOT, 'dist/src/cli/bin.js');

/**
 * A service-account signing key made by the real `openirsa issuer keygen` (dist/, built by `npm run test:e2e`),
 * with the key id it printed, so tests can hold the CLI, the API server and an independent computation to one kid.
 */
export function keygen(alg: 'RS256' | 'ES256' = 'RS256'): ServiceAccountKey & { printedKeyId: string } {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-keygen-'));
  try {
    const out = spawnSync(process.execPath, [CLI, 'issuer', 'keygen', '--out', dir, '--alg', alg], {
      encoding: 'utf8',
    });
    if (out.status !== 0) throw new Error(`openirsa issuer keygen failed (${out.status}): ${out.stderr}`);
    const printed = /\bkid (\S+)/.exec(out.stdout + out.stderr);
    if (!printed) throw new Error(`openirsa issuer keygen printed no key id: ${out.stdout}${out.stderr}`);
    return {
      privateKeyPem: readFileSync(join(dir, 'sa-signer.key'), 'utf8'),
      publicKeyPem: readFileSync(join(dir, 'sa-signer.pub'), 'utf8'),
      printedKeyId: printed[1]!,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An RSA-2048 key from node:crypto, for tests that must not depend on the CLI. */
export function generateServiceAccountKey(): ServiceAccountKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export interface ControlPlaneOptions {
  /** Signing key for service-account tokens; default: a fresh RSA key from `openirsa issuer keygen`. */
  serviceAccountKey?: ServiceAccountKey;
  /** Extra public keys (PEM) the API server accepts and publishes in its JWKS (key rotation tests). */
  extraPublicKeys?: string[];
  /** Extra kube-apiserver flags, e.g. `--min-request-timeout=5` to make watches reconnect often. */
  apiServerArgs?: string[];
  /** Seconds to wait for readiness of each process (default 90: 2 shared cores). */
  startTimeoutSeconds?: number;
  /** Keep the working folder (logs, certs) after stop. Also OPENIRSA_KEEP_CONTROL_PLANE=1. */
  keep?: boolean;
  /** Spawn detached and unreferenced so the processes outlive this Node process (scripts/control-plane). */
  detached?: boolean;
  /**
   * --service-account-issuer / --service-account-jwks-uri for a self-hosted issuer (documents served elsewhere);
   * default: the API server's own URL and its /openid/v1/jwks.
   */
  issuer?: string;
  jwksUri?: string;
  /** Working folder (created if needed); default a fresh temp folder. */
  dir?: string;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** `text` parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface ControlPlane {
  dir: string;
  /** https://127.0.0.1:<port> */
  url: string;
  /** --service-account-issuer (no trailing slash): the API server's URL unless options.issuer was given. */
  issuer: string;
  jwksUri: string;
  kubeconfigPath: string;
  /** CA of the serving certificate (PEM). */
  caPem: string;
  /** The test CA, able to issue more certificates (e.g. a webhook serving certificate the API server trusts). */
  ca: PemPair;
  /** Admin client credentials (CN=openirsa-e2e-admin, O=system:masters). */
  admin: PemPair;
  serviceAccountKey: ServiceAccountKey;
  /** kid of tokens the API server signs. */
  keyId: string;
  etcdUrl: string;
  pids: { etcd: number; apiServer: number };
  /** An HTTPS call to the API server as admin (`anonymous: true` sends no client certificate). */
  request(
    method: string,
    path: string,
    body?: unknown,
    options?: { anonymous?: boolean; contentType?: string },
  ): Promise<HttpResult>;
  /** Like request, but throws unless the status is 2xx; returns the parsed JSON. */
  call<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<T>;
  /** Stops and starts kube-apiserver alone (same port, keys and etcd data). */
  restartApiServer(): Promise<void>;
  /** Stops everything; safe to call twice. */
  stop(): Promise<void>;
}

interface Proc {
  name: string;
  child: ChildProcess;
  logPath: string;
  exited: Promise<number | null>;
}

const live = new Set<Proc>();
/** Working folders to remove if the process exits before stop() (never the `keep` ones). */
const tempDirs = new Set<string>();
/** How many processes this module started and has not yet seen stopped (tests assert it returns to 0). */
export function liveProcessCount(): number {
  return [...live].filter((p) => p.child.exitCode === null && p.child.signalCode === null).length;
}
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // Last resort: never leave etcd/kube-apiserver running after the test process ends.
  process.on('exit', () => {
    for (const p of live) killGroup(p, 'SIGKILL');
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const p of live) killGroup(p, 'SIGKILL');
      // exit() (not re-raising the signal) so every other exit hook runs too, e.g. spawned CLI servers.
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

function killGroup(p: Proc, signal: NodeJS.Signals): void {
  if (p.child.pid === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return;
  try {
    process.kill(-p.child.pid, signal); // the process group: the binary and anything it forked
  } catch {
    try {
      p.child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** The last `lines` lines of a log file, or `(no log)`. */
export function tail(path: string, lines = 40): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function launch(name: string, bin: string, args: string[], dir: string, detached: boolean): Proc {
  const logPath = join(dir, `${name}.log`);
  const fd = openSync(logPath, 'a');
  // Always a new process group, so stop() can kill the whole group.
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', fd, fd], detached: true, env: cleanEnv() });
  closeSync(fd);
  if (detached) child.unref();
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const proc: Proc = { name, child, logPath, exited };
  if (!detached) {
    live.add(proc);
    hookExit();
  }
  return proc;
}

/** The API server calls webhooks at https://127.0.0.1:…: a proxy from the environment must not intercept that. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy'])
    delete env[k];
  env.NO_PROXY = '127.0.0.1,localhost';
  return env;
}

async function stopProc(p: Proc, graceMs = 20_000): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) {
    killGroup(p, 'SIGTERM');
    const timer = setTimeout(() => killGroup(p, 'SIGKILL'), graceMs);
    await p.exited;
    clearTimeout(timer);
  }
  live.delete(p);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

export function httpCall(
  method: string,
  url: string,
  body: unknown,
  tls: TlsMaterial,
  contentType = 'application/json',
  timeoutMs = 15_000,
): Promise<HttpResult> {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const payload =
      body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    // JSON for API calls; anything else for endpoints like /openid/v1/jwks (application/jwk-set+json only).
    const headers: Record<string, string> = { accept: 'application/json, */*;q=0.8' };
    if (payload) {
      headers['content-type'] = contentType;
      headers['content-length'] = String(payload.length);
    }
    const options = { method, headers, timeout: timeoutMs, ...tls };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, options, (resp) => {
      const chunks: Buffer[] = [];
      resp.on('data', (c: Buffer) => chunks.push(c));
      resp.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        res({ status: resp.statusCode ?? 0, headers: resp.headers, text, json });
      });
      resp.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out after ${timeoutMs} ms`)));
    req.on('error', rej);
    req.end(payload);
  });
}

async function waitFor(
  what: string,
  proc: Proc,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(
        `${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}) before ${what}:\n${tail(proc.logPath)}`,
      );
    }
    try {
      if (await probe()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(200);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what} (${last}):\n${tail(proc.logPath)}`,
  );
}

function kubeconfigYaml(name: string, url: string, caPem: string, admin: PemPair): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${url}`,
    `    certificate-authority-data: ${b64(caPem)}`,
    'users:',
    `- name: ${name}-admin`,
    '  user:',
    `    client-certificate-data: ${b64(admin.cert)}`,
    `    client-key-data: ${b64(admin.key)}`,
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    `    user: ${name}-admin`,
    `current-context: ${name}`,
    '',
  ].join('\n');
}

/** Starts etcd + kube-apiserver; on any failure stops what it started and throws with the log tail. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const etcdBin = binary('etcd');
  const apiBin = binary('kube-apiserver');
  const timeoutMs = (options.startTimeoutSeconds ?? 90) * 1000;
  const keep = options.keep ?? process.env.OPENIRSA_KEEP_CONTROL_PLANE === '1';
  const detached = options.detached ?? false;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'openirsa-cp-'));
  mkdirSync(dir, { recursive: true });
  const procs: Proc[] = [];
  let stopped = false;

  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    for (const p of [...procs].reverse()) await stopProc(p);
    if (!keep) rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  if (!keep && !detached) tempDirs.add(dir);

  try {
    const ca = await createCa('openirsa e2e CA', 7);
    const serving = await issueCertificate(ca, {
      commonName: 'kube-apiserver',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      days: 7,
    });
    const admin = await issueCertificate(ca, {
      commonName: 'openirsa-e2e-admin',
      organization: 'system:masters',
      dnsNames: [],
      ipAddresses: [],
      client: true,
      days: 7,
    });
    const saKey = options.serviceAccountKey ?? keygen();
    const w = (name: string, text: string) => {
      writeFileSync(join(dir, name), text, { mode: 0o600 });
      return join(dir, name);
    };
    const caFile = w('ca.crt', ca.cert);
    const servingCert = w('apiserver.crt', serving.cert);
    const servingKey = w('apiserver.key', serving.key);
    const saPub = w('sa.pub', [saKey.publicKeyPem, ...(options.extraPublicKeys ?? [])].join('\n'));
    const saPriv = w('sa.key', saKey.privateKeyPem);

    // etcd, retried on a port race with another process.
    let etcd: Proc | undefined;
    let etcdUrl = '';
    for (let attempt = 1; ; attempt++) {
      const clientPort = await freePort();
      const peerPort = await freePort();
      etcdUrl = `http://127.0.0.1:${clientPort}`;
      const peerUrl = `http://127.0.0.1:${peerPort}`;
      etcd = launch(
        'etcd',
        etcdBin,
        [
          '--name=e2e',
          `--data-dir=${join(dir, 'etcd-data')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=e2e=${peerUrl}`,
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
        dir,
        detached,
      );
      procs.push(etcd);
      try {
        await waitFor('etcd /health', etcd, timeoutMs, async () => {
          const r = await httpCall('GET', `${etcdUrl}/health`, undefined, {}, undefined, 2000);
          return r.status === 200;
        });
        break;
      } catch (e) {
        await stopProc(etcd);
        procs.pop();
        rmSync(join(dir, 'etcd-data'), { recursive: true, force: true });
        if (attempt >= 3 || !/address already in use/.test(String(e))) throw e;
      }
    }

    const tls = { ca: ca.cert, cert: admin.cert, key: admin.key };
    let port = 0;
    let url = '';
    let apiArgs: string[] = [];
    let api: Proc | undefined;
    const startApi = async () => {
      api = launch('kube-apiserver', apiBin, apiArgs, dir, detached);
      procs.push(api);
      await waitFor('kube-apiserver /readyz', api, timeoutMs, async () => {
        const r = await httpCall('GET', `${url}/readyz`, undefined, { ca: ca.cert }, undefined, 5000);
        return r.status === 200;
      });
    };
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      url = `https://127.0.0.1:${port}`;
      apiArgs = [
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${join(dir, 'cert-dir')}`,
        `--tls-cert-file=${servingCert}`,
        `--tls-private-key-file=${servingKey}`,
        `--client-ca-file=${caFile}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        // Not loopback (rejected as an endpoint IP), and fixed so a machine without a default route works too.
        '--advertise-address=192.0.2.2',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--authorization-mode=RBAC',
        '--allow-privileged=true',
        `--service-account-issuer=${options.issuer ?? url}`,
        `--service-account-jwks-uri=${options.jwksUri ?? `${url}/openid/v1/jwks`}`,
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saPriv}`,
        '--anonymous-auth=true',
        '--profiling=false',
        ...(options.apiServerArgs ?? []),
      ];
      try {
        await startApi();
        break;
      } catch (e) {
        if (api) {
          await stopProc(api);
          procs.pop();
        }
        if (attempt >= 3 || !/address already in use/.test(String(e))) throw e;
      }
    }

    const request: ControlPlane['request'] = (method, path, body, opts = {}) =>
      httpCall(method, `${url}${path}`, body, opts.anonymous ? { ca: ca.cert } : tls, opts.contentType);
    const call = async <T>(
      method: string,
      path: string,
      body?: unknown,
      contentType?: string,
    ): Promise<T> => {
      const r = await request(method, path, body, contentType ? { contentType } : {});
      if (r.status < 200 || r.status >= 300)
        throw new Error(`${method} ${path}: HTTP ${r.status}: ${r.text}`);
      return r.json as T;
    };

    // The RBAC bootstrap roles exist once /readyz is 200; open issuer discovery to anonymous relying parties.
    await call('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'openirsa-e2e-anonymous-oidc-discovery' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'system:service-account-issuer-discovery',
      },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:unauthenticated' }],
    });
    // Namespace `default` is created by a post-start controller shortly after readiness (envtest waits for it too).
    await waitFor(
      'namespace default',
      api!,
      timeoutMs,
      async () => (await request('GET', '/api/v1/namespaces/default')).status === 200,
    );

    const kubeconfigPath = w('kubeconfig', kubeconfigYaml('openirsa-e2e', url, ca.cert, admin));
    const cp: ControlPlane = {
      dir,
      url,
      issuer: options.issuer ?? url,
      jwksUri: options.jwksUri ?? `${url}/openid/v1/jwks`,
      kubeconfigPath,
      caPem: ca.cert,
      ca: { cert: ca.cert, key: ca.key },
      admin,
      serviceAccountKey: saKey,
      keyId: keyIdFromPublicKey(saKey.publicKeyPem),
      etcdUrl,
      get pids() {
        return { etcd: etcd.child.pid ?? 0, apiServer: api!.child.pid ?? 0 };
      },
      request,
      call,
      async restartApiServer() {
        await stopProc(api!);
        procs.splice(procs.indexOf(api!), 1);
        await startApi();
      },
      stop: stopAll,
    };
    return cp;
  } catch (e) {
    const logs = procs.map((p) => `--- ${p.name} (${p.logPath})\n${tail(p.logPath, 20)}`).join('\n');
    await stopAll().catch(() => undefined);
    throw new Error(`control plane failed to start: ${(e as Error).message}\n${logs}`);
  }
}

/** Runs a pinned binary (kubectl, helm) to completion; returns status and output, never throws on exit code. */
export function runBinary(
  name: Binary,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): { status: number | null; stdout: string; stderr: string } {
  const out = spawnSync(binary(name), args, {
    encoding: 'utf8',
    input: options.input,
    cwd: options.cwd,
    env: { ...cleanEnv(), ...options.env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  if (out.error) throw out.error;
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}
