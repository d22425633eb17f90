/**
 * A real Kubernetes node for the node suite (`npm run test:node`): containerd + runc + the CNI bridge and a kubelet
 * built by `scripts/node.sh build`, registered with a control plane from ./control-plane.ts; and the controllers
 * (kube-controller-manager, kube-scheduler) that make Deployments and DaemonSets run on it.
 *
 * It runs as root, and only inside the sandbox `scripts/node.sh sandbox` makes (its own network, mount and PID
 * namespaces): the pod bridge, pod network namespaces, overlay and token mounts live and die with it, and every
 * process it started is killed when the suite's process tree ends. The only thing left on the machine is the
 * run's own cgroup subtree (`/openirsa-node-<random>` in each v1 hierarchy), which `stop()` removes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueCertificate, loadCa } from '../../src/pki/index.js';
import { freePort, httpCall, sleep, tail, type ControlPlane } from './control-plane.js';
import {
  BRIDGE,
  CGROUP_ROOT_PREFIX,
  NODE_IP,
  NODE_NAME,
  POD_SUBNET,
  cniNetworkList,
  containerdConfig,
  kubeletConfig,
  kubeletKubeconfig,
} from './node-config.js';

export { NODE_IP, NODE_NAME, POD_SUBNET } from './node-config.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = join(ROOT, 'scripts/node.sh');
/** Set by `scripts/node.sh sandbox`; the suite refuses to touch the machine's own network without it. */
export const SANDBOX_ENV = 'OPENIRSA_NODE_SANDBOX';

/**
 * kube-apiserver flags a node needs: the Node authorizer (a list flag, added to the helper's RBAC) and
 * NodeRestriction; and aggregator routing, so that the API server calls a webhook's Service at its endpoints (the
 * pod's address on the node's bridge) rather than its ClusterIP: there is no kube-proxy here.
 */
export const NODE_API_SERVER_ARGS = [
  '--authorization-mode=Node',
  '--enable-admission-plugins=NodeRestriction',
  '--enable-aggregator-routing=true',
];

function script(...args: string[]): string {
  const out = spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`bash scripts/node.sh ${args.join(' ')} failed:\n${out.stderr}`);
  return out.stdout.trim();
}

/** Throws (never skips) with one line saying what is missing. */
export function requireNodePrerequisites(): { bin: string; pauseImage: string } {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the node suite runs containers and a kubelet: run it as root (`sudo npm run test:node`)',
    );
  }
  if (process.env[SANDBOX_ENV] !== '1') {
    throw new Error(
      'the node suite must run in its own namespaces: use `npm run test:node` (bash scripts/node.sh sandbox …)',
    );
  }
  const check = spawnSync('bash', [SCRIPT, 'check'], { encoding: 'utf8' });
  if (check.status !== 0) {
    throw new Error(`node binaries missing: run \`bash scripts/node.sh build\`\n${check.stderr}`);
  }
  return { bin: script('path'), pauseImage: script('pause-image') };
}

/** The image the repository builds (scripts/image.sh): its OCI archive and the name it carries. */
export function builtImage(): { archive: string; name: string } {
  const out = join(ROOT, 'out/image');
  const meta = join(out, 'image.json');
  const archive = join(out, 'openirsa-oci.tar');
  if (!existsSync(meta) || !existsSync(archive)) {
    throw new Error(`${archive} is missing: run \`bash scripts/image.sh build\` (npm run test:node does)`);
  }
  return { archive, name: (JSON.parse(readFileSync(meta, 'utf8')) as { name: string }).name };
}

interface Proc {
  name: string;
  child: ChildProcess;
  logPath: string;
}

function launch(name: string, bin: string, args: string[], dir: string, env: NodeJS.ProcessEnv): Proc {
  const logPath = join(dir, `${name}.log`);
  const fd = openSync(logPath, 'a');
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', fd, fd], detached: true, env });
  closeSync(fd);
  return { name, child, logPath };
}

function alive(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

async function stopProc(p: Proc, graceMs = 20_000): Promise<void> {
  if (!alive(p)) return;
  const exited = once(p.child, 'exit');
  try {
    process.kill(-p.child.pid!, 'SIGTERM');
  } catch {
    /* gone */
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-p.child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

async function until(
  what: string,
  procs: Proc[],
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    for (const p of procs) {
      if (!alive(p)) {
        throw new Error(
          `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) before ${what}:\n${tail(p.logPath, 30)}`,
        );
      }
    }
    try {
      if (await probe()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what} (${last})`);
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const out = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  if (out.error) throw out.error;
  if (out.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${out.status}:\n${out.stderr}${out.stdout}`);
  return out.stdout;
}

/**
 * The cgroup hierarchies mounted on this machine, from /proc/self/mountinfo: every v1 one (named ones too) and the
 * hybrid layout's v2 one, where runc creates the same path.
 */
function cgroupMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => ['cgroup', 'cgroup2'].includes(f[f.indexOf('-') + 1] ?? ''))
    .map((f) => f[4]!);
}

/** Unmounts everything mounted under `dir` (overlay rootfs, token tmpfs, netns binds), deepest first. */
function unmountUnder(dir: string): void {
  const decode = (p: string) =>
    p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => decode(l.split(' ')[4] ?? ''))
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of points) spawnSync('umount', ['-l', m]);
}

/** The processes in a cgroup subtree (the containers the node ran: ours by construction). */
function pidsInCgroupTree(path: string): number[] {
  if (!existsSync(path)) return [];
  const pids = readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.isDirectory()) pids.push(...pidsInCgroupTree(join(path, e.name)));
  }
  return pids;
}

/** Removes a cgroup subtree bottom-up (rmdir only: a cgroup with processes left stays, and is reported). */
function removeCgroupTree(path: string): string[] {
  const left: string[] = [];
  if (!existsSync(path)) return left;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.isDirectory()) left.push(...removeCgroupTree(join(path, e.name)));
  }
  try {
    rmdirSync(path);
  } catch (e) {
    left.push(`${path}: ${(e as Error).message}`);
  }
  return left;
}

export interface NodeOptions {
  /** The image archives to import into containerd (OCI layouts as tar; the pause image is always imported). */
  images: string[];
  /** Seconds to wait for each step (default 180: 2 shared cores). */
  timeoutSeconds?: number;
}

export interface RunningNode {
  name: string;
  dir: string;
  /** `ctr` against this node's containerd, namespace k8s.io; returns stdout. */
  ctr(args: string[]): string;
  kubeletLog(): string;
  containerdLog(): string;
  stop(): Promise<void>;
}

/**
 * Starts containerd and a kubelet registered with `cp` (started with NODE_API_SERVER_ARGS) in `dir`, imports the
 * images, and waits until the node is Ready. On failure it stops what it started and throws with the logs.
 */
export async function startNode(cp: ControlPlane, dir: string, options: NodeOptions): Promise<RunningNode> {
  const { bin, pauseImage } = requireNodePrerequisites();
  const timeoutMs = (options.timeoutSeconds ?? 180) * 1000;
  const d = (...p: string[]) => {
    const path = join(dir, ...p);
    mkdirSync(dirname(path), { recursive: true });
    return path;
  };
  const folder = (p: string) => {
    mkdirSync(join(dir, p), { recursive: true });
    return join(dir, p);
  };
  const procs: Proc[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const socket = d('containerd/containerd.sock');
  const ctr = (args: string[]) =>
    run(join(bin, 'ctr'), ['--address', socket, '--namespace', 'k8s.io', ...args], env);
  // Its own cgroup subtree per run, so two nodes on one machine never touch each other's containers.
  const cgroupRoot = `${CGROUP_ROOT_PREFIX}${randomBytes(4).toString('hex')}`;
  const cgroupDirs = cgroupMounts().map((m) => join(m, cgroupRoot));
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const p of [...procs].reverse()) await stopProc(p);
    // Shims outlive containerd by design; ours are the ones serving our socket.
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (cmd[0] === join(bin, 'containerd-shim-runc-v2') && cmd.includes(socket))
          process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    // Containers whose shim is gone are still in the kubelet's cgroups: end them so the cgroups can go.
    const pidsCgroup = cgroupDirs.find((c) => /\/pids\//.test(c)) ?? cgroupDirs[0];
    for (let i = 0; i < 20 && pidsCgroup && pidsInCgroupTree(pidsCgroup).length > 0; i++) {
      for (const pid of pidsInCgroupTree(pidsCgroup)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await sleep(250);
    }
    unmountUnder(dir);
    const left = cgroupDirs.flatMap((c) => removeCgroupTree(c));
    if (left.length > 0) console.error(`node: cgroups left behind:\n${left.join('\n')}`);
  };

  try {
    // The pods' bridge, made here (not by the CNI plugin) so the kubelet has its node IP before the first pod.
    if (!run('ip', ['-o', 'link', 'show']).includes(`${BRIDGE}:`)) {
      run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
      run('ip', ['addr', 'add', `${NODE_IP}/${POD_SUBNET.split('/')[1]}`, 'dev', BRIDGE]);
    }
    run('ip', ['link', 'set', BRIDGE, 'up']);

    // The kubelet's cgroup root, in every v1 hierarchy (cpuset needs its cpus and mems before any child).
    for (const c of cgroupDirs) {
      mkdirSync(c, { recursive: true });
      if (c.includes('cpuset')) {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) {
          writeFileSync(join(c, f), readFileSync(join(dirname(c), f), 'utf8'));
        }
      }
    }

    writeFileSync(
      d('cni/net.d/10-openirsa-node.conflist'),
      JSON.stringify(cniNetworkList(folder('cni/ipam')), null, 2),
    );
    writeFileSync(
      d('containerd/config.toml'),
      containerdConfig({
        root: folder('containerd/root'),
        state: folder('containerd/state'),
        socket,
        runc: join(bin, 'runc'),
        cniBinDir: join(bin, 'cni'),
        cniConfDir: join(dir, 'cni/net.d'),
        sandboxImage: pauseImage,
      }),
    );
    const containerd = launch(
      'containerd',
      join(bin, 'containerd'),
      ['--config', join(dir, 'containerd/config.toml')],
      dir,
      env,
    );
    procs.push(containerd);
    await until('containerd to serve its socket', procs, timeoutMs, async () => {
      ctr(['version']);
      return true;
    });

    for (const image of [join(bin, 'pause/pause-oci.tar'), ...options.images]) {
      ctr(['images', 'import', '--platform', 'linux/amd64', image]);
    }

    // The kubelet's identity (Node authorizer) and its serving certificate, from the control plane's CA.
    const ca = await loadCa(cp.ca);
    const client = await issueCertificate(ca, {
      commonName: `system:node:${NODE_NAME}`,
      organization: 'system:nodes',
      dnsNames: [],
      ipAddresses: [],
      client: true,
      days: 2,
    });
    const serving = await issueCertificate(ca, {
      commonName: NODE_NAME,
      dnsNames: [NODE_NAME],
      ipAddresses: [NODE_IP, '127.0.0.1'],
      days: 2,
    });
    const w = (p: string, text: string) => {
      writeFileSync(d(p), text, { mode: 0o600 });
      return join(dir, p);
    };
    const kubeconfig = w('kubelet/kubeconfig', kubeletKubeconfig(cp.url, cp.caPem, client.cert, client.key));
    const config = kubeletConfig({
      containerdSocket: socket,
      clientCaFile: w('kubelet/ca.crt', cp.caPem),
      tlsCertFile: w('kubelet/kubelet.crt', serving.cert),
      tlsKeyFile: w('kubelet/kubelet.key', serving.key),
      podLogsDir: folder('pod-logs'),
      port: await freePort(),
      healthzPort: await freePort(),
      cgroupRoot,
    });
    w('kubelet/config.json', JSON.stringify(config, null, 2));
    const kubelet = launch(
      'kubelet',
      join(bin, 'kubelet'),
      [
        `--config=${join(dir, 'kubelet/config.json')}`,
        `--kubeconfig=${kubeconfig}`,
        `--root-dir=${folder('kubelet/root')}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${NODE_IP}`,
        '--v=2',
      ],
      dir,
      env,
    );
    procs.push(kubelet);
    await until(`node ${NODE_NAME} to be Ready`, procs, timeoutMs, async () => {
      const r = await httpCall('GET', `${cp.url}/api/v1/nodes/${NODE_NAME}`, undefined, {
        ca: cp.caPem,
        cert: cp.admin.cert,
        key: cp.admin.key,
      });
      const conditions = (
        r.json as { status?: { conditions?: { type: string; status: string }[] } } | undefined
      )?.status?.conditions;
      return conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });
    return {
      name: NODE_NAME,
      dir,
      ctr,
      kubeletLog: () => tail(kubelet.logPath, 60),
      containerdLog: () => tail(containerd.logPath, 60),
      stop,
    };
  } catch (e) {
    const logs = procs.map((p) => `--- ${p.name} (${p.logPath})\n${tail(p.logPath, 25)}`).join('\n');
    await stop().catch(() => undefined);
    throw new Error(`node failed to start: ${(e as Error).message}\n${logs}`);
  }
}

export interface RunningControllers {
  log(): string;
  stop(): Promise<void>;
}

/**
 * kube-controller-manager (Deployments, ReplicaSets, DaemonSets, EndpointSlices, the root CA publisher …) and
 * kube-scheduler for `cp`, built by `scripts/node.sh build`, as cluster admin; no serving ports (nothing calls
 * them). Resolves once the root CA publisher has written `kube-root-ca.crt` into `default`.
 */
export async function startControllers(
  cp: ControlPlane,
  dir: string,
  timeoutSeconds = 180,
): Promise<RunningControllers> {
  const { bin } = requireNodePrerequisites();
  mkdirSync(dir, { recursive: true });
  const common = [`--kubeconfig=${cp.kubeconfigPath}`, '--leader-elect=false', '--secure-port=0', '--v=1'];
  const procs = [
    launch(
      'kube-controller-manager',
      join(bin, 'kube-controller-manager'),
      [
        ...common,
        `--root-ca-file=${join(cp.dir, 'ca.crt')}`,
        // Each controller with its own ServiceAccount would need the token controller's key; admin is enough here.
        '--use-service-account-credentials=false',
      ],
      dir,
      process.env,
    ),
    launch('kube-scheduler', join(bin, 'kube-scheduler'), common, dir, process.env),
  ];
  const stop = async () => {
    for (const p of [...procs].reverse()) await stopProc(p);
  };
  const log = () => procs.map((p) => `--- ${p.name}\n${tail(p.logPath, 30)}`).join('\n');
  try {
    await until('the root CA publisher (kube-controller-manager)', procs, timeoutSeconds * 1000, async () => {
      const r = await cp.request('GET', '/api/v1/namespaces/default/configmaps/kube-root-ca.crt');
      return r.status === 200;
    });
  } catch (e) {
    const logs = log();
    await stop();
    throw new Error(`controllers failed to start: ${(e as Error).message}\n${logs}`);
  }
  return { log, stop };
}
