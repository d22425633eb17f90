import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BIN, cleanEnv } from '../../helpers/sts-harness.js';

const run = promisify(execFile);

async function agent(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, 'agent', ...args], {
      env: cleanEnv({ KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '' }),
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test('openirsa agent: bad input is one line naming the flag, exit 2; --help exits 0', async () => {
  const cases: [string[], RegExp][] = [
    [[], /^openirsa: --cluster-name is required; run 'openirsa agent --help'$/],
    [['--cluster-name', 'bad name'], /--cluster-name "bad name" must match/],
    [
      ['--cluster-name', 'c', '--model', 'magic'],
      /--model must be agent-identity or web-identity, not "magic"/,
    ],
    [['--cluster-name', 'c', '--auth', 'jwks'], /--auth jwks needs --issuer https:\/\/…/],
    [['--cluster-name', 'c', '--issuer', 'https://x'], /--issuer goes with --auth jwks/],
    [['--cluster-name', 'c', '--port', '99999'], /--port must be an integer from 0 to 65535, not "99999"/],
    [['--cluster-name', 'c', '--bogus'], /Unknown option '--bogus'/],
    [
      ['--cluster-name', 'c'],
      /^openirsa: no Kubernetes API configured: .* or run without one: --auth jwks --issuer URL --no-pod-check --associations-file FILE$/,
    ],
    [
      [
        '--cluster-name',
        'c',
        '--auth',
        'jwks',
        '--issuer',
        'https://x',
        '--no-pod-check',
        '--associations-file',
        '/nonexistent/dir/a.yaml',
        '--jwks-file',
        '/nonexistent/keys.json',
      ],
      /cannot read the JWKS file \/nonexistent\/keys.json/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await agent(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('{'));
    assert.equal(lines.length, 1, `one line: ${r.stderr}`);
    assert.match(lines[0]!, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const help = await agent(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: openirsa agent --cluster-name NAME/);
});
