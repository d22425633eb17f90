import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, buildConfig, deriveRoleId, loadConfig } from '../../../src/sts/config.js';
import {
  ACCOUNT,
  ISSUER,
  PROVIDER_ARN,
  ROLE_ARN,
  TRUST_POLICY,
  configDoc,
  makeKey,
} from '../../helpers/sts-fixtures.js';

const key = await makeKey('cfg');

function err(doc: unknown): string {
  try {
    buildConfig(doc, 'c.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

const base = () => configDoc([key]);
const role0 = (d: Record<string, unknown>) => (d.roles as Array<Record<string, unknown>>)[0]!;
const prov0 = (d: Record<string, unknown>) => (d.oidcProviders as Array<Record<string, unknown>>)[0]!;

test('a valid config: ARNs, derived stable RoleId, defaults', () => {
  const c = buildConfig(base(), 'c.yaml');
  const role = c.roles.get(ROLE_ARN)!;
  assert.equal(role.roleId, deriveRoleId(ROLE_ARN));
  assert.match(role.roleId, /^AROA[A-Z2-7]{17}$/);
  assert.equal(role.maxSessionDuration, 7200);
  assert.equal(c.providers[0]!.arn, PROVIDER_ARN);
  assert.equal(c.region, 'us-east-1');
  assert.equal(c.sessionKeys[0]!.length, 32);
  assert.equal(c.sessionKeyGenerated, false);
});

test('pasted IAM shapes: get-role output with a URL-encoded trust policy; provider Url without scheme', () => {
  const d = base();
  d.roles = [
    {
      Role: {
        RoleName: 'pasted',
        Path: '/team/',
        Arn: `arn:aws:iam::${ACCOUNT}:role/team/pasted`,
        RoleId: 'AROAEXAMPLEEXAMPLE123',
        AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(TRUST_POLICY)),
        MaxSessionDuration: 3600,
      },
    },
  ];
  prov0(d).Url = ISSUER.slice('https://'.length);
  const c = buildConfig(d, 'c.yaml');
  assert.equal(c.roles.get(`arn:aws:iam::${ACCOUNT}:role/team/pasted`)!.roleId, 'AROAEXAMPLEEXAMPLE123');
  assert.equal(c.providers[0]!.url, ISSUER);
});

test('bad configs name the file, the path and the problem', () => {
  let d: Record<string, unknown>;
  d = base();
  delete d.accountId;
  assert.equal(err(d), 'c.yaml: $.accountId: is required');
  d = base();
  d.accountId = 111122223333;
  assert.match(err(d), /^c.yaml: accountId: must be a quoted string/);
  d = base();
  d.partition = 'aws-mars';
  assert.match(err(d), /^c.yaml: partition: unknown partition/);
  d = base();
  d.roels = [];
  assert.match(err(d), /^c.yaml: roels: unknown key/);
  d = base();
  prov0(d).Url = 'http://issuer.example.com';
  assert.equal(err(d), 'c.yaml: oidcProviders[0].Url: must start with https://');
  for (const url of [
    'https://user:hunter2@issuer.example.com/id',
    'https://hunter2@issuer.example.com',
    'https://:hunter2@issuer.example.com',
  ]) {
    d = base();
    prov0(d).Url = url;
    const e = err(d);
    assert.equal(
      e,
      'c.yaml: oidcProviders[0].Url: must not carry a user name or password (IAM rejects such a provider URL)',
    );
    assert.doesNotMatch(e, /hunter2/, 'the password is never echoed');
  }
  d = base();
  prov0(d).Url = 'https://user:hunter2@exa mple.com';
  assert.doesNotMatch(err(d), /hunter2/, 'not even when the URL does not parse');
  d = base();
  prov0(d).ClientIDList = [];
  assert.match(err(d), /^c.yaml: oidcProviders\[0\].ClientIDList: must list at least one client id/);
  d = base();
  prov0(d).ThumbprintList = ['abc'];
  assert.match(err(d), /^c.yaml: oidcProviders\[0\].ThumbprintList\[0\]: must be 40 hex/);
  d = base();
  prov0(d).caBundle = '/nonexistent/ca.pem';
  assert.match(err(d), /^c.yaml: oidcProviders\[0\].caBundle: cannot read \/nonexistent\/ca.pem: ENOENT/);
  d = base();
  prov0(d).jwks = { keys: [{ ...key.jwk, d: 'secret' }] };
  assert.match(err(d), /^c.yaml: oidcProviders\[0\].jwks.keys\[0\]: holds private key members \(d\)/);
  // A symmetric key can sign as well as verify: never a public key (it has no `d`, which the old check missed).
  d = base();
  prov0(d).jwks = { keys: [key.jwk, { kty: 'oct', kid: 'h', k: 'c2VjcmV0' }] };
  assert.match(err(d), /^c.yaml: oidcProviders\[0\].jwks.keys\[1\]: is a symmetric key \(kty "oct"\)/);
  d = base();
  prov0(d).jwks = { keys: [null] };
  assert.match(err(d), /^c.yaml: oidcProviders\[0\].jwks.keys\[0\]: is null, not a JWK object/);
  d = base();
  delete role0(d).RoleName;
  assert.equal(err(d), 'c.yaml: roles[0].RoleName: is required');
  d = base();
  role0(d).MaxSessionDuration = 100;
  assert.match(err(d), /^c.yaml: roles\[0\].MaxSessionDuration: must be an integer from 3600 to 43200/);
  d = base();
  role0(d).Arn = 'arn:aws:iam::999999999999:role/s3-writer';
  assert.match(err(d), /^c.yaml: roles\[0\].Arn: .* disagrees with/);
  d = base();
  role0(d).AssumeRolePolicyDocument = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRoleWithWebIdentity', Resource: '*' }],
  };
  assert.match(err(d), /^c.yaml: roles\[0\].AssumeRolePolicyDocument.Statement\[0\].Resource: /);
  d = base();
  role0(d).AssumeRolePolicyDocument = '{not json';
  assert.match(err(d), /^c.yaml: roles\[0\].AssumeRolePolicyDocument: /);
  d = base();
  (d.roles as unknown[]).push({ ...role0(d), RoleName: 'S3-Writer' });
  assert.match(err(d), /^c.yaml: roles\[1\].RoleName: duplicate role name/);
  d = base();
  d.sessionKey = 'c2hvcnQ=';
  assert.match(err(d), /^c.yaml: sessionKey: sessionKey must hold 32 bytes/);
  d = base();
  role0(d).AttachedManagedPolicies = [{ PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/missing` }];
  assert.match(
    err(d),
    /^c.yaml: roles\[0\].AttachedManagedPolicies\[0\]: .* is not declared under managedPolicies/,
  );
});

test('session key: from the environment, or generated with a warning', () => {
  const d = base();
  delete d.sessionKey;
  const fromEnv = buildConfig(d, 'c.yaml', {
    env: { OPENIRSA_STS_SESSION_KEY: Buffer.alloc(32, 9).toString('hex') },
  });
  assert.deepEqual(fromEnv.sessionKeys[0], Buffer.alloc(32, 9));
  const warnings: string[] = [];
  const gen = buildConfig(d, 'c.yaml', { env: {}, warn: (m) => warnings.push(m) });
  assert.equal(gen.sessionKeyGenerated, true);
  assert.match(warnings[0]!, /generated a random session key/);
});

test('loadConfig reads YAML and JSON files and reports syntax errors with the file name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-cfg-'));
  const json = join(dir, 'sts.json');
  writeFileSync(json, JSON.stringify(base()));
  assert.equal(loadConfig(json).accountId, ACCOUNT);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'accountId: [unclosed');
  assert.throws(
    () => loadConfig(bad),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${bad}: $: not valid YAML`),
  );
  assert.throws(() => loadConfig(join(dir, 'missing.yaml')), /cannot read: ENOENT/);
});
