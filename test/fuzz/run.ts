/**
 * `npm run test:fuzz`: seeded, time-bounded fuzzing (FUZZ_SECONDS, default 120, split over the targets; FUZZ_SEED
 * to start from a given seed, default: from the clock, printed so a run can be repeated). A failing case is written
 * to test/fuzz/regressions/<target>-<seed>.json, which `npm test` replays; the run then exits 1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { check, generate, TARGETS } from './harness.js';

const seconds = Number(process.env.FUZZ_SECONDS ?? 120);
const start = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(start)) {
  console.error('fuzz: FUZZ_SECONDS must be a positive number and FUZZ_SEED an integer');
  process.exit(2);
}
const dir = join(import.meta.dirname, 'regressions');
console.log(`fuzz: seed ${start}, ${seconds} s over ${TARGETS.join(', ')}`);
let failed = 0;
let passed = 0;
for (const target of TARGETS) {
  const end = Date.now() + (seconds * 1000) / TARGETS.length;
  let n = 0;
  for (let seed = start; Date.now() < end; seed = (seed + 1) >>> 0, n++) {
    const c = generate(target, seed);
    const broke = await check(c);
    if (broke === undefined) {
      passed++;
      continue;
    }
    failed++;
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${target}-${seed}.json`);
    writeFileSync(file, JSON.stringify({ ...c, found: broke }, null, 1) + '\n');
    console.error(`fuzz: ${target} seed ${seed}: ${broke} (saved ${file})`);
  }
  console.log(`fuzz: ${target}: ${n} cases`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
