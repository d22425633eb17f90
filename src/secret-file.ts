/**
 * Writing keys, tokens and credentials: into a new file (O_EXCL never follows a link), its mode set explicitly
 * (the umask cannot widen or narrow it), then renamed into place (a rename replaces a link at the path, never its
 * target) or linked when the caller must not replace anything. A reader never sees a half-written secret.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

export interface SecretFileOptions {
  /** Default 0600. */
  mode?: number;
  /** Replace an existing file (or link) at the path; default true. False fails with EEXIST. */
  replace?: boolean;
}

export async function writeSecretFile(
  file: string,
  data: string | Buffer,
  options: SecretFileOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o600;
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (options.replace === false) await link(tmp, file);
    else await rename(tmp, file);
  } finally {
    await unlink(tmp).catch(() => undefined); // gone after a rename; the extra name after a link
  }
}

/** Creates the missing folders of `dir` with exactly `mode` (not mode & ~umask); existing ones are left alone. */
export async function makeDirs(dir: string, mode: number): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    const exists = await stat(d).then(
      () => true,
      () => false,
    );
    if (exists || dirname(d) === d) break;
    missing.unshift(d);
  }
  for (const d of missing) {
    const created = await mkdir(d, { mode }).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
        return false; // made meanwhile by someone else: not ours to change
      },
    );
    if (created) await chmod(d, mode);
  }
}
