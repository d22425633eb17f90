/**
 * `openirsa setup delete` as a pure planner: what setup created (tagged / labelled) goes when nothing else uses
 * it; in what existed before, or what others now share, only setup's own statement and annotation go.
 */
import {
  CREATED_BY_KEY,
  CREATED_BY_VALUE,
  PHASES,
  isOurs,
  providerArnOf,
  roleAnnotationKey,
  roleArnOf,
  statementSidOf,
  statementsOf,
  trustsProvider,
  type Action,
  type Observed,
  type Phase,
  type SetupSpec,
  type Step,
  type TrustPolicy,
} from './plan.js';

/**
 * The steps that undo setup: what it created (tagged / labelled) is deleted; in what existed before, only its
 * own trust statement and annotation are removed. Everything else stays.
 */
export function planDelete(spec: SetupSpec, observed: Observed, phases: readonly Phase[] = PHASES): Step[] {
  const steps: Step[] = [];
  const unchanged = (phase: Phase, resource: string, detail: string, existed: boolean): Step => ({
    phase,
    resource,
    status: 'unchanged',
    detail,
    existed,
    actions: [],
  });
  if (phases.includes('serviceaccount')) {
    const resource = `ServiceAccount ${spec.namespace}/${spec.serviceAccount}`;
    const sa = observed.serviceAccount;
    const key = roleAnnotationKey(spec);
    if (!sa) steps.push(unchanged('serviceaccount', resource, 'does not exist', false));
    else if (sa.labels[CREATED_BY_KEY] === CREATED_BY_VALUE) {
      steps.push({
        phase: 'serviceaccount',
        resource,
        status: 'delete',
        detail: 'created by setup',
        existed: true,
        actions: [
          {
            api: 'kubernetes',
            action: 'DeleteServiceAccount',
            input: { namespace: spec.namespace, name: spec.serviceAccount },
          },
        ],
      });
    } else if (sa.annotations[key] === roleArnOf(spec)) {
      steps.push({
        phase: 'serviceaccount',
        resource,
        status: 'update',
        detail: `remove annotation ${key}; the ServiceAccount existed before setup: kept`,
        existed: true,
        actions: [
          {
            api: 'kubernetes',
            action: 'PatchServiceAccountAnnotations',
            input: { namespace: spec.namespace, name: spec.serviceAccount, annotations: { [key]: null } },
          },
        ],
      });
    } else steps.push(unchanged('serviceaccount', resource, `not annotated with ${roleArnOf(spec)}`, true));
  }
  // The role's trust policy once the role step has run (undefined: deleted or absent).
  let roleAfter: TrustPolicy | undefined = observed.role?.trustPolicy;
  if (phases.includes('role')) {
    const resource = `role ${roleArnOf(spec)}`;
    const r = observed.role;
    const sid = statementSidOf(spec);
    const statements = statementsOf(r?.trustPolicy);
    const others = statements.filter((s) => s.Sid !== sid);
    if (!r) steps.push(unchanged('role', resource, 'does not exist', false));
    else if (isOurs(r.tags) && others.length === 0) {
      roleAfter = undefined;
      steps.push({
        phase: 'role',
        resource,
        status: 'delete',
        detail: 'created by setup; its policies detached first',
        existed: true,
        actions: [
          ...r.attachedPolicyArns.map((PolicyArn): Action => ({
            api: 'iam',
            action: 'DetachRolePolicy',
            input: { RoleName: spec.roleName, PolicyArn },
          })),
          ...Object.keys(r.inlinePolicies).map((PolicyName): Action => ({
            api: 'iam',
            action: 'DeleteRolePolicy',
            input: { RoleName: spec.roleName, PolicyName },
          })),
          { api: 'iam', action: 'DeleteRole', input: { RoleName: spec.roleName } },
        ],
      });
    } else if (others.length === statements.length)
      steps.push(unchanged('role', resource, 'has no statement added by setup', true));
    else if (others.length === 0) {
      // IAM refuses a trust policy without statements; a role that existed keeps its last one.
      steps.push(
        unchanged(
          'role',
          resource,
          "setup's statement is its only one: left in place (delete the role yourself if it is no longer needed)",
          true,
        ),
      );
    } else {
      // A role setup created that now trusts others too (another ServiceAccount, another issuer) stays.
      roleAfter = { ...r.trustPolicy, Statement: others };
      steps.push({
        phase: 'role',
        resource,
        status: 'update',
        detail: isOurs(r.tags)
          ? `remove trust statement ${sid}; created by setup but it trusts others too: the role, its other statements and policies kept`
          : `remove trust statement ${sid}; the role existed before setup: other statements and policies kept`,
        existed: true,
        actions: [
          {
            api: 'iam',
            action: 'UpdateAssumeRolePolicy',
            input: { RoleName: spec.roleName, PolicyDocument: JSON.stringify(roleAfter) },
          },
        ],
      });
    }
  }
  if (phases.includes('provider')) {
    const resource = `IAM OIDC provider ${providerArnOf(spec)}`;
    const p = observed.provider;
    if (!p) steps.push(unchanged('provider', resource, 'does not exist', false));
    else if (isOurs(p.tags)) {
      const trustedBy = [
        ...(observed.rolesTrustingProvider ?? []).filter((arn) => arn !== roleArnOf(spec)),
        ...(trustsProvider(roleAfter, p.arn) ? [roleArnOf(spec)] : []),
      ];
      if (trustedBy.length > 0) {
        steps.push(
          unchanged(
            'provider',
            resource,
            `created by setup, but still trusted by ${trustedBy.length === 1 ? `role ${trustedBy[0]}` : `${trustedBy.length} roles (${trustedBy.join(', ')})`}: kept`,
            true,
          ),
        );
      } else
        steps.push({
          phase: 'provider',
          resource,
          status: 'delete',
          detail: 'created by setup',
          existed: true,
          actions: [
            { api: 'iam', action: 'DeleteOpenIDConnectProvider', input: { OpenIDConnectProviderArn: p.arn } },
          ],
        });
    } else steps.push(unchanged('provider', resource, 'existed before setup: kept (client ids too)', true));
  }
  return steps;
}
