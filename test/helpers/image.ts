/**
 * The image built by scripts/image.sh, run the way a container runtime runs it, without one: its root filesystem
 * unpacked by crane (`scripts/image.sh rootfs`), its entrypoint, environment, user and working directory taken from
 * the image config, in a new mount and PID namespace with the root filesystem read-only, /proc, a tmpfs /tmp, the
 * usual /dev nodes, an /etc/hosts and kubelet-like volume mounts. Needs root (mounts, chroot, setuid), as a runtime does.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = resolve(import.meta.dirname, '../..');
export const IMAGE_OUT = process.env.OPENIRSA_IMAGE_OUT ?? join(ROOT, 'out/image');

export interface ImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  Labels?: Record<string, string>;
}

export interface ImageSummary {
  name: string;
  index: string;
  revision: string;
  platforms: Array<{
    platform: string;
    manifest: string;
    compressedBytes: number;
    layers: Array<{ digest: string; size: number }>;
  }>;
}

/** The build's summary (image.json), or a loud failure naming the command that builds it. */
export function imageSummary(): ImageSummary {
  const file = join(IMAGE_OUT, 'image.json');
  if (!existsSync(join(IMAGE_OUT, 'oci', 'index.json')) || !existsSync(file))
    throw new Error(`no image in ${IMAGE_OUT}: run "bash scripts/image.sh build" (npm run test:image does)`);
  return JSON.parse(readFileSync(file, 'utf8')) as ImageSummary;
}

/** A blob of the OCI layout, parsed. */
export function blob<T>(digest: string): T {
  return JSON.parse(readFileSync(join(IMAGE_OUT, 'oci', 'blobs', ...digest.split(':')), 'utf8')) as T;
}

/** Unpacks PLATFORM's root filesystem into DEST (through crane, as a runtime pulls it) and returns its config. */
export function unpackRootfs(platform: string, dest: string): ImageConfig {
  execFileSync('bash', [join(ROOT, 'scripts/image.sh'), 'rootfs', dest, platform], {
    env: { ...process.env, OPENIRSA_IMAGE_OUT: IMAGE_OUT },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return (JSON.parse(readFileSync(`${dest}.config.json`, 'utf8')) as { config: ImageConfig }).config;
}

/** The container of a kind in a deploy/ manifest: its args and plain env values (what the image is run with). */
export function deployedContainer(
  file: string,
  kind: string,
): { args: string[]; env: Record<string, string> } {
  for (const doc of parseAllDocuments(readFileSync(join(ROOT, file), 'utf8'))) {
    const o = doc.toJS() as {
      kind?: string;
      spec?: { template?: { spec?: { containers?: Array<{ args?: string[]; env?: unknown[] }> } } };
    } | null;
    const c = o?.kind === kind ? o.spec?.template?.spec?.containers?.[0] : undefined;
    if (!c) continue;
    const env: Record<string, string> = {};
    for (const e of (c.env ?? []) as Array<{ name: string; value?: string }>)
      if (e.value !== undefined) env[e.name] = e.value;
    return { args: c.args ?? [], env };
  }
  throw new Error(`no ${kind} in ${file}`);
}

/** Replaces `--name=value` flags in ARGS (or appends them), as a test that runs deploy/'s args on other ports. */
export function withFlags(args: string[], flags: Record<string, string>): string[] {
  const out = args.filter((a) => !Object.keys(flags).some((f) => a === f || a.startsWith(`${f}=`)));
  return [...out, ...Object.entries(flags).map(([k, v]) => `${k}=${v}`)];
}

export interface Volume {
  /** A host folder or file. */
  source: string;
  /** Where it appears inside the container. */
  target: string;
}

export interface Container {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** Host PIDs of the processes running inside (the entrypoint is PID 1 of its namespace). */
  pids(): number[];
  stop(): Promise<void>;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function which(cmd: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin'])
    if (existsSync(join(dir, cmd))) return join(dir, cmd);
  throw new Error(`${cmd} is missing (util-linux): running the image needs unshare and mount`);
}

/**
 * Starts the image's entrypoint with ARGS (as a Pod's `args:` replace the image's Cmd) in ROOTFS, with the image's
 * Env plus ENV, as the image's User, in its WorkingDir, with VOLUMES mounted read-only.
 */
export function runContainer(
  rootfs: string,
  config: ImageConfig,
  args: string[],
  opts: { env?: Record<string, string>; volumes?: Volume[] } = {},
): Container {
  if (process.getuid?.() !== 0)
    throw new Error(
      'running the image needs root (mount namespace, chroot, setuid), as a container runtime does',
    );
  const [uid, gid = uid] = (config.User ?? '').split(':');
  if (!uid || !/^\d+$/.test(uid) || !/^\d+$/.test(gid!))
    throw new Error(`the image's User must be numeric uid:gid, not ${JSON.stringify(config.User)}`);
  const entrypoint = config.Entrypoint ?? [];
  if (entrypoint.length === 0) throw new Error('the image has no Entrypoint');
  const env = [...(config.Env ?? []), ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`)];
  const mount = which('mount');
  const unshare = which('unshare');
  const envBin = which('env');

  // Mount points are made in the unpacked tree first, as a runtime prepares the container's root.
  for (const d of ['proc', 'dev', 'tmp', 'etc']) mkdirSync(join(rootfs, d), { recursive: true });
  // The kubelet gives every (non-host-network) pod an /etc/hosts that names localhost; images ship none.
  const hosts = join(rootfs, '..', `${rootfs.split('/').pop()}.hosts`);
  writeFileSync(
    hosts,
    '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  );
  const volumes = [{ source: hosts, target: '/etc/hosts' }, ...(opts.volumes ?? [])];
  const volumeLines: string[] = [];
  for (const v of volumes) {
    const target = join(rootfs, v.target);
    if (readdirSafe(v.source)) mkdirSync(target, { recursive: true });
    else {
      mkdirSync(join(target, '..'), { recursive: true });
      if (!existsSync(target)) writeFileSync(target, '');
    }
    volumeLines.push(`${mount} --bind -o ro ${q(v.source)} "$R"${q(v.target)}`);
  }
  const script = [
    'set -eu',
    `R=${q(rootfs)}`,
    `${mount} --bind "$R" "$R"`,
    `${mount} -t proc -o nosuid,nodev,noexec proc "$R/proc"`,
    `${mount} -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"`,
    `${mount} -t tmpfs -o mode=755,nosuid tmpfs "$R/dev"`,
    ...['null', 'zero', 'full', 'random', 'urandom'].map(
      (d) => `: > "$R/dev/${d}" && ${mount} --bind /dev/${d} "$R/dev/${d}"`,
    ),
    ...volumeLines,
    `${mount} -o remount,bind,ro "$R"`,
    // A clean environment (the image's Env only), then chroot + chdir + setgid/setuid, then the entrypoint.
    `exec ${envBin} -i ${env.map(q).join(' ')} ${unshare} --root="$R" --wd=${q(config.WorkingDir || '/')} ` +
      `--setgid=${gid} --setuid=${uid} -- ${[...entrypoint, ...args].map(q).join(' ')}`,
  ].join('\n');
  const child = spawn(
    unshare,
    ['--mount', '--pid', '--fork', '--propagation', 'private', 'sh', '-c', script],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const pids = (): number[] => {
    try {
      return readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  };
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    pids,
    async stop() {
      const inner = pids();
      const alive = () =>
        (child.exitCode === null && child.signalCode === null) || inner.some((p) => existsSync(`/proc/${p}`));
      // The group holds unshare and the entrypoint (PID 1 inside, which only gets the signals it handles).
      const signal = (s: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, s);
        } catch {
          /* gone */
        }
      };
      if (alive()) signal('SIGTERM');
      const killAt = Date.now() + 10_000;
      while (alive()) {
        if (Date.now() > killAt) signal('SIGKILL');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

function readdirSafe(p: string): boolean {
  try {
    readdirSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the container's output matches RE (or it exits, or TIMEOUT passes) and returns the match. */
export async function waitForOutput(
  c: Container,
  stream: 'stdout' | 'stderr',
  re: RegExp,
  timeoutMs = 60_000,
): Promise<RegExpExecArray> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(c[stream]());
    if (m) return m;
    if (c.child.exitCode !== null)
      throw new Error(`the container exited with ${c.child.exitCode}:\n${c.stderr()}\n${c.stdout()}`);
    if (Date.now() > end) throw new Error(`no ${re} within ${timeoutMs} ms:\n${c.stderr()}\n${c.stdout()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A folder laid out as the kubelet lays out a Secret or ConfigMap volume with `fsGroup`: owned by root, group GID,
 * readable by the group only. FILES maps a name in the volume to a host file.
 */
export function podVolume(dir: string, files: Record<string, string>, gid: number): string {
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  chownSync(dir, 0, gid);
  chmodSync(dir, 0o750);
  for (const [name, source] of Object.entries(files)) {
    const target = join(dir, name);
    copyFileSync(source, target);
    chownSync(target, 0, gid);
    chmodSync(target, 0o440);
  }
  return dir;
}
