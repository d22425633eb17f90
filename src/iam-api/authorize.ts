/**
 * Who may call the IAM API: the configured admin key (allowed everything, for labs), or an STS session whose
 * role's permission policies — intersected with the session's own policies — allow the `iam:` action on the
 * resource. The denial names the missing permission in AWS's words and carries the per-statement reasons.
 */
import { roleArn } from '../iam/arn.js';
import { parsePolicy } from '../iam/policy.js';
import type { ConditionValue, Decision } from '../iam/types.js';
import type { StsConfig } from '../sts/config.js';
import type { Session } from '../sts/credentials.js';
import { evaluatePermissions, renderEvaluation } from '../sts/policy.js';
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

/**
 * The effective permission of a role session: role identity policies ∩ session policies, explicit deny first.
 * The one adapter to switch to the shared effective-permission function of src/iam once it lands (issue 10).
 */
export function sessionPermission(
  config: StsConfig,
  session: Session,
  check: PermissionCheck,
): PermissionResult {
  const ctx = { action: check.action, resource: check.resource, conditionKeys: check.conditionKeys };
  const role = config.roles.get(
    roleArn(session.partition, session.account, session.roleName, session.rolePath ?? '/'),
  );
  const docs = role
    ? [
        ...role.inlinePolicies,
        ...role.managedPolicyArns.flatMap((a) => {
          const p = config.managedPolicies.get(a);
          return p ? [{ name: a, document: p.document }] : [];
        }),
      ]
    : [];
  const identity = evaluatePermissions(docs, ctx);
  const lines = identity.policies.flatMap((p) => [`policy ${p.name}:`, ...renderEvaluation(p.result, '  ')]);
  if (!role) lines.push(`the session's role ${session.roleName} no longer exists: it has no permissions`);
  else if (docs.length === 0) lines.push(`role ${role.arn} has no permission policies`);
  const sessionDocs = [
    ...(session.sessionPolicy
      ? [{ name: 'session policy', document: parsePolicy(session.sessionPolicy, 'identity', { maxSize: 0 }) }]
      : []),
    ...(session.policyArns ?? []).flatMap((a) => {
      const p = config.managedPolicies.get(a);
      return p ? [{ name: `session ${a}`, document: p.document }] : [];
    }),
  ];
  const bounded = session.sessionPolicy !== undefined || (session.policyArns?.length ?? 0) > 0;
  const sess = bounded ? evaluatePermissions(sessionDocs, ctx) : undefined;
  if (sess) lines.push(...sess.policies.flatMap((p) => [`${p.name}:`, ...renderEvaluation(p.result, '  ')]));
  if (identity.decision === 'ExplicitDeny') return { decision: 'ExplicitDeny', deniedBy: 'identity', lines };
  if (sess?.decision === 'ExplicitDeny') return { decision: 'ExplicitDeny', deniedBy: 'session', lines };
  if (identity.decision !== 'Allow') return { decision: 'ImplicitDeny', deniedBy: 'identity', lines };
  if (sess && sess.decision !== 'Allow') return { decision: 'ImplicitDeny', deniedBy: 'session', lines };
  return { decision: 'Allow', lines };
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
