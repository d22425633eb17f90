/** scripts/python-tools.sh, which `npm test` runs first: a missing prerequisite is one line naming what to install. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

test('without python3 on the PATH, python-tools.sh stops with one line saying what to install', () => {
  const empty = mkdtempSync(join(tmpdir(), 'openirsa-nopython-'));
  try {
    const r = spawnSync('/bin/bash', [join(ROOT, 'scripts/python-tools.sh')], {
      env: { PATH: empty, HOME: empty },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /^python-tools: python3 not found: .*install Python 3\.9 or newer with its venv module/,
    );
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
