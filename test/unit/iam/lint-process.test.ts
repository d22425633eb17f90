// `openirsa lint` as a process: exit statuses and the one-line error through the real entry point.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const DIR = join('test', 'fixtures', 'lint');

function openirsa(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('src', 'cli', 'bin.ts'), 'lint', ...args], {
    encoding: 'utf8',
    input,
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('openirsa lint (process)', () => {
  it('exit 0 clean, 1 on error findings, 2 on bad input with one line on stderr', () => {
    assert.equal(openirsa([join(DIR, 'clean-eks-exact.json')]).status, 0);
    const bad = openirsa([join(DIR, 'missing-sub.json')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /\[missing-sub\]/);
    const missing = openirsa(['does-not-exist.json']);
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr, 'openirsa: does-not-exist.json: cannot read (no such file)\n');
    const garbage = openirsa(['-'], '{"Version": ');
    assert.equal(garbage.status, 2);
    assert.equal(garbage.stderr, 'openirsa: -:1:13: not valid JSON: Unexpected end of JSON input\n');
  });
  it('a parse error is one line with file:line:col, for JSON and for YAML', () => {
    const json = openirsa(
      ['-'],
      '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow",}\n  ]\n}\n',
    );
    assert.equal(json.status, 2);
    assert.equal(json.stderr, 'openirsa: -:4:24: not valid JSON: Expected double-quoted property name\n');
    const yaml = openirsa(
      [join(DIR, 'sts-config.yaml'), '-'],
      'Version: "2012-10-17"\nStatement:\n  - Effect: Allow\n    Principal: {Federated: x\n',
    );
    assert.equal(yaml.status, 2);
    assert.match(yaml.stderr, /^openirsa: -:5:1: not valid YAML: [^\n]+\n$/);
  });
  it('reads a policy from stdin', () => {
    const r = openirsa(
      ['--format', 'json', '-'],
      JSON.stringify({
        Version: '2012-10-17',
        Statement: { Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRoleWithWebIdentity' },
      }),
    );
    assert.equal(r.status, 1);
    const { findings } = JSON.parse(r.stdout) as { findings: Array<{ ruleId: string; file: string }> };
    assert.deepEqual(
      findings.map((f) => [f.ruleId, f.file]),
      [['principal-wildcard', 'stdin']],
    );
  });
});
