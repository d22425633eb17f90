/**
 * `npm run diff:iam -- [--cases N] [--seed S] [--show K]`: openirsa's IAM engine against @cloud-copilot/iam-simulate
 * on N generated identity-policy cases (default 32000, seed 2026). Prints the agreement per operator family, each
 * explained class of disagreement (known simulator bugs, openirsa choices) with its reason, and up to K unexplained
 * disagreements. Exit status 1 when any disagreement is unexplained.
 */
import { parseArgs } from 'node:util';
import { EXPLANATIONS, generateCases, runCases } from '../test/helpers/iam-differential.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '32000' },
    seed: { type: 'string', default: '2026' },
    show: { type: 'string', default: '10' },
  },
});
const n = Number(values.cases);
const seed = Number(values.seed);
if (!Number.isSafeInteger(n) || n <= 0 || !Number.isSafeInteger(seed)) {
  console.error('diff:iam: --cases must be a positive integer and --seed an integer');
  process.exit(2);
}
const t0 = process.hrtime.bigint();
const report = runCases(generateCases(seed, n));
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (a: number, b: number): string => `${((100 * a) / b).toFixed(1)} %`;

console.log(
  `openirsa vs @cloud-copilot/iam-simulate: ${report.total} cases (seed ${seed}) in ${(ms / 1000).toFixed(1)} s`,
);
console.log(`agree: ${report.agree} (${pct(report.agree, report.total)})`);
console.log('\nper family:');
for (const [family, f] of report.perFamily)
  console.log(`  ${family.padEnd(12)} ${String(f.agree).padStart(6)} / ${f.total}  ${pct(f.agree, f.total)}`);
console.log('\nexplained disagreements:');
for (const e of EXPLANATIONS) {
  const count = report.explained.get(e.id) ?? 0;
  console.log(`  ${String(count).padStart(6)}  ${e.kind.padEnd(15)} ${e.id}\n          ${e.why}`);
}
console.log(`\nunexplained: ${report.unexplained.length}`);
for (const u of report.unexplained.slice(0, Number(values.show))) {
  console.log(
    '  ' +
      JSON.stringify({
        family: u.c.family,
        openirsa: u.ours,
        simulator: u.theirs,
        statements: u.c.policy.Statement,
        context: u.c.context,
        resource: u.c.resource,
      }),
  );
}
process.exit(report.unexplained.length > 0 ? 1 : 0);
