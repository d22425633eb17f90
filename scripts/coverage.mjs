#!/usr/bin/env node
// Line and branch coverage of src/ by the suites `npm test` runs (node's built-in coverage), per folder.
//   node scripts/coverage.mjs            runs `node scripts/test.mjs unit conformance integration` with coverage on
//   node scripts/coverage.mjs --report   only prints the figures of the last run (CI collects them during npm test)
// The lcov file is out/coverage/lcov.info; scripts/test.mjs writes it when OPENIRSA_COVERAGE names it.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

export const LCOV = 'out/coverage/lcov.info';
// Reported one by one as well as in their folders: the token, signature and policy code.
const SECURITY = ['src/oidc', 'src/sts/sigv4.ts', 'src/sts/credentials.ts', 'src/iam'];

if (!process.argv.includes('--report')) {
  const run = spawnSync(process.execPath, ['scripts/test.mjs', 'unit', 'conformance', 'integration'], {
    stdio: 'inherit',
    env: { ...process.env, OPENIRSA_COVERAGE: LCOV },
  });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
if (!existsSync(LCOV)) {
  console.error(
    `coverage: no ${LCOV}: run \`npm run coverage\` (or npm test with OPENIRSA_COVERAGE=${LCOV})`,
  );
  process.exit(1);
}

/** Per file: lines found/hit, branches found/hit, from lcov's LF/LH/BRF/BRH records. */
function parseLcov(text) {
  const files = new Map();
  let cur;
  for (const line of text.split('\n')) {
    const [tag, value = ''] = line.split(/:(.*)/s);
    if (tag === 'SF') files.set(value, (cur = { lf: 0, lh: 0, brf: 0, brh: 0 }));
    else if (cur && tag === 'LF') cur.lf = Number(value);
    else if (cur && tag === 'LH') cur.lh = Number(value);
    else if (cur && tag === 'BRF') cur.brf = Number(value);
    else if (cur && tag === 'BRH') cur.brh = Number(value);
  }
  return files;
}

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : name.endsWith('.ts') ? [full] : [];
  });
}

const files = parseLcov(readFileSync(LCOV, 'utf8'));
const folderOf = (f) => (f.split('/').length > 2 ? f.split('/').slice(0, 2).join('/') : 'src/*.ts');
const groups = new Map();
const add = (name, c) => {
  const g = groups.get(name) ?? { lf: 0, lh: 0, brf: 0, brh: 0, files: 0 };
  g.lf += c.lf;
  g.lh += c.lh;
  g.brf += c.brf;
  g.brh += c.brh;
  g.files += 1;
  groups.set(name, g);
};
for (const [f, c] of files) if (f.startsWith('src/')) add(folderOf(f), c);
const folders = [...groups.keys()].sort();
for (const s of SECURITY)
  for (const [f, c] of files) if (f === s || f.startsWith(s + '/')) add(`  ${s} (security)`, c);
for (const [f, c] of files) if (f.startsWith('src/')) add('total', c);

const pct = (hit, found) => (found === 0 ? '-' : `${((100 * hit) / found).toFixed(1)}%`);
const row = (name, g) =>
  `${name.padEnd(34)} ${pct(g.lh, g.lf).padStart(7)} ${pct(g.brh, g.brf).padStart(8)} ${String(g.files).padStart(6)}`;
console.log(`${'src/ by the unit, conformance and integration suites'.padEnd(34)}   lines branches  files`);
for (const name of folders) console.log(row(name, groups.get(name)));
for (const s of SECURITY)
  console.log(row(`  ${s} (security)`, groups.get(`  ${s} (security)`) ?? { files: 0 }));
console.log(row('total', groups.get('total')));
// Node counts only the modules a test loaded: name the ones none did, so that they are not mistaken for covered.
const unloaded = sourceFiles('src').filter((f) => !files.has(f));
if (unloaded.length > 0) console.log(`not loaded by any test (not in the figures): ${unloaded.join(', ')}`);
