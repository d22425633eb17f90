/**
 * The reference amazon-eks-pod-identity-webhook for the side-by-side tools (`diff:webhook`, `bench:compare`,
 * `bench:memory`): given its source folder (a clone, or the release tarball unpacked) or an already built binary,
 * returns the binary's path. Sources are built once with `go build` (the Go module proxy serves their
 * dependencies, not the module itself) and cached in ~/.cache/openirsa/reference-<hash of the sources>/
 * (OPENIRSA_CACHE moves it), outside git.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';

/**
 * A failure the side-by-side tools print as one line, without a stack, and exit for: the reference cannot be had,
 * or an argument is wrong. (Not named ReferenceError: that would shadow JavaScript's own.)
 */
export class OneLineError extends Error {
  readonly code = 'REFERENCE_UNAVAILABLE';
}

function sourceHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      if (name === '.git') continue;
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.(go|mod|sum)$/.test(name))
        h.update(relative(dir, full)).update('\0').update(readFileSync(full));
    }
  };
  walk(dir);
  return h.digest('hex').slice(0, 16);
}

/** The reference binary for `arg` (a built binary, or a source folder built and cached on first use). */
export function referenceBinary(arg: string): string {
  const path = resolve(arg);
  if (!existsSync(path)) throw new OneLineError(`${path} does not exist`);
  if (statSync(path).isFile()) return path;
  if (!existsSync(join(path, 'go.mod')))
    throw new OneLineError(`${path} has no go.mod: give the reference's source folder or binary`);
  const cache = join(
    process.env.OPENIRSA_CACHE ?? join(homedir(), '.cache/openirsa'),
    `reference-${sourceHash(path)}`,
  );
  const bin = join(cache, 'amazon-eks-pod-identity-webhook');
  if (existsSync(bin)) return bin;
  if (spawnSync('go', ['version']).error)
    throw new OneLineError(
      'go is not installed: install Go (1.24 or later) to build the reference from its source',
    );
  mkdirSync(cache, { recursive: true });
  console.log(`building the reference from ${path} into ${cache} (go build, a few minutes on 2 cores)…`);
  try {
    execFileSync('nice', ['-n', '10', 'go', 'build', '-o', bin, '.'], {
      cwd: path,
      stdio: 'inherit',
      env: { ...process.env, CGO_ENABLED: '0' },
    });
  } catch {
    throw new OneLineError(`go build of the reference in ${path} failed (its output is above)`);
  }
  return bin;
}
