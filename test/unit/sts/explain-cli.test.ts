/* eslint-disable no-control-regex -- these tests look for control characters */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import {
  claims,
  configDoc,
  makeKey,
  signToken,
  ROLE_ARN,
  ISSUER,
  TRUST_POLICY,
} from '../../helpers/sts-fixtures.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'openirsa-explain-'));
const key = await makeKey('explain-kid');
const now = Math.floor(Date.now() / 1000);
const cfg = join(dir, 'sts.yaml');
writeFileSync(cfg, stringify(configDoc([key])));
const tok = (name: string, over: Record<string, unknown> = {}) => {
  const p = join(dir, name);
  writeFileSync(p, signToken(key, claims({ exp: now + 600, iat: now, nbf: now, ...over })));
  return p;
};

function explain(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/bin.ts'), 'explain', ...args],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('allowed: exit 0, per-step report, signature verified with the inline JWKS', () => {
  const r = explain('--config', cfg, '--role-arn', ROLE_ARN, '--token', tok('good'));
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.out, /✓ token: .*signature verified \(inline JWKS from the config\)/);
  assert.match(r.out, /✓ trust policy: sts:AssumeRoleWithWebIdentity/);
  assert.match(
    r.out,
    /result: ALLOWED — AWS would issue credentials for arn:aws:sts::111122223333:assumed-role\/s3-writer\/openirsa-explain/,
  );
});

test('denied by the trust policy: exit 3, the failing condition with both values, a fix', () => {
  const r = explain(
    '--config',
    cfg,
    '--role-arn',
    ROLE_ARN,
    '--token',
    tok('other-sa', { sub: 'system:serviceaccount:great-namespace:other' }),
  );
  assert.equal(r.code, 3, r.err);
  assert.match(r.out, /✗ trust policy: sts:AssumeRoleWithWebIdentity/);
  assert.match(r.out, /system:serviceaccount:great-namespace:other/);
  assert.match(r.out, /most likely fix/);
  assert.match(
    r.out,
    /result: DENIED — AWS would answer AccessDenied \(HTTP 403\): Not authorized to perform sts:AssumeRoleWithWebIdentity/,
  );
});

test('control characters in a token are escaped: they cannot move the cursor or fake the verdict (issue 10 item 8)', () => {
  const forged = `x\u001b[2K\r\u001b[1Aresult: ALLOWED \u009b0m\u202e\nresult: ALLOWED`;
  const hostile: Array<[string, Record<string, unknown>]> = [
    ['sub', { sub: `system:serviceaccount:ns:${forged}` }],
    ['iss', { iss: `https://evil.example/${forged}` }],
  ];
  for (const [claim, over] of hostile)
    for (const json of [false, true]) {
      const r = explain(
        '--config',
        cfg,
        '--role-arn',
        ROLE_ARN,
        '--token',
        tok(`ctl-${claim}-${json}`, over),
        ...(json ? ['--json'] : []),
      );
      assert.equal(r.code, 3, r.err);
      assert.doesNotMatch(
        r.out,
        /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/,
        'no control reaches stdout',
      );
      if (json) continue;
      assert.equal(r.out.match(/^result:/gm)?.length, 1, 'one verdict line');
      assert.match(r.out, /^result: DENIED/m);
      assert.match(r.out, /\\u001B\[2K/i, 'the escape code is shown, not sent');
    }
});

test('token problems: wrong audience names the ClientIDList fix; expired names ExpiredTokenException', () => {
  const aud = explain(
    '--config',
    cfg,
    '--role-arn',
    ROLE_ARN,
    '--token',
    tok('aud', { aud: 'sts.amazon.com' }),
  );
  assert.equal(aud.code, 3);
  assert.match(aud.out, /✗ token: token aud "sts.amazon.com" is not in the ClientIDList/);
  assert.match(aud.out, /most likely fix: add the token's audience to the provider's ClientIDList/);
  assert.match(aud.out, /InvalidIdentityToken \(HTTP 400\): Incorrect token audience/);
  const old = explain(
    '--config',
    cfg,
    '--role-arn',
    ROLE_ARN,
    '--token',
    tok('old', { exp: now - 3600, iat: now - 7200, nbf: now - 7200 }),
  );
  assert.equal(old.code, 3);
  assert.match(
    old.out,
    /ExpiredTokenException \(HTTP 400\): Token expired: current date\/time \d+ must be before the expiration date\/time\d+/,
  );
  const iss = explain('--config', cfg, '--role-arn', ROLE_ARN, '--token', tok('iss', { iss: `${ISSUER}/` }));
  assert.match(iss.out, /differs only in case or a trailing slash/);
});

test('--no-verify-signature is stated; a token signed by another key passes only with it', async () => {
  const other = await makeKey('explain-kid');
  const p = join(dir, 'forged');
  writeFileSync(p, signToken(other, claims({ exp: now + 600, iat: now, nbf: now })));
  const strict = explain('--config', cfg, '--role-arn', ROLE_ARN, '--token', p);
  assert.equal(strict.code, 3);
  const lax = explain('--config', cfg, '--role-arn', ROLE_ARN, '--token', p, '--no-verify-signature');
  assert.equal(lax.code, 0);
  assert.match(lax.out, /signature NOT verified \(--no-verify-signature\)/);
  assert.match(lax.out, /note: the token signature was NOT verified/);
});

test('--action with --policy: the session gets the intersection of role and session policies (issue 10 item 2)', () => {
  const write = (name: string, doc: object) => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(doc));
    return p;
  };
  const run = (policy: string, ...extra: string[]) =>
    explain(
      '--config',
      cfg,
      '--role-arn',
      ROLE_ARN,
      '--token',
      tok(`sp-${extra.length}`),
      '--action',
      's3:PutObject',
      '--resource',
      'arn:aws:s3:::great-bucket/key',
      '--policy',
      policy,
      ...extra,
    );
  const readOnly = write('read-only.json', {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
  });
  const r = run(readOnly);
  assert.equal(r.code, 3, r.err + r.out);
  assert.match(r.out, /✓ permissions: s3:PutObject on arn:aws:s3:::great-bucket\/key/);
  assert.match(r.out, /✗ session policies: s3:PutObject/);
  assert.match(
    r.out,
    /result: DENIED — the session would be issued, but s3:PutObject is not allowed by the role's permission policies and the session policies together/,
  );
  const deny = write('deny.json', {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Deny', Action: 's3:*', Resource: '*' }],
  });
  assert.equal(run(deny).code, 3);
  const putOnly = write('put.json', {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:Put*', Resource: '*' }],
  });
  const ok = run(putOnly);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /✓ session policies: s3:PutObject/);
  const bad = run(write('bad.json', { Statement: 'nope' }));
  assert.equal(bad.code, 3);
  assert.match(bad.out, /✗ session policies: .*\n.*most likely fix/);
  assert.match(bad.out, /AWS would answer MalformedPolicyDocument \(HTTP 400\)/);
});

test('--action/--resource evaluates the permission policies', () => {
  const ok = explain(
    '--config',
    cfg,
    '--role-arn',
    ROLE_ARN,
    '--token',
    tok('p1'),
    '--action',
    's3:PutObject',
    '--resource',
    'arn:aws:s3:::great-bucket/key',
  );
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /✓ permissions: s3:PutObject on arn:aws:s3:::great-bucket\/key/);
  const no = explain(
    '--config',
    cfg,
    '--role-arn',
    ROLE_ARN,
    '--token',
    tok('p2'),
    '--action',
    's3:PutObject',
    '--resource',
    'arn:aws:s3:::other-bucket/key',
  );
  assert.equal(no.code, 3);
  assert.match(no.out, /✗ permissions: s3:PutObject/);
  const json = explain(
    '--config',
    cfg,
    '--role-arn',
    ROLE_ARN,
    '--token',
    tok('p3'),
    '--action',
    's3:GetObject',
    '--json',
  );
  assert.equal(json.code, 3);
  assert.equal(JSON.parse(json.out).permissions.decision, 'ImplicitDeny');
});

test('bad input exits 2 with one line: bad config names the file and the path', () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, stringify({ accountId: '111122223333', roles: [{ Path: '/' }] }));
  const r = explain('--config', bad, '--role-arn', ROLE_ARN, '--token', tok('x'));
  assert.equal(r.code, 2);
  assert.equal(r.err.trim(), `openirsa: invalid config: ${bad}: roles[0].RoleName: is required`);
  const missing = explain('--config', cfg, '--role-arn', ROLE_ARN, '--token', join(dir, 'nope'));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /^openirsa: cannot read --token .*: no such file or directory/);
  assert.equal(explain('--config', cfg).code, 2);
});

// A real AWS role, as `aws iam get-role` prints it, explained without an openirsa config.
const getRole = (doc: unknown = TRUST_POLICY) => ({
  Role: {
    Path: '/',
    RoleName: 's3-writer',
    RoleId: 'AROAEXAMPLEEXAMPLE123',
    Arn: ROLE_ARN,
    CreateDate: '2026-01-01T00:00:00+00:00',
    AssumeRolePolicyDocument: doc,
    MaxSessionDuration: 3600,
    RoleLastUsed: {},
  },
});
const jwksFile = join(dir, 'jwks.json');
writeFileSync(jwksFile, JSON.stringify({ keys: [key.jwk] }));
const roleFile = (name: string, content: unknown): string => {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(content, null, 4));
  return p;
};
/** `explain --role ROLE --jwks JWKS --token T`, T a fresh token named `token` with the claims `over`. */
const explainRole = (role: string, token: string, over: Record<string, unknown> = {}, ...more: string[]) =>
  explain('--role', role, '--jwks', jwksFile, '--token', tok(token, over), ...more);

test("--role: get-role output (CLI JSON and the API's URL-encoded document), account from its Arn, provider from the token", () => {
  for (const [name, doc] of [
    ['get-role.json', TRUST_POLICY],
    ['get-role-encoded.json', encodeURIComponent(JSON.stringify(TRUST_POLICY))],
  ] as const) {
    const r = explainRole(roleFile(name, getRole(doc)), `t-${name}`);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, new RegExp(`provider: the token's issuer ${ISSUER}`));
    assert.match(r.out, /signature verified/);
    assert.match(
      r.out,
      /result: ALLOWED — AWS would issue credentials for arn:aws:sts::111122223333:assumed-role\/s3-writer\//,
    );
  }
  // A provider given by flags that does not list the token's audience: the token step names it.
  const r = explain(
    '--role',
    roleFile('gr.json', getRole()),
    '--issuer',
    ISSUER,
    '--client-id',
    'other',
    '--jwks',
    jwksFile,
    '--token',
    tok('aud-other'),
  );
  assert.equal(r.code, 3, r.err);
  assert.match(
    r.out,
    /✗ token: token aud \["sts.amazonaws.com"\] is not in the ClientIDList .* \(\["other"\]\)/,
  );
});

test('sub mismatch: the fix names the ServiceAccount the role trusts', () => {
  const role = roleFile('trusts.json', getRole());
  const name = explainRole(role, 'sa-other', { sub: 'system:serviceaccount:great-namespace:other' });
  assert.equal(name.code, 3, name.err);
  assert.match(
    name.out,
    /fix: run the pod as great-namespace\/great-serviceaccount \(the ServiceAccount the role trusts: annotate it with this role\), or allow "system:serviceaccount:great-namespace:other"/,
  );
  const ns = explainRole(role, 'ns-other', { sub: 'system:serviceaccount:team-b:great-serviceaccount' });
  assert.equal(ns.code, 3, ns.err);
  assert.match(
    ns.out,
    /fix: run the pod as great-namespace\/great-serviceaccount \(the ServiceAccount the role trusts\)/,
  );
});

test('--role: bad input is one line, exit 2', () => {
  const noArn = roleFile('no-arn.json', { Role: { ...getRole().Role, Arn: undefined } });
  const cases: Array<[string[], RegExp]> = [
    [
      ['--role', noArn, '--token', tok('b1')],
      /^openirsa: --role .*no-arn\.json: \$\.Role\.Arn: missing: the account comes from the role ARN/,
    ],
    [
      ['--role', noArn, '--config', cfg, '--token', tok('b2')],
      /^openirsa: give --config or --role, not both$/,
    ],
    [
      ['--config', cfg, '--role-arn', ROLE_ARN, '--issuer', ISSUER, '--token', tok('b3')],
      /^openirsa: --issuer goes with --role/,
    ],
    [
      ['--role', roleFile('list.json', { Roles: [] }), '--token', tok('b4')],
      /not a role: give the output of `aws iam get-role/,
    ],
    [
      ['--role', join(dir, 'missing.json'), '--token', tok('b5')],
      /^openirsa: cannot read --role .*missing\.json: no such file or directory$/,
    ],
    [
      [
        '--role',
        roleFile('gr2.json', getRole()),
        '--role-arn',
        'arn:aws:iam::111122223333:role/other',
        '--token',
        tok('b6'),
      ],
      /is not the Arn of --role/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = explain(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}${r.err}`);
    assert.match(r.err.trim(), re);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
  const bad = join(dir, 'broken.json');
  writeFileSync(bad, '{\n  "Role": {\n    "Arn": \n  }\n}\n');
  const syntax = explain('--role', bad, '--token', tok('b7'));
  assert.equal(syntax.code, 2);
  assert.equal(syntax.err, `openirsa: --role ${bad}:4:3: not valid JSON: Unexpected token '}'\n`);
});

test('a Federated principal written with https://: the fix drops it from the principal, keys unchanged', () => {
  const doc = JSON.parse(JSON.stringify(TRUST_POLICY).replace(':oidc-provider/', ':oidc-provider/https://'));
  const r = explainRole(roleFile('https.json', getRole(doc)), 'https');
  assert.equal(r.code, 3, r.err);
  assert.match(
    r.out,
    /fix: drop "https:\/\/" from the principal: "Federated": "arn:aws:iam::111122223333:oidc-provider\/issuer\.example\.com\/id\/TEST1" \(the condition keys "issuer\.example\.com\/id\/TEST1:…" stay as they are\)/,
  );
});

test('--role --json prints one JSON document', () => {
  const r = explainRole(roleFile('json.json', getRole()), 'json', {}, '--json');
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).allowed, true);
});
