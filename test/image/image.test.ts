/**
 * The image scripts/image.sh built (out/image, or OPENIRSA_IMAGE_OUT): its OCI layout, its configs, its root
 * filesystems, and the webhook and the STS started from the amd64 root filesystem exactly as the image's entrypoint
 * and deploy/'s args say, as the image's non-root user, answering a /mutate and an AssumeRoleWithWebIdentity.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  blob,
  deployedContainer,
  imageSummary,
  podVolume,
  runContainer,
  unpackRootfs,
  waitForOutput,
  withFlags,
  IMAGE_OUT,
  ROOT,
  type Container,
  type ImageConfig,
  type ImageSummary,
} from '../helpers/image.js';
import {
  admissionReview,
  call,
  decodePatch,
  samplePod,
  webhookFiles,
  ROLE,
} from '../helpers/webhook-https.js';
import { sdkCallerIdentity, startHarness } from '../helpers/sts-harness.js';

const pins = JSON.parse(readFileSync(join(ROOT, 'scripts/pins.json'), 'utf8')) as {
  node: { image: string; oldest: string; newest: string };
};
const NODE_VERSION = pins.node[pins.node.image as 'oldest' | 'newest'];
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const PLATFORMS = { 'linux/amd64': 'x86_64-linux-gnu', 'linux/arm64': 'aarch64-linux-gnu' } as const;
const MACHINE = { 'linux/amd64': 'X86-64', 'linux/arm64': 'AArch64' } as const;
type Platform = keyof typeof PLATFORMS;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}

let summary: ImageSummary;
let dir: string;
const rootfs = {} as Record<Platform, string>;
const configs = {} as Record<Platform, ImageConfig>;

before(() => {
  summary = imageSummary();
  dir = mkdtempSync(join(tmpdir(), 'openirsa-image-test-'));
  for (const p of Object.keys(PLATFORMS) as Platform[]) {
    rootfs[p] = join(dir, p.replace('/', '-'));
    configs[p] = unpackRootfs(p, rootfs[p]);
  }
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('one OCI image index for linux/amd64 and linux/arm64, named as deploy/ and the chart pull it', () => {
  const layout = JSON.parse(readFileSync(join(IMAGE_OUT, 'oci/oci-layout'), 'utf8')) as object;
  assert.deepEqual(layout, { imageLayoutVersion: '1.0.0' });
  const top = JSON.parse(readFileSync(join(IMAGE_OUT, 'oci/index.json'), 'utf8')) as {
    manifests: Descriptor[];
  };
  assert.equal(top.manifests.length, 1);
  const entry = top.manifests[0]!;
  assert.equal(entry.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.equal(entry.digest, summary.index);
  assert.deepEqual(entry.annotations, {
    'io.containerd.image.name': summary.name,
    'org.opencontainers.image.ref.name': VERSION,
  });
  assert.equal(summary.name, `ghcr.io/openirsa/openirsa:${VERSION}`);
  const index = blob<{ manifests: Descriptor[] }>(entry.digest);
  assert.deepEqual(
    index.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).sort(),
    Object.keys(PLATFORMS),
  );
  for (const m of index.manifests) assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');

  // What deploy/ pulls is what the build names.
  assert.equal(deployedImage('deploy/kustomize/base/deployment.yaml'), summary.name);
  assert.equal(deployedImage('deploy/kustomize/sts/sts.yaml'), summary.name);
  const chart = parse(readFileSync(join(ROOT, 'deploy/helm/openirsa-webhook/Chart.yaml'), 'utf8')) as {
    appVersion: string;
  };
  const values = parse(readFileSync(join(ROOT, 'deploy/helm/openirsa-webhook/values.yaml'), 'utf8')) as {
    image: { repository: string; tag?: string };
  };
  assert.equal(`${values.image.repository}:${values.image.tag || chart.appVersion}`, summary.name);
  // deploy/Dockerfile, for teams with an engine, builds the same runtime, user, layout and entrypoint.
  const dockerfile = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
  const last = (instr: string) => [...dockerfile.matchAll(new RegExp(`^${instr} (.*)$`, 'gm'))].at(-1)?.[1];
  const c = configs['linux/amd64'];
  assert.match(dockerfile, new RegExp(`^ARG NODE_VERSION=${NODE_VERSION.replace(/\./g, '\\.')}$`, 'm'));
  assert.deepEqual(JSON.parse(last('ENTRYPOINT')!), c.Entrypoint);
  assert.deepEqual(JSON.parse(last('CMD')!), c.Cmd);
  assert.equal(last('USER'), c.User);
  assert.equal(last('WORKDIR'), c.WorkingDir);
  assert.ok(c.Env?.includes(last('ENV')!), `ENV ${last('ENV')}`);
  assert.deepEqual(
    last('EXPOSE')!
      .split(' ')
      .map((p) => `${p}/tcp`),
    Object.keys(c.ExposedPorts ?? {}).sort(),
  );
  assert.match(
    dockerfile,
    /^FROM node:\$\{NODE_VERSION\}-trixie-slim AS build$/m,
    'Debian 13, as scripts/pins.json',
  );

  // The archive holds the same layout.
  const listed = execFileSync('tar', ['-tf', join(IMAGE_OUT, 'openirsa-oci.tar')], { encoding: 'utf8' })
    .trim()
    .split('\n');
  for (const name of ['index.json', 'oci-layout', `blobs/sha256/${summary.index.slice('sha256:'.length)}`])
    assert.ok(listed.includes(name), name);
  assert.equal(
    listed.filter((n) => n.startsWith('blobs/sha256/') && n.length > 'blobs/sha256/'.length).length,
    readdirSync(join(IMAGE_OUT, 'oci/blobs/sha256')).length,
  );
});

test('each platform: non-root user, entrypoint, environment, the pinned Node.js, under 80 MB compressed', () => {
  for (const p of Object.keys(PLATFORMS) as Platform[]) {
    const c = configs[p];
    assert.equal(c.User, '65532:65532', p);
    assert.deepEqual(c.Entrypoint, ['/usr/local/bin/node', '/app/dist/src/cli/bin.js'], p);
    assert.deepEqual(c.Cmd, ['--help'], p);
    assert.equal(c.WorkingDir, '/app', p);
    assert.ok(c.Env?.includes('NODE_ENV=production'), p);
    assert.deepEqual(Object.keys(c.ExposedPorts ?? {}).sort(), ['8443/tcp', '9999/tcp'], p);
    assert.equal(c.Labels?.['io.openirsa.node.version'], NODE_VERSION, p);
    assert.equal(c.Labels?.['org.opencontainers.image.version'], VERSION, p);
    const s = summary.platforms.find((x) => x.platform === p)!;
    assert.ok(s.compressedBytes < 80 * 1000 * 1000, `${p}: ${s.compressedBytes} bytes compressed`);
    const header = execFileSync('readelf', ['-h', join(rootfs[p], 'usr/local/bin/node')], {
      encoding: 'utf8',
    });
    assert.match(header, new RegExp(`Machine:\\s+.*${MACHINE[p]}`), p);
  }
  // node is byte for byte the integrity-checked binary from the npm registry package.
  for (const [p, arch] of [
    ['linux/amd64', 'x64'],
    ['linux/arm64', 'arm64'],
  ] as const) {
    const bin = execFileSync('bash', [join(ROOT, 'scripts/node-runtimes.sh'), 'bin', 'image', arch], {
      encoding: 'utf8',
    }).trim();
    assert.equal(sha256(join(rootfs[p], 'usr/local/bin/node')), sha256(join(bin, 'node')), p);
  }
});

test('the root filesystems hold exactly the libraries node needs, CA certificates and a non-root user', () => {
  for (const p of Object.keys(PLATFORMS) as Platform[]) {
    const r = rootfs[p];
    const libDir = join(r, 'usr/lib', PLATFORMS[p]);
    // Every library and the interpreter node (transitively) asks for is there, and nothing else.
    const needed = new Set<string>();
    const queue = [join(r, 'usr/local/bin/node')];
    while (queue.length) {
      const elf = queue.pop()!;
      const dyn = execFileSync('readelf', ['-d', '-l', elf], { encoding: 'utf8' });
      const interp = /Requesting program interpreter: (.*)]/.exec(dyn)?.[1];
      if (interp) assert.ok(existsSync(join(r, interp)), `${p}: interpreter ${interp}`);
      for (const [, so] of dyn.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)) {
        assert.ok(existsSync(join(libDir, so!)), `${p}: ${so} needed by ${elf}`);
        if (!needed.has(so!)) {
          needed.add(so!);
          queue.push(join(libDir, so!));
        }
      }
    }
    const interpName = p === 'linux/amd64' ? 'ld-linux-x86-64.so.2' : 'ld-linux-aarch64.so.1';
    const present = readdirSync(libDir).filter((f) => /\.so(\.|$)/.test(f) && f !== interpName);
    // libstdc++.so.6 and libatomic.so.1 are symlinks to their versioned files (libstdc++.so.6.0.33, …).
    assert.deepEqual(
      present.filter((f) => ![...needed].some((n) => n === f || f.startsWith(`${n}.`))),
      [],
      `${p}: libraries nothing needs`,
    );
    const bundle = readFileSync(join(r, 'etc/ssl/certs/ca-certificates.crt'), 'utf8');
    assert.ok((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length > 100, `${p}: CA bundle`);
    assert.match(readFileSync(join(r, 'etc/passwd'), 'utf8'), /^nonroot:x:65532:65532:/m);
    const home = statSync(join(r, 'home/nonroot'));
    assert.deepEqual([home.uid, home.gid], [65532, 65532]);
    assert.equal(statSync(join(r, 'tmp')).mode & 0o7777, 0o1777);
    // Everything else belongs to root and is not writable by the user.
    const app = statSync(join(r, 'app/dist/src/cli/bin.js'));
    assert.deepEqual([app.uid, app.mode & 0o022], [0, 0]);
    // Image scanners find the Debian packages the libraries come from.
    assert.deepEqual(readdirSync(join(r, 'var/lib/dpkg/status.d')).sort(), [
      'base-files',
      'ca-certificates',
      'gcc-14-base',
      'libatomic1',
      'libc6',
      'libgcc-s1',
      'libstdc++6',
    ]);
  }
});

test('the app: production dependencies only, no tests, no sources', () => {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
  };
  const app = join(rootfs['linux/amd64'], 'app');
  assert.deepEqual(readdirSync(app).sort(), ['LICENSE', 'dist', 'node_modules', 'package.json']);
  assert.deepEqual(readdirSync(join(app, 'dist')), ['src']);
  let prod = 0;
  for (const [path, meta] of Object.entries(lock.packages)) {
    if (!path.startsWith('node_modules/')) continue;
    const there = existsSync(join(app, path, 'package.json'));
    if (meta.dev) assert.equal(there, false, `dev dependency ${path} is in the image`);
    else if (!meta.optional && !meta.devOptional) {
      assert.equal(there, true, `production dependency ${path} is missing`);
      prod++;
    }
  }
  assert.ok(prod > 20, `${prod} production packages`);
  for (const dev of ['typescript', 'tsx', 'eslint', 'prettier', '@aws-sdk/credential-providers'])
    assert.equal(existsSync(join(app, 'node_modules', dev)), false, dev);
});

/** Host-side facts about the container's entrypoint process: its ids and its root mount. */
function processFacts(c: Container): { uid: string; gid: string; rootMount: string } {
  const [pid] = c.pids();
  assert.ok(pid, 'the entrypoint runs');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === '/');
  return {
    uid: /^Uid:\s+(.*)$/m.exec(status)![1]!.trim(),
    gid: /^Gid:\s+(.*)$/m.exec(status)![1]!.trim(),
    rootMount: mount ?? '',
  };
}

test('the webhook from the image: deploy/ args, non-root, read-only root, answers /mutate over HTTPS', async () => {
  const files = await webhookFiles();
  const deployed = deployedContainer('deploy/kustomize/base/deployment.yaml', 'Deployment');
  // The Deployment's args; ports 0 and loopback because this "container" shares the machine's network, and
  // ServiceAccounts from a file because no API server runs in this suite (test:e2e runs the webhook against one).
  const args = withFlags(deployed.args, {
    '--port': '0',
    '--metrics-port': '0',
    '--bind-address': '127.0.0.1',
    '--service-accounts-file': '/etc/openirsa/serviceaccounts/serviceaccounts.yaml',
  });
  const c = runContainer(rootfs['linux/amd64'], configs['linux/amd64'], args, {
    env: deployed.env,
    volumes: [
      {
        source: podVolume(
          join(dir, 'vol-certs'),
          { 'tls.crt': files.certFile, 'tls.key': files.keyFile },
          65532,
        ),
        target: '/etc/webhook/certs',
      },
      {
        source: podVolume(join(dir, 'vol-sa'), { 'serviceaccounts.yaml': files.saFile }, 65532),
        target: '/etc/openirsa/serviceaccounts',
      },
    ],
  });
  try {
    const port = Number((await waitForOutput(c, 'stderr', /"port":(\d+)/))[1]);
    const facts = processFacts(c);
    assert.equal(facts.uid, '65532\t65532\t65532\t65532');
    assert.equal(facts.gid, '65532\t65532\t65532\t65532');
    assert.match(facts.rootMount, /^\S+ \S+ \S+ \S+ \/ ro[, ]/, 'read-only root');
    const ready = await pollReady(`https://localhost:${port}/readyz`, files.ca.cert);
    assert.equal(ready, 200);
    const r = await call(`https://localhost:${port}/mutate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: admissionReview('admission.k8s.io/v1', 'uid-image', samplePod()),
      ca: files.ca.cert,
    });
    assert.equal(r.status, 200);
    const patch = decodePatch(r.body);
    const containers = patch.find((p) => p.path === '/spec/containers')!.value as Array<{
      env: Array<{ name: string; value?: string }>;
    }>;
    assert.equal(containers[0]!.env.find((e) => e.name === 'AWS_ROLE_ARN')?.value, ROLE);
    assert.equal(
      containers[0]!.env.find((e) => e.name === 'AWS_WEB_IDENTITY_TOKEN_FILE')?.value,
      '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
    );
  } finally {
    await c.stop();
    rmSync(files.dir, { recursive: true, force: true });
  }
});

test('the STS from the image: deploy/ args, non-root, answers AssumeRoleWithWebIdentity from the AWS SDK', async () => {
  const deployed = deployedContainer('deploy/kustomize/sts/sts.yaml', 'Deployment');
  let container: Container | undefined;
  const h = await startHarness({
    caBundlePath: '/etc/openirsa/config/ca.pem',
    launch: ({ dir: files }) => {
      container = runContainer(
        rootfs['linux/amd64'],
        configs['linux/amd64'],
        withFlags(deployed.args, {
          '--config': '/etc/openirsa/config/sts.yaml',
          '--host': '127.0.0.1',
          '--port': '0',
        }),
        {
          env: { ...deployed.env, OPENIRSA_LOG_LEVEL: 'info' },
          volumes: [
            {
              source: podVolume(
                join(dir, 'vol-sts-config'),
                { 'sts.yaml': join(files, 'sts.yaml'), 'ca.pem': join(files, 'ca.pem') },
                65532,
              ),
              target: '/etc/openirsa/config',
            },
            {
              source: podVolume(
                join(dir, 'vol-sts-tls'),
                { 'tls.crt': join(files, 'tls.crt'), 'tls.key': join(files, 'tls.key') },
                65532,
              ),
              target: '/etc/openirsa/tls',
            },
          ],
        },
      );
      return { child: container.child, stop: () => container!.stop() };
    },
  });
  try {
    const facts = processFacts(container!);
    assert.equal(facts.uid, '65532\t65532\t65532\t65532');
    // A pod's view: the web identity env the webhook injects, the SDK's own credential chain.
    const out = await sdkCallerIdentity(h);
    assert.match(out.arn, /^arn:aws:sts::111122223333:assumed-role\/s3-writer\/[\w+=,.@-]+$/);
    assert.match(out.akid, /^ASIA[A-Z2-7]{16}$/);
  } finally {
    const code = await h.stop();
    assert.ok(code === 0 || code === null, `sts exit ${code}: ${h.stderr()}`);
  }
});

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function deployedImage(file: string): string {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const images = [...text.matchAll(/^\s+image: (\S+)$/gm)].map((m) => m[1]);
  assert.equal(new Set(images).size, 1, `${file}: one image`);
  return images[0]!;
}

async function pollReady(url: string, ca: string): Promise<number> {
  const end = Date.now() + 30_000;
  for (;;) {
    const r = await call(url, { method: 'GET', ca }).catch(() => ({ status: 0 }));
    if (r.status === 200 || Date.now() > end) return r.status;
    await new Promise((res) => setTimeout(res, 100));
  }
}
