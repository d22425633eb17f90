/**
 * Secrets on disk (issue 10 item 9): keys and tokens go to a new file with an explicit mode, renamed into place,
 * never written through a link, whatever the umask and whatever was at the path before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey, writeKeyPair } from '../../../src/issuer/index.js';
import { makeDirs, writeSecretFile } from '../../../src/secret-file.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'secret-files-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function withUmask(mask: number, fn: () => Promise<void>): Promise<void> {
  const old = process.umask(mask);
  try {
    await fn();
  } finally {
    process.umask(old);
  }
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

test('writeSecretFile: onto an existing 0644 file the result is 0600 (an overwrite used to keep the old mode)', () =>
  withDir(async (dir) => {
    const f = join(dir, 'token');
    await writeFile(f, 'old', { mode: 0o644 });
    await writeSecretFile(f, 'new-token\n');
    assert.equal(await mode(f), 0o600);
    assert.equal(await readFile(f, 'utf8'), 'new-token\n');
    assert.deepEqual(await readdir(dir), ['token'], 'no temporary file is left behind');
  }));

test('writeSecretFile: a symlink at the path is replaced, its target never written', () =>
  withDir(async (dir) => {
    const target = join(dir, 'elsewhere');
    await writeFile(target, 'victim', { mode: 0o644 });
    const f = join(dir, 'key');
    await symlink(target, f);
    await writeSecretFile(f, 'SECRET');
    assert.equal(await readFile(target, 'utf8'), 'victim', 'the link target is untouched');
    assert.ok((await lstat(f)).isFile(), 'the link itself was replaced by a regular file');
    assert.equal(await mode(f), 0o600);
    // replace: false refuses anything at the path, a dangling link included.
    const g = join(dir, 'dangling');
    await symlink(join(dir, 'nowhere'), g);
    await assert.rejects(writeSecretFile(g, 'x', { replace: false }), { code: 'EEXIST' });
    assert.equal(await readlink(g), join(dir, 'nowhere'));
    await assert.rejects(stat(join(dir, 'nowhere')), { code: 'ENOENT' });
  }));

test('modes are exact whatever the umask: umask 000 gives no world-writable folder or key', () =>
  withDir((dir) =>
    withUmask(0o000, async () => {
      const keys = join(dir, 'a', 'keys');
      await writeKeyPair(keys, generateSigningKey({ alg: 'ES256' }));
      assert.equal(await mode(keys), 0o755);
      assert.equal(await mode(join(dir, 'a')), 0o755);
      assert.equal(await mode(join(keys, 'sa-signer.key')), 0o600);
      assert.equal(await mode(join(keys, 'sa-signer.pub')), 0o644);
      await withUmask(0o077, async () => {
        await writeSecretFile(join(dir, 'pub'), 'x', { mode: 0o644 });
        assert.equal(await mode(join(dir, 'pub')), 0o644, 'a strict umask does not narrow it either');
      });
      await makeDirs(join(dir, 'p', 'q'), 0o700);
      assert.equal(await mode(join(dir, 'p', 'q')), 0o700);
      await makeDirs(dir, 0o700);
      assert.equal(await mode(dir), 0o700, 'mkdtemp made it 0700; existing folders are left alone');
    }),
  ));

test('keygen --force follows no symlink at the key path; without --force an existing key is kept', () =>
  withDir(async (dir) => {
    const keys = join(dir, 'keys');
    await writeKeyPair(keys, generateSigningKey({ alg: 'ES256' }));
    const stolen = join(dir, 'world-readable.txt');
    await writeFile(stolen, '', { mode: 0o644 });
    await rm(join(keys, 'sa-signer.key'));
    await symlink(stolen, join(keys, 'sa-signer.key'));
    await assert.rejects(writeKeyPair(keys, generateSigningKey({ alg: 'ES256' })), /exists; pass --force/);
    await writeKeyPair(keys, generateSigningKey({ alg: 'ES256' }), { force: true });
    assert.equal(await readFile(stolen, 'utf8'), '', 'the private key was not written to the link target');
    assert.ok((await lstat(join(keys, 'sa-signer.key'))).isFile());
    assert.equal(await mode(join(keys, 'sa-signer.key')), 0o600);
    assert.match(await readFile(join(keys, 'sa-signer.key'), 'utf8'), /BEGIN (EC )?PRIVATE KEY/);
  }));
