/**
 * The repository is self-contained: no tracked file reads or names a folder outside the clone (a sibling
 * `shared` folder, its design notes or specs), so a fresh clone on a fresh machine has everything its tests need.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

// Built from pieces so that this file does not name what it forbids.
const FORBIDDEN: { what: string; pattern: RegExp }[] = [
  { what: 'a sibling shared folder', pattern: new RegExp(['\\.\\.', 'shared'].join('/')) },
  { what: 'an absolute shared folder', pattern: new RegExp(['', 'work', 'shared'].join('/')) },
  {
    what: 'a spec outside the repository',
    pattern: new RegExp(['specs', '(sts|webhook|kubernetes)\\.md'].join('/')),
  },
  { what: 'the design notes outside the repository', pattern: new RegExp(['DESIGN', 'md'].join('\\.')) },
];

/** Every offending line of `text`, as `file:line: what`. */
export function offences(file: string, text: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const { what, pattern } of FORBIDDEN)
      if (pattern.test(line)) out.push(`${file}:${i + 1}: names ${what}`);
  });
  return out;
}

function trackedFiles(): string[] {
  let listing: string;
  try {
    listing = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (e) {
    throw new Error(
      `git ls-files failed in ${ROOT} (this test needs git and a git checkout): ${(e as Error).message}`,
    );
  }
  return listing.split('\0').filter((f) => f !== '');
}

test('no tracked file names a folder outside the repository', () => {
  const files = trackedFiles();
  assert.ok(files.length > 100, `git ls-files listed only ${files.length} files`);
  const found: string[] = [];
  for (const f of files) {
    const full = join(ROOT, f);
    if (!existsSync(full)) continue; // deleted in the work tree, not yet committed
    const bytes = readFileSync(full);
    if (bytes.includes(0)) continue; // binary
    found.push(...offences(f, bytes.toString('utf8')));
  }
  assert.deepEqual(found, []);
});

test('the check catches each forbidden form', () => {
  const shared = ['..', 'shared', 'conformance'].join('/');
  assert.equal(offences('a.ts', `const d = '${shared}';`).length, 1);
  assert.equal(offences('a.ts', `// see ${['specs', 'sts.md'].join('/')} §2`).length, 1);
  assert.equal(
    offences('a.md', `x\n${['', 'work', 'shared', 'x'].join('/')}`)[0],
    'a.md:2: names an absolute shared folder',
  );
  assert.deepEqual(offences('a.ts', 'const shared = 1; // specs are in docs/sts.md'), []);
});

test('the vendored conformance fixtures keep their licence, notice and upstream commit', () => {
  const dir = join(ROOT, 'test/fixtures/pod-identity-webhook');
  for (const f of ['LICENSE', 'NOTICE', 'README.md'])
    assert.ok(existsSync(join(dir, f)), `${dir}/${f} is missing`);
  assert.match(readFileSync(join(dir, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  const commit = '3bf80a348116483b2162190e43232e4d243f76c4';
  assert.ok(readFileSync(join(dir, 'NOTICE'), 'utf8').includes(commit));
  assert.ok(readFileSync(join(dir, 'README.md'), 'utf8').includes(commit));
});
