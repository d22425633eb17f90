/**
 * `npm run bench:webhook`: start `openirsa webhook` as a child process (its own CPU and memory, like production)
 * with a static ServiceAccounts file, drive POST /mutate over HTTPS keep-alive with 64 connections and a realistic
 * 3-container pod for a fixed duration, and print requests/s, p50/p99 latency, errors and the server's peak RSS.
 *
 * Env: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 64), BENCH_WARMUP_SECONDS (default 2),
 * BENCH_CPU_PROF (a directory for the server's V8 CPU profile), BENCH_CLIENT (`raw`, the default: a lean HTTP/1.1
 * client on 64 keep-alive TLS sockets; `https`: node:https with a keep-alive Agent, which spends more CPU per
 * request than the server and so measures itself). Every reply is checked (200, an allowed review with a patch).
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { readFileSync, rmSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { admissionReview, samplePod, webhookFiles } from '../test/helpers/webhook-https.js';
import { parseReply } from './http-client.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const warmup = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const clientKind = process.env.BENCH_CLIENT ?? 'raw';

/** Why a reply is not the expected mutation (undefined when it is). */
function checkReply(status: number, body: Buffer): string | undefined {
  if (status !== 200) return `HTTP ${status}`;
  if (body.indexOf('"allowed":true') < 0 || body.indexOf('"patch":"') < 0)
    return `unexpected reply: ${body.toString('utf8', 0, 200)}`;
  return undefined;
}

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function main(): Promise<void> {
  const files = await webhookFiles();
  // Prefer the built CLI (npm run bench builds first); fall back to the TypeScript sources through tsx.
  const built = join(root, 'dist/src/cli/bin.js');
  const cmd = existsSync(built) ? [built] : ['--import', 'tsx', join(root, 'src/cli/bin.ts')];
  // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of the server (written when it exits on SIGTERM).
  const prof = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const child = spawn(
    process.execPath,
    [
      ...prof,
      ...cmd,
      'webhook',
      '--in-cluster=false',
      '--port=0',
      '--metrics-port=0',
      '--bind-address=127.0.0.1',
      `--tls-cert=${files.certFile}`,
      `--tls-key=${files.keyFile}`,
      `--service-accounts-file=${files.saFile}`,
      '--aws-default-region=eu-west-1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stderr.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"port":(\d+),"metricsPort"/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`webhook exited (${code}): ${buf}`)));
  });
  child.stderr.resume();

  const body = Buffer.from(
    admissionReview('admission.k8s.io/v1', '6a1c4c39-0b7e-4d5e-9a7c-2f3d4e5f6a7b', samplePod()),
  );
  const latencies: number[] = [];
  let errors = 0;
  let firstError = '';
  let recording = false;
  let running = true;
  const fail = (why: string): void => {
    if (!recording) return;
    errors++;
    firstError ||= why;
  };
  const ok = (t0: bigint): void => {
    if (recording) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  };

  let worker: () => Promise<void>;
  let closeClient: () => void;
  if (clientKind === 'https') {
    // node:https with a keep-alive Agent: what most Node clients use, but it costs the load generator more CPU
    // per request than the server under test spends.
    const agent = new Agent({ keepAlive: true, maxSockets: connections, ca: files.ca.cert });
    const options = {
      host: '127.0.0.1',
      port,
      path: '/mutate',
      method: 'POST',
      agent,
      servername: 'localhost',
      headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
    };
    const one = (): Promise<void> =>
      new Promise((resolve) => {
        const t0 = process.hrtime.bigint();
        const req = request(options, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const why = checkReply(res.statusCode ?? 0, Buffer.concat(chunks));
            if (why === undefined) ok(t0);
            else fail(why);
            resolve();
          });
        });
        req.on('error', (e) => {
          fail(e.message);
          resolve();
        });
        req.end(body);
      });
    worker = async () => {
      while (running) await one();
    };
    closeClient = () => agent.destroy();
  } else {
    // A lean HTTP/1.1 client on raw TLS sockets: one pre-built request buffer per call, a minimal response parser
    // (status line, Content-Length or chunked framing), the same checks on the reply.
    const head = Buffer.from(
      `POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const wire = Buffer.concat([head, body]);
    const sockets: TLSSocket[] = [];
    worker = () =>
      new Promise<void>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: files.ca.cert });
        sockets.push(s);
        let buf: Buffer = Buffer.alloc(0);
        let t0 = 0n;
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          s.destroy();
          resolve();
        };
        const send = (): void => {
          if (!running) return finish();
          t0 = process.hrtime.bigint();
          s.write(wire);
        };
        s.once('secureConnect', send);
        s.on('data', (d: Buffer) => {
          buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
          for (;;) {
            const r = parseReply(buf);
            if (r === undefined) return; // incomplete
            buf = buf.subarray(r.consumed);
            if (typeof r.reply === 'string') {
              fail(r.reply);
              return finish();
            }
            const why = checkReply(r.reply.status, r.reply.body);
            if (why === undefined) ok(t0);
            else fail(why);
            send();
            if (done) return;
          }
        });
        s.on('error', (e: Error) => {
          if (running) fail(e.message);
          finish();
        });
        s.on('close', () => {
          if (running) fail('connection closed');
          finish();
        });
      });
    closeClient = () => {
      for (const s of sockets) s.destroy();
    };
  }
  const workers = Array.from({ length: connections }, () => worker());
  await new Promise((r) => setTimeout(r, warmup * 1000));
  recording = true;
  const cpu0 = cpuSeconds(child.pid!);
  const clientCpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  recording = false;
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const serverCpu = cpuSeconds(child.pid!) - cpu0;
  const clientCpuUsage = process.cpuUsage(clientCpu0);
  const clientCpu = (clientCpuUsage.user + clientCpuUsage.system) / 1e6;
  running = false;
  await Promise.all(workers);
  const rss = peakRssMb(child.pid!);
  closeClient();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(files.dir, { recursive: true, force: true });

  latencies.sort((a, b) => a - b);
  const q = (p: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  const rps = latencies.length / elapsed;
  console.log(
    `webhook benchmark: POST /mutate, HTTPS keep-alive, ${connections} connections (${clientKind} client), 3-container pod (${body.length} bytes), ${seconds}s after ${warmup}s warm-up`,
  );
  console.log(`  requests/s   ${rps.toFixed(0)}`);
  console.log(`  latency p50  ${q(0.5).toFixed(2)} ms`);
  console.log(`  latency p99  ${q(0.99).toFixed(2)} ms`);
  console.log(`  requests     ${latencies.length}`);
  console.log(`  errors       ${errors}${firstError ? ` (first: ${firstError})` : ''}`);
  console.log(`  server peak RSS ${rss.toFixed(1)} MiB`);
  // CPU per request is less sensitive than requests/s to other load on the machine.
  const cpuPerReq = (serverCpu / Math.max(1, latencies.length)) * 1e6;
  console.log(
    `  server CPU   ${(serverCpu / elapsed).toFixed(2)} cores busy, ${cpuPerReq.toFixed(0)} µs CPU per request (≈ ${(1e6 / cpuPerReq).toFixed(0)} req/s per free core)`,
  );
  const clientPerReq = (clientCpu / Math.max(1, latencies.length)) * 1e6;
  console.log(
    `  client CPU   ${(clientCpu / elapsed).toFixed(2)} cores busy, ${clientPerReq.toFixed(0)} µs CPU per request (the load generator, same machine)`,
  );
  if (errors > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`bench:webhook failed: ${(err as Error).message}`);
  process.exitCode = 1;
});
