/**
 * The effective permission of a role session (IAM "Policy evaluation logic", session policies): the role's
 * identity policies intersected with the session policies (inline `Policy` and `PolicyArns`), widened only by
 * a resource-based policy that grants the request itself. An explicit Deny in any policy wins. One pure function,
 * used by AssumeRole (role chaining), `openirsa explain --action` and the IAM API's authorization.
 */
import { evaluatePolicies, type MultiEvaluationResult } from './evaluate.js';
import type { ParsedPolicy } from './policy.js';
import type { Decision, RequestContext } from './types.js';

export interface NamedPolicy {
  name: string;
  document: ParsedPolicy;
}

/**
 * What a resource-based policy (for AssumeRole: the target role's trust policy) grants the request:
 * - `none`: nothing, or only the caller's account: the identity policies must allow;
 * - `principal`: names the caller's role (or everyone): added to the identity policies before the session
 *   policies limit them, so the session policies must still allow;
 * - `session`: names the session ARN itself: added after the session is created, not limited by session policies.
 */
export type ResourceGrant = 'none' | 'principal' | 'session';

export interface SessionPolicies {
  /** The role's identity (permission) policies: inline and attached managed ones. */
  identity: NamedPolicy[];
  /** The session policies; undefined when the session was created without any (then nothing limits it). */
  session?: NamedPolicy[];
  resourceGrant?: ResourceGrant;
}

export interface EffectivePermission {
  decision: Decision;
  /** Which layer decided a denial: an explicit Deny's policy set, or the set that did not allow. */
  deniedBy?: 'identity' | 'session';
  identity: MultiEvaluationResult;
  session?: MultiEvaluationResult;
}

export function effectivePermission(p: SessionPolicies, ctx: RequestContext): EffectivePermission {
  const identity = evaluatePolicies(p.identity, ctx, 'identity');
  const session = p.session ? evaluatePolicies(p.session, ctx, 'identity') : undefined;
  const out = (decision: Decision, deniedBy?: 'identity' | 'session'): EffectivePermission => ({
    decision,
    ...(deniedBy ? { deniedBy } : {}),
    identity,
    ...(session ? { session } : {}),
  });
  // An explicit Deny anywhere wins over every Allow, a resource policy's included.
  if (identity.decision === 'ExplicitDeny') return out('ExplicitDeny', 'identity');
  if (session?.decision === 'ExplicitDeny') return out('ExplicitDeny', 'session');
  const grant = p.resourceGrant ?? 'none';
  if (grant === 'session') return out('Allow');
  if (grant === 'none' && identity.decision !== 'Allow') return out('ImplicitDeny', 'identity');
  if (session && session.decision !== 'Allow') return out('ImplicitDeny', 'session');
  return out('Allow');
}
