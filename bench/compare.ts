/**
 * `npm run bench:compare -- <reference source folder | built binary> [--rounds N] [--seconds S] [--only webhook|sts]`
 *
 * Side by side in one run, alternating rounds (A B, B A, A B, …) so that other load on the machine falls on both:
 * - webhook: `openirsa webhook` and the reference amazon-eks-pod-identity-webhook (built from its source folder by
 *   scripts/reference-webhook.ts, or a binary) both watching the same real kube-apiserver (scripts/control-plane.sh
 *   build) for the same ServiceAccounts, driven over HTTPS keep-alive (64 connections) with the same 3-container
 *   pod review by bench/load-generator.ts in its own process;
 * - STS: `openirsa sts serve` and moto's server (`moto_server`, from `bash scripts/python-tools.sh`), plain HTTP
 *   keep-alive (32 connections), AssumeRoleWithWebIdentity with distinct RS256 tokens (`--sts-workers N` serves
 *   openirsa's side with `--workers N`; `--webhook-workers N` does the same for the webhook).
 * `--baseline OTHER/dist/src/cli/bin.js` adds another build of openirsa as a third side of both comparisons.
 * Prints, per side: requests/s, p50/p99, server CPU per request, RSS after the load, each as the range over the
 * rounds (the spread), and the ratios of the medians. Exit status 1 when a reply was wrong or a side failed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fakeApiServing, startFakeApi } from './fake-api.js';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { CLI, freePort, startControlPlane, type ControlPlane } from '../test/helpers/control-plane.js';
import {
  createNamespace,
  createServiceAccount,
  servingCertificate,
  spawnProcess,
  type CliProcess,
} from '../test/e2e/support.js';
import { admissionReview, samplePod, ROLE } from '../test/helpers/webhook-https.js';
import { claims, configDoc, makeKey, signToken, webIdentityForm } from '../test/helpers/sts-fixtures.js';
import { referenceBinary, OneLineError } from '../scripts/reference-webhook.js';
import type { LoadSpec } from './load-generator.js';
import {
  alternate,
  deployedWebhookNodeOptions,
  round,
  rssOf,
  summary,
  waitFor,
  type Side,
} from './side-by-side.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ------------------------------------------------------------------------------------------ webhook

async function compareWebhooks(
  refArg: string,
  rounds: number,
  seconds: number,
  dir: string,
  fake: boolean,
  baseline: string | undefined,
  workers: number,
): Promise<boolean> {
  const refBin = referenceBinary(refArg);
  console.log(`webhook: reference ${refBin}`);
  let cp: ControlPlane | undefined;
  let fakeApi: { url: string; close(): Promise<void> } | undefined;
  const procs: CliProcess[] = [];
  try {
    const ns = 'great-namespace';
    const annotations = { 'eks.amazonaws.com/role-arn': ROLE };
    let tls: { certFile: string; keyFile: string };
    let caPem: string;
    let api: string;
    if (fake) {
      // The fallback without a built control plane: the same ServiceAccount from bench/fake-api.ts.
      fakeApi = await startFakeApi([{ namespace: ns, name: 'great-serviceaccount', annotations }]);
      const served = await fakeApiServing(dir, 'bench:compare CA');
      tls = served;
      caPem = served.caPem;
      api = `--kube-api=${fakeApi.url}`;
    } else {
      cp = await startControlPlane();
      await createNamespace(cp, ns);
      await createServiceAccount(cp, ns, 'great-serviceaccount', annotations);
      tls = await servingCertificate(cp, dir);
      caPem = cp.caPem;
      api = `--kubeconfig=${cp.kubeconfigPath}`;
    }
    const [refPort, refMetrics, ourPort, ourMetrics] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const common = [
      '--in-cluster=false',
      api,
      `--tls-cert=${tls.certFile}`,
      `--tls-key=${tls.keyFile}`,
      '--aws-default-region=eu-west-1',
    ];
    const ref = spawnProcess(refBin, [...common, `--port=${refPort}`, `--metrics-port=${refMetrics}`]);
    // Each openirsa build runs with the V8 options its deploy files give the webhook.
    const startOpenirsa = (cliJs: string, port: number, metricsPort: number): CliProcess => {
      const options = deployedWebhookNodeOptions(cliJs);
      console.log(`webhook: ${cliJs}: NODE_OPTIONS=${options ?? '(none)'}`);
      const args = [
        `--port=${port}`,
        `--metrics-port=${metricsPort}`,
        '--bind-address=127.0.0.1',
        `--workers=${workers}`,
      ];
      return spawnProcess(
        process.execPath,
        [cliJs, 'webhook', ...common, ...args],
        options ? { NODE_OPTIONS: options } : {},
      );
    };
    const ours = startOpenirsa(CLI, ourPort, ourMetrics);
    procs.push(ref, ours);
    const basePorts = baseline ? await Promise.all([freePort(), freePort()]) : undefined;
    const base = baseline && basePorts ? startOpenirsa(baseline, basePorts[0], basePorts[1]) : undefined;
    if (base) procs.push(base);
    const body = admissionReview('admission.k8s.io/v1', '6a1c4c39-0b7e-4d5e-9a7c-2f3d4e5f6a7b', samplePod());
    const spec: Omit<LoadSpec, 'url'> = {
      ca: caPem,
      servername: 'localhost',
      connections: 64,
      warmupSeconds: 2,
      seconds,
      contentType: 'application/json',
      bodies: [body],
      expect: '"patch":"',
    };
    const sides: Side[] = [
      { name: 'reference', pid: ref.child.pid!, url: `https://127.0.0.1:${refPort}/mutate` },
      { name: 'openirsa', pid: ours.child.pid!, url: `https://127.0.0.1:${ourPort}/mutate` },
    ];
    const launched: Array<[Side, CliProcess]> = [
      [sides[0]!, ref],
      [sides[1]!, ours],
    ];
    if (base && basePorts) {
      sides.push({ name: 'baseline', pid: base.child.pid!, url: `https://127.0.0.1:${basePorts[0]}/mutate` });
      launched.push([sides[2]!, base]);
    }
    // Every cache has synced when every side answers the review with a patch (a short round that must not fail).
    for (const [side, proc] of launched)
      await waitFor(side.name, proc, async () => {
        const r = await round(side, { ...spec, connections: 1, warmupSeconds: 0, seconds: 2 }, dir);
        return r.errors === 0 && r.requests > 0;
      });
    const idle = sides.map((s) => `${s.name} ${rssOf(s.pid).now.toFixed(0)} MiB`).join(', ');
    console.log(
      `webhook: idle RSS ${idle}; review ${Buffer.byteLength(body)} bytes, 64 connections, ${workers} openirsa worker(s), ${seconds} s rounds after 2 s warm-up`,
    );
    const results = await alternate(sides, rounds, spec, dir);
    const rss = new Map(sides.map((s) => [s.name, rssOf(s.pid)]));
    console.log(`\n${summary('webhook POST /mutate', results, rss, 'openirsa', 'reference')}\n`);
    if (base)
      console.log(
        `${summary('webhook POST /mutate, this build vs --baseline', results, rss, 'openirsa', 'baseline')}\n`,
      );
    return [...results.values()].flat().every((r) => r.errors === 0);
  } finally {
    for (const p of procs) await p.stop();
    await cp?.stop();
    await fakeApi?.close();
  }
}

// ------------------------------------------------------------------------------------------ STS

async function compareSts(
  rounds: number,
  seconds: number,
  dir: string,
  baseline: string | undefined,
  workers: number,
): Promise<boolean> {
  const moto = join(ROOT, '.cache/venv/bin/moto_server');
  if (!existsSync(moto)) throw new OneLineError(`${moto} is missing: run \`bash scripts/python-tools.sh\``);
  const key = await makeKey('bench-kid', 'RS256');
  writeFileSync(join(dir, 'sts.yaml'), stringify(configDoc([key])));
  const now = Math.floor(Date.now() / 1000);
  const bodies = Array.from({ length: 256 }, (_, i) =>
    webIdentityForm(signToken(key, claims({ exp: now + 3600, iat: now, nbf: now, jti: String(i) })), {
      RoleSessionName: `bench-${i}`,
    }),
  );
  const [ourPort, motoPort, basePort] = await Promise.all([freePort(), freePort(), freePort()]);
  const serve = (cli: string, port: number) =>
    spawnProcess(
      process.execPath,
      [
        cli,
        'sts',
        'serve',
        '--config',
        join(dir, 'sts.yaml'),
        '--port',
        String(port),
        '--workers',
        String(workers),
      ],
      { OPENIRSA_LOG_LEVEL: 'warn' },
    );
  const ours = serve(CLI, ourPort);
  const mo = spawnProcess(moto, ['-H', '127.0.0.1', '-p', String(motoPort)]);
  const base = baseline ? serve(baseline, basePort) : undefined;
  try {
    const spec: Omit<LoadSpec, 'url'> = {
      connections: 32,
      warmupSeconds: 2,
      seconds,
      contentType: 'application/x-www-form-urlencoded',
      bodies,
      expect: '<AssumeRoleWithWebIdentityResult>',
    };
    const sides: Side[] = [
      { name: 'moto', pid: mo.child.pid!, url: `http://127.0.0.1:${motoPort}/` },
      { name: 'openirsa', pid: ours.child.pid!, url: `http://127.0.0.1:${ourPort}/` },
    ];
    const launched: Array<[Side, CliProcess]> = [
      [sides[0]!, mo],
      [sides[1]!, ours],
    ];
    if (base) {
      sides.push({ name: 'baseline', pid: base.child.pid!, url: `http://127.0.0.1:${basePort}/` });
      launched.push([sides[2]!, base]);
    }
    for (const [side, proc] of launched)
      await waitFor(side.name, proc, async () => {
        const r = await round(side, { ...spec, connections: 1, warmupSeconds: 0, seconds: 2 }, dir);
        return r.errors === 0 && r.requests > 0;
      });
    console.log(
      `sts: AssumeRoleWithWebIdentity, plain HTTP keep-alive, 32 connections, ${workers} openirsa worker(s), ${seconds} s rounds after 2 s warm-up`,
    );
    const results = await alternate(sides, rounds, spec, dir);
    const rss = new Map(sides.map((s) => [s.name, rssOf(s.pid)]));
    console.log(`\n${summary('sts AssumeRoleWithWebIdentity', results, rss, 'openirsa', 'moto')}\n`);
    if (base)
      console.log(
        `${summary('sts AssumeRoleWithWebIdentity, this build vs --baseline', results, rss, 'openirsa', 'baseline')}\n`,
      );
    return [...results.values()].flat().every((r) => r.errors === 0);
  } finally {
    await Promise.all([ours.stop(), mo.stop(), base?.stop()]);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '8' },
      only: { type: 'string' },
      'fake-api': { type: 'boolean', default: false },
      baseline: { type: 'string' },
      'sts-workers': { type: 'string' },
      'webhook-workers': { type: 'string' },
    },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const only = values.only;
  const usage =
    'usage: npm run bench:compare -- <reference source folder | built binary> [--rounds N] [--seconds S] [--only webhook|sts] [--fake-api] [--baseline OTHER_CLI_JS] [--sts-workers N] [--webhook-workers N]';
  if (!Number.isSafeInteger(rounds) || rounds < 1 || !(seconds > 0))
    throw new OneLineError(`bad --rounds or --seconds; ${usage}`);
  if (only !== undefined && only !== 'webhook' && only !== 'sts')
    throw new OneLineError(`bad --only; ${usage}`);
  if (only !== 'sts' && positionals.length !== 1) throw new OneLineError(usage);
  const workersOf = (flag: 'sts-workers' | 'webhook-workers'): number => {
    const n = Number(values[flag] ?? 1);
    if (!Number.isSafeInteger(n) || n < 1 || n > 64) throw new OneLineError(`bad --${flag}; ${usage}`);
    return n;
  };
  const stsWorkers = workersOf('sts-workers');
  const webhookWorkers = workersOf('webhook-workers');
  if (!existsSync(CLI)) throw new OneLineError(`${CLI} is missing: run \`npm run build\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-bench-compare-'));
  let ok = true;
  try {
    if (only !== 'sts')
      ok =
        (await compareWebhooks(
          positionals[0]!,
          rounds,
          seconds,
          dir,
          values['fake-api'],
          values.baseline ? resolve(values.baseline) : undefined,
          webhookWorkers,
        )) && ok;
    if (only !== 'webhook')
      ok =
        (await compareSts(
          rounds,
          seconds,
          dir,
          values.baseline ? resolve(values.baseline) : undefined,
          stsWorkers,
        )) && ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(
    `bench:compare: ${err instanceof OneLineError ? err.message : ((err as Error).stack ?? String(err))}`,
  );
  process.exit(err instanceof OneLineError ? 2 : 1);
});
