/**
 * Every relative link in the repository's Markdown leads somewhere: the file exists, and an anchor names a
 * heading of that file (GitHub's heading ids), so a reader following the docs never hits a dead end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** GitHub's id for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, … */
export function headingIds(markdown: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  return ids;
}

/** The relative link targets of a Markdown text, outside code blocks and code spans. */
export function relativeLinks(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) out.push(target);
    }
  }
  return out;
}

test('heading ids and links are read as GitHub renders them', () => {
  assert.deepEqual(
    [
      ...headingIds(
        '# A `cmd` — b/c\n## Step 2: the public issuer\n## Step 2: the public issuer\n```\n# no\n```',
      ),
    ],
    ['a-cmd--bc', 'step-2-the-public-issuer', 'step-2-the-public-issuer-1'],
  );
  assert.deepEqual(relativeLinks('[a](x.md#y) [b](https://e.com) `[c](no.md)` [d](#here "t")'), [
    'x.md#y',
    '#here',
  ]);
});

test('every relative link in the Markdown files leads to a file and heading that exist', () => {
  const files = execFileSync('git', ['ls-files', '-z', '*.md'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && !f.startsWith('test/fixtures/') && existsSync(join(ROOT, f)));
  assert.ok(files.length > 10, `${files.length} Markdown files`);
  const broken: string[] = [];
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const link of relativeLinks(text)) {
      const [path, anchor] = link.split('#', 2) as [string, string | undefined];
      const target = path ? resolve(dirname(join(ROOT, file)), decodeURIComponent(path)) : join(ROOT, file);
      if (!existsSync(target)) {
        broken.push(`${file}: ${link}: no such file`);
        continue;
      }
      if (anchor && target.endsWith('.md') && statSync(target).isFile()) {
        if (!headingIds(readFileSync(target, 'utf8')).has(anchor.toLowerCase()))
          broken.push(`${file}: ${link}: no such heading`);
      }
    }
  }
  assert.deepEqual(broken, []);
});
