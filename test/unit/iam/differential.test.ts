// The IAM engine against an independent implementation (@cloud-copilot/iam-simulate, a dev dependency used only
// here): seeded cases across every operator family; every disagreement must be a known simulator bug or an
// openirsa choice (test/helpers/iam-differential.ts). `npm run diff:iam` runs the full 32,000-case report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decideSimulator,
  EXPLANATIONS,
  evaluateOurs,
  explain,
  generateCases,
  runCases,
} from '../../helpers/iam-differential.js';

const CASES = 4000;

test(`${CASES} generated cases: every disagreement with the simulator is explained`, () => {
  const report = runCases(generateCases(11, CASES));
  const shown = report.unexplained.slice(0, 5).map((u) =>
    JSON.stringify({
      ours: u.ours,
      simulator: u.theirs,
      policy: u.c.policy,
      context: u.c.context,
      resource: u.c.resource,
    }),
  );
  assert.equal(report.unexplained.length, 0, `unexplained disagreements:\n${shown.join('\n')}`);
  // a harness that agrees on too little, or explains everything away, tests nothing
  assert.ok(report.agree / report.total > 0.9, `agreement ${report.agree}/${report.total}`);
  for (const [family, f] of report.perFamily)
    assert.ok(f.agree > 0.8 * f.total, `${family}: ${f.agree}/${f.total}`);
  const ids = new Set(EXPLANATIONS.map((e) => e.id));
  for (const id of report.explained.keys()) assert.ok(ids.has(id));
});

test('the harness reports a wrong engine: an engine that ignores conditions is not explained away', () => {
  let disagree = 0;
  let unexplained = 0;
  for (const c of generateCases(7, 400)) {
    const noConditions = {
      ...c,
      policy: { ...c.policy, Statement: c.policy.Statement.map(({ Condition: _drop, ...st }) => st) },
    };
    const ours = evaluateOurs(noConditions)?.decision ?? 'error';
    const theirs = decideSimulator(c);
    if (ours === theirs) continue;
    disagree++;
    if (explain({ c, ours, theirs, result: evaluateOurs(noConditions) }) === undefined) unexplained++;
  }
  assert.ok(disagree > 100, `${disagree} disagreements`);
  assert.ok(unexplained > 0.8 * disagree, `only ${unexplained} of ${disagree} reported`);
});
