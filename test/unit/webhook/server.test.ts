import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { startWebhook, type RunningWebhook } from '../../../src/webhook/index.js';
import { parseArgs, resolveFlags } from '../../../src/webhook/flags.js';
import { reviewAdmission } from '../../../src/webhook/admission.js';
import { issueCertificate } from '../../../src/pki/index.js';
import type { ReviewFn } from '../../../src/webhook/server.js';
import { KubeReplay, fixture } from '../../helpers/kube-replay.js';
import { memoryLogger, sleep, until } from '../../helpers/wait-and-log.js';
import {
  admissionReview,
  call,
  decodePatch,
  samplePod,
  webhookFiles,
  ROLE,
  type WebhookFiles,
} from '../../helpers/webhook-https.js';

let files: WebhookFiles;
let wh: RunningWebhook;
let base: string;
let metricsBase: string;
let ca: string;
const log = memoryLogger('debug');

const flagsFor = (extra: string[]) =>
  resolveFlags(
    parseArgs([
      '--in-cluster=false',
      '--port=0',
      '--metrics-port=0',
      '--bind-address=127.0.0.1',
      `--tls-cert=${files.certFile}`,
      `--tls-key=${files.keyFile}`,
      ...extra,
    ]).values,
  );

before(async () => {
  files = await webhookFiles();
  ca = files.ca.cert;
  wh = await startWebhook(
    flagsFor([
      `--service-accounts-file=${files.saFile}`,
      '--enable-debugging-handlers',
      '--max-request-bytes=65536',
      '--aws-default-region=eu-west-1',
    ]),
    { logger: log.logger },
  );
  base = `https://127.0.0.1:${wh.port}`;
  metricsBase = `http://127.0.0.1:${wh.metricsPort}`;
});

after(async () => {
  await wh?.stop();
  rmSync(files.dir, { recursive: true, force: true });
});

const post = (
  body: string | Buffer,
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
  path = '/mutate',
) => call(base + path, { method: 'POST', headers, body, ca });

test('v1 and v1beta1 AdmissionReviews: TypeMeta and uid echoed, JSONPatch with the role', async () => {
  for (const v of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const) {
    const r = await post(admissionReview(v, `uid-${v}`, samplePod()));
    assert.equal(r.status, 200);
    const review = JSON.parse(r.body) as {
      kind: string;
      apiVersion: string;
      response: { uid: string; allowed: boolean; patchType: string };
    };
    assert.equal(review.kind, 'AdmissionReview');
    assert.equal(review.apiVersion, v);
    assert.equal(review.response.uid, `uid-${v}`);
    assert.equal(review.response.allowed, true);
    assert.equal(review.response.patchType, 'JSONPatch');
    const patch = decodePatch(r.body);
    const containers = patch.find((p) => p.path === '/spec/containers')!.value as Array<{
      env: Array<{ name: string; value?: string }>;
    }>;
    assert.equal(containers.length, 2);
    assert.ok(containers[0]!.env.some((e) => e.name === 'AWS_ROLE_ARN' && e.value === ROLE));
    assert.ok(containers[0]!.env.some((e) => e.name === 'AWS_REGION' && e.value === 'eu-west-1'));
    assert.ok(patch.some((p) => p.path === '/spec/initContainers'));
  }
});

test('an SA without a role: allowed, no patch; an unknown SA counts as missing', async () => {
  const r = await post(admissionReview('admission.k8s.io/v1', 'u1', samplePod('default')));
  assert.deepEqual(JSON.parse(r.body), {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    response: { uid: 'u1', allowed: true },
  });
  const r2 = await post(admissionReview('admission.k8s.io/v1', 'u2', samplePod('ghost')));
  assert.equal(JSON.parse(r2.body).response.allowed, true);
  const m = await call(metricsBase + '/metrics');
  assert.match(m.body, /^pod_identity_webhook_missing_sa_count [1-9]/m);
});

test('bad input: content type, empty, invalid JSON, not a review, not a pod, oversized (declared and chunked)', async () => {
  const wrong = await post('{}', { 'Content-Type': 'application/json; charset=utf-8' });
  assert.equal(wrong.status, 415);
  assert.equal(wrong.body, 'Invalid Content-Type, expected `application/json`\n');
  const none = await post('{}', {});
  assert.equal(none.status, 415);
  const empty = await post('');
  assert.equal(empty.status, 200);
  assert.equal(
    empty.body,
    '{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"bad content"}}}',
  );
  const invalid = await post('{"kind":');
  assert.match(
    JSON.parse(invalid.body).response.status.message,
    /^couldn't get version\/kind; json parse error: /,
  );
  const notReview = await post('[1,2]');
  assert.equal(JSON.parse(notReview.body).response.allowed, false);
  const notPod = await post(
    JSON.stringify({
      kind: 'AdmissionReview',
      apiVersion: 'admission.k8s.io/v1',
      request: { uid: 'x', object: 'a string' },
    }),
  );
  assert.equal(
    JSON.parse(notPod.body).response.status.message,
    'json: cannot unmarshal string into Go value of type v1.Pod',
  );
  const big = Buffer.alloc(70_000, 0x20);
  const tooBig = await post(big);
  assert.equal(tooBig.status, 413);
  assert.match(tooBig.body, /request body too large: the limit is 65536 bytes/);
  const chunked = await call(base + '/mutate', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
    body: big,
    ca,
    chunked: true,
  });
  assert.equal(chunked.status, 413);
  // A declared size far above the limit is refused before any body byte is read, and the connection closed.
  const { connect } = await import('node:tls');
  const raw = await new Promise<string>((resolve, reject) => {
    let got = '';
    const s = connect({ host: '127.0.0.1', port: wh.port, ca, servername: 'localhost' }, () => {
      s.write(
        'POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n',
      );
    });
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
  assert.match(raw, /^HTTP\/1.1 413 /);
  assert.match(raw, /connection: close/i);
  // Still serving.
  assert.equal((await post(admissionReview('admission.k8s.io/v1', 'after', samplePod()))).status, 200);
  assert.ok(log.lines.some((l) => l.msg === 'admission request rejected'));
  assert.ok(log.lines.some((l) => l.msg === 'admission request body too large'));
});

test('routes: healthz, readyz, 404, any method on /mutate, bad query → 400', async () => {
  assert.deepEqual(
    [(await call(base + '/healthz', { ca })).status, (await call(base + '/healthz', { ca })).body],
    [200, 'ok'],
  );
  assert.equal((await call(base + '/readyz', { ca })).status, 200);
  const nf = await call(base + '/nope', { ca });
  assert.deepEqual([nf.status, nf.body], [404, '404 page not found\n']);
  const put = await call(base + '/mutate', {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: admissionReview('admission.k8s.io/v1', 'p', samplePod()),
    ca,
  });
  assert.equal(put.status, 200);
  const badq = await call(base + '/mutate?a=%zz', { method: 'POST', ca });
  assert.deepEqual([badq.status, badq.body], [400, '{"error": "error parsing form"}\n']);
  assert.equal((await call(base + '/mutate/', { method: 'POST', ca })).status, 404, 'exact path');
});

test('debug handlers and metrics names', async () => {
  const deny = await call(base + '/debug/alpha/deny', { ca });
  assert.equal(
    deny.body,
    '{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"Test deny message"}}}',
  );
  const e500 = await call(base + '/debug/alpha/500', { ca });
  assert.deepEqual([e500.status, e500.body], [500, 'test error\n']);
  const dump = JSON.parse((await call(metricsBase + '/debug/alpha/cache')).body) as Record<
    string,
    { RoleARN: string }
  >;
  assert.equal(dump['great-namespace/great-serviceaccount']!.RoleARN, ROLE);
  const m = (await call(metricsBase + '/metrics')).body;
  assert.match(m, /^http_request_count\{verb="POST",path="\/mutate",code="200"\} \d+/m);
  assert.match(m, /^http_request_count\{verb="POST",path="\/mutate",code="415"\} \d+/m);
  assert.match(m, /^http_request_count\{verb="GET",path="\/debug\/alpha\/500",code="500"\} 1/m);
  assert.match(m, /^http_request_latencies_bucket\{le="125000",verb="POST",path="\/mutate"\} \d+/m);
  assert.match(m, /^http_request_latencies_bucket\{le="8000000",verb="POST",path="\/mutate"\} \d+/m);
  assert.match(m, /^http_request_duration_microseconds_count\{verb="POST",path="\/mutate"\} \d+/m);
  assert.match(m, /^pod_identity_webhook_pod_count\{method="sts_web_identity"\} [1-9]/m);
  assert.match(m, /^pod_identity_webhook_used 1/m);
  assert.match(m, /^process_cpu_user_seconds_total /m);
  assert.doesNotMatch(m, /path="\/healthz"/, 'healthz is not instrumented');
  // Clearing reads the sources again (the file here): the cache refills by itself and readiness follows it.
  assert.equal((await call(metricsBase + '/debug/alpha/cache/clear')).status, 200);
  await until(() => wh.cache.get('great-namespace', 'great-serviceaccount').found, 15_000, 'refill');
  assert.equal((await call(base + '/readyz', { ca })).status, 200);
});

async function untilAsync(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('debug cache clear: /readyz answers 503 until the cache is filled again (file and API sources)', async () => {
  // File source: a file that no longer parses cannot refill the cache, so the webhook stays not ready.
  const saFile = `${files.saFile}.clear.yaml`;
  writeFileSync(saFile, readFileSync(files.saFile, 'utf8'));
  const fw = await startWebhook(
    flagsFor([`--service-accounts-file=${saFile}`, '--enable-debugging-handlers']),
    {
      logger: memoryLogger().logger,
    },
  );
  try {
    const ready = () => call(`https://127.0.0.1:${fw.port}/readyz`, { ca });
    assert.equal((await ready()).status, 200);
    writeFileSync(saFile, 'kind: [unclosed\n');
    await sleep(200); // the watcher sees the bad file and keeps the previous ServiceAccounts
    assert.equal((await call(`http://127.0.0.1:${fw.metricsPort}/debug/alpha/cache/clear`)).status, 200);
    await untilAsync(async () => (await ready()).status === 503, 5000, 'not ready after clear');
    assert.match((await ready()).body, /not loaded since the cache was cleared/);
    writeFileSync(saFile, readFileSync(files.saFile, 'utf8'));
    await untilAsync(async () => (await ready()).status === 200, 15_000, 'ready once the file loads');
    assert.ok(fw.cache.get('great-namespace', 'great-serviceaccount').found);
  } finally {
    await fw.stop();
    rmSync(saFile, { force: true });
  }
  // API source: the relist after the clear fails twice, so readiness waits for the third list.
  const down = { status: 500, body: '{"kind":"Status","code":500,"message":"down"}' };
  const api = new KubeReplay()
    .on(
      'list /api/v1/serviceaccounts',
      { status: 200, body: fixture('serviceaccounts-list-page2.json') },
      down,
      down,
      {
        status: 200,
        body: fixture('serviceaccounts-list-page2.json'),
      },
    )
    .on('watch /api/v1/serviceaccounts', { watch: [], end: false });
  await api.start();
  const aw = await startWebhook(flagsFor([`--kube-api=${api.url}`, '--enable-debugging-handlers']), {
    logger: memoryLogger().logger,
  });
  try {
    await aw.synced;
    const ready = () => call(`https://127.0.0.1:${aw.port}/readyz`, { ca });
    assert.equal((await ready()).status, 200);
    assert.equal((await call(`http://127.0.0.1:${aw.metricsPort}/debug/alpha/cache/clear`)).status, 200);
    const r = await ready();
    assert.equal(r.status, 503, 'not ready as soon as the cache is empty');
    assert.match(r.body, /ServiceAccount cache not synced/);
    await untilAsync(async () => (await ready()).status === 200, 20_000, 'ready after the relist');
    assert.equal(
      api.count((q) => q.path === '/api/v1/serviceaccounts' && q.query.get('watch') !== 'true'),
      4,
    );
  } finally {
    await aw.stop();
    await api.stop();
  }
});

test('TLS hot reload: a new pair is served to new connections; a bad pair keeps the old one', async () => {
  const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
  const before = await call(base + '/healthz', { ca });
  assert.equal(before.fingerprint, fp(readFileSync(files.certFile, 'utf8')));
  const leaf = await issueCertificate(files.ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  // A cert that does not match the key: refused.
  writeFileSync(files.certFile, leaf.cert);
  await sleep(300);
  assert.equal((await call(base + '/healthz', { ca })).fingerprint, before.fingerprint);
  assert.ok(log.lines.some((l) => String(l.msg).includes('invalid certificate/key pair')));
  writeFileSync(files.keyFile, leaf.key);
  await until(() => log.lines.some((l) => l.msg === 'TLS certificate reloaded'), 5000, 'reload');
  const afterReply = await call(base + '/healthz', { ca });
  assert.equal(afterReply.fingerprint, fp(leaf.cert));
  assert.notEqual(afterReply.fingerprint, before.fingerprint);
});

test('readyz is 503 until the API source has synced', async () => {
  const api = new KubeReplay()
    .on(
      'list /api/v1/serviceaccounts',
      { status: 500, body: '{"kind":"Status","code":500,"message":"down"}' },
      { status: 500, body: '{"kind":"Status","code":500,"message":"down"}' },
      { status: 200, body: fixture('serviceaccounts-list-page2.json') },
    )
    .on('watch /api/v1/serviceaccounts', { watch: [], end: false });
  await api.start();
  const w = await startWebhook(flagsFor([`--kube-api=${api.url}`]), { logger: memoryLogger().logger });
  try {
    const r = await call(`https://127.0.0.1:${w.port}/readyz`, { ca });
    assert.equal(r.status, 503);
    assert.match(r.body, /ServiceAccount cache not synced/);
    await w.synced;
    assert.equal((await call(`https://127.0.0.1:${w.port}/readyz`, { ca })).status, 200);
    assert.equal((await call(`http://127.0.0.1:${w.metricsPort}/readyz`)).status, 200);
  } finally {
    await w.stop();
    await api.stop();
  }
});

test('graceful shutdown: in-flight requests finish, then the port closes', async () => {
  const slow: ReviewFn = async (input) => {
    await sleep(300);
    return reviewAdmission(input);
  };
  const w = await startWebhook(flagsFor([`--service-accounts-file=${files.saFile}`]), {
    logger: memoryLogger().logger,
    review: slow,
    shutdownTimeoutMs: 5000,
  });
  const url = `https://127.0.0.1:${w.port}/mutate`;
  const inflight = call(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: admissionReview('admission.k8s.io/v1', 's', samplePod()),
    ca,
  });
  await sleep(50);
  const stopping = w.stop();
  const r = await inflight;
  assert.equal(r.status, 200);
  assert.equal(r.headers.connection, 'close');
  assert.equal(await stopping, true);
  await assert.rejects(() => call(`https://127.0.0.1:${w.port}/healthz`, { ca }), /ECONNREFUSED/);
});

test('startup errors: --in-cluster=true, bad TLS files, unknown cipher, bad min version', async () => {
  const l = memoryLogger().logger;
  await assert.rejects(
    () => startWebhook(resolveFlags(parseArgs([]).values), { logger: l }),
    /--in-cluster=false with --tls-cert and --tls-key/,
  );
  await assert.rejects(
    () =>
      startWebhook(flagsFor(['--tls-cert=/nonexistent.crt', `--service-accounts-file=${files.saFile}`]), {
        logger: l,
      }),
    /cannot read --tls-(cert|key) .*: no such file or directory/,
  );
  await assert.rejects(
    () =>
      startWebhook(flagsFor(['--tls-cipher-suites=TLS_FOO', `--service-accounts-file=${files.saFile}`]), {
        logger: l,
      }),
    /invalid tls-cipher-suites: unsupported cipher suite: TLS_FOO/,
  );
  await assert.rejects(
    () =>
      startWebhook(flagsFor(['--tls-min-version=1.4', `--service-accounts-file=${files.saFile}`]), {
        logger: l,
      }),
    /Invalid value for tls-min-version unsupported version 1.4/,
  );
});

test('cipher suites and min version are applied', async () => {
  const w = await startWebhook(
    flagsFor([`--service-accounts-file=${files.saFile}`, '--tls-min-version=VersionTLS13']),
    { logger: memoryLogger().logger },
  );
  try {
    const { connect } = await import('node:tls');
    const proto = await new Promise<string>((resolve, reject) => {
      const s = connect(
        { host: '127.0.0.1', port: w.port, ca, servername: 'localhost', maxVersion: 'TLSv1.2' },
        () => resolve(String(s.getProtocol())),
      );
      s.on('error', (e) => resolve(`error: ${e.message}`));
      setTimeout(() => reject(new Error('timeout')), 3000);
    });
    assert.match(proto, /error/, 'a TLS 1.2-only client is refused when the minimum is 1.3');
  } finally {
    await w.stop();
  }
});

test('container-credentials file: EKS Pod Identity mode wins and is counted', async () => {
  const ccFile = `${files.dir}/cc.json`;
  writeFileSync(
    ccFile,
    JSON.stringify({
      identities: [{ namespace: 'great-namespace', serviceAccount: 'great-serviceaccount' }],
    }),
  );
  const w = await startWebhook(
    flagsFor([`--service-accounts-file=${files.saFile}`, `--watch-container-credentials-config=${ccFile}`]),
    { logger: memoryLogger().logger },
  );
  try {
    const r = await call(`https://127.0.0.1:${w.port}/mutate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: admissionReview('admission.k8s.io/v1', 'cc', samplePod()),
      ca,
    });
    const patch = decodePatch(r.body);
    assert.deepEqual(patch[0], {
      op: 'add',
      path: '/metadata/labels/eks.amazonaws.com~1pod-identity',
      value: 'enabled',
    });
    const env = (
      patch.find((p) => p.path === '/spec/containers')!.value as Array<{
        env: Array<{ name: string; value?: string }>;
      }>
    )[0]!.env;
    assert.ok(
      env.some(
        (e) =>
          e.name === 'AWS_CONTAINER_CREDENTIALS_FULL_URI' &&
          e.value === 'http://169.254.170.23/v1/credentials',
      ),
    );
    assert.ok(!env.some((e) => e.name === 'AWS_ROLE_ARN'));
    const m = (await call(`http://127.0.0.1:${w.metricsPort}/metrics`)).body;
    assert.match(m, /^pod_identity_webhook_pod_count\{method="container_credentials"\} 1/m);
  } finally {
    await w.stop();
  }
});

test('--tls-min-version=1.0 really accepts a TLS 1.0 client', async () => {
  const w = await startWebhook(
    flagsFor([`--service-accounts-file=${files.saFile}`, '--tls-min-version=1.0']),
    { logger: memoryLogger().logger },
  );
  try {
    const { connect } = await import('node:tls');
    const proto = await new Promise<string>((resolve) => {
      const s = connect(
        {
          host: '127.0.0.1',
          port: w.port,
          ca,
          servername: 'localhost',
          minVersion: 'TLSv1',
          maxVersion: 'TLSv1',
          ciphers: 'DEFAULT:@SECLEVEL=0',
        },
        () => {
          resolve(String(s.getProtocol()));
          s.end();
        },
      );
      s.on('error', (e) => resolve(`error: ${e.message}`));
    });
    assert.equal(proto, 'TLSv1');
  } finally {
    await w.stop();
  }
});

test('--tls-cipher-suites restricts TLS 1.2 suites (Go names → OpenSSL)', async () => {
  const w = await startWebhook(
    flagsFor([
      `--service-accounts-file=${files.saFile}`,
      '--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
    ]),
    { logger: memoryLogger().logger },
  );
  try {
    const { connect } = await import('node:tls');
    const hs = (ciphers?: string) =>
      new Promise<string>((resolve) => {
        const s = connect(
          {
            host: '127.0.0.1',
            port: w.port,
            ca,
            servername: 'localhost',
            maxVersion: 'TLSv1.2',
            ...(ciphers ? { ciphers } : {}),
          },
          () => {
            resolve(s.getCipher().standardName);
            s.end();
          },
        );
        s.on('error', (e) => resolve(`error: ${e.message}`));
      });
    assert.equal(await hs(), 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
    assert.match(await hs('ECDHE-ECDSA-AES128-GCM-SHA256'), /^error/);
  } finally {
    await w.stop();
  }
});
