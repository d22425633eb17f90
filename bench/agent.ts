/**
 * `npm run bench:agent`: `openirsa agent` (the built CLI, a child process each) answering /v1/credentials over HTTP
 * keep-alive, credentials served from its cache, against `sts serve` for the upstream calls. Two agents side by side
 * in alternating rounds: the default (an authenticated token is trusted for 5 s) and `--auth-cache-ttl 0` (the
 * token's RS256 signature checked on every request). Prints requests/s, p50/p99, the agent's CPU per request (from
 * /proc, so robust to other load), the spread over rounds and the ratio; then the first-request latency (token
 * check + STS AssumeRole with session tags) and the STS calls per pod per hour of the cache (simulated clock).
 * Env: BENCH_SECONDS (per round, default 4), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (default 32),
 * BENCH_PODS (distinct pods in the load, default 64).
 */
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import {
  APP_ROLE,
  podToken,
  startAgentProcess,
  startStsForAgent,
  writeAssociations,
  type AgentProcess,
} from '../test/helpers/agent-harness.js';
import { CredentialsCache, type IssuedCredentials } from '../src/agent/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const PODS = Number(process.env.BENCH_PODS ?? 64);

const h = await startStsForAgent();
const file = join(h.dir, 'associations.yaml');
writeAssociations(file, [{ name: 'bench', namespace: 'apps', serviceAccount: 'reader', roleArn: APP_ROLE }]);
const quiet = ['--probe-address', 'none'];
const agents: { name: string; a: AgentProcess }[] = [
  {
    name: 'auth cache 5 s (default)',
    a: await startAgentProcess(h, {
      model: 'agent-identity',
      associationsFile: file,
      extraArgs: quiet,
      logLevel: 'warn',
    }),
  },
  {
    name: 'auth cache off',
    a: await startAgentProcess(h, {
      model: 'agent-identity',
      associationsFile: file,
      extraArgs: [...quiet, '--auth-cache-ttl', '0'],
      logLevel: 'warn',
    }),
  },
];
const tokens = Array.from(
  { length: PODS },
  (_, i) => podToken(h, { namespace: 'apps', serviceAccount: 'reader', pod: `bench-${i}` }).token,
);
const httpAgent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });

function once(port: number, token: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/credentials',
        agent: httpAgent,
        headers: { authorization: token },
      },
      (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
      },
    );
    req.on('error', rej);
    req.end();
  });
}

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100;
}

async function load(a: AgentProcess, ms: number) {
  const lat: number[] = [];
  let ok = 0;
  let bad = 0;
  let i = 0;
  const cpu0 = cpuMs(a.child.pid!);
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const status = await once(a.port, tokens[i++ % tokens.length]!);
        lat.push(performance.now() - t);
        if (status === 200) ok++;
        else bad++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((x, y) => x - y);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]!;
  return {
    rps: (ok + bad) / seconds,
    p50: pct(50),
    p99: pct(99),
    cpuUs: ((cpuMs(a.child.pid!) - cpu0) * 1000) / (ok + bad),
    bad,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  // First requests: each pod's first answer needs the token check and one STS AssumeRole (with tags).
  const first: number[] = [];
  for (const t of tokens) {
    const s = performance.now();
    const status = await once(agents[0]!.a.port, t);
    if (status !== 200) throw new Error(`first request failed with HTTP ${status}: ${agents[0]!.a.stderr()}`);
    first.push(performance.now() - s);
  }
  for (const t of tokens) await once(agents[1]!.a.port, t);
  for (const { a } of agents) await load(a, 1000); // JIT warm-up
  const results = new Map<string, Awaited<ReturnType<typeof load>>[]>(agents.map((x) => [x.name, []]));
  for (let r = 0; r < ROUNDS; r++)
    for (const { name, a } of r % 2 === 0 ? agents : [...agents].reverse())
      results.get(name)!.push(await load(a, SECONDS * 1000));

  const summary = agents.map(({ name }) => {
    const rs = results.get(name)!;
    return {
      agent: name,
      requestsPerSecond: Math.round(median(rs.map((x) => x.rps))),
      spread: `${Math.round(Math.min(...rs.map((x) => x.rps)))}–${Math.round(Math.max(...rs.map((x) => x.rps)))}`,
      p50ms: Number(median(rs.map((x) => x.p50)).toFixed(2)),
      p99ms: Number(median(rs.map((x) => x.p99)).toFixed(2)),
      cpuPerRequestUs: Number(median(rs.map((x) => x.cpuUs)).toFixed(1)),
      oneCorePerSecond: Math.round(1e6 / median(rs.map((x) => x.cpuUs))),
      errors: rs.reduce((n, x) => n + x.bad, 0),
    };
  });
  console.table(summary);
  console.log(
    `machine: ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const [d, off] = summary as [(typeof summary)[0], (typeof summary)[0]];
  console.log(
    `ratio default/auth-cache-off: ${(d.requestsPerSecond / off.requestsPerSecond).toFixed(2)}x requests/s, ` +
      `${(off.cpuPerRequestUs / d.cpuPerRequestUs).toFixed(2)}x less CPU per request ` +
      `(${ROUNDS} alternating rounds of ${SECONDS} s, ${CONNECTIONS} connections, ${PODS} pods)`,
  );
  first.sort((x, y) => x - y);
  console.log(
    `first request per pod (token check + STS AssumeRole with session tags, sts serve on this machine): ` +
      `p50 ${first[Math.floor(first.length / 2)]!.toFixed(1)} ms, max ${first[first.length - 1]!.toFixed(1)} ms`,
  );

  // STS calls per pod per hour: a pod asking every 10 s for 24 h (simulated clock), 1-hour sessions.
  let now = 0;
  let calls = 0;
  const cache = new CredentialsCache({ now: () => now });
  const issue = async (): Promise<IssuedCredentials> => (
    calls++,
    {
      accessKeyId: 'A',
      secretAccessKey: 's',
      sessionToken: 't',
      accountId: '1',
      expiration: new Date(now + 3_600_000),
    }
  );
  for (; now < 24 * 3_600_000; now += 10_000) await cache.get('pod', issue);
  console.log(
    `STS calls per pod per hour (1-hour sessions, a request every 10 s for 24 h): ${(calls / 24).toFixed(2)}`,
  );
} finally {
  for (const { a } of agents) await a.stop();
  await h.stop();
  httpAgent.destroy();
}
