/**
 * The one place the STS calls the policy engine (src/iam): parse trust/permission/session policies, evaluate,
 * and render an evaluation as explanation lines for logs and `openirsa explain`.
 */
import {
  evaluatePolicies,
  evaluatePolicy,
  parsePolicy,
  variablesIn,
  type ParsedPolicy,
} from '../iam/index.js';
import { roleArn } from '../iam/arn.js';
import type { EvaluationResult, RequestContext, StatementResult } from '../iam/types.js';
import type { NamedPolicy } from '../iam/effective.js';
import type { RoleConfig, StsConfig } from './config.js';

export type PolicyDoc = ParsedPolicy;
export type { EvaluationResult, RequestContext };

/** A role trust policy as IAM validates it (object, JSON text or URL-encoded JSON); throws MalformedPolicyError. */
export function checkTrustPolicy(raw: unknown): PolicyDoc {
  return parsePolicy(raw, 'trust');
}

/** An identity (permission) policy; throws MalformedPolicyError. */
export function checkPermissionPolicy(raw: unknown): PolicyDoc {
  return parsePolicy(raw, 'identity');
}

/** A session policy (the `Policy` parameter): an identity policy whose plaintext limit is checked by the caller. */
export function checkSessionPolicy(text: string): PolicyDoc {
  return parsePolicy(text, 'identity', { maxSize: 0 });
}

/** The condition keys a policy can read (condition keys and `${...}` variables), as written, deduplicated by case. */
const referenced = new WeakMap<PolicyDoc, string[]>();
function keysReadBy(doc: PolicyDoc): string[] {
  let keys = referenced.get(doc);
  if (!keys) {
    const byLower = new Map<string, string>();
    const add = (k: string) => byLower.has(k.toLowerCase()) || byLower.set(k.toLowerCase(), k);
    for (const st of doc.statements)
      for (const c of st.conditions) {
        add(c.key);
        for (const v of c.values) for (const name of variablesIn(v)) add(name);
      }
    keys = [...byLower.values()].sort();
    referenced.set(doc, keys);
  }
  return keys;
}

/** A key's value, by exact name first (the common case, no allocation), else case-insensitively as IAM does. */
function lookup(keys: Record<string, unknown>, name: string): unknown {
  const exact = keys[name];
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const k in keys) if (k.toLowerCase() === lower) return keys[k];
  return undefined;
}

const TRUST_CACHE_MAX = 10_000;
const trustCache = new WeakMap<PolicyDoc, Map<string, EvaluationResult>>();

/**
 * Trust-policy evaluation, memoised. Evaluation is a pure function of the policy, the action, the principal and the
 * values of the keys the policy reads, so those make the cache key (time keys included when the policy reads
 * them). Every AssumeRoleWithWebIdentity of one service account hits the same entry.
 */
export function evaluateTrust(doc: PolicyDoc, ctx: RequestContext): EvaluationResult {
  let cacheKey = `${ctx.action}\u0000${ctx.principal?.type ?? ''}\u0000${ctx.principal?.id ?? ''}`;
  for (const k of keysReadBy(doc)) {
    const v = lookup(ctx.conditionKeys, k);
    // JSON keeps strings, arrays and absence apart, so no two contexts share a key.
    cacheKey += v === undefined ? '\u0000-' : `\u0000${JSON.stringify(v)}`;
  }
  let cache = trustCache.get(doc);
  if (!cache) trustCache.set(doc, (cache = new Map<string, EvaluationResult>()));
  let result = cache.get(cacheKey);
  if (!result) {
    result = evaluatePolicy(doc, ctx, 'trust');
    if (cache.size >= TRUST_CACHE_MAX) cache.clear();
    cache.set(cacheKey, result);
  }
  return result;
}

export function evaluatePermissions(
  docs: Array<{ name: string; document: PolicyDoc }>,
  ctx: RequestContext,
): { decision: EvaluationResult['decision']; policies: Array<{ name: string; result: EvaluationResult }> } {
  return evaluatePolicies(docs, ctx, 'identity');
}

function statementLines(s: StatementResult, indent: string): string[] {
  const title = `${s.path}${s.sid ? ` (Sid ${JSON.stringify(s.sid)})` : ''} ${s.effect}: ${s.matched ? 'applies' : 'does not apply'}`;
  const lines = [`${indent}${title}`];
  // `?  `: undetermined (an unresolvable policy variable; it never grants, and a Deny still applies)
  const mark = (r: { matched: boolean; undetermined?: boolean }): string =>
    r.matched ? 'ok ' : r.undetermined ? '?  ' : 'NO ';
  for (const e of s.elements) {
    lines.push(`${indent}  ${mark(e)} ${e.element}: ${e.reason}`);
    for (const c of e.conditions ?? [])
      lines.push(`${indent}      ${mark(c)} ${c.operator} ${c.key}: ${c.reason}`);
  }
  return lines;
}

/** Per-statement reasons, one line per element and condition. */
export function renderEvaluation(result: EvaluationResult, indent = '  '): string[] {
  if (result.statements.length === 0) return [`${indent}(the policy has no statements)`];
  return result.statements.flatMap((s) => statementLines(s, indent));
}

/** A one-line summary of why a decision was reached, for the log's `reason` field. */
export function summarizeEvaluation(result: EvaluationResult): string {
  if (result.decision === 'ExplicitDeny') {
    const d = result.statements.find((s) => s.matched && s.effect === 'Deny');
    return `explicit Deny by ${d?.path ?? 'a statement'}${d?.sid ? ` (Sid ${d.sid})` : ''}`;
  }
  if (result.decision === 'Allow') {
    const a = result.statements.find((s) => s.matched && s.effect === 'Allow');
    return `allowed by ${a?.path ?? 'a statement'}${a?.sid ? ` (Sid ${a.sid})` : ''}`;
  }
  const allows = result.statements.filter((s) => s.effect === 'Allow');
  if (allows.length === 0) return 'no Allow statement (implicit deny)';
  return `no Allow statement applies (implicit deny): ${allows
    .map(
      (s) =>
        `${s.path}: ${s.elements
          .filter((e) => !e.matched)
          .map((e) => `${e.element} ${e.reason}`)
          .join('; ')}`,
    )
    .join(' | ')}`;
}

/** The role a session belongs to, as the config holds it now (undefined once the role is gone). */
export function roleOfSession(
  config: StsConfig,
  s: { partition: string; account: string; roleName: string; rolePath?: string },
): RoleConfig | undefined {
  return config.roles.get(roleArn(s.partition, s.account, s.roleName, s.rolePath ?? '/'));
}

/**
 * What a session may do is its role's identity policies bounded by its session policies: gathered here once for
 * AssumeRole's caller check, the IAM API and `openirsa explain`.
 */
export function sessionPermissionPolicies(
  config: StsConfig,
  session: Parameters<typeof roleOfSession>[1] & Parameters<typeof sessionPolicyDocs>[1],
): { role: RoleConfig | undefined; identity: NamedPolicy[]; session: NamedPolicy[] | undefined } {
  const role = roleOfSession(config, session);
  return {
    role,
    identity: roleIdentityPolicies(config, role),
    session: sessionPolicyDocs(config, session),
  };
}

/** A role's identity policies: inline, then attached managed ones (named by ARN; undeclared ones are skipped). */
export function roleIdentityPolicies(config: StsConfig, role: RoleConfig | undefined): NamedPolicy[] {
  if (!role) return [];
  return [
    ...role.inlinePolicies,
    ...role.managedPolicyArns.flatMap((a) => {
      const p = config.managedPolicies.get(a);
      return p ? [{ name: a, document: p.document }] : [];
    }),
  ];
}

/**
 * A session's policies (`Policy` and `PolicyArns` it was created with), or undefined when it has none. A
 * PolicyArns entry no longer declared stays in as an empty policy: it allows nothing, so the session stays
 * limited (fail closed) instead of losing its bound.
 */
export function sessionPolicyDocs(
  config: StsConfig,
  session: { sessionPolicy?: string; policyArns?: string[] },
): NamedPolicy[] | undefined {
  if (session.sessionPolicy === undefined && !session.policyArns?.length) return undefined;
  return [
    ...(session.sessionPolicy !== undefined
      ? [{ name: 'session policy', document: checkSessionPolicy(session.sessionPolicy) }]
      : []),
    ...(session.policyArns ?? []).map((a) => ({
      name: `session policy ${a}`,
      document: config.managedPolicies.get(a)?.document ?? EMPTY_POLICY,
    })),
  ];
}

const EMPTY_POLICY: PolicyDoc = { kind: 'identity', version: '2012-10-17', statements: [], size: 0 };
