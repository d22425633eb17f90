/** The reference's fixtures, one subtest per `*.pod.yaml` in test/fixtures/pod-identity-webhook (see its README). */
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { DEFAULT_FIXTURE_DIR, findFixtures, formatResult, runFixture } from './harness.js';

test('pod identity webhook fixtures pass semantically', async (t) => {
  assert.ok(existsSync(DEFAULT_FIXTURE_DIR), `fixture folder ${DEFAULT_FIXTURE_DIR} is missing`);
  const files = findFixtures(DEFAULT_FIXTURE_DIR);
  assert.ok(files.length > 0, `no *.pod.yaml fixtures under ${DEFAULT_FIXTURE_DIR}`);
  for (const file of files) {
    const r = runFixture(file, DEFAULT_FIXTURE_DIR);
    await t.test(r.file, (st) => {
      if (r.skipped) {
        st.skip('testing.eks.amazonaws.com/skip: true');
        return;
      }
      assert.ok(r.pass, formatResult(r));
      // A byte difference must be explained (e.g. a preserved unknown field), never silent.
      if (!r.byteIdentical) assert.ok(r.notes.length > 0, formatResult(r));
    });
  }
});

test('the harness detects a wrong patch (a fixture with a tampered expectation fails)', async () => {
  const { mkdtempSync, writeFileSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-fixture-'));
  try {
    const src = readFileSync(join(DEFAULT_FIXTURE_DIR, 'rawPodWithoutVolumes.pod.yaml'), 'utf8');
    writeFileSync(
      join(dir, 'tampered.pod.yaml'),
      src.replace('"expirationSeconds":86400', '"expirationSeconds":3600'),
    );
    writeFileSync(join(dir, 'intact.pod.yaml'), src);
    const [intact, tampered] = findFixtures(dir).map((f) => runFixture(f, dir));
    assert.equal(intact?.pass, true);
    assert.equal(intact?.byteIdentical, true);
    assert.equal(tampered?.pass, false);
    assert.match(tampered?.notes.join('\n') ?? '', /differs at spec\.volumes\.0\.projected/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
