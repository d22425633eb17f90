/**
 * `openirsa webhook --workers 2`: the real CLI as a pool of processes (node:cluster), against a ServiceAccounts
 * file. Answers must be those of one process; the primary's metrics port is the pool's one view.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent } from 'node:https';
import { createServer } from 'node:net';
import {
  admissionReview,
  call,
  samplePod,
  webhookFiles,
  type WebhookFiles,
} from '../../helpers/webhook-https.js';
import { runCli, startProcess, type WebhookProcess } from './process.js';
import { until } from '../../helpers/wait-and-log.js';

/** How long a pool may take to start, answer or replace a worker. */
const WAIT_MS = 10_000;

let files: WebhookFiles;
before(async () => {
  files = await webhookFiles();
});
after(() => rmSync(files.dir, { recursive: true, force: true }));

const start = (workers: number, extra: string[] = []): Promise<WebhookProcess> =>
  startProcess([
    `--tls-cert=${files.certFile}`,
    `--tls-key=${files.keyFile}`,
    `--service-accounts-file=${files.saFile}`,
    `--workers=${workers}`,
    '-v=4', // a trace line per request, which a worker's pid is on
    ...extra,
  ]);

/** The pids of the workers that logged `webhook listening` (in order). */
const workerPids = (stderr: string): number[] =>
  [...stderr.matchAll(/"worker":(\d+)[^\n]*"msg":"webhook listening"/g)].map((m) => Number(m[1]));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const ready = async (wh: WebhookProcess): Promise<boolean> =>
  (await call(`http://127.0.0.1:${wh.metricsPort}/readyz`)).status === 200;

/** `n` admissions over `connections` keep-alive connections; the answers' bodies. */
async function admit(wh: WebhookProcess, n: number, connections: number): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections, ca: files.ca.cert });
  try {
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        call(`https://127.0.0.1:${wh.port}/mutate`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: admissionReview('admission.k8s.io/v1', `uid-${i}`, samplePod()),
          agent,
        }),
      ),
    );
    for (const r of replies) assert.equal(r.status, 200, r.body);
    return replies.map((r) => r.body);
  } finally {
    agent.destroy();
  }
}

async function stop(wh: WebhookProcess): Promise<number | null> {
  wh.child.kill('SIGTERM');
  return (await wh.exited).code;
}

/** `# HELP` and `# TYPE` lines of the webhook's own metrics (not Node's process metrics). */
const ownMetaLines = (text: string): string[] =>
  text.split('\n').filter((l) => /^# (HELP|TYPE) (http_|pod_identity_webhook_)/.test(l));

test('--workers 2: the answers of one process, metrics summed over the pool, several workers served, SIGTERM exits 0', async () => {
  const n = 48;
  const one = await start(1);
  let oneMetrics: string;
  let oneBodies: string[];
  try {
    await until(() => ready(one), WAIT_MS, 'one process ready');
    oneBodies = await admit(one, n, 8);
    oneMetrics = (await call(`http://127.0.0.1:${one.metricsPort}/metrics`)).body;
  } finally {
    assert.equal(await stop(one), 0);
  }
  const pool = await start(2);
  const scraper = new HttpAgent({ keepAlive: true });
  let pids: number[] = [];
  try {
    pids = workerPids(pool.stderr());
    assert.equal(pids.length, 2, pool.stderr());
    await until(() => ready(pool), WAIT_MS, 'pool ready');
    assert.equal((await call(`https://127.0.0.1:${pool.port}/readyz`, { ca: files.ca.cert })).status, 200);
    assert.deepEqual(await admit(pool, n, 8), oneBodies);
    // A scraper's keep-alive connection, left open: it must not hold the primary's exit.
    const m = await call(`http://127.0.0.1:${pool.metricsPort}/metrics`, { agent: scraper });
    assert.equal(m.status, 200);
    assert.match(
      m.body,
      new RegExp(`^http_request_count\\{verb="POST",path="/mutate",code="200"\\} ${n}$`, 'm'),
    );
    // The oldest worker's start time: a number of seconds since the epoch, not left out as prom-client would.
    const started = /^process_start_time_seconds (\d+)$/m.exec(m.body);
    assert.ok(started, 'process_start_time_seconds missing from the pool');
    assert.ok(Math.abs(Number(started[1]) - Date.now() / 1000) < 600, started[0]);
    assert.match(
      m.body,
      new RegExp(`^http_request_latencies_count\\{verb="POST",path="/mutate"\\} ${n}$`, 'm'),
    );
    assert.match(
      m.body,
      new RegExp(`^http_request_duration_microseconds_count\\{verb="POST",path="/mutate"\\} ${n}$`, 'm'),
    );
    assert.match(
      m.body,
      new RegExp(`^pod_identity_webhook_pod_count\\{method="sts_web_identity"\\} ${n}$`, 'm'),
    );
    assert.match(m.body, /^pod_identity_webhook_used 1$/m, 'a gauge of the pool is the max, not the sum');
    assert.deepEqual(
      ownMetaLines(m.body),
      ownMetaLines(oneMetrics),
      'names, HELP and TYPE as with one process',
    );
    assert.match(m.body, /^process_resident_memory_bytes \d+/m);
    // Each request's trace line names the worker that served it.
    const served = new Set(
      [...pool.stderr().matchAll(/"worker":(\d+)[^\n]*"msg":"request"/g)].map((x) => Number(x[1])),
    );
    assert.deepEqual([...served].sort(), [...pids].sort(), 'both workers served');
  } finally {
    assert.equal(await stop(pool), 0);
    scraper.destroy();
  }
  for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} ended with the pool`);
});

test('--workers 2: a killed worker is replaced and the pool serves and is ready again', async () => {
  const pool = await start(2, ['-v=2']);
  try {
    await until(() => ready(pool), WAIT_MS, 'pool ready');
    const [victim] = workerPids(pool.stderr());
    process.kill(victim!, 'SIGKILL');
    await until(() => workerPids(pool.stderr()).length === 3, WAIT_MS, 'the replacement');
    assert.match(pool.stderr(), new RegExp(`"pid":${victim}[^\\n]*worker died; starting another`));
    await until(() => ready(pool), WAIT_MS, 'pool ready again');
    assert.equal((await admit(pool, 8, 4)).length, 8);
    for (const pid of workerPids(pool.stderr()).slice(1)) assert.ok(alive(pid), `worker ${pid} runs`);
  } finally {
    assert.equal(await stop(pool), 0);
  }
});

test('--workers: bad values and a pool that cannot start exit with a one-line error', async () => {
  const help = await runCli(['webhook', '--help']);
  assert.match(
    help.stdout,
    /openirsa flags:[\s\S]*\n {2}--workers int\n {8}Serve the webhook port from N processes/,
  );
  for (const v of ['0', '65', 'two']) {
    const r = await runCli(['webhook', '--in-cluster=false', `--workers=${v}`]);
    assert.equal(r.code, 2, r.stderr);
    const [first] = r.stderr.split('\n');
    assert.match(
      first!,
      v === 'two'
        ? /^openirsa: invalid argument "two" for "--workers"/
        : /^openirsa: --workers must be 1-64, not \d+$/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  // pflag's two spellings.
  const spaced = await runCli(['webhook', '--in-cluster=false', '--workers', '0']);
  assert.match(spaced.stderr, /^openirsa: --workers must be 1-64, not 0$/m);
  // A worker that fails at start (missing certificate): the pool exits 1 instead of forking forever.
  const bad = await runCli([
    'webhook',
    '--in-cluster=false',
    '--port=0',
    '--metrics-port=0',
    '--bind-address=127.0.0.1',
    `--tls-cert=${files.dir}/missing.pem`,
    `--tls-key=${files.keyFile}`,
    `--service-accounts-file=${files.saFile}`,
    '--workers',
    '2',
  ]);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /missing\.pem/);
  assert.match(bad.stderr, /^openirsa: a worker exited before it listened/m);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  // The metrics port, the primary's, taken: it fails once, before forking.
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  try {
    const port = (busy.address() as { port: number }).port;
    const taken = await runCli([
      'webhook',
      '--in-cluster=false',
      '--port=0',
      `--metrics-port=${port}`,
      '--bind-address=127.0.0.1',
      `--tls-cert=${files.certFile}`,
      `--tls-key=${files.keyFile}`,
      `--service-accounts-file=${files.saFile}`,
      '--workers=2',
    ]);
    assert.equal(taken.code, 1, taken.stderr);
    assert.match(taken.stderr, /^openirsa: cannot listen on metrics port \d+: .*EADDRINUSE/m);
    assert.doesNotMatch(taken.stderr, /worker/, 'nothing forked');
  } finally {
    busy.close();
  }
});
