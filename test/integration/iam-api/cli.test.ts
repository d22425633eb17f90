/** `sts check-config` and `lint` over the seed and the stored IAM state; bad input is one line and an exit code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { BIN } from '../../helpers/sts-harness.js';

const run = promisify(execFile);
type Failed = { code: number; stdout: string; stderr: string };
const fail = (p: Promise<unknown>) => p.then(() => assert.fail('expected a failure')).catch((e: Failed) => e);

const ADMIN = { accessKeyId: 'AKIAOPENIRSACLI00001', secretAccessKey: 'cli-admin-secret'.padEnd(40, 'c') };
const PROVIDER = 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com';

function setup(iamApi: unknown = { admin: ADMIN }) {
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-iam-cli-'));
  const config = join(dir, 'sts.yaml');
  writeFileSync(
    config,
    stringify({
      accountId: '111122223333',
      oidcProviders: [{ Url: 'https://oidc.example.com', ClientIDList: ['sts.amazonaws.com'] }],
      iamApi,
    }),
  );
  return { dir, config, state: join(dir, 'sts.iam-state.json') };
}

function stateWith(role: Record<string, unknown>): string {
  const entry = { kind: 'role', id: String(role.name).toLowerCase(), value: role };
  return JSON.stringify({
    format: 'openirsa.iam-state/v1',
    generation: 1,
    entries: { [`role/${entry.id}`]: { version: '1', entry } },
  });
}

const role = (trust: unknown) => ({
  name: 'api-made',
  path: '/',
  roleId: 'AROAAAAAAAAAAAAAAAAAA',
  createDate: '2026-01-01T00:00:00Z',
  trustPolicy: JSON.stringify(trust),
  maxSessionDuration: 3600,
  tags: [],
  inlinePolicies: [],
  attachedPolicies: [],
});

/** A stored role any ServiceAccount of the provider may assume (valid, but lint's error case). */
const OPEN_TRUST_STATE = stateWith(
  role({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRoleWithWebIdentity' },
    ],
  }),
);

test('check-config reports the IAM API and the stored changes; a role in the state is listed', async () => {
  const { config, state } = setup();
  writeFileSync(state, OPEN_TRUST_STATE);
  const { stdout } = await run(process.execPath, [BIN, 'sts', 'check-config', '--config', config]);
  assert.match(
    stdout,
    /IAM API: on \(admin key AKIAOPENIRSACLI00001, session credentials allowed by their role policies\); state: file .*sts\.iam-state\.json, 1 stored change\(s\)/,
  );
  assert.match(stdout, /role arn:aws:iam::111122223333:role\/api-made {2}AROAAAAAAAAAAAAAAAAAA/);
  assert.ok(!stdout.includes(ADMIN.secretAccessKey), 'never the secret');
});

test('check-config: a damaged state file is one line and exit 2; a stored policy that does not parse is named, exit 1', async () => {
  const { config, state } = setup();
  writeFileSync(state, '{"format": "openirsa.iam-state/v1", "generation": 1, "entr');
  const bad = await fail(run(process.execPath, [BIN, 'sts', 'check-config', '--config', config]));
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /^openirsa: invalid IAM state: .*sts\.iam-state\.json: not valid JSON/);
  writeFileSync(
    state,
    stateWith(role({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] })),
  );
  const broken = await fail(run(process.execPath, [BIN, 'sts', 'check-config', '--config', config]));
  assert.equal(broken.code, 1);
  assert.match(
    broken.stderr,
    /arn:aws:iam::111122223333:role\/api-made: stored policy does not parse: Missing required field Principal/,
  );
});

test('a bad iamApi section is refused at load with its path', async () => {
  const { config } = setup({ admin: { accessKeyId: 'nope', secretAccessKey: 'x' } });
  const r = await fail(run(process.execPath, [BIN, 'sts', 'check-config', '--config', config]));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^openirsa: invalid config: .*sts\.yaml: iamApi\.admin\.accessKeyId: must be AKIA/);
  const { config: c2 } = setup({ sessionCredentials: false });
  const r2 = await fail(run(process.execPath, [BIN, 'sts', 'check-config', '--config', c2]));
  assert.match(r2.stderr, /iamApi: allows no caller/);
});

test('lint --config also lints roles the IAM API stored, naming where they live', async () => {
  const { config, state } = setup();
  // No sub condition: any ServiceAccount of the cluster could assume it (an error finding).
  writeFileSync(state, OPEN_TRUST_STATE);
  const r = await fail(run(process.execPath, [BIN, 'lint', '--config', config, '--format', 'json']));
  assert.equal(r.code, 1);
  const findings = JSON.parse(r.stdout).findings as Array<{ file: string; role: string; severity: string }>;
  const stored = findings.filter((f) => f.role === 'api-made');
  assert.ok(stored.length > 0, r.stdout);
  assert.match(stored[0]!.file, /^file .*sts\.iam-state\.json$/);
  assert.ok(stored.some((f) => f.severity === 'error'));
});
