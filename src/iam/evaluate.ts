/**
 * Policy evaluation: explicit Deny > Allow > implicit deny, with a reason for every element of every
 * statement (the raw material of explain). Pure: the caller passes every condition-key value, time included.
 */
import type {
  ConditionValue,
  Decision,
  ElementResult,
  EvaluationResult,
  RequestContext,
  StatementResult,
} from './types.js';
import { isAccountId, parseAssumedRoleArn, parseRoleArn, tryParseArn } from './arn.js';
import { evaluateCondition } from './conditions.js';
import {
  parsePolicy,
  type ParsedPolicy,
  type ParsedStatement,
  type PolicyKind,
  type PrincipalSpec,
} from './policy.js';
import {
  globMatch,
  matchTokens,
  resolvePattern,
  wildcardTokens,
  type Lookup,
  type Token,
} from './variables.js';

/** Case-insensitive key lookup over the request's condition keys (IAM key names are case-insensitive). */
export function keyLookup(keys: Record<string, ConditionValue>): Lookup {
  let map: Map<string, ConditionValue> | undefined;
  return (key) => {
    // Exact spelling first (the common case), then the case-insensitive index, built on first need.
    if (Object.prototype.hasOwnProperty.call(keys, key)) return keys[key];
    if (!map) {
      map = new Map();
      for (const k of Object.keys(keys)) map.set(k.toLowerCase(), keys[k]!);
    }
    return map.get(key.toLowerCase());
  };
}

/**
 * Action patterns: case-insensitive, `*` and `?` wildcards, no policy variables (IAM substitutes them only in
 * Resource and Condition values). The two fast paths save globMatch's tokenizing (about 0.2-0.4 us a pattern).
 */
function actionMatches(pattern: string, action: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern.toLowerCase() === action.toLowerCase();
  return globMatch(pattern, action, true);
}

const q = (s: string): string => JSON.stringify(s);
const list = (xs: string[]): string => `[${xs.map(q).join(', ')}]`;

function isParsed(doc: unknown): doc is ParsedPolicy {
  return typeof doc === 'object' && doc !== null && 'statements' in doc && 'kind' in doc;
}

/**
 * Evaluate one policy. `doc` is a ParsedPolicy, or raw JSON (text or object) parsed here as a trust policy when
 * the request has a principal and as an identity policy otherwise (throws MalformedPolicyError when invalid).
 */
export function evaluatePolicy(doc: unknown, ctx: RequestContext, kind?: PolicyKind): EvaluationResult {
  const policy = isParsed(doc)
    ? doc
    : parsePolicy(doc, kind ?? (ctx.principal ? 'trust' : 'identity'), { maxSize: 0 });
  const lookup = keyLookup(ctx.conditionKeys);
  const variables = policy.version === '2012-10-17';
  const statements = policy.statements.map((st) => evaluateStatement(st, ctx, lookup, variables));
  return { decision: decide(statements), statements };
}

function decide(statements: StatementResult[]): Decision {
  if (statements.some((s) => s.matched && s.effect === 'Deny')) return 'ExplicitDeny';
  // No matched Deny: any matched statement is an Allow.
  if (statements.some((s) => s.matched)) return 'Allow';
  return 'ImplicitDeny';
}

export interface NamedEvaluation {
  name: string;
  result: EvaluationResult;
}

export interface MultiEvaluationResult {
  decision: Decision;
  policies: NamedEvaluation[];
}

/** Several permission policies of one principal: an explicit Deny in any wins, then any Allow. */
export function evaluatePolicies(
  docs: Array<{ name: string; document: unknown }>, // each as evaluatePolicy takes it
  ctx: RequestContext,
  kind?: PolicyKind,
): MultiEvaluationResult {
  const policies = docs.map((d) => ({ name: d.name, result: evaluatePolicy(d.document, ctx, kind) }));
  const all = policies.flatMap((p) => p.result.statements);
  return { decision: decide(all), policies };
}

function evaluateStatement(
  st: ParsedStatement,
  ctx: RequestContext,
  lookup: Lookup,
  variables: boolean,
): StatementResult {
  const elements: ElementResult[] = [];
  if (st.principal !== undefined) elements.push(principalElement('Principal', st.principal, ctx));
  if (st.notPrincipal !== undefined) elements.push(principalElement('NotPrincipal', st.notPrincipal, ctx));
  if (st.action) elements.push(actionElement('Action', st.action, ctx.action));
  if (st.notAction) elements.push(actionElement('NotAction', st.notAction, ctx.action));
  if (st.resource) elements.push(resourceElement('Resource', st.resource, ctx.resource, lookup, variables));
  if (st.notResource)
    elements.push(resourceElement('NotResource', st.notResource, ctx.resource, lookup, variables));
  if (st.conditions.length > 0) {
    const conditions = st.conditions.map((c) => evaluateCondition(c, lookup, variables));
    const failed = conditions.filter((c) => !c.matched);
    const el: ElementResult = {
      element: 'Condition',
      matched: failed.length === 0,
      reason:
        failed.length === 0
          ? `all ${conditions.length} condition(s) match`
          : `${failed.length} of ${conditions.length} condition(s) do not match: ${failed.map((c) => c.reason).join('; ')}`,
      conditions,
    };
    // Operators AND: one definite mismatch decides; otherwise an undetermined pair leaves it open.
    if (failed.length > 0 && failed.every((c) => c.undetermined)) el.undetermined = true;
    elements.push(el);
  }
  const result: StatementResult = {
    index: st.index,
    effect: st.effect,
    matched: statementApplies(st.effect, elements),
    elements,
    path: st.path,
  };
  if (st.sid !== undefined) result.sid = st.sid;
  return result;
}

/**
 * Every element must match. An element whose outcome cannot be known (a policy variable that cannot be resolved,
 * a resource ARN AWS documents no reading for) never lets an Allow apply and never stops a Deny: an unknown
 * never widens an Allow nor narrows a Deny. A definite mismatch elsewhere still decides.
 */
function statementApplies(effect: 'Allow' | 'Deny', elements: ElementResult[]): boolean {
  let undetermined = false;
  for (const e of elements) {
    if (e.matched) continue;
    if (!e.undetermined) return false;
    undetermined = true;
  }
  return !undetermined || effect === 'Deny';
}

// ---------------------------------------------------------------- Principal

/** Does one `AWS` principal value name the caller? Account id / root = any principal of that account. */
export function awsPrincipalMatches(value: string, callerId: string): boolean {
  if (value === '*') return true;
  if (value === callerId) return true;
  const caller = tryParseArn(callerId);
  const callerAccount = isAccountId(callerId) ? callerId : caller?.account;
  if (isAccountId(value)) return callerAccount === value;
  const v = tryParseArn(value);
  if (!v) return false;
  if (v.service === 'iam' && v.resource === 'root') {
    return callerAccount === v.account && (caller === undefined || caller.partition === v.partition);
  }
  // A role ARN (with its path) names every session of that role (whose ARN has no path).
  const role = parseRoleArn(value);
  const session = parseAssumedRoleArn(callerId);
  if (role && session) {
    return (
      role.partition === session.partition &&
      role.account === session.account &&
      role.name === session.roleName
    );
  }
  return false;
}

function principalElement(
  element: 'Principal' | 'NotPrincipal',
  spec: PrincipalSpec,
  ctx: RequestContext,
): ElementResult {
  const res = (matchedSpec: boolean, reason: string): ElementResult => ({
    element,
    matched: element === 'Principal' ? matchedSpec : !matchedSpec,
    reason,
    principal: spec,
  });
  const p = ctx.principal;
  if (spec === '*') return res(true, 'Principal "*" matches every caller, anonymous included');
  if (spec.AWS?.includes('*'))
    return res(true, 'Principal {"AWS": "*"} matches every caller, anonymous included');
  if (!p) return res(false, 'the request has no principal');
  const values = spec[p.type];
  const listed = Object.entries(spec)
    .map(([t, vs]) => `${t} ${list(vs ?? [])}`)
    .join(', ');
  if (!values || values.length === 0) {
    return res(
      false,
      `the caller is a ${p.type} principal ${q(p.id)}, but the statement lists only ${listed}`,
    );
  }
  const hit = values.find((v) => (p.type === 'AWS' ? awsPrincipalMatches(v, p.id) : v === p.id));
  if (hit !== undefined) return res(true, `${p.type} principal ${q(p.id)} matches ${q(hit)}`);
  return res(
    false,
    `${p.type} principal ${q(p.id)} is not ${values.length === 1 ? q(values[0]!) : `any of ${list(values)}`}`,
  );
}

// ---------------------------------------------------------------- Action / Resource

function actionElement(element: 'Action' | 'NotAction', patterns: string[], action: string): ElementResult {
  return { ...actionMatch(element, patterns, action), values: patterns };
}

function actionMatch(element: 'Action' | 'NotAction', patterns: string[], action: string): ElementResult {
  const hit = patterns.find((p) => actionMatches(p, action));
  const listed = patterns.length === 1 ? q(patterns[0]!) : list(patterns);
  if (element === 'Action') {
    return hit !== undefined
      ? { element, matched: true, reason: `action ${q(action)} matches ${q(hit)}` }
      : { element, matched: false, reason: `action ${q(action)} is not ${listed}` };
  }
  return hit !== undefined
    ? { element, matched: false, reason: `action ${q(action)} is excluded by NotAction ${q(hit)}` }
    : { element, matched: true, reason: `action ${q(action)} is not in NotAction ${listed}` };
}

function resourceElement(
  element: 'Resource' | 'NotResource',
  patterns: string[],
  resource: string | undefined,
  lookup: Lookup,
  variables: boolean,
): ElementResult {
  return { ...resourceMatch(element, patterns, resource, lookup, variables), values: patterns };
}

function resourceMatch(
  element: 'Resource' | 'NotResource',
  patterns: string[],
  resource: string | undefined,
  lookup: Lookup,
  variables: boolean,
): ElementResult {
  const listed = patterns.length === 1 ? q(patterns[0]!) : list(patterns);
  if (resource === undefined) {
    // No resource in the request: only "*" covers it.
    const star = patterns.includes('*');
    return element === 'Resource'
      ? { element, matched: star, reason: star ? 'Resource "*" matches' : 'the request names no resource' }
      : {
          element,
          matched: !star,
          reason: star ? 'NotResource "*" excludes everything' : 'the request names no resource',
        };
  }
  const outcomes = patterns.map((p) => ({ pattern: p, ...resourceOutcome(p, resource, lookup, variables) }));
  const hit = outcomes.find((o) => o.outcome === 'yes')?.pattern;
  const unknown = outcomes.filter((o) => o.outcome === 'unknown');
  const notes = unknown.map((o) => `${q(o.pattern)}: ${o.note}`);
  if (hit === undefined && unknown.length > 0) {
    const why = notes.join('; ');
    return {
      element,
      matched: false,
      undetermined: true,
      reason:
        element === 'Resource'
          ? `whether resource ${q(resource)} matches ${listed} is undetermined (${why})`
          : `whether NotResource ${listed} excludes resource ${q(resource)} is undetermined (${why})`,
    };
  }
  if (element === 'Resource') {
    return hit !== undefined
      ? { element, matched: true, reason: `resource ${q(resource)} matches ${q(hit)}` }
      : { element, matched: false, reason: `resource ${q(resource)} is not ${listed}` };
  }
  return hit !== undefined
    ? { element, matched: false, reason: `resource ${q(resource)} is excluded by NotResource ${q(hit)}` }
    : { element, matched: true, reason: `resource ${q(resource)} is not in NotResource ${listed}` };
}

type Outcome = 'yes' | 'no' | 'unknown';

/** The pattern's partition, service and region lowercased (its other segments as written). */
function lowerHead(pattern: string): string {
  return pattern
    .split(':')
    .map((seg, i) => (i >= 1 && i <= 3 ? seg.toLowerCase() : seg))
    .join(':');
}

/**
 * Does one Resource entry cover the request's resource?
 * - Policy variables are substituted only after the fifth colon, in the resource part of the ARN (IAM user
 *   guide, "Where you can use policy variables": "You can't use a variable to replace parts of the ARN before
 *   the fifth colon"); before it, `${...}` is plain text. One that cannot be resolved makes the entry `unknown`.
 * - Where AWS documents no reading, and the plausible readings disagree, the entry is `unknown`: a partition,
 *   service or region not in lowercase (read as written, and lowercased), and an ARN with fewer than six parts
 *   (read as written, and with its missing parts as `*`).
 */
function resourceOutcome(
  pattern: string,
  resource: string,
  lookup: Lookup,
  variables: boolean,
): { outcome: Outcome; note?: string } {
  if (pattern === '*') return { outcome: 'yes' };
  const parts = pattern.split(':');
  let rest: Token[] = [];
  let readings: string[];
  let ambiguity: string;
  if (parts.length > 5) {
    // Six parts or more: the head is up to the fifth colon, the rest is the resource part (colons and all).
    const r = resolvePattern(parts.slice(5).join(':'), true, variables, lookup);
    if (!r.ok) return { outcome: 'unknown', note: r.reason };
    rest = r.tokens;
    const head = `${parts.slice(0, 5).join(':')}:`;
    readings = [head, lowerHead(head)];
    ambiguity =
      'its partition, service or region is not in lowercase, and AWS documents no case rule for them';
  } else {
    const padded = (p: string): string => p + ':*'.repeat(6 - parts.length);
    readings = [pattern, lowerHead(pattern), padded(pattern), padded(lowerHead(pattern))];
    ambiguity = `it has ${parts.length} of an ARN's six parts, and AWS documents no reading for the missing ones`;
  }
  let yes = 0;
  const distinct = [...new Set(readings)];
  for (const head of distinct) if (matchTokens([...wildcardTokens(head), ...rest], resource)) yes++;
  if (yes === distinct.length) return { outcome: 'yes' };
  if (yes === 0) return { outcome: 'no' };
  return { outcome: 'unknown', note: ambiguity };
}
