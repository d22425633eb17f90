/** The CLI says the same thing the same way across commands, and each failure names what the user can change. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, cleanEnv } from '../helpers/sts-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'openirsa-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: NodeJS.ProcessEnv = cleanEnv({}), timeout = 30_000) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, timedOut: r.error !== undefined };
}

test('`openirsa help CMD` prints exactly what `openirsa CMD --help` prints', () => {
  const commands = [
    ['webhook'],
    ['issuer'],
    ['issuer', 'keygen'],
    ['issuer', 'check'],
    ['sts'],
    ['sts', 'serve'],
    ['explain'],
    ['lint'],
    ['doctor'],
    ['dev'],
  ];
  for (const c of commands) {
    const viaHelp = cli(['help', ...c]);
    const viaFlag = cli([...c, '--help']);
    assert.equal(viaFlag.status, 0, `${c.join(' ')} --help: ${viaFlag.stderr}`);
    assert.equal(viaHelp.status, 0, `help ${c.join(' ')}: ${viaHelp.stderr}`);
    assert.ok(viaFlag.stdout.length > 20, c.join(' '));
    assert.equal(viaHelp.stdout, viaFlag.stdout, `help ${c.join(' ')}`);
  }
});

test('a missing file: one wording in every command, naming the flag it came from', () => {
  const missing = join(dir, 'missing');
  const cases: Array<[string[], string]> = [
    [
      ['explain', '--config', missing, '--role-arn', 'arn:aws:iam::111122223333:role/r', '--token', missing],
      `--config ${missing}`,
    ],
    [['sts', 'serve', '--config', missing], `--config ${missing}`],
    [['dev', '--config', missing], `--config ${missing}`],
    [['lint', missing], missing],
    [
      [
        'webhook',
        '--in-cluster=false',
        `--tls-cert=${missing}`,
        `--tls-key=${missing}`,
        `--service-accounts-file=${missing}`,
      ],
      `--tls-cert ${missing}`,
    ],
  ];
  for (const [args, what] of cases) {
    const r = cli(args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.equal(r.stderr, `openirsa: cannot read ${what}: no such file or directory\n`, args.join(' '));
  }
});

test('issuer keygen --out on an unusable path fails at once with one line naming --out', () => {
  for (const out of ['/proc/nope', '/proc/self/nope/deeper', '/dev/null/keys']) {
    // Generous for a loaded machine (a CLI start alone can take seconds there); a hang is what this catches.
    const r = cli(['issuer', 'keygen', '--out', out], cleanEnv({}), 30_000);
    assert.equal(r.timedOut, false, `keygen --out ${out} still running after 30 s`);
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`^openirsa: issuer keygen: cannot write --out ${out}: [a-z ]+\\n$`));
  }
});

test('issuer serve on a busy port names --port', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    const docs = join(dir, 'docs');
    const keys = join(dir, 'keys');
    assert.equal(cli(['issuer', 'keygen', '--out', keys, '--alg', 'ES256']).status, 0);
    const made = cli([
      'issuer',
      'documents',
      '--issuer',
      'https://oidc.example.com/c',
      '--public-key',
      join(keys, 'sa-signer.pub'),
      '--out',
      docs,
    ]);
    assert.equal(made.status, 0, made.stderr);
    const r = cli(['issuer', 'serve', '--dir', docs, '--host', '127.0.0.1', '--port', String(port)]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `issuer serve: port ${port} on 127\\.0\\.0\\.1 is already in use: stop what uses it or pass --port N`,
      ),
    );
  } finally {
    blocker.close();
  }
});

test('issuer publish to S3 without credentials says where credentials are read from', () => {
  const docs = join(dir, 'docs');
  const env = cleanEnv({ HOME: dir, AWS_PROFILE: 'publisher' });
  delete env.AWS_CONFIG_FILE;
  delete env.AWS_SHARED_CREDENTIALS_FILE;
  const r = cli(['issuer', 'publish', '--from', docs, '--to', 's3://bucket/cluster'], env);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /CredentialsProviderError|from any providers/);
  assert.match(
    r.stderr,
    /no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY .*profile "publisher" \(AWS_PROFILE\) in ~\/\.aws\/credentials/,
  );
});
