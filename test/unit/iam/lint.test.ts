// `openirsa lint`: every fixture of test/fixtures/lint/ gives exactly the findings listed in expected.json;
// every rule has a fixture; exit statuses; JSON and SARIF output; sts-config parsing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../../src/cli/lint.js';
import { CliError } from '../../../src/cli/errors.js';
import { IamError, LINT_RULES, lintTrustPolicy } from '../../../src/iam/index.js';
import { rolesFromConfig } from '../../../src/sts/lint-input.js';

const DIR = join('test', 'fixtures', 'lint');
const expected = (
  JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { expected: Record<string, string[][]> }
).expected;
const fixtures = readdirSync(DIR)
  .filter((f) => f !== 'expected.json')
  .sort();

/** Run the CLI in-process; returns exit status and stdout. */
async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    const code = await run(argv);
    return { code, out: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

interface JsonFinding {
  ruleId: string;
  severity: string;
  path: string;
  message: string;
  why: string;
  fix: string;
  file: string;
  line?: number;
}

describe('lint fixtures', () => {
  it('every fixture has an expectation and every expectation a fixture', () => {
    assert.deepEqual(fixtures, Object.keys(expected).sort());
  });
  it('every rule is exercised by a fixture', () => {
    const seen = new Set(Object.values(expected).flatMap((fs) => fs.map((f) => f[0])));
    for (const id of Object.keys(LINT_RULES)) assert.ok(seen.has(id), `no fixture for ${id}`);
  });
  for (const file of fixtures) {
    it(file, async () => {
      const { code, out } = await cli(['--format', 'json', join(DIR, file)]);
      const { findings, summary } = JSON.parse(out) as {
        findings: JsonFinding[];
        summary: { errors: number };
      };
      const got = findings.map((f) => [f.ruleId, f.severity, f.path]).sort();
      assert.deepEqual(got, [...expected[file]!].sort());
      assert.equal(code, summary.errors > 0 ? 1 : 0);
      assert.equal(code, expected[file]!.some((f) => f[1] === 'error') ? 1 : 0);
      for (const f of findings) {
        assert.ok(f.message && f.why && f.fix, 'message, why and fix');
        assert.equal(f.why, LINT_RULES[f.ruleId]!.why);
        assert.ok(typeof f.line === 'number' && f.line > 1, `a source line for ${f.path}`);
      }
      if (file.startsWith('clean-')) assert.equal(findings.length, 0);
    });
  }
});

describe('lint CLI', () => {
  it('text output names file:line, severity, rule, path, why and fix', async () => {
    const { code, out } = await cli([join(DIR, 'missing-sub.json')]);
    assert.equal(code, 1);
    assert.match(out, /missing-sub\.json:10:\d+: error \[missing-sub\] at \$\.Statement\[0\]\.Condition/);
    assert.match(out, /why: Without a condition on <issuer>:sub/);
    assert.match(out, /fix: add "StringEquals"/);
    assert.match(out, /1 error\(s\), 1 warning\(s\)|1 error\(s\), 0 warning\(s\)/);
  });
  it('warnings only: exit 0; clean: exit 0 and says so', async () => {
    assert.equal((await cli([join(DIR, 'missing-aud.json')])).code, 0);
    const clean = await cli([join(DIR, 'clean-eks-exact.json'), join(DIR, 'clean-github-actions.json')]);
    assert.equal(clean.code, 0);
    assert.match(clean.out, /no findings in 2 file\(s\)/);
  });
  it('--config lints every role and names it', async () => {
    const { code, out } = await cli(['--config', join(DIR, 'sts-config.yaml'), '--format', 'json']);
    assert.equal(code, 1);
    const roles = (JSON.parse(out) as { findings: Array<{ role: string }> }).findings.map((f) => f.role);
    assert.deepEqual(roles.sort(), ['no-aud', 'too-open']);
  });
  it('SARIF 2.1.0 shape', async () => {
    const { code, out } = await cli([
      '--format=sarif',
      join(DIR, 'stringequals-wildcard.json'),
      join(DIR, 'missing-aud.json'),
    ]);
    assert.equal(code, 1);
    const sarif = JSON.parse(out);
    assert.equal(sarif.version, '2.1.0');
    assert.match(sarif.$schema, /sarif-2\.1\.0/);
    assert.equal(sarif.runs.length, 1);
    const driver = sarif.runs[0].tool.driver;
    assert.equal(driver.name, 'openirsa');
    assert.deepEqual(
      driver.rules.map((r: { id: string }) => r.id),
      Object.keys(LINT_RULES),
    );
    for (const r of driver.rules) {
      assert.ok(r.shortDescription.text && r.fullDescription.text);
      assert.ok(['error', 'warning', 'note'].includes(r.defaultConfiguration.level));
    }
    const results = sarif.runs[0].results;
    assert.deepEqual(
      results.map((r: { ruleId: string; level: string }) => [r.ruleId, r.level]),
      [
        ['stringequals-wildcard', 'error'],
        ['missing-aud', 'warning'],
      ],
    );
    for (const r of results) {
      assert.equal(driver.rules[r.ruleIndex].id, r.ruleId);
      assert.ok(r.message.text.includes('Fix:'));
      const loc = r.locations[0];
      assert.match(loc.physicalLocation.artifactLocation.uri, /^test\/fixtures\/lint\/.+\.json$/);
      assert.ok(loc.physicalLocation.region.startLine > 1 && loc.physicalLocation.region.startColumn >= 1);
      assert.match(loc.logicalLocations[0].fullyQualifiedName, /^\$\.Statement/);
    }
  });
  it('bad input exits 2 with a one-line message', async () => {
    const bad: Array<[string[], RegExp]> = [
      [[], /no input/],
      [['--format', 'xml', 'x.json'], /--format must be/],
      [['--bogus'], /unknown flag/],
      [['--max-size', 'big', 'x'], /--max-size/],
      [[join(DIR, 'nope.json')], /cannot read .*nope\.json: no such file or directory/],
      [['--config', join(DIR, 'missing-sub.json')], /no "roles" array/],
      [[join(DIR, 'expected.json')], /neither a policy document/],
    ];
    for (const [argv, re] of bad) {
      await assert.rejects(
        cli(argv),
        (e: unknown) =>
          e instanceof CliError && e.exitCode === 2 && re.test(e.message) && !e.message.includes('\n'),
      );
    }
  });
  it('--help', async () => {
    const { code, out } = await cli(['--help']);
    assert.equal(code, 0);
    assert.match(out, /--format FORMAT/);
  });
});

describe('lint library', () => {
  it('accepts JSON text and reports unparsable text as invalid-policy', () => {
    assert.deepEqual(
      lintTrustPolicy('{"Version":').map((f) => f.ruleId),
      ['invalid-policy'],
    );
    const doc = readFileSync(join(DIR, 'missing-sub.json'), 'utf8');
    assert.deepEqual(
      lintTrustPolicy(doc).map((f) => f.ruleId),
      ['missing-sub'],
    );
    assert.deepEqual(
      lintTrustPolicy(encodeURIComponent(doc)).map((f) => f.ruleId),
      ['missing-sub'],
    );
  });
  it('size quota is configurable', () => {
    const doc = JSON.parse(readFileSync(join(DIR, 'clean-eks-exact.json'), 'utf8'));
    assert.deepEqual(
      lintTrustPolicy(doc, { maxSize: 100 }).map((f) => [f.ruleId, f.message]),
      [['invalid-policy', 'LimitExceeded: Cannot exceed quota for ACLSizePerRole: 100']],
    );
  });
  it('rolesFromConfig: shapes and errors', () => {
    assert.equal(rolesFromConfig({ roles: [] }).length, 0);
    assert.deepEqual(rolesFromConfig({ Roles: [{ RoleName: 'a', AssumeRolePolicyDocument: '{}' }] }), [
      { roleName: 'a', document: '{}', path: '$.Roles[0].AssumeRolePolicyDocument' },
    ]);
    const errs: Array<[unknown, RegExp, string]> = [
      [[], /must be an object/, '$'],
      [{ roles: [5] }, /a role must be an object/, '$.roles[0]'],
      [{ roles: [{ AssumeRolePolicyDocument: {} }] }, /needs a RoleName/, '$.roles[0].RoleName'],
      [
        { roles: [{ RoleName: 'x' }] },
        /needs an AssumeRolePolicyDocument/,
        '$.roles[0].AssumeRolePolicyDocument',
      ],
    ];
    for (const [cfg, re, path] of errs) {
      assert.throws(
        () => rolesFromConfig(cfg),
        (e: unknown) =>
          e instanceof IamError && e.code === 'InvalidInput' && re.test(e.message) && e.path === path,
      );
    }
  });
  it('StringEquals wildcard in a Deny is an error too: the Deny then refuses the intended ServiceAccounts', () => {
    const ID = 'oidc.example.com';
    const doc = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'sts:*',
          Condition: { StringNotEquals: { [`${ID}:sub`]: 'system:serviceaccount:ns:*' } },
        },
      ],
    };
    const f = lintTrustPolicy(doc).find((x) => x.ruleId === 'stringequals-wildcard')!;
    assert.equal(f.severity, 'error');
    assert.match(f.fix, /StringNotLike/);
  });
  it('sub wildcard: namespace-scoped is fine; several namespaces, all of them, or no name at all is an error', () => {
    const ID = 'oidc.example.com';
    const mk = (v: string): unknown => ({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${ID}` },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringLike: { [`${ID}:sub`]: v },
            StringEquals: { [`${ID}:aud`]: 'sts.amazonaws.com' },
          },
        },
      ],
    });
    const sev = (v: string): string[] => lintTrustPolicy(mk(v)).map((f) => `${f.ruleId}/${f.severity}`);
    assert.deepEqual(sev('system:serviceaccount:ns:*'), []);
    assert.deepEqual(sev('system:serviceaccount:ns:app-?'), []);
    assert.deepEqual(sev('*'), ['sub-wildcard-too-wide/error']);
    assert.deepEqual(sev('system:*'), ['sub-wildcard-too-wide/error']);
    assert.deepEqual(sev('system:serviceaccount:*:app'), ['sub-wildcard-too-wide/error']);
    assert.deepEqual(sev('system:serviceaccount:ns-*:app'), ['sub-wildcard-too-wide/error']);
    assert.deepEqual(sev('system:serviceaccount:ns'), ['sub-wildcard-too-wide/error']);
    // A group is never a token's sub: it can never match the intended ServiceAccount.
    assert.deepEqual(sev('system:serviceaccounts:ns'), ['malformed-sub/error']);
    assert.deepEqual(sev('system:serviceaccount:ns/app'), ['malformed-sub/error']);
  });
});

describe('every finding carries a concrete fix', () => {
  const P = 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/cluster-a';
  const ok = {
    Effect: 'Allow',
    Principal: { Federated: P },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: {
      StringEquals: {
        'oidc.example.com/cluster-a:sub': 'system:serviceaccount:ns:app',
        'oidc.example.com/cluster-a:aud': 'sts.amazonaws.com',
      },
    },
  };
  const doc = (st: Record<string, unknown>, top: Record<string, unknown> = {}): unknown => ({
    Version: '2012-10-17',
    Statement: [Object.fromEntries(Object.entries(st).filter(([, v]) => v !== undefined))],
    ...top,
  });
  // One document per way IAM rejects a trust policy (and the fix the user should see for it).
  const cases: Array<[string, unknown, RegExp]> = [
    ['Resource', doc({ ...ok, Resource: '*' }), /^remove "Resource" from the statement/],
    ['NotResource', doc({ ...ok, NotResource: '*' }), /^remove "NotResource"/],
    [
      'NotPrincipal',
      doc({ ...ok, Principal: undefined, NotPrincipal: { AWS: '*' } }),
      /replace "NotPrincipal"/,
    ],
    ['no Principal', doc({ ...ok, Principal: undefined }), /^add "Principal": \{"Federated"/],
    ['no Action', doc({ ...ok, Action: undefined }), /^add "Action": "sts:AssumeRoleWithWebIdentity"/],
    ['action without vendor', doc({ ...ok, Action: 'AssumeRoleWithWebIdentity' }), /service:Action/],
    [
      'host/path as Federated',
      doc({ ...ok, Principal: { Federated: 'oidc.example.com/cluster-a' } }),
      /"Federated": "arn:aws:iam::<account>:oidc-provider\/oidc\.example\.com\/cluster-a"/,
    ],
    [
      'URL as Federated',
      doc({ ...ok, Principal: { Federated: 'https://oidc.example.com/cluster-a' } }),
      /oidc-provider\/oidc\.example\.com\/cluster-a"/,
    ],
    ['provider under AWS', doc({ ...ok, Principal: { AWS: P } }), /Federated/],
    ['unknown principal type', doc({ ...ok, Principal: { Oidc: P } }), /use "Federated"/],
    [
      'bad operator',
      doc({ ...ok, Condition: { StringEqual: { 'oidc.example.com/cluster-a:sub': 'x' } } }),
      /StringEquals/,
    ],
    [
      'duplicate Sid',
      {
        Version: '2012-10-17',
        Statement: [
          { ...ok, Sid: 'a' },
          { ...ok, Sid: 'a' },
        ],
      },
      /Sid/,
    ],
    ['Effect case', doc({ ...ok, Effect: 'allow' }), /"Allow"/],
    ['unknown element', doc({ ...ok, Actions: 'x' }), /^remove "Actions"/],
    ['unknown top-level', doc(ok, { Statements: [] }), /^remove "Statements"/],
    ['Version', doc(ok, { Version: '2012-10-18' }), /"Version": "2012-10-17"/],
    ['no Statement', { Version: '2012-10-17' }, /"Statement": \[/],
    ['empty Statement', { Version: '2012-10-17', Statement: [] }, /"Statement": \[/],
    ['statement not an object', { Version: '2012-10-17', Statement: [5] }, /make the statement an object/],
    ['no Effect', doc({ ...ok, Effect: undefined }), /"Effect": "Allow"/],
    ['Action and NotAction', doc({ ...ok, NotAction: 'iam:*' }), /remove "NotAction"/],
    ['Principal string', doc({ ...ok, Principal: 'oidc' }), /"Principal": \{"Federated"/],
    ['Principal empty', doc({ ...ok, Principal: {} }), /"Principal": \{"Federated"/],
    ['Action number', doc({ ...ok, Action: 5 }), /string or an array of strings/],
    ['Condition not an object', doc({ ...ok, Condition: 'x' }), /"Condition": \{"StringEquals"/],
    [
      'condition key without issuer',
      doc({ ...ok, Condition: { StringEquals: { sub: 'x' } } }),
      /<issuer host\/path>:sub/,
    ],
    [
      'Null value',
      doc({ ...ok, Condition: { Null: { 'oidc.example.com/cluster-a:sub': 'yes' } } }),
      /"true" or "false"/,
    ],
    ['not an object', '[1]', /one JSON object/],
    ['size', doc({ ...ok, Sid: 'x'.repeat(3000) }), /at most 2048 characters/],
  ];
  for (const [name, input, fix] of cases) {
    it(`invalid-policy: ${name}`, () => {
      const found = lintTrustPolicy(input).filter((f) => f.ruleId === 'invalid-policy');
      assert.ok(found.length > 0, `IAM rejects it: ${JSON.stringify(lintTrustPolicy(input))}`);
      assert.ok(
        found.some((f) => fix.test(f.fix)),
        found.map((f) => `${f.message} → ${f.fix}`).join('\n'),
      );
      for (const f of found) assert.doesNotMatch(f.fix, /fix the document|as the message says/, f.message);
    });
  }
  it('no fix of any fixture is generic', () => {
    for (const file of fixtures.filter((f) => f.endsWith('.json') && f !== 'expected.json')) {
      for (const f of lintTrustPolicy(readFileSync(join(DIR, file), 'utf8')))
        assert.doesNotMatch(f.fix, /fix the document|as the message says/, `${file}: ${f.message}`);
    }
  });
});
