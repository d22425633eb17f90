// `npm run test:mutation [-- MODULE ...]`: StrykerJS over the security-critical modules, each against the unit
// suites that own it (node's test runner through Stryker's command runner), message-text mutants set aside
// (ignore-message-text.mjs). Prints each module's score; reports go to reports/mutation/<module>.html/.json.
import { readFileSync } from 'node:fs';
import { Stryker } from '@stryker-mutator/core';

export const MODULES = {
  verify: {
    mutate: 'src/oidc/verify.ts',
    tests: [
      'test/unit/oidc/verify.test.ts',
      'test/unit/oidc/keys.test.ts',
      'test/unit/sts/forged-tokens.test.ts',
      'test/unit/security/verify.test.ts',
      'test/unit/security/verify-edges.test.ts',
    ],
  },
  sigv4: {
    mutate: 'src/sts/sigv4.ts',
    tests: [
      'test/unit/sts/credentials-sigv4.test.ts',
      'test/unit/security/sigv4-credentials.test.ts',
      'test/unit/security/sigv4-parsing.test.ts',
    ],
  },
  credentials: {
    mutate: 'src/sts/credentials.ts',
    tests: ['test/unit/sts/credentials-sigv4.test.ts', 'test/unit/security/sigv4-credentials.test.ts'],
  },
  conditions: {
    mutate: 'src/iam/conditions.ts',
    tests: [
      'test/unit/iam/conditions.test.ts',
      'test/unit/iam/conditions-edges.test.ts',
      'test/unit/security/iam.test.ts',
    ],
  },
  evaluate: {
    mutate: 'src/iam/evaluate.ts',
    tests: [
      'test/unit/iam/evaluate.test.ts',
      'test/unit/iam/trust-matrix.test.ts',
      'test/unit/iam/undetermined.test.ts',
      'test/unit/iam/effective.test.ts',
      'test/unit/security/iam.test.ts',
      'test/unit/security/evaluate-edges.test.ts',
    ],
  },
};

// `--survivors`: re-test only the mutants that survived the last full run (reports/mutation/<module>.json), to
// check that new tests kill them without paying for the whole module again; the score counts the earlier kills.
const args = process.argv.slice(2);
const survivorsOnly = args.includes('--survivors');
const wanted = args.filter((a) => a !== '--survivors');
for (const name of wanted)
  if (!(name in MODULES)) {
    console.error(`unknown module ${name}; one of: ${Object.keys(MODULES).join(', ')}`);
    process.exit(2);
  }
const names = wanted.length ? wanted : Object.keys(MODULES);
const concurrency = Number(process.env.MUTATION_CONCURRENCY ?? 1);
const rows = [];
const mutantKey = (r) =>
  `${r.location.start.line}:${r.location.start.column}-${r.location.end.line}:${r.location.end.column} ${r.mutatorName} ${r.replacement}`;

/** The last full run's results of a module: its mutants, and a mutate pattern per survivor (Stryker's columns are 0-based). */
function lastRun(name, file) {
  const report = JSON.parse(readFileSync(`reports/mutation/${name}.json`, 'utf8'));
  const mutants = report.files[file].mutants;
  const survivors = mutants.filter((r) => r.status === 'Survived' || r.status === 'NoCoverage');
  const patterns = survivors.map(
    ({ location: { start, end } }) =>
      `${file}:${start.line}:${start.column - 1}-${end.line}:${end.column - 1}`,
  );
  return { mutants, survivors: new Set(survivors.map(mutantKey)), patterns };
}
for (const name of names) {
  const m = MODULES[name];
  const last = survivorsOnly ? lastRun(name, m.mutate) : undefined;
  if (last && last.patterns.length === 0) continue;
  const stryker = new Stryker({
    mutate: last ? last.patterns : [m.mutate],
    testRunner: 'command',
    // One process for all of a module's suites (--test-isolation=none): a mutant pays one node+tsx start, not
    // one per test file.
    commandRunner: {
      command: `node --test --test-isolation=none --test-reporter=dot --import tsx ${m.tests.join(' ')}`,
    },
    coverageAnalysis: 'off',
    plugins: ['./scripts/mutation/ignore-message-text.mjs'],
    ignorers: ['message-text'],
    concurrency,
    timeoutMS: 60_000,
    reporters: ['clear-text', 'html', 'json', 'progress'],
    htmlReporter: { fileName: `reports/mutation/${name}${last ? '-survivors' : ''}.html` },
    jsonReporter: { fileName: `reports/mutation/${name}${last ? '-survivors' : ''}.json` },
    tempDirName: `.stryker-tmp/${name}`,
    cleanTempDir: 'always',
    thresholds: { high: 95, low: 90, break: null },
    disableTypeChecks: true,
    // The sandbox needs the sources and the unit tests only (node_modules is linked, not copied).
    ignorePatterns: [
      '/.cache',
      '/dist',
      '/reports',
      '/.openirsa',
      '/out',
      '/deploy',
      '/bench',
      '/docs',
      '/test/e2e',
      '/test/image',
    ],
  });
  const tested = await stryker.runMutationTest();
  // In survivors mode a pattern can take in other mutants at the same spot: only the earlier survivors' new
  // results count, with the earlier run's results for every other mutant.
  const retested = new Map(tested.map((r) => [mutantKey(r), r]));
  const results = last
    ? last.mutants.map((r) => (last.survivors.has(mutantKey(r)) ? (retested.get(mutantKey(r)) ?? r) : r))
    : tested;
  const count = (s) => results.filter((r) => s.includes(r.status)).length;
  const killed = count(['Killed', 'Timeout']);
  const survived = count(['Survived', 'NoCoverage']);
  const ignored = count(['Ignored']);
  const score = killed + survived ? (100 * killed) / (killed + survived) : 100;
  rows.push({ name, file: m.mutate, killed, survived, ignored, score });
  for (const r of results.filter((x) => x.status === 'Survived' || x.status === 'NoCoverage'))
    console.log(
      `survived ${name} ${m.mutate}:${r.location.start.line}: ${r.mutatorName} → ${JSON.stringify(r.replacement)}`,
    );
}
console.log('\nmodule       file                     killed survived ignored  score');
for (const r of rows)
  console.log(
    `${r.name.padEnd(12)} ${r.file.padEnd(24)} ${String(r.killed).padStart(6)} ${String(r.survived).padStart(8)} ${String(r.ignored).padStart(7)}  ${r.score.toFixed(1)} %`,
  );
