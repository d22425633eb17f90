/**
 * `npm run bench:review -- [--baseline DIR] [--rounds N] [--reviews N]`: CPU per `reviewAdmission` call for a
 * realistic 4.3 KB AdmissionReview, this tree against a baseline tree (DIR holds another version's `src/`, e.g.
 * `git archive main src | tar -x -C /tmp/base`), with a bare `JSON.parse` of the same body as the floor. Rounds
 * alternate baseline / current / floor so machine load hits them alike; prints each round, the best and median
 * µs of CPU per review, their spread and the current/baseline ratio.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { admissionReview, samplePod } from '../test/helpers/webhook-https.js';
import { reviewAdmission } from '../src/webhook/admission.js';
import { DEFAULT_TOKEN_EXPIRATION, CONTAINER_CREDENTIALS_DEFAULTS } from '../src/webhook/constants.js';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '12' },
    reviews: { type: 'string', default: '5000' },
  },
});
const rounds = Number(values.rounds);
const perRound = Number(values.reviews);
type Review = typeof reviewAdmission;
const body = Buffer.from(admissionReview('admission.k8s.io/v1', 'bench', samplePod()));

function inputs(tokenExpiration: unknown) {
  const settings = {
    roleArn: 'arn:aws:iam::111122223333:role/s3-writer',
    audience: 'sts.amazonaws.com',
    useRegionalSts: false,
    tokenExpiration,
  };
  const lookup = { mode: 'web-identity', source: 'service-account', settings };
  const config = {
    annotationPrefix: 'eks.amazonaws.com',
    tokenAudience: 'sts.amazonaws.com',
    tokenMountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount',
    tokenExpiration,
    awsDefaultRegion: '',
    stsRegionalEndpoint: false,
    containerCredentials: { ...CONTAINER_CREDENTIALS_DEFAULTS },
  };
  return { lookup, config };
}

async function cpuPerReview(review: Review, exp: unknown): Promise<number> {
  const { lookup, config } = inputs(exp);
  const arg = {
    contentType: 'application/json',
    body,
    lookup: async () => lookup,
    config,
    random: () => 0,
  } as unknown as Parameters<Review>[0];
  const t0 = process.cpuUsage();
  for (let i = 0; i < perRound; i++) {
    const out = await review(arg);
    if (out.status !== 200) throw new Error(`unexpected status ${out.status}`);
  }
  const u = process.cpuUsage(t0);
  return (u.user + u.system) / perRound;
}

function floor(): number {
  const text = body.toString('utf8');
  const t0 = process.cpuUsage();
  for (let i = 0; i < perRound; i++) JSON.parse(text);
  const u = process.cpuUsage(t0);
  return (u.user + u.system) / perRound;
}

const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)]!;
  return `best ${s[0]!.toFixed(1)} µs, median ${med.toFixed(1)} µs, spread ${s[0]!.toFixed(1)}–${s.at(-1)!.toFixed(1)}`;
};

async function main(): Promise<void> {
  let baseline: Review | undefined;
  // Before issue 11 token expirations were numbers; after, bigints.
  let baselineExp: unknown = DEFAULT_TOKEN_EXPIRATION;
  if (values.baseline) {
    const mod = (await import(pathToFileURL(resolve(values.baseline, 'src/webhook/admission.ts')).href)) as {
      reviewAdmission: Review;
    };
    const consts = (await import(
      pathToFileURL(resolve(values.baseline, 'src/webhook/constants.ts')).href
    )) as {
      DEFAULT_TOKEN_EXPIRATION: unknown;
    };
    baseline = mod.reviewAdmission;
    baselineExp = consts.DEFAULT_TOKEN_EXPIRATION;
  }
  const cur: number[] = [];
  const base: number[] = [];
  const parse: number[] = [];
  // warm up both
  await cpuPerReview(reviewAdmission, DEFAULT_TOKEN_EXPIRATION);
  if (baseline) await cpuPerReview(baseline, baselineExp);
  for (let r = 0; r < rounds; r++) {
    if (baseline) base.push(await cpuPerReview(baseline, baselineExp));
    cur.push(await cpuPerReview(reviewAdmission, DEFAULT_TOKEN_EXPIRATION));
    parse.push(floor());
    console.log(
      `round ${r + 1}: ${baseline ? `baseline ${base.at(-1)!.toFixed(1)} µs, ` : ''}current ${cur.at(-1)!.toFixed(1)} µs, JSON.parse ${parse.at(-1)!.toFixed(1)} µs`,
    );
  }
  console.log(
    `\n${body.length}-byte review, ${perRound} per round, ${rounds} rounds (µs of CPU per review):`,
  );
  if (baseline) console.log(`  baseline   ${stats(base)}`);
  console.log(`  current    ${stats(cur)}`);
  console.log(`  JSON.parse ${stats(parse)}`);
  if (baseline) {
    const ratios = cur.map((c, i) => c / base[i]!).sort((a, b) => a - b);
    console.log(
      `  current / baseline per round: median ${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)}, range ${ratios[0]!.toFixed(3)}–${ratios.at(-1)!.toFixed(3)}`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
