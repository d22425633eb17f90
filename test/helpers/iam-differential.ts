/**
 * Differential testing of openirsa's IAM engine against an independent implementation, @cloud-copilot/iam-simulate
 * (AGPL-3.0: a devDependency used only here, never imported from src/ nor shipped).
 *
 * Seeded generated identity-policy cases across every condition-operator family, the set operators, IfExists,
 * policy variables, Resource and NotResource. Both engines decide each case; a disagreement is either
 * - a known simulator bug (judged against AWS's IAM documentation, listed in SIMULATOR_BUGS with the reason),
 * - an intended openirsa choice where AWS documents nothing (OPENIRSA_CHOICES, docs/iam.md), or
 * - unexplained: a finding, which fails the test.
 * The simulator is run through runUnsafeSimulation: its evaluation core without its service catalogue checks,
 * so condition keys are typed by their shape (string or list) exactly as openirsa's RequestContext is.
 */
import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import { evaluatePolicy, type Decision, type EvaluationResult } from '../../src/iam/index.js';
import { prng } from './prng.js';

export const ACCOUNT = '111122223333';
const PRINCIPAL = `arn:aws:iam::${ACCOUNT}:role/app`;
const ACTION = 's3:GetObject';

export interface IamCase {
  id: number;
  family: string;
  policy: { Version: string; Statement: Array<Record<string, unknown>> };
  context: Record<string, string | string[]>;
  resource: string;
}

export interface CaseOutcome {
  c: IamCase;
  ours: Decision | 'error';
  /** openirsa's full evaluation (statements, elements, reasons), when it did not throw. */
  result?: EvaluationResult;
  theirs: Decision | 'error';
  /** Why they differ, when it is a known simulator bug or an openirsa choice. */
  explained?: { kind: 'simulator-bug' | 'openirsa-choice'; id: string };
}

export { prng };

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const some = <T>(r: Rand, xs: readonly T[], max: number): T[] => {
  const n = 1 + Math.floor(r() * max);
  return Array.from({ length: n }, () => pick(r, xs));
};

interface Family {
  operators: readonly string[];
  keys: readonly string[];
  policy: readonly string[];
  request: readonly string[];
}

const NOW = '2026-06-01T12:00:00Z';
const FAMILIES: Record<string, Family> = {
  String: {
    operators: [
      'StringEquals',
      'StringNotEquals',
      'StringEqualsIgnoreCase',
      'StringNotEqualsIgnoreCase',
      'StringLike',
      'StringNotLike',
    ],
    keys: ['aws:PrincipalTag/team', 'aws:TagKeys', 'test:Str', 'TEST:str'],
    policy: [
      'abc',
      'ABC',
      'a*',
      'a?c',
      '*',
      '',
      'red',
      '${aws:username}',
      '${aws:PrincipalTag/team}',
      "${aws:username, 'abc'}",
      'x${aws:username}y',
      '${*}',
      '${aws:TagKeys}',
    ],
    request: ['abc', 'ABC', 'abd', 'a', '', 'alice', 'red', '*', 'xalicey', 'a*'],
  },
  Numeric: {
    operators: [
      'NumericEquals',
      'NumericNotEquals',
      'NumericLessThan',
      'NumericLessThanEquals',
      'NumericGreaterThan',
      'NumericGreaterThanEquals',
    ],
    keys: ['aws:MultiFactorAuthAge', 'test:Num'],
    policy: ['10', '10.0', '-5', '0', '100', '3.5'],
    request: ['10', '9', '11', '10.0', '-5', '3.5', '0'],
  },
  Date: {
    operators: [
      'DateEquals',
      'DateNotEquals',
      'DateLessThan',
      'DateLessThanEquals',
      'DateGreaterThan',
      'DateGreaterThanEquals',
    ],
    keys: ['aws:CurrentTime', 'aws:TokenIssueTime'],
    policy: [NOW, '2026-06-01T00:00:00Z', '2027-01-01T00:00:00Z', '2025-01-01T00:00:00Z'],
    request: [
      NOW,
      '2026-06-01T00:00:00Z',
      '2026-06-01T12:00:01Z',
      '2024-12-31T23:59:59Z',
      '2030-01-01T00:00:00Z',
    ],
  },
  Bool: {
    operators: ['Bool'],
    keys: ['aws:SecureTransport', 'aws:MultiFactorAuthPresent'],
    policy: ['true', 'false'],
    request: ['true', 'false'],
  },
  Binary: {
    operators: ['BinaryEquals'],
    keys: ['test:Bin'],
    policy: ['QmluYXJ5', 'QQ=='],
    request: ['QmluYXJ5', 'QQ==', 'Qg=='],
  },
  Ip: {
    operators: ['IpAddress', 'NotIpAddress'],
    keys: ['aws:SourceIp'],
    policy: ['10.0.0.0/8', '10.1.2.3/32', '192.168.0.0/16', '2001:db8::/32', '0.0.0.0/0'],
    request: ['10.1.2.3', '11.0.0.1', '192.168.1.1', '2001:db8::1', '2001:db9::1'],
  },
  Arn: {
    operators: ['ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike'],
    keys: ['aws:PrincipalArn', 'aws:SourceArn'],
    policy: [
      `arn:aws:iam::${ACCOUNT}:role/app`,
      `arn:aws:iam::${ACCOUNT}:role/*`,
      'arn:aws:iam::*:role/app',
      `arn:aws:iam::${ACCOUNT}:role/a?p`,
      'arn:aws:*:*:*:*',
      `arn:aws:iam::${ACCOUNT}:role/\${aws:username}`,
    ],
    request: [
      `arn:aws:iam::${ACCOUNT}:role/app`,
      `arn:aws:iam::${ACCOUNT}:role/other`,
      `arn:aws:iam::444455556666:role/app`,
      `arn:aws:iam::${ACCOUNT}:user/alice`,
      `arn:aws:s3:::bucket/app`,
    ],
  },
  Null: {
    operators: ['Null'],
    keys: ['aws:TagKeys', 'test:Str'],
    policy: ['true', 'false'],
    request: ['x', 'abc'],
  },
};

const RESOURCE_PATTERNS = [
  'arn:aws:s3:::bucket/*',
  'arn:aws:s3:::bucket/${aws:username}/*',
  "arn:aws:s3:::bucket/${aws:username, 'common'}/*",
  'arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*',
  'arn:aws:s3:::bucket/a?ice/*',
  'arn:aws:s3:::bucket/alice/*',
  'arn:aws:s3:::other/*',
  'arn:aws:s3:::*',
  '*',
  'arn:aws:s3',
  'arn:aws:S3:::bucket/*',
  'arn:${aws:username}:s3:::bucket/*',
];
const REQUEST_RESOURCES = [
  'arn:aws:s3:::bucket/alice/file',
  'arn:aws:s3:::bucket/bob/file',
  'arn:aws:s3:::bucket/common/file',
  'arn:aws:s3:::bucket/red/file',
  'arn:aws:s3:::other/x',
];

/** The context every case starts from: a role session, sometimes with a username and a team tag. */
function baseContext(r: Rand): Record<string, string | string[]> {
  const ctx: Record<string, string | string[]> = { 'aws:PrincipalAccount': ACCOUNT };
  if (r() < 0.5) ctx['aws:username'] = 'alice';
  if (r() < 0.5) ctx['aws:PrincipalTag/team'] = 'red';
  return ctx;
}

function conditionCase(r: Rand, familyName: string, ctx: Record<string, string | string[]>) {
  const f = FAMILIES[familyName]!;
  const base = pick(r, f.operators);
  const isNull = familyName === 'Null';
  const qualifier = isNull ? '' : pick(r, ['', '', '', 'ForAnyValue:', 'ForAllValues:']);
  const ifExists = !isNull && r() < 0.3 ? 'IfExists' : '';
  const key = pick(r, f.keys);
  const values = some(r, f.policy, 3);
  // The policy may spell the key in another case; a request context has one spelling per key.
  const ctxKey = Object.keys(ctx).find((k) => k.toLowerCase() === key.toLowerCase()) ?? key.toLowerCase();
  const shape = r();
  if (shape < 0.2) {
    // missing from the request
  } else if (shape < 0.7 && key !== 'aws:TagKeys') ctx[ctxKey] = pick(r, f.request);
  else ctx[ctxKey] = Array.from({ length: Math.floor(r() * 4) }, () => pick(r, f.request));
  return { [`${qualifier}${base}${ifExists}`]: { [key]: values.length === 1 ? values[0]! : values } };
}

/** Generate `n` cases from `seed`, cycling through the families so each gets its share. */
export function generateCases(seed: number, n: number): IamCase[] {
  const r = prng(seed);
  const families = [...Object.keys(FAMILIES), 'Resource', 'NotResource'];
  const cases: IamCase[] = [];
  for (let id = 0; id < n; id++) {
    const family = families[id % families.length]!;
    const ctx = baseContext(r);
    const statement: Record<string, unknown> = { Effect: r() < 0.7 ? 'Allow' : 'Deny', Action: 's3:*' };
    if (family === 'Resource' || family === 'NotResource') {
      statement[family] = some(r, RESOURCE_PATTERNS, 2);
      if (r() < 0.3) statement.Condition = conditionCase(r, 'String', ctx);
    } else {
      statement.Resource = '*';
      statement.Condition = conditionCase(r, family, ctx);
      if (r() < 0.25)
        Object.assign(statement.Condition as object, conditionCase(r, pick(r, Object.keys(FAMILIES)), ctx));
    }
    const statements: Array<Record<string, unknown>> =
      statement.Effect === 'Deny'
        ? [{ Effect: 'Allow', Action: '*', Resource: '*' }, statement]
        : [statement];
    cases.push({
      id,
      family,
      policy: { Version: '2012-10-17', Statement: statements },
      context: ctx,
      resource: pick(r, REQUEST_RESOURCES),
    });
  }
  return cases;
}

export function evaluateOurs(c: IamCase): EvaluationResult | undefined {
  try {
    return evaluatePolicy(
      c.policy,
      { action: ACTION, resource: c.resource, conditionKeys: c.context },
      'identity',
    );
  } catch {
    return undefined;
  }
}

const SIMULATOR_DECISIONS: Record<string, Decision> = {
  Allowed: 'Allow',
  ExplicitlyDenied: 'ExplicitDeny',
  ImplicitlyDenied: 'ImplicitDeny',
};

export function decideSimulator(c: IamCase): Decision | 'error' {
  try {
    const result = runUnsafeSimulation(
      {
        request: {
          principal: PRINCIPAL,
          action: ACTION,
          resource: { resource: c.resource, accountId: ACCOUNT },
          contextVariables: c.context,
        },
        identityPolicies: [{ name: 'p', policy: c.policy }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    );
    return SIMULATOR_DECISIONS[String(result)] ?? 'error';
  } catch {
    return 'error';
  }
}

interface Explanation {
  id: string;
  kind: 'simulator-bug' | 'openirsa-choice';
  /** What differs and why openirsa is right (or what it chose), with the AWS source. */
  why: string;
  applies: (o: Omit<CaseOutcome, 'explained'>) => boolean;
}

const conditionsOf = (c: IamCase): Array<[string, string, unknown]> =>
  c.policy.Statement.flatMap((s) =>
    Object.entries((s.Condition ?? {}) as Record<string, Record<string, unknown>>).flatMap(([op, kv]) =>
      Object.entries(kv).map(([k, v]) => [op, k, v] as [string, string, unknown]),
    ),
  );
const valuesOf = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : [String(v)]);
const requestValue = (c: IamCase, key: string): string | string[] | undefined => {
  const k = Object.keys(c.context).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : c.context[k];
};

const emptyList = (v: unknown): boolean => Array.isArray(v) && v.length === 0;
const HALVES: Record<string, string[]> = {
  '0.0.0.0/0': ['0.0.0.0/1', '128.0.0.0/1'],
  '::/0': ['::/1', '8000::/1'],
};
/** The policy with each /0 condition value replaced by its two /1 halves (the same set of addresses). */
function splitZeroPrefix(policy: IamCase['policy']): IamCase['policy'] {
  const split = (v: unknown): string[] => valuesOf(v).flatMap((x) => HALVES[x] ?? [x]);
  return {
    ...policy,
    Statement: policy.Statement.map((st) =>
      st.Condition === undefined
        ? st
        : {
            ...st,
            Condition: Object.fromEntries(
              Object.entries(st.Condition as Record<string, Record<string, unknown>>).map(([op, kv]) => [
                op,
                Object.fromEntries(
                  Object.entries(kv).map(([k, v]) => [k, /IpAddress/.test(op) ? split(v) : v]),
                ),
              ]),
            ),
          },
    ),
  };
}

type Statement = EvaluationResult['statements'][number];
const undeterminedReasons = (st: Statement): string[] =>
  st.elements.flatMap((e) =>
    e.undetermined
      ? e.conditions
        ? e.conditions.filter((x) => x.undetermined).map((x) => x.reason)
        : [e.reason]
      : [],
  );
/** The statement applies or not only because of undetermined elements (everything else matched). */
const hangsOnUndetermined = (st: Statement): boolean =>
  st.elements.every((e) => e.matched || e.undetermined) && st.elements.some((e) => e.undetermined);
const UNRESOLVABLE = /cannot be resolved|multivalued and cannot be used/;
/** The simulator allows; openirsa does not, only because an Allow statement hangs on elements undetermined for `why`. */
const allowWithheldOnlyFor = (
  { result, ours, theirs }: Omit<CaseOutcome, 'explained'>,
  why: RegExp,
): boolean =>
  ours === 'ImplicitDeny' &&
  theirs === 'Allow' &&
  result !== undefined &&
  result.statements.some(
    (s) => s.effect === 'Allow' && hangsOnUndetermined(s) && undeterminedReasons(s).every((r) => why.test(r)),
  );

/**
 * Every known way the two engines may differ. A disagreement must be explained by one of these, or it is a
 * finding. Keep each narrow: a too-wide predicate would hide real bugs.
 */
export const EXPLANATIONS: readonly Explanation[] = [
  {
    id: 'deny-applies-when-undetermined',
    kind: 'openirsa-choice',
    why:
      'An element openirsa cannot decide (an unresolvable policy variable, a list value without a set operator, ' +
      'an ARN AWS documents no reading for) never stops a Deny; the simulator drops the statement. AWS ' +
      '(reference_policies_variables.html): a variable that cannot be resolved "causes the statement to be ' +
      'invalid" — what an invalid Deny does is not documented, and openirsa fails closed.',
    applies: ({ result, ours, theirs }) =>
      ours === 'ExplicitDeny' &&
      theirs !== 'ExplicitDeny' &&
      result !== undefined &&
      result.statements.filter((s) => s.effect === 'Deny' && s.matched).every(hangsOnUndetermined),
  },
  {
    id: 'unresolvable-variable-grants',
    kind: 'simulator-bug',
    why:
      'The simulator lets an Allow apply through a policy variable that cannot be resolved (in a negated operator ' +
      'or ForAnyValue/ForAllValues it counts the value as "matches nothing", which makes the pair true). AWS: "any ' +
      'attempt to match it fails and causes the statement to be invalid" (reference_policies_variables.html, ' +
      'principal key values): an invalid statement grants nothing.',
    applies: (o) => allowWithheldOnlyFor(o, UNRESOLVABLE),
  },
  {
    id: 'arn-readings',
    kind: 'openirsa-choice',
    why:
      'A Resource ARN with fewer than six parts, or with its partition, service or region not in lowercase, has no ' +
      'documented reading; where the plausible ones disagree openirsa grants nothing (the simulator pads short ARNs ' +
      'with * and compares those segments ignoring case).',
    applies: (o) => allowWithheldOnlyFor(o, /six parts|not in lowercase/),
  },
  {
    id: 'null-on-empty-list',
    kind: 'openirsa-choice',
    why:
      'Null treats an empty list as absent; the simulator as present. AWS (reference_policies_condition-single-vs-' +
      'multi-valued-context-keys.html) speaks of a key whose value "resolves to a null data set", and of Null:false ' +
      'checking that a key "exists and its value is not null": an empty list is such a null data set.',
    // Counterfactual: without the empty lists (absent, as openirsa reads them) the simulator agrees.
    applies: ({ c, ours }) =>
      conditionsOf(c).some(([op, key]) => op === 'Null' && emptyList(requestValue(c, key))) &&
      decideSimulator({
        ...c,
        context: Object.fromEntries(Object.entries(c.context).filter(([, v]) => !emptyList(v))),
      }) === ours,
  },
  {
    id: 'cidr-zero-prefix',
    kind: 'simulator-bug',
    why:
      'The simulator finds no address inside 0.0.0.0/0. A /0 prefix is every IPv4 address (RFC 4632); AWS takes ' +
      'standard CIDR notation (reference_policies_elements_condition_operators.html, IP address operators).',
    // Counterfactual: with each /0 written as its two /1 halves the simulator agrees.
    applies: ({ c, ours }) =>
      conditionsOf(c).some(([op, , v]) => /IpAddress/.test(op) && valuesOf(v).some((x) => /\/0$/.test(x))) &&
      decideSimulator({ ...c, policy: splitZeroPrefix(c.policy) }) === ours,
  },
  {
    id: 'escape-variables',
    kind: 'simulator-bug',
    why:
      'The simulator does not read ${*}, ${?} and ${$} as the literal characters *, ? and $. AWS ' +
      '(reference_policies_variables.html, "Special characters") defines them so.',
    applies: ({ c }) => conditionsOf(c).some(([, , v]) => valuesOf(v).some((x) => /\$\{[*?$]\}/.test(x))),
  },
];

export function explain(o: Omit<CaseOutcome, 'explained'>): CaseOutcome['explained'] {
  const e = EXPLANATIONS.find((x) => x.applies(o));
  return e ? { kind: e.kind, id: e.id } : undefined;
}

export interface Report {
  total: number;
  agree: number;
  explained: Map<string, number>;
  unexplained: CaseOutcome[];
  perFamily: Map<string, { total: number; agree: number }>;
}

export function runCases(cases: IamCase[]): Report {
  const report: Report = { total: 0, agree: 0, explained: new Map(), unexplained: [], perFamily: new Map() };
  for (const c of cases) {
    const result = evaluateOurs(c);
    const ours: Decision | 'error' = result?.decision ?? 'error';
    const theirs = decideSimulator(c);
    const fam = report.perFamily.get(c.family) ?? { total: 0, agree: 0 };
    fam.total++;
    report.total++;
    if (ours === theirs) {
      fam.agree++;
      report.agree++;
    } else {
      const outcome = { c, ours, theirs, result };
      const explained = explain(outcome);
      if (explained) report.explained.set(explained.id, (report.explained.get(explained.id) ?? 0) + 1);
      else report.unexplained.push(outcome);
    }
    report.perFamily.set(c.family, fam);
  }
  return report;
}
