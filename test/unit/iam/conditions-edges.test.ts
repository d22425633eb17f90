// Edges of the condition operators that mutation testing showed no test held (issue 10): what each value parser
// refuses (a value that is not a number, date, address, CIDR, base64 text or ARN never matches), the operator table,
// when a pair is undetermined (and so a Deny still applies), and the reason `explain` prints for each pair.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_OPERATORS,
  cidrContains,
  evaluatePolicy,
  parseDate,
  parseOperator,
  type ConditionResult,
  type ConditionValue,
} from '../../../src/iam/index.js';

const KEY = 'test:Key';
const M = undefined; // missing key

const doc = (effect: 'Allow' | 'Deny', operator: string, values: unknown) => ({
  Version: '2012-10-17',
  Statement: [
    ...(effect === 'Deny' ? [{ Effect: 'Allow', Action: '*', Resource: '*' }] : []),
    { Effect: effect, Action: 's3:GetObject', Resource: '*', Condition: { [operator]: { [KEY]: values } } },
  ],
});

const keys = (request: ConditionValue | undefined, extra: Record<string, ConditionValue>) =>
  request === undefined ? { ...extra } : { ...extra, [KEY]: request };

/** The one operator/key pair of an Allow statement, as `explain` shows it. */
function pair(
  operator: string,
  values: unknown,
  request: ConditionValue | undefined,
  extra: Record<string, ConditionValue> = {},
): ConditionResult {
  const r = evaluatePolicy(doc('Allow', operator, values), {
    action: 's3:GetObject',
    conditionKeys: keys(request, extra),
  });
  return r.statements[0]!.elements.find((e) => e.element === 'Condition')!.conditions![0]!;
}

/** match / no match / undetermined, each also checked through a Deny (an undetermined pair never stops a Deny). */
function verdict(
  operator: string,
  values: unknown,
  request: ConditionValue | undefined,
  extra: Record<string, ConditionValue> = {},
): 'match' | 'no match' | 'undetermined' {
  const c = pair(operator, values, request, extra);
  const allow = evaluatePolicy(doc('Allow', operator, values), {
    action: 's3:GetObject',
    conditionKeys: keys(request, extra),
  }).decision;
  const deny = evaluatePolicy(doc('Deny', operator, values), {
    action: 's3:GetObject',
    conditionKeys: keys(request, extra),
  }).decision;
  const v = c.matched ? 'match' : c.undetermined ? 'undetermined' : 'no match';
  assert.equal(allow, v === 'match' ? 'Allow' : 'ImplicitDeny', `${operator}: Allow statement`);
  assert.equal(deny, v === 'no match' ? 'Allow' : 'ExplicitDeny', `${operator}: Deny statement`);
  return v;
}

type Row = [operator: string, policy: unknown, request: ConditionValue, expected: boolean, note: string];

function table(rows: Row[]): void {
  for (const [operator, policy, request, expected, note] of rows)
    it(`${operator} ${JSON.stringify(policy)} vs ${JSON.stringify(request)} → ${expected} (${note})`, () => {
      assert.equal(verdict(operator, policy, request), expected ? 'match' : 'no match');
    });
}

describe('Numeric values', () => {
  table([
    ['NumericEquals', '0.25', '.25', true, 'no digit before the point'],
    ['NumericEquals', '1000', '1e3', true, 'exponent'],
    ['NumericEquals', '1000', '1E+3', true, 'exponent with a sign'],
    ['NumericEquals', '0.001', '1e-3', true, 'negative exponent'],
    ['NumericEquals', '10000000000', '1e10', true, 'exponent of two digits'],
    ['NumericEquals', '10', '+10', true, 'explicit plus sign'],
    ['NumericEquals', '10', '1e1', true, 'a number that is not a date'],
    ['NumericNotEquals', '10', '1e1', false, 'the same number'],
    ['NumericEquals', '10', ' 10 ', true, 'surrounding spaces are ignored'],
    ['NumericEquals', '16', '0x10', false, 'hexadecimal is not a number here'],
    ['NumericEquals', '0', '', false, 'the empty string is not 0'],
    ['NumericEquals', '1', '0b1', false, 'binary literal'],
    ['NumericEquals', '10', '10x', false, 'trailing garbage'],
    ['NumericEquals', '10', '1e', false, 'exponent without digits'],
    ['NumericEquals', 'ten', 'ten', false, 'two values that are not numbers are not equal'],
    ['NumericEquals', 'Infinity', 'Infinity', false, 'not a finite number'],
    ['NumericLessThan', '10', '+5', true, 'less, with a sign'],
    ['NumericLessThan', '10', '5e0', true, 'less, with an exponent'],
    ['NumericLessThan', 'ten', 'five', false, 'not numbers'],
    ['NumericGreaterThanEquals', '10', '11', true, 'strictly greater'],
    ['NumericGreaterThanEquals', '10', '1e2', true, 'greater, with an exponent'],
  ]);
});

describe('Date values', () => {
  const D = '2026-01-01T00:00:00Z';
  table([
    ['DateEquals', D, '2026-01-01T02:00:00+02', true, 'zone with hours only'],
    ['DateEquals', D, '2025-12-31T22:30:00-01:30', true, 'negative zone with minutes'],
    ['DateEquals', D, '2026-01-01T00:00:00z', true, 'lower-case z'],
    ['DateEquals', '2026-01-01T00:00:00.250Z', '1767225600.25', true, 'epoch seconds with a fraction'],
    ['DateEquals', D, ' 2026-01-01T00:00:00Z ', true, 'surrounding spaces are ignored'],
    ['DateEquals', D, 'x2026-01-01T00:00:00Z', false, 'leading garbage'],
    ['DateEquals', D, '2026-01-01T00:00:00Zjunk', false, 'trailing garbage'],
    ['DateEquals', D, '2026-01-01T02:00:00+02:', false, 'zone colon without minutes'],
    ['DateEquals', D, '1767225600.', false, 'epoch with a bare point'],
    ['DateEquals', 'soon', 'soon', false, 'two values that are not dates are not equal'],
    ['DateGreaterThanEquals', D, '2026-06-01T00:00:00Z', true, 'strictly later'],
    ['DateLessThan', D, '1767225599', true, 'epoch seconds, one second before'],
  ]);
});

describe("a date without a zone is UTC, whatever the machine's zone", () => {
  it('under a zone ahead of UTC', () => {
    const saved = process.env.TZ;
    process.env.TZ = 'Asia/Kolkata';
    try {
      assert.equal(parseDate('2026-01-01T00:00:00'), Date.UTC(2026, 0, 1));
      assert.equal(parseDate('2026-01-01'), Date.UTC(2026, 0, 1));
      assert.equal(verdict('DateEquals', '2026-01-01', '2026-01-01T00:00:00Z'), 'match');
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});

describe('IP addresses and CIDRs', () => {
  const any4 = '0.0.0.0/0';
  table([
    ['IpAddress', any4, '1.2.3', false, 'three octets is not an address'],
    ['IpAddress', any4, '1.2.3.4.5', false, 'five octets'],
    ['IpAddress', any4, '1.2.3.256', false, 'octet above 255'],
    ['IpAddress', any4, '1.2.3.4x', false, 'trailing garbage in an octet'],
    ['IpAddress', any4, '1.2.3.-4', false, 'negative octet'],
    ['IpAddress', '10.0.0.0/8', ' 10.1.2.3 ', true, 'surrounding spaces are ignored'],
    ['IpAddress', ' 10.0.0.0/8 ', '10.1.2.3', true, 'in the policy too'],
    ['IpAddress', '10.0.0.0/', '1.2.3.4', false, 'an empty prefix length is not /0'],
    ['IpAddress', '10.0.0.0/8x', '10.1.2.3', false, 'prefix length with garbage'],
    ['IpAddress', '10.0.0.0/x8', '10.1.2.3', false, 'prefix length with leading garbage'],
    ['IpAddress', '10.0.0.0/+8', '10.1.2.3', false, 'signed prefix length'],
    ['IpAddress', '10.0.0.0/1234', '10.1.2.3', false, 'prefix length of four digits'],
    ['IpAddress', '1.2.3/8', '1.2.3.4', false, 'a CIDR of three octets'],
    ['IpAddress', '::/0', '::ffff:1.2.3.999', false, 'IPv4 tail with an octet above 255'],
    ['IpAddress', '0.0.0.0/0', '::ffff:1.2.3.999', false, 'nor as a mapped IPv4 address'],
    ['IpAddress', '0.0.0.0/0', '::ffff:1.2.3.4', true, 'a mapped IPv4 address is the IPv4 address'],
    ['IpAddress', '::/0', '1::2::3', false, 'two "::"'],
    ['IpAddress', '::/0', '1:2:3:4:5:6:7', false, 'seven groups without "::"'],
    ['IpAddress', '::/0', '1:2:3:4:5:6:7:8:9', false, 'nine groups'],
    ['IpAddress', '::/0', '1:2:3:4::5:6:7:8', false, '"::" must stand for at least one group'],
    ['IpAddress', '::/0', '1::12345', false, 'group of five digits'],
    ['IpAddress', '::/0', '1::x123', false, 'group with a non-hex character'],
    ['IpAddress', '::/0', '1::zz', false, 'group of non-hex characters'],
    ['IpAddress', '::/0', '1:::2', false, 'empty group'],
    ['IpAddress', '::/0', 'fe80::1%eth0', false, 'zone id'],
    ['IpAddress', '::/0', '1.2::3', false, 'a dot outside the last part'],
    ['IpAddress', '::/0', '::1.2.3.4:5', false, 'an IPv4 part before the last group'],
    ['IpAddress', '::/0', '1:2:3:4:5:6:1.2.3.4', true, 'six groups and an IPv4 tail'],
    ['IpAddress', '::/0', '1:2:3:4:5:6:7:1.2.3.4', false, 'seven groups and an IPv4 tail'],
    ['IpAddress', '2001:db8::/32', '2001:DB8::1', true, 'upper-case hex'],
  ]);
  it('the address family of the range decides the width of the prefix', () => {
    assert.equal(cidrContains('10.0.0.0/8', '10.255.255.255'), true);
    assert.equal(cidrContains('2001:db8::/127', '2001:db8::1'), true);
    assert.equal(cidrContains('2001:db8::/127', '2001:db8::2'), false);
    assert.equal(cidrContains('2001:db8::/129', '2001:db8::'), false);
  });
});

describe('Binary values', () => {
  table([
    ['BinaryEquals', 'QmluYXJ5', 'QmluYXJ5!!!!', false, 'characters outside base64'],
    ['BinaryEquals', 'QmluYXJ5', '!QmluYXJ5', false, 'leading character outside base64'],
    ['BinaryEquals', 'QmluYXJ5', 'QmluYXJ5Q', false, 'a length of 4n+1 is not base64'],
    ['BinaryEquals', 'QmluYXJ5', 'QmluYXJ5===', false, 'three padding characters'],
    ['BinaryEquals', 'QQ==', 'QQ', true, 'the same bytes, padded or not'],
    ['BinaryEquals', 'QmluYXJ5', ' QmluYXJ5 ', true, 'surrounding spaces are ignored'],
    ['BinaryEquals', '!!!!', '!!!!', false, 'two values that are not base64 are not equal'],
  ]);
});

describe('ARN values', () => {
  table([
    ['ArnLike', 'arn:aws:s3:::b/a:y', 'arn:aws:s3:::b/a:y', true, 'a colon in the resource, exact'],
    ['ArnLike', 'arn:aws:s3:::b/a:y', 'arn:aws:s3:::b/ay', false, 'the colon is not dropped'],
    ['ArnLike', 'arn:aws:s3:::b/a:y:z', 'arn:aws:s3:::b/a:y:z', true, 'several colons in the resource'],
    ['ArnLike', 'arn:aws:s3:::b/a::z', 'arn:aws:s3:::b/a::z', true, 'an empty piece between colons'],
    ['ArnLike', 'arn:aws:iam::1:*', 'arn:aws:iam::1', false, 'five parts are not an ARN'],
    ['ArnLike', 'a*:aws:iam::1:role/r', 'abc:aws:iam::1:role/r', false, 'an ARN starts with "arn"'],
    ['ArnLike', '*:*:*:*:*:*', 'x:a:b:c:d:e', false, 'not even under wildcards'],
    ['ArnLike', 'arn:aws:iam', 'arn:aws:iam::1:role/r', false, 'a pattern of three parts is no prefix'],
    ['ArnLike', '*', 'anything', true, 'a pattern without colons is compared whole'],
  ]);
  it('a colon substituted from a policy variable does not start a new part', () => {
    const extra = { 'aws:username': 'x:y' };
    assert.equal(verdict('ArnLike', 'arn:aws:s3:::${aws:username}', 'arn:aws:s3:::x:y', extra), 'match');
    assert.equal(
      verdict('ArnLike', 'arn:aws:iam::${aws:username}:r', 'arn:aws:iam::x:y:r', extra),
      'no match',
    );
  });
});

describe('variables in every String operator', () => {
  const sess = { 'aws:username': 'alice' };
  it('StringEqualsIgnoreCase and StringNotLike substitute variables too', () => {
    assert.equal(verdict('StringEqualsIgnoreCase', '${aws:username}', 'ALICE', sess), 'match');
    assert.equal(verdict('StringNotEqualsIgnoreCase', '${aws:username}', 'ALICE', sess), 'no match');
    assert.equal(verdict('StringNotLike', '${aws:username}-*', 'alice-1', sess), 'no match');
    assert.equal(verdict('StringNotLike', '${aws:username}-*', 'bob-1', sess), 'match');
    assert.equal(
      verdict('ArnNotEquals', 'arn:aws:iam::1:user/${aws:username}', 'arn:aws:iam::1:user/alice', sess),
      'no match',
    );
  });
});

describe('Null', () => {
  it('its values are OR-ed like every operator', () => {
    assert.equal(verdict('Null', ['true', 'false'], undefined), 'match');
    assert.equal(verdict('Null', ['true', 'false'], 'x'), 'match');
  });
});

describe('undetermined pairs: never grant, and a Deny still applies', () => {
  it('an operator without a set qualifier over a list', () => {
    assert.equal(verdict('StringEquals', 'abc', ['x', 'abc']), 'undetermined');
    assert.equal(verdict('StringEquals', 'abc', ['x', 'y']), 'no match');
    assert.equal(verdict('StringNotEquals', 'abc', ['x', 'y']), 'undetermined');
    assert.equal(verdict('StringNotEquals', 'abc', ['x', 'abc']), 'no match');
    assert.equal(verdict('ForAnyValue:StringNotEquals', 'abc', ['x', 'abc']), 'match');
    assert.equal(verdict('ForAllValues:StringEquals', 'abc', ['abc', 'abc']), 'match');
  });
  it('an unresolved variable, only where the outcome depends on it', () => {
    assert.equal(verdict('StringEquals', '${aws:username}', 'alice'), 'undetermined');
    assert.equal(verdict('StringEquals', ['${aws:username}', 'alice'], 'alice'), 'match');
    assert.equal(verdict('StringNotEquals', '${aws:username}', 'alice'), 'undetermined');
    assert.equal(verdict('StringNotEquals', ['${aws:username}', 'alice'], 'alice'), 'no match');
  });
  it('a definite mismatch is not undetermined', () => {
    assert.equal(verdict('StringEquals', 'abc', 'abd'), 'no match');
    assert.equal(verdict('StringNotEquals', 'abc', 'abc'), 'no match');
  });
});

describe('the operator table', () => {
  const families: Record<string, string> = {
    String:
      'StringEquals StringNotEquals StringEqualsIgnoreCase StringNotEqualsIgnoreCase StringLike StringNotLike',
    Numeric:
      'NumericEquals NumericNotEquals NumericLessThan NumericLessThanEquals NumericGreaterThan NumericGreaterThanEquals',
    Date: 'DateEquals DateNotEquals DateLessThan DateLessThanEquals DateGreaterThan DateGreaterThanEquals',
    Bool: 'Bool',
    Binary: 'BinaryEquals',
    Ip: 'IpAddress NotIpAddress',
    Arn: 'ArnEquals ArnLike ArnNotEquals ArnNotLike',
    Null: 'Null',
  };
  const negated = new Set(
    'StringNotEquals StringNotEqualsIgnoreCase StringNotLike NumericNotEquals DateNotEquals NotIpAddress ArnNotEquals ArnNotLike'.split(
      ' ',
    ),
  );
  it('names each operator family and whether it is negated (lint reads both)', () => {
    const seen: string[] = [];
    for (const [family, names] of Object.entries(families))
      for (const base of names.split(' ')) {
        seen.push(base);
        assert.deepStrictEqual(
          parseOperator(base),
          { name: base, base, ifExists: false, negated: negated.has(base), family },
          base,
        );
      }
    assert.deepEqual([...BASE_OPERATORS].sort(), seen.sort());
  });
  it('a qualifier is set only when written', () => {
    assert.equal('qualifier' in parseOperator('StringEquals')!, false);
    assert.equal(parseOperator('ForAllValues:StringEquals')!.qualifier, 'ForAllValues');
  });
});

describe('the reason explain prints for each pair', () => {
  const absent = '"test:Key" is not in the request; ';
  const unresolved =
    'policy value "${aws:username}": ${aws:username} cannot be resolved: "aws:username" is not in the request';
  const unresolvedId =
    'policy value "${aws:userid}": ${aws:userid} cannot be resolved: "aws:userid" is not in the request';
  const user = { 'aws:username': 'al' };
  const rows: Array<[string, unknown, ConditionValue | undefined, Record<string, ConditionValue>, string]> = [
    // a missing key, for each rule that decides it
    ['ForAllValues:StringEquals', 'a', M, {}, `${absent}ForAllValues is true when the key is missing`],
    [
      'ForAnyValue:StringEquals',
      'a',
      M,
      {},
      `${absent}ForAnyValue is false when the key is missing or empty`,
    ],
    [
      'ForAnyValue:StringEqualsIfExists',
      'a',
      M,
      {},
      `${absent}ForAnyValue is false when the key is missing or empty, IfExists notwithstanding`,
    ],
    ['StringEqualsIfExists', 'a', M, {}, `${absent}IfExists is true when the key is missing`],
    ['StringNotEquals', 'a', M, {}, `${absent}a negated operator is true when the key is missing`],
    ['StringEquals', 'a', M, {}, `${absent}StringEquals needs the key`],
    // Null
    ['Null', 'true', M, {}, '"test:Key" is absent from the request; Null "true" matches'],
    ['Null', 'false', M, {}, '"test:Key" is absent from the request; Null "false" requires it to be present'],
    ['Null', 'false', 'x', {}, '"test:Key" is present ("x"); Null "false" matches'],
    [
      'Null',
      ['true'],
      ['x', 'y'],
      {},
      '"test:Key" is present (["x", "y"]); Null "true" requires it to be absent',
    ],
    // a comparison: its scope, the values shown, what was resolved
    ['StringEquals', 'a', 'a', {}, '"test:Key" = "a" satisfies StringEquals "a"'],
    ['StringEquals', ['a', 'b'], 'c', {}, '"test:Key" = "c" does not satisfy StringEquals ["a", "b"]'],
    [
      'ForAllValues:StringEquals',
      'a',
      ['a', 'a'],
      {},
      'every value of "test:Key" = ["a", "a"] satisfies ForAllValues:StringEquals "a"',
    ],
    [
      'ForAnyValue:StringEquals',
      'a',
      ['b'],
      {},
      'some value of "test:Key" = "b" does not satisfy ForAnyValue:StringEquals "a"',
    ],
    [
      'StringEquals',
      'u-${aws:username}',
      'u-al',
      user,
      '"test:Key" = "u-al" satisfies StringEquals "u-${aws:username}" (resolved: "u-al")',
    ],
    [
      'StringEquals',
      ['${aws:username}', 'x'],
      'x',
      {},
      `"test:Key" = "x" satisfies StringEquals ["\${aws:username}", "x"] (resolved: "x"; ${unresolved})`,
    ],
    [
      'StringEquals',
      ['u-${aws:username}', 'x'],
      'u-al',
      user,
      '"test:Key" = "u-al" satisfies StringEquals ["u-${aws:username}", "x"] (resolved: ["u-al", "x"])',
    ],
    [
      'StringEquals',
      ['${aws:username}', '${aws:userid}', 'x'],
      'x',
      {},
      `"test:Key" = "x" satisfies StringEquals ["\${aws:username}", "\${aws:userid}", "x"] (resolved: "x"; ${unresolved}; ${unresolvedId})`,
    ],
    // undetermined pairs say why
    [
      'StringEquals',
      ['${aws:username}', '${aws:userid}'],
      'y',
      {},
      `${unresolved}; ${unresolvedId}; the other values do not decide the condition, so it is undetermined`,
    ],
    [
      'StringEquals',
      ['${aws:username}', 'x'],
      'y',
      {},
      `${unresolved}; the other values do not decide the condition, so it is undetermined`,
    ],
    [
      'StringEquals',
      'a',
      ['a', 'b'],
      {},
      '"test:Key" = ["a", "b"] satisfies StringEquals "a"; but "test:Key" is a list and StringEquals has no set operator (AWS is reported to answer false), so it is undetermined',
    ],
  ];
  for (const [operator, values, request, extra, want] of rows)
    it(`${operator} ${JSON.stringify(values)} vs ${JSON.stringify(request)}`, () => {
      assert.equal(pair(operator, values, request, extra).reason, want);
    });
  it('a missing key has no request values', () => {
    assert.equal('requestValues' in pair('StringEquals', 'a', M), false);
  });
});
