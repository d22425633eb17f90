/**
 * `npm run bench:sts`: AssumeRoleWithWebIdentity over HTTP keep-alive against a separate `openirsa sts serve`
 * process, RS256 tokens, warm JWKS cache (inline JWKS). Prints requests/s, p50/p99 latency and the server's
 * peak RSS, and the CPU time per request of the server and of this client (both share the machine's cores).
 * Env: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 32), BENCH_WORKERS (default 1), BENCH_NODE_FLAGS
 * (node flags for the server, e.g. --single-threaded-gc), BENCH_LOG_LEVEL (server log level, default warn: info
 * logs every issued credential), BENCH_CLI (another build's dist/src/cli/bin.js, for before/after comparisons),
 * BENCH_FLOOR=0 (skip the bare node:http floor), BENCH_IAM_API=1 (serve the IAM API on the same port too).
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { claims, configDoc, makeKey, signToken, ROLE_ARN } from '../test/helpers/sts-fixtures.js';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);

const dir = mkdtempSync(join(tmpdir(), 'openirsa-bench-sts-'));
const key = await makeKey('bench-kid', 'RS256');
// BENCH_IAM_API=1: the same with the IAM API on (docs/iam-api.md), to see what sharing the port costs the STS.
const iamApi =
  process.env.BENCH_IAM_API === '1'
    ? {
        iamApi: {
          admin: { accessKeyId: 'AKIAOPENIRSABENCH001', secretAccessKey: 'b'.repeat(40) },
          store: 'memory',
        },
      }
    : {};
writeFileSync(join(dir, 'sts.yaml'), stringify(configDoc([key], iamApi)));
const now = Math.floor(Date.now() / 1000);
// Distinct tokens so nothing can be cached per token (there is no such cache; this keeps the bench honest).
const bodies = Array.from({ length: 256 }, (_, i) =>
  new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: ROLE_ARN,
    RoleSessionName: `bench-${i}`,
    WebIdentityToken: signToken(key, claims({ exp: now + 3600, iat: now, nbf: now, jti: String(i) })),
  }).toString(),
);

// The compiled CLI (what users run; `npm run bench` builds it first), else the sources through tsx.
const built = join(ROOT, 'dist/src/cli/bin.js');
const cli = process.env.BENCH_CLI
  ? [resolve(process.env.BENCH_CLI)]
  : existsSync(built)
    ? [built]
    : ['--import', 'tsx', join(ROOT, 'src/cli/bin.ts')];
const child = spawn(
  process.execPath,
  [
    ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
    ...cli,
    'sts',
    'serve',
    '--config',
    join(dir, 'sts.yaml'),
    '--port',
    '0',
    '--workers',
    String(WORKERS),
  ],
  {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, OPENIRSA_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' },
  },
);
const port = await new Promise<number>((res, rej) => {
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
    if (m) res(Number(m[1]));
  });
  child.on('exit', (code) => rej(new Error(`server exited with ${code}`)));
});

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
let target = port;
function once(body: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: target,
        method: 'POST',
        path: '/',
        agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
      },
      (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}

async function load(ms: number, record: boolean) {
  const lat: number[] = [];
  let ok = 0;
  let bad = 0;
  const end = performance.now() + ms;
  let i = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const status = await once(bodies[i++ % bodies.length]!);
        if (record) lat.push(performance.now() - t);
        if (status === 200) ok++;
        else bad++;
      }
    }),
  );
  return { lat, ok, bad };
}

/** The server's processes: the CLI and, with --workers, its forked workers. */
function serverPids(): number[] {
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    // no children file: a single process
  }
  return [child.pid!, ...kids];
}

/** Server CPU time (user+system) in ms, from /proc: robust to other load on the machine, unlike wall time. */
function serverCpuMs(): number {
  let total = 0;
  for (const pid of serverPids()) {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    total += ((Number(rest[11]) + Number(rest[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  }
  return total;
}

/** Sum of the peak RSS of the server's processes, kB. */
function serverPeakRssKb(): number {
  let total = 0;
  for (const pid of serverPids())
    total += Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return total;
}

try {
  const first = await once(bodies[0]!);
  if (first !== 200) throw new Error(`warm-up request failed with HTTP ${first}`);
  await load(2000, false); // warm JWKS/key cache and JIT
  const cpu0 = serverCpuMs();
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const { lat, ok, bad } = await load(SECONDS * 1000, true);
  const elapsed = (performance.now() - t0) / 1000;
  const cpuPerRequestUs = ((serverCpuMs() - cpu0) * 1000) / (ok + bad);
  const clientCpu = process.cpuUsage(client0);
  const clientCpuPerRequestUs = (clientCpu.user + clientCpu.system) / (ok + bad);
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]!.toFixed(2);
  const hwm = serverPeakRssKb();
  const result = {
    benchmark: 'sts AssumeRoleWithWebIdentity (RS256, HTTP keep-alive, warm JWKS)',
    connections: CONNECTIONS,
    workers: WORKERS,
    seconds: Number(elapsed.toFixed(1)),
    requests: ok + bad,
    errors: bad,
    requestsPerSecond: Math.round((ok + bad) / elapsed),
    p50ms: Number(pct(50)),
    p99ms: Number(pct(99)),
    serverPeakRssMB: hwm ? Math.round(Number(hwm) / 1024) : undefined,
    serverCpuPerRequestUs: Math.round(cpuPerRequestUs),
    /** This load generator's own CPU per request: it competes with the server for the same cores. */
    clientCpuPerRequestUs: Math.round(clientCpuPerRequestUs),
    /** What one server core sustains when it has the core to itself: 1 s / CPU per request. */
    oneCoreCapacityPerSecond: Math.round(1e6 / cpuPerRequestUs),
  };
  console.log(
    `sts AssumeRoleWithWebIdentity: ${result.requestsPerSecond} req/s, p50 ${result.p50ms} ms, p99 ${result.p99ms} ms, ` +
      `server peak RSS ${result.serverPeakRssMB} MB (${result.requests} requests, ${bad} errors, ${CONNECTIONS} connections, ${result.seconds} s)\n` +
      `server CPU ${result.serverCpuPerRequestUs} µs/request → ${result.oneCoreCapacityPerSecond} req/s per uncontended core; ` +
      `client CPU ${result.clientCpuPerRequestUs} µs/request (load average now ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs)`,
  );
  // The same load against a bare node:http server answering a fixed body: the floor on this machine right now,
  // so the figure above can be read even when other work shares the CPUs.
  if (process.env.BENCH_FLOOR !== '0') {
    const floor = spawn(
      process.execPath,
      [
        '-e',
        "const b='<ok/>'.padEnd(Number(process.env.FLOOR_BYTES||5),' ');require('node:http').createServer((q,r)=>{q.resume();q.on('end',()=>{r.writeHead(200,{'content-type':'text/xml','content-length':b.length});r.end(b)})}).listen(0,'127.0.0.1',function(){console.log(this.address().port)})",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    target = await new Promise<number>((res) =>
      floor.stdout.once('data', (c: Buffer) => res(Number(c.toString().trim()))),
    );
    await load(1000, false);
    const floorCpu = () => {
      const f = readFileSync(`/proc/${floor.pid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100;
    };
    const fc0 = floorCpu();
    const fcl0 = process.cpuUsage();
    const f0 = performance.now();
    const fl = await load(SECONDS * 1000, true);
    const fcl = process.cpuUsage(fcl0);
    const floorClientCpuUs = Math.round((fcl.user + fcl.system) / (fl.ok + fl.bad));
    const floorRps = Math.round((fl.ok + fl.bad) / ((performance.now() - f0) / 1000));
    const floorCpuUs = Math.round(((floorCpu() - fc0) * 1000) / (fl.ok + fl.bad));
    floor.kill('SIGTERM');
    Object.assign(result, {
      bareHttpFloorPerSecond: floorRps,
      bareHttpFloorCpuPerRequestUs: floorCpuUs,
      bareHttpFloorClientCpuPerRequestUs: floorClientCpuUs,
      fractionOfFloor: Number((result.requestsPerSecond / floorRps).toFixed(2)),
    });
    console.log(
      `bare node:http floor under the same load: ${floorRps} req/s, ${floorCpuUs} µs CPU/request (client ${floorClientCpuUs} µs) → openirsa sts reaches ${Math.round((100 * result.requestsPerSecond) / floorRps)}% of it`,
    );
  }
  console.log(JSON.stringify(result));
  if (bad > 0) process.exitCode = 1;
} finally {
  agent.destroy();
  child.kill('SIGTERM');
}
