/**
 * The built CLI refuses a Node.js older than its package.json's engines with one line, before loading anything that
 * would fail in a less clear way. Run with a package.json that asks for a Node.js newer than any.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

test('the CLI on a Node.js older than engines.node: exit 1, one line naming the version it needs', async () => {
  const dist = join(ROOT, 'dist/src');
  assert.ok(existsSync(dist), 'run npm run build first (npm test does)');
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-engines-'));
  try {
    cpSync(dist, join(dir, 'dist/src'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ type: 'module', engines: { node: '>=99.0.0' } }),
    );
    const r = await run(process.execPath, [join(dir, 'dist/src/cli/bin.js'), '--help']).catch(
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.equal((r as { code?: number }).code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `openirsa needs Node.js 99.0.0 or newer (engines >=99.0.0); this is ${process.version}. Install Node.js 22 LTS or newer (https://nodejs.org/en/download).\n`,
    );
    // The real package.json admits the Node.js running the tests.
    const ok = await run(process.execPath, [join(ROOT, 'dist/src/cli/bin.js'), '--version']);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(ok.stdout, `openirsa v${version}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
