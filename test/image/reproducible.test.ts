/**
 * The same commit gives the same image: two fresh clones of HEAD at different paths, checked out at different times,
 * one building every layer from scratch and one reusing the cached OS and runtime layers, must produce the same
 * image index digest (and so the same manifests, configs and layers).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, type ImageSummary } from '../helpers/image.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'openirsa-image-repro-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function touchAll(path: string, when: Date): void {
  for (const name of readdirSync(path)) {
    if (name === '.git') continue;
    const p = join(path, name);
    if (statSync(p).isDirectory()) touchAll(p, when);
    utimesSync(p, when, when);
  }
}

async function buildClone(name: string, env: Record<string, string>): Promise<ImageSummary> {
  const clone = join(dir, name);
  execFileSync('git', ['clone', '--quiet', ROOT, clone]);
  touchAll(clone, new Date(Date.now() - (name === 'a' ? 0 : 86_400_000)));
  await run('bash', [join(clone, 'scripts/image.sh'), 'build'], {
    cwd: clone,
    env: {
      ...process.env,
      // Share the integrity-checked Node.js binaries; everything else comes from the clone.
      OPENIRSA_NODE_CACHE: join(ROOT, '.cache/node'),
      OPENIRSA_IMAGE_OUT: join(clone, 'out/image'),
      ...env,
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(readFileSync(join(clone, 'out/image/image.json'), 'utf8')) as ImageSummary;
}

test('two clean clones of HEAD build the same image index digest (fresh layers and cached layers)', async () => {
  const head = execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const a = await buildClone('a', { OPENIRSA_IMAGE_FRESH_LAYERS: '1' });
  const b = await buildClone('b', {});
  assert.equal(a.revision, head);
  assert.equal(b.revision, head);
  assert.deepEqual(b.platforms, a.platforms);
  assert.equal(b.index, a.index);
  assert.match(a.index, /^sha256:[0-9a-f]{64}$/);
});
