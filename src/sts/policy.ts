/**
 * The one place the STS calls the policy engine (src/iam): parse trust/permission/session policies, evaluate,
 * and render an evaluation as explanation lines for logs and `openirsa explain`.
 */
import { evaluatePolicies, evaluatePolicy, parsePolicy, type ParsedPolicy } from '../iam/index.js';
import type { EvaluationResult, RequestContext, StatementResult } from '../iam/types.js';

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

export function evaluateTrust(doc: PolicyDoc, ctx: RequestContext): EvaluationResult {
  return evaluatePolicy(doc, ctx, 'trust');
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
  for (const e of s.elements) {
    lines.push(`${indent}  ${e.matched ? 'ok ' : 'NO '} ${e.element}: ${e.reason}`);
    for (const c of e.conditions ?? [])
      lines.push(`${indent}      ${c.matched ? 'ok ' : 'NO '} ${c.operator} ${c.key}: ${c.reason}`);
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
