/**
 * `npm run bench:memory -- <reference source folder | built binary> [--count 10000] [--baseline OTHER_CLI_JS]`
 *
 * RSS of `openirsa webhook` and of the reference webhook with COUNT annotated ServiceAccounts cached: both watch the
 * same real kube-apiserver (scripts/control-plane.sh build), holding COUNT ServiceAccounts in 100 namespaces, each
 * with a role ARN, an audience and an unrelated annotation. RSS is read once both have synced (each mutates a pod of
 * the last ServiceAccount created), then again after 10 s idle. `--baseline` adds another build of openirsa
 * (its dist/src/cli/bin.js) as a third side, for before/after figures.
 *
 * `--fake-api`: the documented fallback when the control plane is not built: the same ServiceAccounts served by
 * bench/fake-api.ts (list, silent watch, GET over plain HTTP, `--kube-api=http://…`). Without it, a missing
 * control plane fails with the one line saying how to build it.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CLI, freePort, startControlPlane, type ControlPlane } from '../test/helpers/control-plane.js';
import { fakeApiServing, startFakeApi } from './fake-api.js';
import {
  createNamespace,
  servingCertificate,
  sleep,
  spawnProcess,
  type CliProcess,
} from '../test/e2e/support.js';
import { admissionReview, samplePod } from '../test/helpers/webhook-https.js';
import { referenceBinary, OneLineError } from '../scripts/reference-webhook.js';
import { deployedWebhookNodeOptions, round, rssOf, waitFor, type Side } from './side-by-side.js';

const NAMESPACES = 100;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      count: { type: 'string', default: '10000' },
      baseline: { type: 'string' },
      'fake-api': { type: 'boolean', default: false },
    },
  });
  const count = Number(values.count);
  if (positionals.length !== 1 || !Number.isSafeInteger(count) || count < NAMESPACES)
    throw new OneLineError(
      'usage: npm run bench:memory -- <reference source folder | built binary> [--count N (>= 100)] [--baseline OTHER_CLI_JS] [--fake-api]',
    );
  if (!existsSync(CLI)) throw new OneLineError(`${CLI} is missing: run \`npm run build\` first`);
  const baseline = values.baseline ? resolve(values.baseline) : undefined;
  if (baseline && !existsSync(baseline)) throw new OneLineError(`--baseline ${baseline} does not exist`);
  const refBin = referenceBinary(positionals[0]!);
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-bench-memory-'));
  const fake = values['fake-api'];
  let cp: ControlPlane | undefined;
  let fakeApi: { url: string; close(): Promise<void> } | undefined;
  const procs: Array<{ side: Side; proc: CliProcess }> = [];
  try {
    const perNs = Math.ceil(count / NAMESPACES);
    const names: Array<[string, string]> = [];
    for (let i = 0; i < count; i++)
      names.push([`team-${i % NAMESPACES}`, `app-${Math.floor(i / NAMESPACES)}`]);
    const annotations = (ns: string, name: string): Record<string, string> => ({
      'eks.amazonaws.com/role-arn': `arn:aws:iam::111122223333:role/${ns}-${name}`,
      'eks.amazonaws.com/audience': 'sts.amazonaws.com',
      'example.com/owner': `${ns}@example.com`,
    });
    let common: string[];
    let caPem: string;
    if (fake) {
      const served = await startFakeApi(
        names.map(([namespace, name]) => ({ namespace, name, annotations: annotations(namespace, name) })),
      );
      fakeApi = served;
      const tls = await fakeApiServing(dir, 'bench:memory CA');
      caPem = tls.caPem;
      common = [
        '--in-cluster=false',
        `--kube-api=${served.url}`,
        `--tls-cert=${tls.certFile}`,
        `--tls-key=${tls.keyFile}`,
      ];
      console.log(
        `${count} ServiceAccounts in ${NAMESPACES} namespaces served by the stand-in API at ${served.url} (--fake-api)`,
      );
    } else {
      cp = await startControlPlane();
      const api = cp;
      for (let n = 0; n < NAMESPACES; n++) await createNamespace(api, `team-${n}`);
      const t0 = Date.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < names.length) {
            const [ns, name] = names[next++]!;
            await api.call('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {
              apiVersion: 'v1',
              kind: 'ServiceAccount',
              metadata: { name, labels: { app: name }, annotations: annotations(ns, name) },
            });
          }
        }),
      );
      console.log(
        `${count} ServiceAccounts in ${NAMESPACES} namespaces created in ${((Date.now() - t0) / 1000).toFixed(0)} s (${perNs} per namespace)`,
      );
      const tls = await servingCertificate(api, dir);
      caPem = api.caPem;
      common = [
        '--in-cluster=false',
        `--kubeconfig=${api.kubeconfigPath}`,
        `--tls-cert=${tls.certFile}`,
        `--tls-key=${tls.keyFile}`,
      ];
    }
    const start = async (name: string, cmd: string, args: string[], cliJs?: string): Promise<void> => {
      const [port, metrics] = await Promise.all([freePort(), freePort()]);
      // Each openirsa build runs with the V8 options its deploy files give the webhook.
      const nodeOptions = cliJs ? deployedWebhookNodeOptions(cliJs) : undefined;
      if (cliJs) console.log(`${name}: NODE_OPTIONS=${nodeOptions ?? '(none)'}`);
      const proc = spawnProcess(
        cmd,
        [...args, ...common, `--port=${port}`, `--metrics-port=${metrics}`],
        nodeOptions ? { NODE_OPTIONS: nodeOptions } : {},
      );
      procs.push({ side: { name, pid: proc.child.pid!, url: `https://127.0.0.1:${port}/mutate` }, proc });
    };
    await start('reference', refBin, []);
    await start('openirsa', process.execPath, [CLI, 'webhook', '--bind-address=127.0.0.1'], CLI);
    if (baseline)
      await start('baseline', process.execPath, [baseline, 'webhook', '--bind-address=127.0.0.1'], baseline);
    const [lastNs, lastName] = names.at(-1)!;
    // The sample review is in great-namespace; this one asks for the last ServiceAccount created.
    const review = admissionReview('admission.k8s.io/v1', 'mem-1', samplePod(lastName)).replaceAll(
      '"great-namespace"',
      JSON.stringify(lastNs),
    );
    const probe = {
      ca: caPem,
      servername: 'localhost',
      connections: 1,
      warmupSeconds: 0,
      seconds: 1,
      contentType: 'application/json',
      bodies: [review],
      expect: `"patch":"`, // only a ServiceAccount in the cache gets a patch
    };
    for (const { side, proc } of procs)
      await waitFor(side.name, proc, async () => {
        const r = await round(side, probe, dir);
        return r.errors === 0 && r.requests > 0;
      });
    const synced = new Map(procs.map(({ side }) => [side.name, rssOf(side.pid)]));
    await sleep(10_000);
    const idle = new Map(procs.map(({ side }) => [side.name, rssOf(side.pid)]));
    const ref = idle.get('reference')!.now;
    console.log(`\nRSS with ${count} annotated ServiceAccounts cached (MiB):`);
    console.log('| webhook | when synced | after 10 s idle | peak | idle / reference |');
    console.log('|---|---|---|---|---|');
    for (const { side } of procs) {
      const s = synced.get(side.name)!;
      const i = idle.get(side.name)!;
      console.log(
        `| ${side.name} | ${s.now.toFixed(0)} | ${i.now.toFixed(0)} | ${i.peak.toFixed(0)} | ${(i.now / ref).toFixed(2)}× |`,
      );
    }
  } finally {
    for (const { proc } of procs) await proc.stop();
    await cp?.stop();
    await fakeApi?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(
    `bench:memory: ${err instanceof OneLineError ? err.message : ((err as Error).stack ?? String(err))}`,
  );
  process.exit(err instanceof OneLineError ? 2 : 1);
});
