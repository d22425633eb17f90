import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Agent } from 'node:https';
import {
  admissionReview,
  call,
  decodePatch,
  samplePod,
  webhookFiles,
  ROLE,
  type WebhookFiles,
} from '../../helpers/webhook-https.js';
import { runCli, startProcess, type WebhookProcess } from './process.js';

let files: WebhookFiles;
let wh: WebhookProcess;
let base: string;

before(async () => {
  files = await webhookFiles();
  wh = await startProcess([
    `--tls-cert=${files.certFile}`,
    `--tls-key=${files.keyFile}`,
    `--service-accounts-file=${files.saFile}`,
    '--logtostderr',
    '-v=2',
  ]);
  base = `https://127.0.0.1:${wh.port}`;
});

after(async () => {
  if (wh && wh.child.exitCode === null) {
    wh.child.kill('SIGKILL');
    await wh.exited;
  }
  rmSync(files.dir, { recursive: true, force: true });
});

const post = (body: string | Buffer, contentType: string | undefined = 'application/json') =>
  call(base + '/mutate', {
    method: 'POST',
    headers: contentType ? { 'Content-Type': contentType } : {},
    body,
    ca: files.ca.cert,
  });

test('CLI: --version, --help, bad flags, --in-cluster default', async () => {
  const v = await runCli(['webhook', '--version']);
  assert.deepEqual([v.code, v.stdout], [0, 'v0.1.0\n']);
  const h = await runCli(['webhook', '--help']);
  assert.equal(h.code, 0);
  for (const f of [
    '--port',
    '--metrics-port',
    '--tls-cert',
    '--in-cluster',
    '--annotation-prefix',
    '--service-account-lookup-grace-period',
    '--service-accounts-file',
    '--max-request-bytes',
    '--log-format',
    '--logtostderr',
  ]) {
    assert.ok(h.stdout.includes(f), f);
  }
  const bad = await runCli(['webhook', '--nope']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^openirsa: unknown flag: --nope/);
  const ic = await runCli(['webhook', '--port=0', '--metrics-port=0']);
  assert.equal(ic.code, 1);
  assert.match(
    ic.stderr,
    /openirsa: --in-cluster=true .* pass --in-cluster=false with --tls-cert and --tls-key/,
  );
  assert.doesNotMatch(ic.stderr, /\n\s+at /, 'no stack trace');
});

test('real AdmissionReviews v1 and v1beta1 over HTTPS verified against the test CA', async () => {
  for (const v of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const) {
    const r = await post(admissionReview(v, `uid-${v}`, samplePod()));
    assert.equal(r.status, 200);
    const review = JSON.parse(r.body) as {
      apiVersion: string;
      kind: string;
      response: { uid: string; allowed: boolean; patchType: string };
    };
    assert.deepEqual(
      [
        review.kind,
        review.apiVersion,
        review.response.uid,
        review.response.allowed,
        review.response.patchType,
      ],
      ['AdmissionReview', v, `uid-${v}`, true, 'JSONPatch'],
    );
    const patch = decodePatch(r.body);
    assert.deepEqual(patch.find((p) => p.path === '/spec/volumes/0')?.value, {
      name: 'aws-iam-token',
      projected: {
        sources: [
          { serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } },
        ],
      },
    });
    const app = (
      patch.find((p) => p.path === '/spec/containers')!.value as Array<{
        name: string;
        env: Array<{ name: string; value?: string }>;
      }>
    )[0]!;
    assert.deepEqual(app.env.slice(-2), [
      { name: 'AWS_ROLE_ARN', value: ROLE },
      {
        name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
        value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      },
    ]);
  }
});

test('malformed requests get the documented answers and the server keeps serving', async () => {
  const wrong = await post('{}', 'text/plain');
  assert.deepEqual([wrong.status, wrong.body], [415, 'Invalid Content-Type, expected `application/json`\n']);
  const empty = await post('');
  assert.equal(JSON.parse(empty.body).response.status.message, 'bad content');
  const invalid = await post('{not json');
  assert.match(
    JSON.parse(invalid.body).response.status.message,
    /^couldn't get version\/kind; json parse error: /,
  );
  const notReview = await post('{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x"}}');
  assert.deepEqual(JSON.parse(notReview.body), {
    kind: 'Pod',
    apiVersion: 'v1',
    response: { uid: '', allowed: false, status: { metadata: {}, message: 'bad content' } },
  });
  const notPod = await post(
    JSON.stringify({
      kind: 'AdmissionReview',
      apiVersion: 'admission.k8s.io/v1',
      request: { uid: 'np', namespace: 'n', object: { spec: { containers: 'nope' } } },
    }),
  );
  const np = JSON.parse(notPod.body) as {
    response: { uid: string; allowed: boolean; status: { message: string } };
  };
  assert.equal(np.response.allowed, false);
  assert.match(np.response.status.message, /^json: cannot unmarshal string into Go struct field/);
  const huge = await post(Buffer.alloc(4 * 1024 * 1024, 0x20));
  assert.equal(huge.status, 413);
  assert.match(huge.body, /request body too large/);
  const ok = await post(admissionReview('admission.k8s.io/v1', 'still', samplePod()));
  assert.equal(JSON.parse(ok.body).response.allowed, true);
  assert.equal(wh.child.exitCode, null, 'still running');
  assert.match(wh.stderr(), /"msg":"admission request rejected"/);
});

test('/healthz, /readyz, /metrics', async () => {
  assert.equal((await call(base + '/healthz', { ca: files.ca.cert })).body, 'ok');
  assert.equal((await call(base + '/readyz', { ca: files.ca.cert })).status, 200);
  const m = await call(`http://127.0.0.1:${wh.metricsPort}/metrics`);
  assert.equal(m.status, 200);
  assert.match(m.body, /^http_request_count\{verb="POST",path="\/mutate",code="200"\} \d+/m);
  assert.match(m.body, /^http_request_count\{verb="POST",path="\/mutate",code="413"\} 1/m);
  assert.match(m.body, /^pod_identity_webhook_pod_count\{method="sts_web_identity"\} \d+/m);
  assert.match(m.body, /^pod_identity_webhook_used 1/m);
  assert.match(m.body, /^# TYPE http_request_latencies histogram/m);
  assert.match(m.body, /^# TYPE http_request_duration_microseconds summary/m);
  assert.match(m.body, /^process_resident_memory_bytes \d+/m);
  assert.equal(
    (await call(`http://127.0.0.1:${wh.metricsPort}/debug/alpha/cache`)).status,
    404,
    'debug handlers are off by default',
  );
});

test('SIGTERM: in-flight requests finish, exit 0', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 16, ca: files.ca.cert });
  const body = admissionReview('admission.k8s.io/v1', 'drain', samplePod());
  const inflight = Array.from({ length: 32 }, () =>
    call(base + '/mutate', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, agent }),
  );
  await new Promise((r) => setTimeout(r, 20));
  wh.child.kill('SIGTERM');
  const results = await Promise.allSettled(inflight);
  agent.destroy();
  const exit = await wh.exited;
  assert.equal(exit.code, 0);
  // Requests already accepted finish with 200; connections still in the listen backlog or mid-handshake when the
  // listener closes are refused or reset, never given a partial answer.
  for (const r of results) {
    if (r.status === 'fulfilled') assert.equal(r.value.status, 200);
    else
      assert.match(
        String(r.reason),
        /ECONNREFUSED|ECONNRESET|socket hang up|before secure TLS connection was established/,
      );
  }
  assert.ok(results.some((r) => r.status === 'fulfilled'));
  assert.match(wh.stderr(), /Webhook server shutdown gracefully/);
});

test('SIGTERM waits for a slow in-flight admission (grace-period wait), exit 0; a second signal exits 1', async () => {
  // An unknown ServiceAccount with a grace period keeps a request in flight for a known time.
  const args = [
    `--tls-cert=${files.certFile}`,
    `--tls-key=${files.keyFile}`,
    `--service-accounts-file=${files.saFile}`,
    '--service-account-lookup-grace-period=1500ms',
  ];
  const p = await startProcess(args);
  const url = `https://127.0.0.1:${p.port}/mutate`;
  const body = admissionReview('admission.k8s.io/v1', 'slow', samplePod('not-yet-created'));
  const t0 = Date.now();
  const slow = call(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body,
    ca: files.ca.cert,
  });
  await new Promise((r) => setTimeout(r, 300));
  p.child.kill('SIGTERM');
  const r = await slow;
  assert.equal(r.status, 200);
  assert.equal((JSON.parse(r.body) as { response: { allowed: boolean } }).response.allowed, true);
  assert.ok(Date.now() - t0 >= 1400, 'answered after the grace period, not cut off');
  assert.equal((await p.exited).code, 0);

  const q = await startProcess(args);
  const pending = call(`https://127.0.0.1:${q.port}/mutate`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body,
    ca: files.ca.cert,
  }).catch((e: unknown) => e);
  await new Promise((res) => setTimeout(res, 300));
  q.child.kill('SIGTERM');
  await new Promise((res) => setTimeout(res, 200));
  q.child.kill('SIGTERM');
  assert.equal((await q.exited).code, 1);
  await pending;
  assert.match(q.stderr(), /second signal; exiting immediately/);
});
