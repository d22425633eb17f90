/**
 * `npm pack` as a publisher runs it (prepack builds), then the tarball as a user gets it: installed into an empty
 * folder with the real npm client, `npx openirsa --help`, and every `exports` subpath imported from the installed
 * package. Packs a copy of the sources, so the suite's own dist/ is never rebuilt under the other tests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  exports: Record<string, string>;
  files: string[];
};
// npm as the user runs it: the npm next to this Node.js (Node's own layout), else the one on PATH.
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const env = {
  ...process.env,
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};

let dir: string;
let tarball: string;
let app: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openirsa-pack-'));
  const src = join(dir, 'src-copy');
  mkdirSync(src);
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'LICENSE', 'src'])
    cpSync(join(ROOT, f), join(src, f), { recursive: true });
  // prepack's tsc needs the dev dependencies; this checkout's are the locked ones.
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
  const packed = await run(npm, ['pack', '--json', '--pack-destination', dir], { cwd: src, env });
  const info = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(dir, info[0]!.filename);
  const files = info[0]!.files.map((f) => f.path);
  assert.ok(files.includes('package.json') && files.includes('LICENSE') && files.includes('README.md'));
  assert.ok(files.includes(pkg.bin.openirsa!.replace(/^\.\//, '')), 'the bin is packed');
  assert.deepEqual(
    files.filter((f) => !['package.json', 'LICENSE', 'README.md'].includes(f) && !f.startsWith('dist/src/')),
    [],
    'only dist/src, package.json, README.md and LICENSE',
  );
  assert.ok(!files.some((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/')));

  app = join(dir, 'empty');
  mkdirSync(app);
  await run(npm, ['install', '--no-save', '--omit=dev', tarball], { cwd: app, env });
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('npx openirsa --help from the installed tarball', async () => {
  const { stdout } = await run('npx', ['--no-install', 'openirsa', '--help'], { cwd: app, env });
  assert.match(stdout, /^usage: openirsa <command> \[flags\]/);
  for (const c of ['webhook', 'issuer', 'sts', 'explain', 'lint', 'doctor', 'dev'])
    assert.match(stdout, new RegExp(`^  ${c} `, 'm'));
  const v = await run('npx', ['--no-install', 'openirsa', '--version'], { cwd: app, env });
  assert.equal(v.stdout.trim(), `openirsa v${pkg.version}`);
});

test('every exports subpath resolves and loads from the installed package', async () => {
  const specifiers = Object.keys(pkg.exports).map((k) =>
    k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`,
  );
  assert.ok(specifiers.length >= 6, specifiers.join(' '));
  const script = `
    const out = {};
    for (const s of ${JSON.stringify(specifiers)}) out[s] = Object.keys(await import(s)).length;
    console.log(JSON.stringify(out));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app, env });
  const loaded = JSON.parse(stdout) as Record<string, number>;
  for (const s of specifiers) assert.ok((loaded[s] ?? 0) > 0, `${s} exports nothing`);
  // A path that is not exported stays private.
  const hidden = await run(
    process.execPath,
    ['--input-type=module', '-e', `await import('${pkg.name}/dist/src/cli/main.js')`],
    { cwd: app, env },
  ).catch((e: { stderr: string }) => e);
  assert.match(hidden.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
});
