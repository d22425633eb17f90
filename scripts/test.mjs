#!/usr/bin/env node
// Runs node's test runner on every *.test.ts under test/<suite>/ (Node 20's --test does not glob).
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';

const suites = process.argv.slice(2);
if (suites.length === 0) {
  console.error(
    'usage: node scripts/test.mjs <suite> [suite ...]   (suites: unit conformance integration e2e)',
  );
  process.exit(2);
}
function collect(dir) {
  let out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out = out.concat(collect(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}
const files = suites.flatMap((s) => collect(join('test', s)));
if (files.length === 0) {
  console.error(`no test files under test/{${suites.join(',')}}`);
  process.exit(1);
}
// The integration suite drives the AWS CLI, boto3 and moto: provision them (pinned, into .cache/venv; a no-op
// when already there) so that a fresh clone's `npm test` needs nothing else, and stop at once if that fails.
if (suites.includes('integration')) {
  const tools = spawnSync('bash', ['scripts/python-tools.sh'], { stdio: 'inherit' });
  if (tools.error) {
    console.error(`test: cannot run bash scripts/python-tools.sh (${tools.error.message}): install bash`);
    process.exit(1);
  }
  if (tools.status !== 0) process.exit(tools.status ?? 1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// OPENIRSA_COVERAGE=FILE: node's built-in coverage of src/, as lcov into FILE (scripts/coverage.mjs reports it).
const lcov = process.env.OPENIRSA_COVERAGE;
if (lcov) mkdirSync(dirname(lcov), { recursive: true });
const coverage = lcov
  ? [
      '--experimental-test-coverage',
      '--test-coverage-include=src/**',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=lcov',
      `--test-reporter-destination=${lcov}`,
    ]
  : [];
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...coverage, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
