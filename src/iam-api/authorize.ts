/**
 * Who may call the IAM API: the configured admin key (allowed everything, for labs), or an STS session whose
 * role's permission policies — intersected with the session's own policies — allow the `iam:` action on the
 * resource. The denial names the missing permission in AWS's words and carries the per-statement reasons.
 */
import { effectivePermission } from '../iam/effective.js';
import type { ConditionValue, Decision } from '../iam/types.js';
import type { StsConfig } from '../sts/config.js';
import type { Session } from '../sts/credentials.js';
import { renderEvaluation, sessionPermissionPolicies } from '../sts/policy.js';
import { IAM_MSG, IamApiError } from './errors.js';

export type Caller =
  | { kind: 'admin'; arn: string; userName: string; accessKeyId: string }
  | { kind: 'session'; arn: string; session: Session };

export interface PermissionCheck {
  action: string;
  resource: string;
  conditionKeys: Record<string, ConditionValue>;
}

export interface PermissionResult {
  decision: Decision;
  /** Which layer refused: the role's identity policies, or the session policies. */
  deniedBy?: 'identity' | 'session';
  lines: string[];
}

/** The effective permission of a role session (src/iam/effective.ts), with per-policy reasons for the denial. */
export function sessionPermission(
  config: StsConfig,
  session: Session,
  check: PermissionCheck,
): PermissionResult {
  const ctx = { action: check.action, resource: check.resource, conditionKeys: check.conditionKeys };
  const { role, identity, session: bound } = sessionPermissionPolicies(config, session);
  const r = effectivePermission({ identity, session: bound }, ctx);
  const lines = r.identity.policies.flatMap((p) => [
    `policy ${p.name}:`,
    ...renderEvaluation(p.result, '  '),
  ]);
  if (!role) lines.push(`the session's role ${session.roleName} no longer exists: it has no permissions`);
  else if (identity.length === 0) lines.push(`role ${role.arn} has no permission policies`);
  if (r.session)
    lines.push(...r.session.policies.flatMap((p) => [`${p.name}:`, ...renderEvaluation(p.result, '  ')]));
  return { decision: r.decision, ...(r.deniedBy ? { deniedBy: r.deniedBy } : {}), lines };
}

/** Throws AWS's AccessDenied when the caller may not do `check`; returns the reasons when it may. */
export function authorize(config: StsConfig, caller: Caller, check: PermissionCheck): string[] {
  if (caller.kind === 'admin')
    return [`${caller.arn} is the configured IAM API administrator (iamApi.admin)`];
  const r = sessionPermission(config, caller.session, check);
  if (r.decision === 'Allow') return r.lines;
  const why =
    r.decision === 'ExplicitDeny'
      ? IAM_MSG.explicitDeny
      : r.deniedBy === 'session'
        ? IAM_MSG.noSessionPolicy(check.action)
        : IAM_MSG.noIdentityPolicy(check.action);
  const err = new IamApiError(
    'AccessDenied',
    IAM_MSG.notAuthorized(caller.arn, check.action, check.resource, why),
    `${r.decision}: ${check.action} on ${check.resource} for ${caller.arn} (${r.deniedBy} policies)`,
  );
  err.details = r.lines;
  throw err;
}
