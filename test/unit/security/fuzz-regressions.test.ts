/**
 * Replays every case under test/fuzz/regressions/ (cases `npm run test:fuzz` found, and hand-written ones from
 * issue 10) through the fuzzer's own checks: no 5xx, no crash, no forged token accepted, no invalid patch, no
 * unescaped output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { check, generate, prng, unescapedXml, TARGETS, type FuzzCase } from '../../fuzz/harness.js';

const dir = join(import.meta.dirname, '..', '..', 'fuzz', 'regressions');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

test('the regression folder holds cases for every target', () => {
  for (const t of TARGETS)
    assert.ok(
      files.some((f) => f.startsWith(`${t}-`)),
      `no ${t} case`,
    );
});

for (const file of files) {
  test(`fuzz regression ${file}`, async () => {
    const c = JSON.parse(readFileSync(join(dir, file), 'utf8')) as FuzzCase;
    assert.ok(TARGETS.includes(c.target), `unknown target ${c.target}`);
    assert.equal(await check(c), undefined);
  });
}

test('the checks can fail, and a seed always makes the same case', async () => {
  assert.equal(unescapedXml('<a>x &amp; y</a>'), undefined);
  assert.match(unescapedXml('<a>\u0000</a>')!, /control character/);
  assert.match(unescapedXml('<a>x & y</a>')!, /bare &/);
  assert.match(unescapedXml('<a>x <b y</a>')!, /bare </);
  assert.deepEqual(generate('sts', 42), generate('sts', 42), 'a seed always makes the same case');
  assert.notDeepEqual(generate('mutate', 1), generate('mutate', 2));
  assert.equal(prng(5)(), prng(5)());
});
