// Table-driven tests of every condition operator: match / no match / missing key / multivalued request /
// IfExists, plus set qualifiers, Null, policy variables, and the value parsers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_OPERATORS,
  cidrContains,
  evaluatePolicy,
  parseCidr,
  parseDate,
  parseOperator,
  type ConditionValue,
} from '../../../src/iam/index.js';

const KEY = 'test:Key';

/** Does an Allow statement guarded by `{operator: {KEY: values}}` allow a request with `value` for KEY? */
function allows(
  operator: string,
  values: unknown,
  value: ConditionValue | undefined,
  extra: Record<string, ConditionValue> = {},
  version = '2012-10-17',
): boolean {
  const doc = {
    Version: version,
    Statement: [
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: '*',
        Condition: { [operator]: { [KEY]: values } },
      },
    ],
  };
  const conditionKeys: Record<string, ConditionValue> = { ...extra };
  if (value !== undefined) conditionKeys[KEY] = value;
  return evaluatePolicy(doc, { action: 's3:GetObject', conditionKeys }).decision === 'Allow';
}

type Row = [
  operator: string,
  policy: unknown,
  request: ConditionValue | undefined,
  expected: boolean,
  note: string,
];

const M = undefined; // missing key

const rows: Row[] = [
  // ---- String
  ['StringEquals', 'abc', 'abc', true, 'equal'],
  ['StringEquals', 'abc', 'ABC', false, 'case-sensitive'],
  ['StringEquals', ['x', 'abc'], 'abc', true, 'OR over policy values'],
  ['StringEquals', 'a*', 'abc', false, 'no wildcards'],
  ['StringEquals', 'a*', 'a*', true, 'literal star'],
  ['StringEquals', 'abc', M, false, 'missing'],
  [
    'StringEquals',
    'abc',
    ['x', 'abc'],
    false,
    'multivalued: any: a list without a set operator is undetermined',
  ],
  ['StringEquals', 'abc', [], false, 'empty list = missing'],
  ['StringEqualsIfExists', 'abc', M, true, 'IfExists missing'],
  ['StringEqualsIfExists', 'abc', 'abd', false, 'IfExists present no match'],
  ['StringEqualsIfExists', 'abc', 'abc', true, 'IfExists present match'],
  ['StringNotEquals', 'abc', 'abd', true, 'not equal'],
  ['StringNotEquals', 'abc', 'abc', false, 'equal'],
  ['StringNotEquals', ['a', 'b'], 'b', false, 'must match none of the values'],
  ['StringNotEquals', ['a', 'b'], 'c', true, 'matches none'],
  ['StringNotEquals', 'abc', M, true, 'negated: missing is true'],
  ['StringNotEquals', 'abc', ['x', 'abc'], false, 'multivalued: one value equal'],
  [
    'StringNotEquals',
    'abc',
    ['x', 'y'],
    false,
    'multivalued: none equal: a list without a set operator is undetermined',
  ],
  ['StringNotEqualsIfExists', 'abc', M, true, 'IfExists missing'],
  ['StringEqualsIgnoreCase', 'AbC', 'aBc', true, 'ignore case'],
  ['StringEqualsIgnoreCase', 'abc', 'abd', false, 'different'],
  ['StringEqualsIgnoreCase', 'abc', M, false, 'missing'],
  [
    'StringEqualsIgnoreCase',
    'abc',
    ['X', 'ABC'],
    false,
    'multivalued: a list without a set operator is undetermined',
  ],
  ['StringEqualsIgnoreCaseIfExists', 'abc', M, true, 'IfExists missing'],
  ['StringNotEqualsIgnoreCase', 'abc', 'ABC', false, 'equal ignoring case'],
  ['StringNotEqualsIgnoreCase', 'abc', 'abd', true, 'different'],
  ['StringNotEqualsIgnoreCase', 'abc', M, true, 'negated missing'],
  ['StringLike', 'system:serviceaccount:ns:*', 'system:serviceaccount:ns:app', true, 'star'],
  ['StringLike', 'system:serviceaccount:ns:*', 'system:serviceaccount:other:app', false, 'star no match'],
  ['StringLike', 'a?c', 'abc', true, 'question mark'],
  ['StringLike', 'a?c', 'ac', false, 'question mark needs one char'],
  ['StringLike', 'a*', 'a', true, 'star matches empty'],
  ['StringLike', '*', '', true, 'star matches empty string'],
  ['StringLike', 'A*', 'abc', false, 'case-sensitive'],
  ['StringLike', 'a*c*e', 'abcdxe', true, 'several stars'],
  ['StringLike', 'a*c*e', 'abcdx', false, 'several stars no match'],
  ['StringLike', 'abc', M, false, 'missing'],
  ['StringLike', 'x*', ['a', 'xy'], false, 'multivalued: a list without a set operator is undetermined'],
  ['StringLikeIfExists', 'x*', M, true, 'IfExists missing'],
  ['StringNotLike', 'x*', 'xy', false, 'matches pattern'],
  ['StringNotLike', 'x*', 'ay', true, 'does not match'],
  ['StringNotLike', ['x*', 'a*'], 'ay', false, 'matches one of several'],
  ['StringNotLike', 'x*', M, true, 'negated missing'],
  ['StringNotLike', 'x*', ['a', 'xy'], false, 'multivalued: one matches'],
  ['StringNotLikeIfExists', 'x*', M, true, 'IfExists missing'],
  // ---- Numeric
  ['NumericEquals', '10', '10', true, 'equal'],
  ['NumericEquals', '10', '10.0', true, 'numeric, not textual'],
  ['NumericEquals', 10, '10', true, 'JSON number in policy'],
  ['NumericEquals', '10', '11', false, 'different'],
  ['NumericEquals', '10', 'ten', false, 'not a number'],
  ['NumericEquals', '10', M, false, 'missing'],
  ['NumericEquals', '10', ['1', '10'], false, 'multivalued: a list without a set operator is undetermined'],
  ['NumericEqualsIfExists', '10', M, true, 'IfExists missing'],
  ['NumericNotEquals', '10', '11', true, 'different'],
  ['NumericNotEquals', '10', '10', false, 'equal'],
  ['NumericNotEquals', '10', M, true, 'negated missing'],
  ['NumericLessThan', '10', '9', true, 'less'],
  ['NumericLessThan', '10', '10', false, 'equal is not less'],
  ['NumericLessThan', '10', M, false, 'missing'],
  ['NumericLessThanEquals', '10', '10', true, 'equal'],
  ['NumericLessThanEquals', '10', '11', false, 'greater'],
  ['NumericGreaterThan', '10', '11', true, 'greater'],
  ['NumericGreaterThan', '10', '10', false, 'equal'],
  ['NumericGreaterThanEquals', '10', '10', true, 'equal'],
  ['NumericGreaterThanEquals', '10', '9.5', false, 'less'],
  ['NumericGreaterThanEqualsIfExists', '10', M, true, 'IfExists missing'],
  ['NumericLessThan', '-1.5', '-2', true, 'negative decimals'],
  // ---- Date
  ['DateEquals', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', true, 'equal'],
  ['DateEquals', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00+01:00', true, 'same instant, other zone'],
  ['DateEquals', '2026-01-01T00:00:00Z', '1767225600', true, 'epoch seconds'],
  ['DateEquals', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', false, 'different'],
  ['DateEquals', '2026-01-01T00:00:00Z', 'yesterday', false, 'not a date'],
  ['DateEquals', '2026-01-01T00:00:00Z', M, false, 'missing'],
  ['DateNotEquals', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', true, 'different'],
  ['DateNotEquals', '2026-01-01T00:00:00Z', M, true, 'negated missing'],
  ['DateLessThan', '2026-01-01T00:00:00Z', '2025-12-31T23:59:59Z', true, 'before'],
  ['DateLessThan', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', false, 'same is not before'],
  ['DateLessThanEquals', '2026-01-01', '2026-01-01T00:00:00Z', true, 'date only = midnight UTC'],
  ['DateGreaterThan', '2026-01-01T00:00:00Z', '2026-06-01T00:00:00Z', true, 'after'],
  ['DateGreaterThan', '1767225600', '2025-06-01T00:00:00Z', false, 'epoch policy value'],
  [
    'DateGreaterThanEquals',
    '2026-01-01T00:00:00Z',
    ['2020-01-01T00:00:00Z', '2027-01-01T00:00:00Z'],
    false,
    'multivalued: a list without a set operator is undetermined',
  ],
  ['DateLessThanIfExists', '2026-01-01T00:00:00Z', M, true, 'IfExists missing'],
  // ---- Bool
  ['Bool', 'true', 'true', true, 'true'],
  ['Bool', 'true', 'false', false, 'false'],
  ['Bool', true, 'true', true, 'JSON boolean'],
  ['Bool', 'true', 'TRUE', true, 'case-insensitive'],
  ['Bool', 'true', M, false, 'missing'],
  ['Bool', 'false', ['true', 'false'], false, 'multivalued: a list without a set operator is undetermined'],
  ['BoolIfExists', 'false', M, true, 'IfExists missing'],
  ['BoolIfExists', 'false', 'true', false, 'IfExists present'],
  // ---- Binary
  ['BinaryEquals', 'QmluYXJ5', 'QmluYXJ5', true, 'same bytes'],
  ['BinaryEquals', 'QmluYXJ5', 'QmluYXJ6', false, 'other bytes'],
  ['BinaryEquals', 'QmluYXJ5', M, false, 'missing'],
  ['BinaryEqualsIfExists', 'QmluYXJ5', M, true, 'IfExists missing'],
  // ---- IP
  ['IpAddress', '203.0.113.0/24', '203.0.113.7', true, 'in v4 range'],
  ['IpAddress', '203.0.113.0/24', '203.0.114.7', false, 'outside v4 range'],
  ['IpAddress', '203.0.113.7', '203.0.113.7', true, 'bare address = /32'],
  ['IpAddress', '0.0.0.0/0', '198.51.100.1', true, '/0'],
  ['IpAddress', '2001:db8::/32', '2001:db8:1::5', true, 'in v6 range'],
  ['IpAddress', '2001:db8::/32', '2001:db9::5', false, 'outside v6 range'],
  ['IpAddress', '203.0.113.0/24', '::ffff:203.0.113.9', true, 'IPv4-mapped v6'],
  ['IpAddress', '203.0.113.0/24', '2001:db8::1', false, 'family mismatch'],
  ['IpAddress', '203.0.113.0/24', 'not-an-ip', false, 'garbage'],
  ['IpAddress', '203.0.113.0/24', M, false, 'missing'],
  ['IpAddress', ['10.0.0.0/8', '203.0.113.0/24'], '10.1.2.3', true, 'OR over ranges'],
  ['IpAddressIfExists', '10.0.0.0/8', M, true, 'IfExists missing'],
  ['NotIpAddress', '10.0.0.0/8', '11.0.0.1', true, 'outside'],
  ['NotIpAddress', '10.0.0.0/8', '10.0.0.1', false, 'inside'],
  ['NotIpAddress', '10.0.0.0/8', M, true, 'negated missing'],
  ['NotIpAddress', '10.0.0.0/8', ['11.0.0.1', '10.0.0.1'], false, 'multivalued: one inside'],
  // ---- ARN
  ['ArnEquals', 'arn:aws:iam::111122223333:role/r', 'arn:aws:iam::111122223333:role/r', true, 'equal'],
  [
    'ArnEquals',
    'arn:aws:iam::*:role/r',
    'arn:aws:iam::111122223333:role/r',
    true,
    'ArnEquals takes wildcards too',
  ],
  [
    'ArnLike',
    'arn:aws:iam::111122223333:role/*',
    'arn:aws:iam::111122223333:role/a/b',
    true,
    'resource wildcard',
  ],
  [
    'ArnLike',
    'arn:aws:iam::*:role/r',
    'arn:aws:iam::111122223333:x:role/r',
    false,
    'star does not cross segments',
  ],
  ['ArnLike', 'arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket/a:b', true, 'resource keeps its colons'],
  [
    'ArnLike',
    'arn:aws:iam::111122223333:role/r',
    'arn:aws-cn:iam::111122223333:role/r',
    false,
    'partition differs',
  ],
  ['ArnLike', 'arn:aws:iam::111122223333:role/r', 'not-an-arn', false, 'not an ARN'],
  [
    'ArnLike',
    'arn:aws:iam::111122223333:role/r',
    'ARN:AWS:IAM::111122223333:ROLE/R',
    false,
    'case-sensitive',
  ],
  ['ArnLike', 'arn:aws:iam::*:role/r', M, false, 'missing'],
  [
    'ArnLike',
    'arn:aws:iam::*:role/r',
    ['arn:aws:iam::1:user/x', 'arn:aws:iam::1:role/r'],
    false,
    'multivalued: a list without a set operator is undetermined',
  ],
  ['ArnLikeIfExists', 'arn:aws:iam::*:role/r', M, true, 'IfExists missing'],
  ['ArnNotEquals', 'arn:aws:iam::111122223333:role/r', 'arn:aws:iam::111122223333:role/x', true, 'different'],
  ['ArnNotLike', 'arn:aws:iam::*:role/r', 'arn:aws:iam::111122223333:role/r', false, 'matches'],
  ['ArnNotLike', 'arn:aws:iam::*:role/r', M, true, 'negated missing'],
  // ---- Null
  ['Null', 'true', M, true, 'absent and asked absent'],
  ['Null', 'true', 'x', false, 'present and asked absent'],
  ['Null', 'false', 'x', true, 'present and asked present'],
  ['Null', 'false', M, false, 'absent and asked present'],
  ['Null', 'true', [], true, 'empty list counts as absent'],
  ['Null', true, M, true, 'JSON boolean'],
  // ---- set qualifiers
  ['ForAnyValue:StringEquals', ['a', 'b'], ['x', 'b'], true, 'one value matches'],
  ['ForAnyValue:StringEquals', ['a', 'b'], ['x', 'y'], false, 'none matches'],
  ['ForAnyValue:StringEquals', ['a'], M, false, 'missing is false'],
  ['ForAnyValue:StringEquals', ['a'], [], false, 'empty is false'],
  ['ForAnyValue:StringEquals', ['a'], 'a', true, 'single value'],
  // ForAnyValue over a missing key or an empty list is false, IfExists or not (AWS: "the condition returns false")
  ['ForAnyValue:StringEqualsIfExists', ['a'], M, false, 'IfExists does not rescue a missing key'],
  ['ForAnyValue:StringEqualsIfExists', ['a'], [], false, 'nor an empty list'],
  ['ForAnyValue:StringNotEqualsIfExists', ['a'], M, false, 'negated: still false'],
  ['ForAnyValue:StringEqualsIfExists', ['a'], ['x', 'a'], true, 'present: evaluated'],
  ['ForAllValues:StringEqualsIfExists', ['a'], M, true, 'ForAllValues over nothing stays true'],
  ['ForAnyValue:StringLike', ['sts.*'], ['x', 'sts.amazonaws.com'], true, 'like'],
  ['ForAnyValue:StringNotEquals', ['a'], ['a', 'b'], true, 'some value is not a'],
  ['ForAnyValue:StringNotEquals', ['a'], ['a'], false, 'every value is a'],
  ['ForAllValues:StringEquals', ['a', 'b'], ['a', 'b'], true, 'all listed'],
  ['ForAllValues:StringEquals', ['a', 'b'], ['a', 'c'], false, 'c not listed'],
  ['ForAllValues:StringEquals', ['a'], M, true, 'missing is TRUE'],
  ['ForAllValues:StringEquals', ['a'], [], true, 'empty is TRUE'],
  ['ForAllValues:StringLike', ['team-*'], ['team-a', 'team-b'], true, 'all match pattern'],
  ['ForAllValues:StringNotEquals', ['a'], ['b', 'c'], true, 'no value is a'],
  ['ForAllValues:StringNotEquals', ['a'], ['a', 'c'], false, 'one value is a'],
  ['ForAllValues:NumericLessThan', '10', ['1', '2'], true, 'numeric'],
  ['ForAnyValue:IpAddress', '10.0.0.0/8', ['1.1.1.1', '10.0.0.1'], true, 'ip'],
];

// Completing the grid: every operator × match / no match / missing / multivalued / IfExists.
const ARN_R = 'arn:aws:iam::111122223333:role/r';
const ARN_X = 'arn:aws:iam::111122223333:role/x';
const D1 = '2026-01-01T00:00:00Z';
rows.push(
  ['StringNotEqualsIgnoreCase', 'abc', ['x', 'ABC'], false, 'multivalued: one equal ignoring case'],
  ['StringNotEqualsIgnoreCaseIfExists', 'abc', M, true, 'IfExists missing'],
  ['StringNotEqualsIgnoreCaseIfExists', 'abc', 'ABC', false, 'IfExists present'],
  [
    'NumericNotEquals',
    '10',
    ['11', '12'],
    false,
    'multivalued: none equal: a list without a set operator is undetermined',
  ],
  ['NumericNotEquals', '10', ['11', '10'], false, 'multivalued: one equal'],
  ['NumericNotEqualsIfExists', '10', M, true, 'IfExists missing'],
  ['NumericLessThanIfExists', '10', M, true, 'IfExists missing'],
  ['NumericLessThanIfExists', '10', '11', false, 'IfExists present'],
  [
    'NumericLessThan',
    '10',
    ['11', '5'],
    false,
    'multivalued: one less: a list without a set operator is undetermined',
  ],
  ['NumericLessThanEquals', '10', M, false, 'missing'],
  ['NumericLessThanEquals', '10', ['11', '12'], false, 'multivalued: none'],
  ['NumericLessThanEqualsIfExists', '10', M, true, 'IfExists missing'],
  ['NumericGreaterThan', '10', M, false, 'missing'],
  [
    'NumericGreaterThan',
    '10',
    ['1', '11'],
    false,
    'multivalued: a list without a set operator is undetermined',
  ],
  ['NumericGreaterThanIfExists', '10', M, true, 'IfExists missing'],
  ['NumericGreaterThanEquals', '10', M, false, 'missing'],
  ['NumericGreaterThanEquals', '10', ['1', '2'], false, 'multivalued: none'],
  [
    'DateEquals',
    D1,
    ['2020-01-01T00:00:00Z', D1],
    false,
    'multivalued: a list without a set operator is undetermined',
  ],
  ['DateEqualsIfExists', D1, M, true, 'IfExists missing'],
  ['DateNotEquals', D1, D1, false, 'equal'],
  ['DateNotEquals', D1, ['2020-01-01T00:00:00Z', D1], false, 'multivalued: one equal'],
  ['DateNotEqualsIfExists', D1, M, true, 'IfExists missing'],
  ['DateLessThan', D1, M, false, 'missing'],
  [
    'DateLessThan',
    D1,
    ['2027-01-01T00:00:00Z', '2025-01-01T00:00:00Z'],
    false,
    'multivalued: a list without a set operator is undetermined',
  ],
  ['DateLessThanEquals', D1, '2026-01-01T00:00:01Z', false, 'one second later'],
  ['DateLessThanEquals', D1, M, false, 'missing'],
  ['DateLessThanEquals', D1, ['2027-01-01T00:00:00Z', '2028-01-01T00:00:00Z'], false, 'multivalued: none'],
  ['DateLessThanEqualsIfExists', D1, M, true, 'IfExists missing'],
  ['DateGreaterThan', D1, M, false, 'missing'],
  ['DateGreaterThan', D1, ['2020-01-01T00:00:00Z', '2021-01-01T00:00:00Z'], false, 'multivalued: none'],
  ['DateGreaterThanIfExists', D1, M, true, 'IfExists missing'],
  ['DateGreaterThanEquals', D1, D1, true, 'equal'],
  ['DateGreaterThanEquals', D1, '2025-12-31T23:59:59Z', false, 'before'],
  ['DateGreaterThanEquals', D1, M, false, 'missing'],
  ['DateGreaterThanEqualsIfExists', D1, M, true, 'IfExists missing'],
  [
    'BinaryEquals',
    'QmluYXJ5',
    ['QQ==', 'QmluYXJ5'],
    false,
    'multivalued: a list without a set operator is undetermined',
  ],
  [
    'IpAddress',
    '10.0.0.0/8',
    ['1.1.1.1', '10.0.0.1'],
    false,
    'multivalued: a list without a set operator is undetermined',
  ],
  ['NotIpAddressIfExists', '10.0.0.0/8', M, true, 'IfExists missing'],
  ['NotIpAddressIfExists', '10.0.0.0/8', '10.1.1.1', false, 'IfExists present'],
  ['ArnEquals', ARN_R, ARN_X, false, 'different'],
  ['ArnEquals', ARN_R, M, false, 'missing'],
  ['ArnEquals', ARN_R, [ARN_X, ARN_R], false, 'multivalued: a list without a set operator is undetermined'],
  ['ArnEqualsIfExists', ARN_R, M, true, 'IfExists missing'],
  ['ArnNotEquals', ARN_R, ARN_R, false, 'equal'],
  ['ArnNotEquals', ARN_R, M, true, 'negated missing'],
  ['ArnNotEquals', ARN_R, [ARN_X, ARN_R], false, 'multivalued: one equal'],
  ['ArnNotEqualsIfExists', ARN_R, M, true, 'IfExists missing'],
  ['ArnNotLike', 'arn:aws:iam::*:role/r', ARN_X, true, 'does not match'],
  [
    'ArnNotLike',
    'arn:aws:iam::*:role/r',
    [ARN_X, 'arn:aws:iam::1:user/u'],
    false,
    'multivalued: none matches: a list without a set operator is undetermined',
  ],
  ['ArnNotLikeIfExists', 'arn:aws:iam::*:role/r', M, true, 'IfExists missing'],
  ['Null', 'false', ['a', 'b'], true, 'multivalued present'],
);

describe('condition operators (table)', () => {
  for (const [operator, policy, request, expected, note] of rows) {
    it(`${operator} ${JSON.stringify(policy)} vs ${request === undefined ? '(missing)' : JSON.stringify(request)} → ${expected} (${note})`, () => {
      assert.equal(allows(operator, policy, request), expected);
    });
  }
});

describe('condition keys and values', () => {
  it('key names are case-insensitive, both in the policy and in the request', () => {
    assert.equal(allows('StringEquals', 'v', undefined, { 'TEST:KEY': 'v' }), true);
    const doc = {
      Version: '2012-10-17',
      Statement: {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: '*',
        Condition: { StringEquals: { 'Test:kEy': 'v' } },
      },
    };
    assert.equal(
      evaluatePolicy(doc, { action: 's3:GetObject', conditionKeys: { 'test:key': 'v' } }).decision,
      'Allow',
    );
    assert.equal(
      evaluatePolicy(doc, { action: 's3:GetObject', conditionKeys: { 'test:key': 'V' } }).decision,
      'ImplicitDeny',
    );
  });

  it('operators AND, keys inside one operator AND', () => {
    const doc = {
      Version: '2012-10-17',
      Statement: {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: '*',
        Condition: { StringEquals: { 'a:x': '1', 'a:y': '2' }, StringLike: { 'a:z': '3*' } },
      },
    };
    const ev = (k: Record<string, string>): string =>
      evaluatePolicy(doc, { action: 's3:GetObject', conditionKeys: k }).decision;
    assert.equal(ev({ 'a:x': '1', 'a:y': '2', 'a:z': '34' }), 'Allow');
    assert.equal(ev({ 'a:x': '1', 'a:y': '3', 'a:z': '34' }), 'ImplicitDeny');
    assert.equal(ev({ 'a:x': '1', 'a:y': '2', 'a:z': '4' }), 'ImplicitDeny');
  });

  it('reports the request values, policy values and a reason for each pair', () => {
    const doc = {
      Version: '2012-10-17',
      Statement: {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: '*',
        Condition: { StringEquals: { [KEY]: ['a', 'b'] } },
      },
    };
    const r = evaluatePolicy(doc, { action: 's3:GetObject', conditionKeys: { [KEY]: 'c' } });
    const c = r.statements[0]!.elements.find((e) => e.element === 'Condition')!.conditions![0]!;
    assert.deepEqual(c.policyValues, ['a', 'b']);
    assert.deepEqual(c.requestValues, ['c']);
    assert.equal(c.matched, false);
    assert.match(c.reason, /"c".*does not satisfy StringEquals \["a", "b"\]/);
    const missing = evaluatePolicy(doc, { action: 's3:GetObject', conditionKeys: {} });
    const m = missing.statements[0]!.elements.at(-1)!.conditions![0]!;
    assert.equal(m.requestValues, undefined);
    assert.match(m.reason, /not in the request/);
  });
});

describe('policy variables', () => {
  const sess = { 'aws:username': 'alice' };
  it('substitutes ${key} in String and Arn operators', () => {
    assert.equal(allows('StringEquals', 'user-${aws:username}', 'user-alice', sess), true);
    assert.equal(allows('StringEquals', 'user-${aws:username}', 'user-bob', sess), false);
    assert.equal(allows('StringLike', 'home/${aws:username}/*', 'home/alice/x', sess), true);
    assert.equal(
      allows('ArnLike', 'arn:aws:iam::*:user/${aws:username}', 'arn:aws:iam::111122223333:user/alice', sess),
      true,
    );
  });
  it('key names in variables are case-insensitive', () => {
    assert.equal(allows('StringEquals', '${AWS:UserName}', 'alice', sess), true);
  });
  it('uses the default when the key is missing', () => {
    assert.equal(allows('StringEquals', "${aws:username, 'nobody'}", 'nobody'), true);
    assert.equal(allows('StringEquals', "${aws:username,'nobody'}", 'alice', sess), true);
  });
  it('an unresolvable variable makes the condition not match, even a negated one', () => {
    assert.equal(allows('StringEquals', '${aws:username}', 'alice'), false);
    assert.equal(allows('StringNotEquals', '${aws:username}', 'alice'), false);
  });
  it('multivalued keys cannot be variables', () => {
    assert.equal(allows('StringEquals', '${aws:TagKeys}', 'a', { 'aws:TagKeys': ['a'] }), false);
  });
  it('${*} ${?} ${$} are literal characters; substituted text is never a wildcard', () => {
    assert.equal(allows('StringLike', 'a${*}b', 'a*b'), true);
    assert.equal(allows('StringLike', 'a${*}b', 'axb'), false);
    assert.equal(allows('StringLike', 'a${?}', 'a?'), true);
    assert.equal(allows('StringEquals', '${$}{x}', '${x}'), true);
    assert.equal(allows('StringLike', 'x-${aws:username}', 'x-abc', { 'aws:username': 'a*' }), false);
    assert.equal(allows('StringLike', 'x-${aws:username}', 'x-a*', { 'aws:username': 'a*' }), true);
  });
  it('are literal text in a 2008-10-17 policy', () => {
    assert.equal(allows('StringEquals', '${aws:username}', 'alice', sess, '2008-10-17'), false);
    assert.equal(allows('StringEquals', '${aws:username}', '${aws:username}', sess, '2008-10-17'), true);
  });
  it('are not substituted in Numeric operators', () => {
    assert.equal(allows('NumericEquals', '${test:n}', '5', { 'test:n': '5' }), false);
  });
});

describe('operator names', () => {
  it('parses qualifiers and IfExists', () => {
    assert.deepEqual(parseOperator('ForAnyValue:StringLikeIfExists'), {
      name: 'ForAnyValue:StringLikeIfExists',
      qualifier: 'ForAnyValue',
      base: 'StringLike',
      ifExists: true,
      negated: false,
      family: 'String',
    });
    assert.equal(parseOperator('StringNotEquals')!.negated, true);
  });
  it('rejects unknown, lower-case, NullIfExists and qualified Null', () => {
    for (const bad of [
      'StringEqual',
      'stringequals',
      'NullIfExists',
      'ForAnyValue:Null',
      'IfExists',
      'ForSomeValues:StringEquals',
    ]) {
      assert.equal(parseOperator(bad), undefined, bad);
    }
  });
});

describe('value parsers', () => {
  it('dates: ISO forms and epoch seconds', () => {
    assert.equal(parseDate('2026-01-01T00:00:00Z'), Date.UTC(2026, 0, 1));
    assert.equal(parseDate('2026-01-01T00:00:00.500Z'), Date.UTC(2026, 0, 1) + 500);
    assert.equal(parseDate('2026-01-01T02:00:00+0200'), Date.UTC(2026, 0, 1));
    assert.equal(parseDate('2026-01-01T00:00'), Date.UTC(2026, 0, 1));
    assert.equal(parseDate('1767225600'), Date.UTC(2026, 0, 1));
    assert.equal(parseDate('01/01/2026'), undefined);
    assert.equal(parseDate('2026-13-45'), undefined);
  });
  it('CIDRs', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { v: 4, n: 10n << 24n, bits: 8 });
    assert.equal(parseCidr('10.0.0.0/33'), undefined);
    assert.equal(parseCidr('1.2.3.4/8/9'), undefined);
    assert.equal(parseCidr('::1')!.bits, 128);
    assert.equal(cidrContains('::/0', '::1'), true);
    assert.equal(cidrContains('fe80::/10', 'fe80::1:2:3:4'), true);
    assert.equal(cidrContains('fe80::/10', 'fec0::1'), false);
    assert.equal(cidrContains('2001:db8::1:2:3:4:5/128', '2001:db8:0:1:2:3:4:5'), true);
    assert.equal(cidrContains('1:2:3:4:5:6:7:8:9/128', '::1'), false);
  });
});

describe('wildcard matching against a reference implementation', () => {
  // A seeded PRNG so that a failure is reproducible.
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = (alphabet: string, len: number): string =>
    Array.from({ length: len }, () => alphabet[rand(alphabet.length)]).join('');
  const reference = (pattern: string, s: string): boolean =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      's',
    ).test(s);
  it('StringLike agrees with a regex on 3000 random pattern/value pairs', () => {
    for (let i = 0; i < 3000; i++) {
      const pattern = pick('ab*?:', 1 + rand(7));
      const value = pick('ab:', rand(8));
      assert.equal(allows('StringLike', pattern, value), reference(pattern, value), `${pattern} vs ${value}`);
    }
  });
});

describe('the operator table covers every operator', () => {
  it('each base operator has match, no-match, missing-key, multivalued and IfExists rows', () => {
    const missing: string[] = [];
    for (const base of BASE_OPERATORS) {
      const mine = rows.filter(
        ([op]) => op.replace(/^For(AnyValue|AllValues):/, '').replace(/IfExists$/, '') === base,
      );
      const plain = mine.filter(([op]) => op === base);
      const has = {
        match: plain.some(([, , req, exp]) => req !== undefined && !Array.isArray(req) && exp),
        noMatch: plain.some(([, , req, exp]) => req !== undefined && !Array.isArray(req) && !exp),
        missingKey: plain.some(([, , req]) => req === undefined),
        multivalued: mine.some(([, , req]) => Array.isArray(req) && req.length > 1),
        ifExists: base === 'Null' || mine.some(([op]) => op.endsWith('IfExists')),
      };
      for (const [k, v] of Object.entries(has)) if (!v) missing.push(`${base}: ${k}`);
    }
    assert.deepEqual(missing, []);
  });
});
