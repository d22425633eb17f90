/** `npm run conformance -- [DIR]`: run every *.pod.yaml fixture under DIR and report (exit 1 on any failure). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_FIXTURE_DIR, findFixtures, formatResult, runFixture } from './harness.js';

const dir = process.argv[2] !== undefined ? resolve(process.argv[2]) : DEFAULT_FIXTURE_DIR;
if (!existsSync(dir)) {
  console.error(`conformance: fixture folder ${dir} does not exist`);
  process.exit(1);
}
const files = findFixtures(dir);
if (files.length === 0) {
  console.error(`conformance: no *.pod.yaml fixtures under ${dir}`);
  process.exit(1);
}
console.log(`pod identity webhook conformance: ${files.length} fixtures under ${dir}`);
let passed = 0;
let failed = 0;
let skipped = 0;
let identical = 0;
for (const f of files) {
  const r = runFixture(f, dir);
  console.log(formatResult(r));
  if (r.skipped) skipped++;
  else if (r.pass) passed++;
  else failed++;
  if (r.byteIdentical) identical++;
}
console.log(
  `byte-identical to the reference: ${identical} of ${files.length - skipped}; skipped: ${skipped}`,
);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
