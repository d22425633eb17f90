import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { issueCertificate } from '../../../src/pki/index.js';
import { admissionReview, call, samplePod, webhookFiles } from '../../helpers/webhook-https.js';
import { startProcess } from './process.js';

/** Lay out a Secret volume the way kubelet does: files are symlinks through `..data`, swapped atomically. */
function writeSecretVolume(dir: string, version: number, cert: string, key: string): void {
  const ts = join(dir, `..v${version}`);
  mkdirSync(ts);
  writeFileSync(join(ts, 'tls.crt'), cert);
  writeFileSync(join(ts, 'tls.key'), key, { mode: 0o600 });
  const tmp = join(dir, '..data_tmp');
  symlinkSync(`..v${version}`, tmp);
  renameSync(tmp, join(dir, '..data'));
}

test('certificate rotation under continuous load: zero failed requests, new certificate served', async () => {
  const files = await webhookFiles();
  const secret = join(files.dir, 'secret');
  mkdirSync(secret);
  const first = await issueCertificate(files.ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  writeSecretVolume(secret, 0, first.cert, first.key);
  symlinkSync('..data/tls.crt', join(secret, 'tls.crt'));
  symlinkSync('..data/tls.key', join(secret, 'tls.key'));
  const wh = await startProcess([
    `--tls-cert=${join(secret, 'tls.crt')}`,
    `--tls-key=${join(secret, 'tls.key')}`,
    `--service-accounts-file=${files.saFile}`,
  ]);
  const base = `https://127.0.0.1:${wh.port}`;
  const body = admissionReview('admission.k8s.io/v1', 'rot', samplePod());
  const agent = new Agent({ keepAlive: true, maxSockets: 8, ca: files.ca.cert });
  let ok = 0;
  let failed = 0;
  const failures: string[] = [];
  let running = true;
  const seen = new Set<string>();
  const worker = async (i: number): Promise<void> => {
    let n = 0;
    while (running) {
      n++;
      try {
        // Every 5th request opens a new connection, so handshakes happen throughout the rotations.
        const r = await call(base + '/mutate', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
          ca: files.ca.cert,
          agent: (n + i) % 5 === 0 ? false : agent,
        });
        if (r.status === 200 && (JSON.parse(r.body) as { response: { allowed: boolean } }).response.allowed)
          ok++;
        else {
          failed++;
          failures.push(`HTTP ${r.status}`);
        }
        if (r.fingerprint) seen.add(r.fingerprint);
      } catch (err) {
        failed++;
        failures.push((err as Error).message);
      }
    }
  };
  try {
    const workers = Array.from({ length: 8 }, (_, i) => worker(i));
    const issued = [first.cert];
    for (let v = 1; v <= 4; v++) {
      await new Promise((r) => setTimeout(r, 400));
      const leaf = await issueCertificate(files.ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
      issued.push(leaf.cert);
      writeSecretVolume(secret, v, leaf.cert, leaf.key);
    }
    // One more rotation written non-atomically over the symlinks' targets' replacement: cert first, key later.
    await new Promise((r) => setTimeout(r, 400));
    const last = await issueCertificate(files.ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    issued.push(last.cert);
    const lastDir = join(secret, '..v5');
    mkdirSync(lastDir);
    writeFileSync(join(lastDir, 'tls.crt'), last.cert);
    writeFileSync(join(lastDir, 'tls.key'), first.key); // mismatched for a moment
    const tmp = join(secret, '..data_tmp');
    symlinkSync('..v5', tmp);
    renameSync(tmp, join(secret, '..data'));
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(join(lastDir, 'tls.key'), last.key);
    const want = new X509Certificate(last.cert).fingerprint256;
    const deadline = Date.now() + 15_000;
    let served = '';
    while (Date.now() < deadline) {
      served = (await call(base + '/healthz', { ca: files.ca.cert })).fingerprint ?? '';
      if (served === want) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await Promise.all(workers);
    assert.equal(served, want, 'the newest certificate is served to new connections');
    assert.equal(failed, 0, `failed requests: ${failures.slice(0, 5).join('; ')}`);
    assert.ok(ok > 50, `enough load (${ok} requests)`);
    assert.ok(seen.size >= 3, `several certificates were served during the run (${seen.size})`);
    assert.match(wh.stderr(), /invalid certificate\/key pair; keeping the current certificate/);
  } finally {
    running = false;
    agent.destroy();
    wh.child.kill('SIGTERM');
    await wh.exited;
    rmSync(files.dir, { recursive: true, force: true });
  }
});
