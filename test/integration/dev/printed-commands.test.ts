/**
 * What `openirsa dev` tells a user to run runs as printed: started the way `npm start` starts it (the repo-root
 * launcher), every `export`, `aws …` and `./openirsa …` line of its summary is run verbatim from the clone; and the
 * AWS CLI, with its real credential cache, keeps working across restarts of dev with and without the old state.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, VENV_BIN, cleanEnv, venvTool, DEV_FREE_PORTS } from '../../helpers/sts-harness.js';

const run = promisify(execFile);
const ARN = /^arn:aws:sts::111122223333:assumed-role\/s3-writer\/openirsa-dev-[0-9a-f]{12}$/;

const children = new Set<ChildProcess>();
const dirs: string[] = [];

after(async () => {
  for (const c of children) await stop(c);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A user's shell: a HOME of its own (the AWS CLI's cache is HOME/.aws/cli/cache) and the AWS CLI on the PATH. */
function userEnv(home: string): NodeJS.ProcessEnv {
  venvTool('aws'); // fails loudly when the AWS CLI is not installed
  const env = cleanEnv({ HOME: home, PATH: `${VENV_BIN}:${process.env.PATH ?? ''}` });
  delete env.AWS_CONFIG_FILE; // the user's own (none here, under the fresh HOME)
  delete env.AWS_SHARED_CREDENTIALS_FILE;
  return env;
}

/** `./openirsa dev …` from the repository root, as `npm start` runs it; resolves with its text summary. */
function startDev(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('./openirsa', ['dev', ...args], { cwd: ROOT, env });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ctrl-C stops everything.')) resolve({ child, out });
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) =>
      reject(new Error(`openirsa dev exited ${code} before its summary: ${err}${out}`)),
    );
  });
}

async function stop(child: ChildProcess): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const bash = (script: string, env: NodeJS.ProcessEnv) => run('bash', ['-c', script], { cwd: ROOT, env });

test('every command the running dev prints runs verbatim from the clone', async () => {
  const home = await tempDir('openirsa-home-');
  const state = join(await tempDir('openirsa-printed-'), 'state');
  const env = userEnv(home);
  const { child, out } = await startDev(['--state-dir', state, ...DEV_FREE_PORTS], env);
  try {
    // Commands are the indented lines.
    const lines = out
      .split('\n')
      .filter((l) => l.startsWith('  '))
      .map((l) => l.trim());
    const exports = lines.filter((l) => l.startsWith('export '));
    const commands = lines.filter(
      (l) => l.startsWith('aws ') || l.startsWith('openirsa ') || l.startsWith('./openirsa '),
    );
    assert.ok(exports.length >= 5, out);
    // Started as ./openirsa, it names itself ./openirsa: the printed commands run in the clone without npm link.
    const mine = commands.filter((c) => c.startsWith('./openirsa '));
    assert.equal(mine.length, 2, out);
    assert.deepEqual(
      commands.filter((c) => c.startsWith('openirsa ')),
      [],
      'a bare `openirsa` is not on the PATH of a clone',
    );
    assert.ok(
      commands.some((c) => c === 'aws sts get-caller-identity'),
      out,
    );
    for (const command of commands) {
      const { stdout } = await bash(`${exports.join('\n')}\n${command}`, env).catch(
        (e: { stderr: string }) => {
          assert.fail(`\`${command}\` failed: ${e.stderr}`);
        },
      );
      if (command === 'aws sts get-caller-identity')
        assert.match((JSON.parse(stdout) as { Arn: string }).Arn, ARN);
    }
  } finally {
    await stop(child);
  }
});

test('dev --check prints only what is true once it has stopped, and its printed commands run', async () => {
  const state = join(await tempDir('openirsa-check-'), 'state');
  const env = userEnv(await tempDir('openirsa-home-'));
  const { stdout } = await run('./openirsa', ['dev', '--check', '--state-dir', state, ...DEV_FREE_PORTS], {
    cwd: ROOT,
    env,
  });
  assert.doesNotMatch(stdout, /Ctrl-C|from another shell|is running|renewed/, stdout);
  assert.match(stdout, /everything stops afterwards/);
  assert.match(stdout, /check passed/);
  const commands = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('./openirsa '));
  assert.equal(commands.length, 2, stdout); // dev (to keep it running), lint
  for (const command of commands.filter((c) => !c.startsWith('./openirsa dev'))) await bash(command, env);
});

const CACHED = join(ROOT, 'test/integration/dev/cached-web-identity.py');

test('after a restart of dev, with or without its old state, cached web-identity credentials are never replayed', async () => {
  const home = await tempDir('openirsa-home-');
  const state = join(await tempDir('openirsa-restart-'), 'state');
  const env = userEnv(home);
  const python = venvTool('python');
  /** The README's line with the real AWS CLI, and the same through a cache keyed without the token. */
  const callerArns = async (): Promise<string[]> => {
    const arns: string[] = [];
    for (const command of ['aws sts get-caller-identity --output json', `"${python}" "${CACHED}"`]) {
      const { stdout } = await bash(`source "${state}/env.sh" && ${command}`, env).catch(
        (e: { stderr: string }) => assert.fail(`${command} failed: ${e.stderr}`),
      );
      arns.push(stdout.trim().startsWith('{') ? (JSON.parse(stdout) as { Arn: string }).Arn : stdout.trim());
    }
    return arns;
  };

  let { child } = await startDev(['--state-dir', state, ...DEV_FREE_PORTS], env);
  const [first] = await callerArns();
  assert.match(first!, ARN);
  assert.ok((await readdir(join(home, '.aws/cli/cache'))).length > 0, 'the credentials were cached');
  await stop(child);

  // Same state: the same STS session key, so cached credentials stay valid.
  ({ child } = await startDev(['--state-dir', state, ...DEV_FREE_PORTS], env));
  assert.deepEqual(await callerArns(), [first, first]);
  await stop(child);

  // New state: a new STS that cannot open the old credentials; nothing may replay them.
  await rm(state, { recursive: true, force: true });
  ({ child } = await startDev(['--state-dir', state, ...DEV_FREE_PORTS], env));
  const [second, secondCached] = await callerArns();
  assert.match(second!, ARN);
  assert.notEqual(second, first);
  assert.equal(secondCached, second);
  await stop(child);
});
