/**
 * `npm run diff:webhook -- <reference source folder | built binary> [--reviews N] [--seed S] [--show K]`
 *
 * Differential test of `openirsa webhook` against the reference amazon-eks-pod-identity-webhook: builds the
 * reference from its source folder (cached in ~/.cache/openirsa/reference-<hash of the sources>/), starts a real
 * kube-apiserver + etcd (scripts/control-plane.sh build), runs both webhooks out of cluster watching it under
 * three flag sets, POSTs the same seeded AdmissionReviews to both and compares the answers byte for byte.
 * Intended differences (unknown fields kept, `spec.os.name: windows`, admission warnings) are normalised away
 * and counted apart; anything else is reported, and makes the exit status 1. Needs Go (to build the reference)
 * and the control-plane binaries; never part of `npm test`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CLI, freePort, startControlPlane, type ControlPlane } from '../test/helpers/control-plane.js';
import {
  createNamespace,
  createServiceAccount,
  servingCertificate,
  sleep,
  spawnProcess,
  type CliProcess,
} from '../test/e2e/support.js';
import { prng } from '../test/helpers/iam-differential.js';
import { referenceBinary, OneLineError } from './reference-webhook.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    reviews: { type: 'string', default: '3000' },
    seed: { type: 'string', default: '11' },
    show: { type: 'string', default: '5' },
  },
});
const die = (msg: string): never => {
  console.error(`diff:webhook: ${msg}`);
  process.exit(2);
};
if (positionals.length !== 1)
  die('usage: npm run diff:webhook -- <reference source folder | built binary> [--reviews N] [--seed S]');
const total = Number(values.reviews);
const seed = Number(values.seed);
if (!Number.isSafeInteger(total) || total < 3 || !Number.isSafeInteger(seed)) die('bad --reviews or --seed');
if (!existsSync(CLI)) die(`${CLI} is missing: run \`npm run build\` first`);

// ------------------------------------------------------------------------------------------ processes

interface Reply {
  status: number;
  body: string;
}

function post(agent: Agent, port: number, body: Buffer): Promise<Reply> {
  return new Promise((res, rej) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
        timeout: 15_000,
      },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        r.on('error', rej);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', rej);
    req.end(body);
  });
}

// ------------------------------------------------------------------------------------------ generated reviews

const NS = 'diff';
const ROLE = 'arn:aws:iam::111122223333:role/diff-reader';
/** A value written into the JSON text as is (exact numbers). */
class Raw {
  constructor(readonly text: string) {}
}
/** Placeholder for invalid UTF-8 bytes inside a string (replaced in the body's bytes). */
const BAD_UTF8 = '@@BADUTF8@@';

function toJson(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** Why a review may legitimately differ; undefined: it must be byte-identical. */
type Intended = 'unknown-field' | 'os-windows' | 'warning';

interface Review {
  body: Buffer;
  /** The intended differences this review may show (empty: it must be byte-identical). */
  intended: Set<Intended>;
  what: string;
}

const INT64_EDGES = [
  '9223372036854775807',
  '9223372036854775296',
  '9007199254740993',
  '-9223372036854775808',
  '0',
];
const INT32_EDGES = ['2147483647', '-2147483648', '1', '30'];

function generate(r: () => number, i: number, prefix: string): Review {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const intended = new Set<Intended>();
  const notes: string[] = [];
  const container = (name: string): Record<string, unknown> => {
    const c: Record<string, unknown> = { name, image: pick(['busybox:1.36', 'nginx:1.25.3', 'a<b>&c']) };
    if (r() < 0.5) c.args = ['--x=1', pick(['', 'ü', '\u2028'])];
    if (r() < 0.5) c.ports = [{ name: 'http', containerPort: new Raw(pick(INT32_EDGES)), protocol: 'TCP' }];
    if (r() < 0.6)
      c.env = [
        { name: pick(['APP', 'AWS_REGION', 'AWS_ROLE_ARN', 'AWS_STS_REGIONAL_ENDPOINTS']), value: 'v' },
        ...(r() < 0.2 ? [{ name: 'BAD', value: `x${BAD_UTF8}y` }] : []),
      ];
    if (r() < 0.5)
      c.resources = { limits: { cpu: pick(['500m', '1', '2']), memory: pick(['128Mi', '1Gi', '1e3']) } };
    if (r() < 0.4)
      c.livenessProbe = {
        exec: { command: ['true'] },
        timeoutSeconds: new Raw(pick(INT32_EDGES)),
        terminationGracePeriodSeconds: new Raw(pick(INT64_EDGES)),
      };
    if (r() < 0.3) c.lifecycle = { preStop: { sleep: { seconds: new Raw(pick(INT64_EDGES)) } } };
    if (r() < 0.3) c.securityContext = { runAsUser: new Raw(pick(INT64_EDGES)), runAsNonRoot: true };
    if (r() < 0.2)
      c.volumeMounts = [
        {
          name: 'aws-iam-token',
          readOnly: true,
          mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount',
        },
      ];
    if (r() < 0.08) {
      c.futureField = 'x'; // unknown: openirsa keeps it, the reference drops it
      intended.add('unknown-field');
    }
    return c;
  };
  const annotations: Record<string, string> = {};
  if (r() < 0.3) {
    const exp = pick(['3600', '86400', '9223372036854775807', '9007199254740993', '600', '100', 'abc']);
    annotations[`${prefix}/token-expiration`] = exp;
    if (exp === '100' || exp === 'abc') intended.add('warning');
  }
  if (r() < 0.15) annotations[`${prefix}/skip-containers`] = pick(['c0', 'c0,c1', '"c1"', 'c0"']);
  if (annotations[`${prefix}/skip-containers`] === 'c0"') intended.add('warning');
  const spec: Record<string, unknown> = {
    serviceAccountName: pick([
      'sa-role',
      'sa-role',
      'sa-role',
      'sa-norole',
      'sa-missing',
      'sa-bad-arn',
      'sa-exp',
    ]),
  };
  if (spec.serviceAccountName === 'sa-bad-arn') intended.add('warning');
  const nContainers = r() < 0.05 ? 0 : 1 + Math.floor(r() * 3);
  if (nContainers > 0 || r() < 0.5)
    spec.containers = Array.from({ length: nContainers }, (_, k) => container(`c${k}`));
  if (r() < 0.2) spec.initContainers = [container('init')];
  if (r() < 0.2) spec.nodeSelector = { 'kubernetes.io/os': pick(['windows', 'linux']) };
  if (r() < 0.05) {
    spec.os = { name: 'windows' };
    if ((spec.nodeSelector as Record<string, string> | undefined)?.['kubernetes.io/os'] !== 'windows')
      intended.add('os-windows');
  }
  if (r() < 0.3) spec.volumes = [{ name: pick(['data', 'aws-iam-token']), emptyDir: {} }];
  notes.push(String(spec.serviceAccountName), `${nContainers} containers`);
  const review = {
    kind: 'AdmissionReview',
    apiVersion: pick(['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']),
    request: {
      uid: `uid-${i}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: NS,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `p${i}`, namespace: NS, annotations },
        spec,
      },
    },
  };
  const text = toJson(review);
  const parts = text.split(BAD_UTF8);
  const bad = Buffer.from([0xf0, 0x9f, 0x98]); // a truncated 4-byte sequence: three invalid bytes for Go
  const body = Buffer.concat(parts.flatMap((p, k) => (k === 0 ? [Buffer.from(p)] : [bad, Buffer.from(p)])));
  return { body, intended, what: notes.join(', ') };
}

// ------------------------------------------------------------------------------------------ comparison

/** Our answer with its intended differences normalised away, for the byte comparison. */
function normalise(ours: string, intended: Set<Intended>): string {
  let out = ours;
  if (intended.has('warning')) out = out.replace(/,"warnings":\[(?:"(?:[^"\\]|\\.)*",?)*\]/, '');
  const m = /"patch":"([^"]*)"/.exec(out);
  if (!m || (!intended.has('unknown-field') && !intended.has('os-windows'))) return out;
  let patch = Buffer.from(m[1]!, 'base64').toString('utf8');
  if (intended.has('unknown-field')) patch = patch.replaceAll(',"futureField":"x"', '');
  // spec.os.name windows: openirsa writes the Windows token path (C:\…), the reference the Unix one
  if (intended.has('os-windows'))
    patch = patch.replace(/"C:((?:\\\\[^"\\]+)+)"/g, (_m, p: string) => `"${p.replaceAll('\\\\', '/')}"`);
  return out.replace(m[1]!, Buffer.from(patch, 'utf8').toString('base64'));
}

const FLAG_SETS: Array<{ name: string; prefix: string; args: string[] }> = [
  { name: 'defaults', prefix: 'eks.amazonaws.com', args: [] },
  {
    name: 'region, regional STS, 1h tokens',
    prefix: 'eks.amazonaws.com',
    args: ['--aws-default-region=us-west-2', '--sts-regional-endpoint=true', '--token-expiration=3600'],
  },
  {
    name: 'other prefix, mount path, audience',
    prefix: 'example.com',
    args: ['--annotation-prefix=example.com', '--token-mount-path=/var/run/x', '--token-audience=other'],
  },
];

async function main(): Promise<void> {
  let refBin: string;
  try {
    refBin = referenceBinary(positionals[0]!);
  } catch (err) {
    if (err instanceof OneLineError) die(err.message);
    throw err;
  }
  console.log(`reference: ${refBin}`);
  const work = mkdtempSync(join(tmpdir(), 'openirsa-diff-webhook-'));
  const cp: ControlPlane = await startControlPlane();
  const procs: CliProcess[] = [];
  let unexpected = 0;
  try {
    await createNamespace(cp, NS);
    const both = (k: string, v: string): Record<string, string> => ({
      [`eks.amazonaws.com/${k}`]: v,
      [`example.com/${k}`]: v,
    });
    await createServiceAccount(cp, NS, 'sa-role', {
      ...both('role-arn', ROLE),
      ...both('audience', 'aud-a'),
    });
    await createServiceAccount(cp, NS, 'sa-norole', {});
    await createServiceAccount(cp, NS, 'sa-bad-arn', both('role-arn', 'not-an-arn'));
    await createServiceAccount(cp, NS, 'sa-exp', {
      ...both('role-arn', ROLE),
      ...both('token-expiration', '9223372036854775807'),
      ...both('sts-regional-endpoints', 'true'),
    });
    const tls = await servingCertificate(cp, work);
    const agent = new Agent({ keepAlive: true, ca: cp.caPem, maxSockets: 4 });
    const r = prng(seed);
    const perSet = Math.ceil(total / FLAG_SETS.length);
    const counts = { identical: 0, withIntended: 0, intended: new Map<string, number>() };
    for (const set of FLAG_SETS) {
      const [refPort, refMetrics, ourPort, ourMetrics] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      const common = [
        '--in-cluster=false',
        `--kubeconfig=${cp.kubeconfigPath}`,
        `--tls-cert=${tls.certFile}`,
        `--tls-key=${tls.keyFile}`,
        ...set.args,
      ];
      const ref = spawnProcess(refBin, [...common, `--port=${refPort}`, `--metrics-port=${refMetrics}`]);
      const ours = spawnProcess(process.execPath, [
        CLI,
        'webhook',
        ...common,
        `--port=${ourPort}`,
        `--metrics-port=${ourMetrics}`,
        '--bind-address=127.0.0.1',
      ]);
      procs.push(ref, ours);
      // Both caches have synced when both mutate a pod of sa-role.
      const probe = generate(prng(1), -1, set.prefix);
      const probeBody = Buffer.from(
        probe.body.toString().replace(/"serviceAccountName":"[^"]*"/, '"serviceAccountName":"sa-role"'),
      );
      const deadline = Date.now() + 120_000;
      for (;;) {
        const replies = await Promise.all([
          post(agent, refPort, probeBody),
          post(agent, ourPort, probeBody),
        ]).catch(() => undefined);
        if (replies?.every((x) => x.body.includes('"patch"'))) break;
        if (Date.now() > deadline)
          throw new Error(
            `webhooks not ready:\n--- reference\n${ref.output()}\n--- openirsa\n${ours.output()}`,
          );
        await sleep(300);
      }
      let shown = 0;
      for (let i = 0; i < perSet; i++) {
        const rev = generate(r, i, set.prefix);
        const [a, b] = await Promise.all([post(agent, refPort, rev.body), post(agent, ourPort, rev.body)]);
        const oursNorm = normalise(b.body, rev.intended);
        if (a.status === b.status && a.body === oursNorm) {
          if (rev.intended.size === 0) counts.identical++;
          else counts.withIntended++;
          for (const k of rev.intended) counts.intended.set(k, (counts.intended.get(k) ?? 0) + 1);
          continue;
        }
        unexpected++;
        if (shown++ < Number(values.show)) {
          const decode = (s: string): string => {
            const m = /"patch":"([^"]*)"/.exec(s);
            return m ? Buffer.from(m[1]!, 'base64').toString('utf8') : s;
          };
          console.log(
            `\n[${set.name}] review ${i} (${rev.what}${rev.intended.size > 0 ? `, intended: ${[...rev.intended].join(' ')}` : ''}) differs:`,
          );
          console.log(`  request:   ${rev.body.toString('utf8').slice(0, 1500)}`);
          console.log(
            `  reference: ${a.status} ${a.body.slice(0, 400)}\n             ${decode(a.body).slice(0, 1500)}`,
          );
          console.log(
            `  openirsa:  ${b.status} ${b.body.slice(0, 400)}\n             ${decode(b.body).slice(0, 1500)}`,
          );
        }
      }
      await Promise.all([ref.stop(), ours.stop()]);
      console.log(`[${set.name}] ${perSet} reviews done`);
    }
    agent.destroy();
    console.log(
      `\n${perSet * FLAG_SETS.length} AdmissionReviews (seed ${seed}) under ${FLAG_SETS.length} flag sets:`,
    );
    console.log(`  byte-identical:                 ${counts.identical}`);
    console.log(`  identical but for intended differences: ${counts.withIntended}`);
    for (const [k, v] of counts.intended) console.log(`    ${k.padEnd(16)} ${v}`);
    console.log(`  unexpected differences:         ${unexpected}`);
  } finally {
    for (const p of procs) await p.stop();
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  }
  process.exit(unexpected > 0 ? 1 : 0);
}

main().catch((e: unknown) => {
  console.error(`diff:webhook: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
