/** The policy engine's decision for an AssumeRoleWithWebIdentity with the given sub and aud. */
import { evaluatePolicy } from '../../../src/iam/index.js';

export function evaluateTrustPolicy(
  policy: unknown,
  providerArn: string,
  providerId: string,
  sub: string,
  aud: string,
): boolean {
  const r = evaluatePolicy(policy, {
    action: 'sts:AssumeRoleWithWebIdentity',
    principal: { type: 'Federated', id: providerArn },
    conditionKeys: { [`${providerId}:sub`]: sub, [`${providerId}:aud`]: aud },
  });
  return r.decision === 'Allow';
}
