/** Role trust policies the tests give `sts serve` and the IAM API. */
import { oidcProviderArn, providerIdFromIssuer } from '../../src/iam/arn.js';

/**
 * IRSA's trust policy: the issuer's OIDC provider (in `account`) may assume the role for `sub` (one subject or a
 * list) with audience `aud`, both compared with StringEquals.
 */
export function webIdentityTrust(
  account: string,
  issuer: string,
  sub: string | string[],
  aud = 'sts.amazonaws.com',
): Record<string, unknown> {
  const id = providerIdFromIssuer(issuer);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: oidcProviderArn('aws', account, issuer) },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${id}:sub`]: sub, [`${id}:aud`]: aud } },
      },
    ],
  };
}

/**
 * EKS Pod Identity's trust policy (docs/agent.md): the agent's role may assume the role and tag the session, for
 * pods of one namespace (its `kubernetes-namespace` session tag).
 */
export function agentTrust(agentRoleArn: string, namespace: string): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: agentRoleArn },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: { StringEquals: { 'aws:RequestTag/kubernetes-namespace': namespace } },
      },
    ],
  };
}
