/**
 * `npm run bench:sts-iam`: what serving the IAM API on the STS's port costs AssumeRoleWithWebIdentity, in one
 * process so scheduling noise of the shared machine hits both sides alike. Side A: the STS on its YAML config (as
 * before the IAM API). Side B: the STS on the live config of the IAM state (seed + store) with the IAM API claiming
 * its requests first. Alternating rounds of the same signed-token requests through StsService.handle; prints CPU
 * µs/request per side (median and spread over rounds) and the ratio B/A.
 * Env: BENCH_ROUNDS (default 12), BENCH_REQUESTS (per round, default 1500).
 */
import { buildConfig } from '../src/sts/config.js';
import { StsService, type HttpInput } from '../src/sts/server.js';
import { IamApiService, MemoryBackend, openIamState } from '../src/iam-api/index.js';
import { claims, configDoc, makeKey, signToken, ROLE_ARN } from '../test/helpers/sts-fixtures.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1500);

const key = await makeKey('bench-kid', 'RS256');
const admin = { accessKeyId: 'AKIAOPENIRSABENCH001', secretAccessKey: 'b'.repeat(40) };
const seed = buildConfig({ ...configDoc([key]), iamApi: { admin, store: 'memory' } }, 'bench.yaml');
const plain = buildConfig(configDoc([key]), 'bench.yaml');
const live = await openIamState(seed, { backend: new MemoryBackend() });
const a = new StsService({ config: plain });
const b = new StsService({
  config: live.config(),
  iam: new IamApiService({ api: seed.iamApi!, store: live.store, config: live.config }),
});

const now = Math.floor(Date.now() / 1000);
const inputs: HttpInput[] = Array.from({ length: 256 }, (_, i) => ({
  method: 'POST',
  path: '/',
  query: '',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: ROLE_ARN,
    RoleSessionName: `bench-${i}`,
    WebIdentityToken: signToken(key, claims({ exp: now + 3600, iat: now, nbf: now, jti: String(i) })),
  }).toString(),
  remoteAddress: '127.0.0.1',
  secure: true,
}));

async function round(service: StsService): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) {
    const out = await service.handle(inputs[i % inputs.length]!);
    if (out.status !== 200) throw new Error(`status ${out.status}: ${out.body}`);
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / REQUESTS;
}

await round(a); // warm-up both
await round(b);
const sa: number[] = [];
const sb: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which side goes first, so drift in the machine's load does not favour one.
  if (r % 2 === 0) {
    sa.push(await round(a));
    sb.push(await round(b));
  } else {
    sb.push(await round(b));
    sa.push(await round(a));
  }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
const ratios = sa.map((x, i) => sb[i]! / x);
console.log(
  `AssumeRoleWithWebIdentity CPU µs/request over ${ROUNDS} alternating rounds of ${REQUESTS}:\n` +
    `  A  STS alone (YAML config)              median ${median(sa).toFixed(1)}  spread ${spread(sa)}\n` +
    `  B  STS + IAM API (live state, claims)   median ${median(sb).toFixed(1)}  spread ${spread(sb)}\n` +
    `  B/A per round: median ${median(ratios).toFixed(3)}, spread ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}`,
);
console.log(
  JSON.stringify({
    benchmark: 'sts-iam overhead',
    rounds: ROUNDS,
    requests: REQUESTS,
    aMedianUs: median(sa),
    bMedianUs: median(sb),
    ratioMedian: median(ratios),
  }),
);
await live.stop();
