/**
 * Condition operators: names, and the evaluation of one operator/key pair against the request.
 *
 * Semantics (IAM user guide, "Condition operators" and "Multivalued context keys"):
 * - values listed for one key are OR'ed; a negated operator (StringNotEquals, NotIpAddress, ArnNotLike, ...)
 *   matches a request value only when it matches none of them;
 * - missing key: false, except negated operators (true), `...IfExists` (true) and `ForAllValues:` (true);
 *   `ForAnyValue:` over a missing key or an empty list is false even with `IfExists` (IAM user guide,
 *   "Single-valued vs. multivalued context keys": "If there is no context key in the request or the context key
 *   value resolves to a null data set, such as an empty string, the condition returns false");
 * - `ForAnyValue:` some request value must satisfy the operator; `ForAllValues:` every one must;
 * - without a set qualifier a multivalued request key behaves like ForAnyValue for positive operators and like
 *   "no value matches" for negated ones;
 * - `Null: true` matches when the key is absent (an empty list counts as absent);
 * - key names are case-insensitive (the caller's lookup), values case-sensitive except `...IgnoreCase`, Bool;
 * - policy variables in String and Arn operators (Version 2012-10-17 only). A value whose variable cannot be
 *   resolved matches nothing it could be compared with; when the pair's outcome depends on it, the pair is
 *   `undetermined` (the statement then never grants, and a Deny still applies: see evaluate.ts).
 */
import type { ConditionResult } from './types.js';
import type { ConditionEntry } from './policy.js';
import { matchTokens, resolvePattern, tokensToText, type Lookup, type Token } from './variables.js';

export type Family = 'String' | 'Numeric' | 'Date' | 'Bool' | 'Binary' | 'Ip' | 'Arn' | 'Null';

/** Null answers "is the key there" and compares nothing, so it has no comparison. */
type OpDef =
  | {
      family: Exclude<Family, 'Null'>;
      /** The positive comparison this operator uses (negated operators invert it per value). */
      compare: Comparison;
      negated: boolean;
    }
  | { family: 'Null'; negated: false };

type Comparison =
  | 'Equals'
  | 'EqualsIgnoreCase'
  | 'Like'
  | 'LessThan'
  | 'LessThanEquals'
  | 'GreaterThan'
  | 'GreaterThanEquals'
  | 'Bool'
  | 'Binary'
  | 'Ip'
  | 'Arn';

const OPERATORS: Record<string, OpDef> = {
  StringEquals: { family: 'String', compare: 'Equals', negated: false },
  StringNotEquals: { family: 'String', compare: 'Equals', negated: true },
  StringEqualsIgnoreCase: { family: 'String', compare: 'EqualsIgnoreCase', negated: false },
  StringNotEqualsIgnoreCase: { family: 'String', compare: 'EqualsIgnoreCase', negated: true },
  StringLike: { family: 'String', compare: 'Like', negated: false },
  StringNotLike: { family: 'String', compare: 'Like', negated: true },
  NumericEquals: { family: 'Numeric', compare: 'Equals', negated: false },
  NumericNotEquals: { family: 'Numeric', compare: 'Equals', negated: true },
  NumericLessThan: { family: 'Numeric', compare: 'LessThan', negated: false },
  NumericLessThanEquals: { family: 'Numeric', compare: 'LessThanEquals', negated: false },
  NumericGreaterThan: { family: 'Numeric', compare: 'GreaterThan', negated: false },
  NumericGreaterThanEquals: { family: 'Numeric', compare: 'GreaterThanEquals', negated: false },
  DateEquals: { family: 'Date', compare: 'Equals', negated: false },
  DateNotEquals: { family: 'Date', compare: 'Equals', negated: true },
  DateLessThan: { family: 'Date', compare: 'LessThan', negated: false },
  DateLessThanEquals: { family: 'Date', compare: 'LessThanEquals', negated: false },
  DateGreaterThan: { family: 'Date', compare: 'GreaterThan', negated: false },
  DateGreaterThanEquals: { family: 'Date', compare: 'GreaterThanEquals', negated: false },
  Bool: { family: 'Bool', compare: 'Bool', negated: false },
  BinaryEquals: { family: 'Binary', compare: 'Binary', negated: false },
  IpAddress: { family: 'Ip', compare: 'Ip', negated: false },
  NotIpAddress: { family: 'Ip', compare: 'Ip', negated: true },
  // ArnEquals and ArnLike are the same test in IAM: segment-wise, wildcards allowed in each segment.
  ArnEquals: { family: 'Arn', compare: 'Arn', negated: false },
  ArnLike: { family: 'Arn', compare: 'Arn', negated: false },
  ArnNotEquals: { family: 'Arn', compare: 'Arn', negated: true },
  ArnNotLike: { family: 'Arn', compare: 'Arn', negated: true },
  Null: { family: 'Null', negated: false },
};

export const BASE_OPERATORS: readonly string[] = Object.keys(OPERATORS);

export interface ParsedOperator {
  name: string;
  qualifier?: 'ForAnyValue' | 'ForAllValues';
  /** The operator without qualifier and IfExists, e.g. `StringLike`. */
  base: string;
  ifExists: boolean;
  negated: boolean;
  family: Family;
}

/** Parse `[ForAnyValue:|ForAllValues:]Base[IfExists]`; undefined when IAM would not know it. Case-sensitive. */
export function parseOperator(name: string): ParsedOperator | undefined {
  let rest = name;
  let qualifier: ParsedOperator['qualifier'];
  for (const q of ['ForAnyValue', 'ForAllValues'] as const) {
    if (rest.startsWith(`${q}:`)) {
      qualifier = q;
      rest = rest.slice(q.length + 1);
      break;
    }
  }
  let ifExists = false;
  // (A bare "IfExists" leaves "", which is no operator.)
  if (rest.endsWith('IfExists')) {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  const def = Object.prototype.hasOwnProperty.call(OPERATORS, rest) ? OPERATORS[rest] : undefined;
  if (!def) return undefined;
  // Null already answers "is it there"; NullIfExists and qualified Null are meaningless.
  if (def.family === 'Null' && (ifExists || qualifier)) return undefined;
  const op: ParsedOperator = { name, base: rest, ifExists, negated: def.negated, family: def.family };
  if (qualifier) op.qualifier = qualifier;
  return op;
}

// ---------------------------------------------------------------- value parsers

export function parseNumber(s: string): number | undefined {
  const t = s.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** ISO 8601 (date, or date-time with optional zone; no zone = UTC) or epoch seconds. Milliseconds since epoch. */
export function parseDate(s: string): number | undefined {
  const t = s.trim();
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(?:[Zz]|([+-]\d{2})(?::?(\d{2}))?)?)?$/.exec(
      t,
    );
  if (!m) return undefined;
  const [, y, mo, d, hh = '00', mi = '00', ss = '00', frac = '', zoneHours, zoneMinutes = '00'] = m;
  // Date.parse is only specified for its own format: a zone as ±hh:mm, at most milliseconds.
  const zone = zoneHours === undefined ? 'Z' : `${zoneHours}:${zoneMinutes}`;
  const ms = Date.parse(`${y}-${mo}-${d}T${hh}:${mi}:${ss}${frac.slice(0, 4)}${zone}`);
  return Number.isNaN(ms) ? undefined : ms;
}

interface Ip {
  v: 4 | 6;
  n: bigint;
}

function parseIpv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = (n << 8n) | BigInt(Number(p));
  }
  return n;
}

// A zone id (`fe80::1%eth0`) is refused by the group and IPv4-tail checks: `%` is in neither alphabet.
function parseIpv6(s: string): bigint | undefined {
  let head = s;
  let tail32: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  // A dot anywhere means an IPv4 tail (`::ffff:1.2.3.4`); it must then be the whole last part.
  if (s.includes('.')) {
    tail32 = parseIpv4(s.slice(lastColon + 1));
    if (tail32 === undefined) return undefined;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const left = halves[0] === '' ? [] : halves[0]!.split(':');
  const right = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  // Without `::`, missing is 0.
  const groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail32 !== undefined) n = (n & ~0xffffffffn) | tail32;
  return n;
}

export function parseIp(s: string): Ip | undefined {
  const t = s.trim();
  const v4 = parseIpv4(t);
  if (v4 !== undefined) return { v: 4, n: v4 };
  const v6 = parseIpv6(t);
  if (v6 === undefined) return undefined;
  // IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address.
  if (v6 >> 32n === 0xffffn) return { v: 4, n: v6 & 0xffffffffn };
  return { v: 6, n: v6 };
}

/** `a.b.c.d/n`, `x::y/n`, or a bare address (= /32 or /128). */
export function parseCidr(s: string): { v: 4 | 6; n: bigint; bits: number } | undefined {
  const parts = s.trim().split('/');
  if (parts.length > 2) return undefined;
  const ip = parseIp(parts[0]!); // split always yields a first element
  const bitsText = parts[1];
  if (!ip) return undefined;
  const max = ip.v === 4 ? 32 : 128;
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = bitsText === undefined ? max : Number(bitsText);
  if (bits > max) return undefined;
  return { v: ip.v, n: ip.n, bits };
}

export function cidrContains(cidr: string, address: string): boolean {
  const c = parseCidr(cidr);
  const ip = parseIp(address);
  if (!c || !ip || c.v !== ip.v) return false;
  const width = BigInt(c.v === 4 ? 32 : 128);
  const shift = width - BigInt(c.bits);
  return c.n >> shift === ip.n >> shift;
}

function decodeBase64(s: string): Buffer | undefined {
  const t = s.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 === 1) return undefined;
  return Buffer.from(t, 'base64');
}

/** Split an ARN text into its six parts (the resource keeps its colons); undefined when fewer than six. */
function arnParts(s: string): string[] | undefined {
  const parts = s.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/** Split a compiled ARN pattern at the first five colons of the policy text (not of substituted values). */
function splitPatternSegments(tokens: Token[]): Token[][] {
  const segments: Token[][] = [[]];
  for (const t of tokens) {
    if (t.kind !== 'lit' || t.fromVariable) {
      segments[segments.length - 1]!.push(t);
      continue;
    }
    // Past the fifth colon, a colon is text of the resource part.
    t.text.split(':').forEach((piece, i) => {
      if (i > 0) {
        if (segments.length < 6) segments.push([]);
        else segments[5]!.push({ ...t, text: ':' });
      }
      segments[segments.length - 1]!.push({ ...t, text: piece });
    });
  }
  return segments;
}

export function arnMatches(pattern: Token[], value: string): boolean {
  const segs = splitPatternSegments(pattern);
  // A value like "*" is not segmented: compare the whole text.
  if (segs.length < 6) return matchTokens(pattern, value);
  const parts = arnParts(value);
  if (!parts) return false;
  return segs.every((seg, i) => matchTokens(seg, parts[i]!));
}

// ---------------------------------------------------------------- evaluation

function compareOne(cmp: Comparison, family: Family, policy: Token[], request: string): boolean {
  const p = tokensToText(policy);
  switch (cmp) {
    case 'Equals':
      if (family === 'String') return p === request;
      return ordered(family, request, p, (a, b) => a === b);
    case 'EqualsIgnoreCase':
      return p.toLowerCase() === request.toLowerCase();
    case 'Like':
      return matchTokens(policy, request);
    case 'LessThan':
      return ordered(family, request, p, (a, b) => a < b);
    case 'LessThanEquals':
      return ordered(family, request, p, (a, b) => a <= b);
    case 'GreaterThan':
      return ordered(family, request, p, (a, b) => a > b);
    case 'GreaterThanEquals':
      return ordered(family, request, p, (a, b) => a >= b);
    case 'Bool':
      return p.toLowerCase() === request.toLowerCase();
    case 'Binary': {
      const a = decodeBase64(p);
      const b = decodeBase64(request);
      return !!a && !!b && a.equals(b);
    }
    case 'Ip':
      return cidrContains(p, request);
    case 'Arn':
      return arnMatches(policy, request);
  }
}

/** A Numeric or Date comparison. A value that does not parse is NaN, which compares false with everything (itself too). */
function ordered(
  family: Family,
  request: string,
  policy: string,
  f: (a: number, b: number) => boolean,
): boolean {
  const parse = (text: string): number => (family === 'Date' ? parseDate(text) : parseNumber(text)) ?? NaN;
  return f(parse(request), parse(policy));
}

const q = (s: string): string => JSON.stringify(s);
const list = (xs: string[]): string => (xs.length === 1 ? q(xs[0]!) : `[${xs.map(q).join(', ')}]`);

/** Evaluate one operator/key pair. `variables`: the policy is Version 2012-10-17. */
export function evaluateCondition(
  entry: ConditionEntry,
  lookup: Lookup,
  variables: boolean,
): ConditionResult {
  const { op, key } = entry;
  const def = OPERATORS[op.base]!;
  const raw = lookup(key);
  const requestValues = raw === undefined ? undefined : Array.isArray(raw) ? [...raw] : [raw];
  const missing = requestValues === undefined || requestValues.length === 0;
  // An operator without ForAnyValue/ForAllValues on a multivalued (list) request value: AWS documents only that
  // such keys "require" a set operator, and is reported to answer false; openirsa's reading (any value for a
  // positive operator, no value for a negated one, an empty list as absent) may say true. Where they disagree
  // the pair is undetermined: it never grants, and a Deny still applies.
  const unqualifiedList = !op.qualifier && def.family !== 'Null' && Array.isArray(raw);
  const result = (matched: boolean, reason: string): ConditionResult => {
    const r: ConditionResult = { operator: entry.operator, key, policyValues: entry.values, matched, reason };
    if (requestValues !== undefined) r.requestValues = requestValues;
    if (unqualifiedList && matched) {
      r.matched = false;
      r.undetermined = true;
      r.reason = `${reason}; but ${q(key)} is a list and ${entry.operator} has no set operator (AWS is reported to answer false), so it is undetermined`;
    }
    return r;
  };

  if (def.family === 'Null') {
    const matched = entry.values.some((v) => (v.toLowerCase() === 'true') === missing);
    return result(
      matched,
      missing
        ? `${q(key)} is absent from the request; Null ${list(entry.values)} ${matched ? 'matches' : 'requires it to be present'}`
        : `${q(key)} is present (${list(requestValues)}); Null ${list(entry.values)} ${matched ? 'matches' : 'requires it to be absent'}`,
    );
  }

  if (missing) {
    // ForAnyValue over nothing is false, IfExists or not; ForAllValues over nothing is true.
    const matched =
      op.qualifier === 'ForAllValues'
        ? true
        : op.qualifier === 'ForAnyValue'
          ? false
          : op.ifExists || op.negated;
    const why =
      op.qualifier === 'ForAllValues'
        ? 'ForAllValues is true when the key is missing'
        : op.qualifier === 'ForAnyValue'
          ? `ForAnyValue is false when the key is missing or empty${op.ifExists ? ', IfExists notwithstanding' : ''}`
          : op.ifExists
            ? 'IfExists is true when the key is missing'
            : op.negated
              ? 'a negated operator is true when the key is missing'
              : `${entry.operator} needs the key`;
    return result(matched, `${q(key)} is not in the request; ${why}`);
  }

  // String and ARN values may hold policy variables. Every value is compiled with wildcards: the comparisons
  // without them read the text back (tokensToText), where a `*` or `?` is itself again.
  const useVars = variables && (def.family === 'String' || def.family === 'Arn');
  const patterns: Token[][] = [];
  const unresolved: string[] = [];
  for (const v of entry.values) {
    const r = resolvePattern(v, true, useVars, lookup);
    if (r.ok) patterns.push(r.tokens);
    else unresolved.push(`policy value ${q(v)}: ${r.reason}`);
  }

  const anyPolicy = (value: string): boolean =>
    patterns.some((p) => compareOne(def.compare, def.family, p, value));
  const satisfies = (value: string): boolean => (op.negated ? !anyPolicy(value) : anyPolicy(value));
  const values = requestValues;
  let matched: boolean;
  if (op.qualifier === 'ForAllValues') matched = values.every(satisfies);
  else if (op.qualifier === 'ForAnyValue') matched = values.some(satisfies);
  else matched = op.negated ? values.every(satisfies) : values.some(satisfies);

  // An unresolved value could be anything: a positive operator's true and a negated one's false hold whatever
  // it would have been; the other outcome depends on it.
  if (unresolved.length > 0 && matched === op.negated) {
    const r = result(
      false,
      `${unresolved.join('; ')}; the other values do not decide the condition, so it is undetermined`,
    );
    r.undetermined = true;
    return r;
  }

  const shown = patterns.map(tokensToText);
  // An unresolved value leaves `shown` shorter than the policy's values, so it shows the resolved list too.
  const valuesShown = entry.values.some((v, i) => v !== shown[i])
    ? `${list(entry.values)} (resolved: ${list(shown)}${unresolved.length > 0 ? `; ${unresolved.join('; ')}` : ''})`
    : list(entry.values);
  const scope =
    op.qualifier === 'ForAllValues'
      ? 'every value of '
      : op.qualifier === 'ForAnyValue'
        ? 'some value of '
        : '';
  return result(
    matched,
    `${scope}${q(key)} = ${list(values)} ${matched ? 'satisfies' : 'does not satisfy'} ${entry.operator} ${valuesShown}`,
  );
}
