/**
 * `openirsa setup verify`: the chain proven end to end for one ServiceAccount — a TokenRequest token with the
 * audience the webhook projects, the IAM provider and trust policy as AWS holds them, then a real
 * AssumeRoleWithWebIdentity and GetCallerIdentity naming the role. The analysis is doctor's (aws-checks.ts).
 */
import { decodeJwt } from 'jose';
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Check } from '../doctor/checks.js';
import { runAwsChecks } from '../doctor/aws.js';
import { kubeErrorText } from '../kube/client-errors.js';

export interface VerifyOptions {
  core: CoreV1Api;
  namespace: string;
  serviceAccount: string;
  annotationPrefix: string;
  /** Default: the ServiceAccount's role-arn annotation. */
  roleArn?: string;
  /** Default: the ServiceAccount's audience annotation, else sts.amazonaws.com. */
  audience?: string;
}

export async function verifySetup(o: VerifyOptions): Promise<Check[]> {
  const ref = `${o.namespace}/${o.serviceAccount}`;
  let annotations: Record<string, string> = {};
  try {
    const sa = await o.core.readNamespacedServiceAccount({ namespace: o.namespace, name: o.serviceAccount });
    annotations = sa.metadata?.annotations ?? {};
  } catch (err) {
    return [
      { id: 'service-account', title: `ServiceAccount ${ref}`, status: 'fail', detail: kubeErrorText(err) },
    ];
  }
  const roleArn = o.roleArn ?? annotations[`${o.annotationPrefix}/role-arn`];
  const audience = o.audience ?? annotations[`${o.annotationPrefix}/audience`] ?? 'sts.amazonaws.com';
  const checks: Check[] = [];
  if (!roleArn) {
    return [
      {
        id: 'service-account',
        title: `ServiceAccount ${ref}`,
        status: 'fail',
        detail: `no ${o.annotationPrefix}/role-arn annotation`,
        fix: 'openirsa setup --phases serviceaccount …',
      },
    ];
  }
  checks.push({
    id: 'service-account',
    title: `ServiceAccount ${ref}`,
    status: 'pass',
    detail: `role ${roleArn}`,
  });
  let token: string;
  let claims: { iss?: string; sub?: string };
  try {
    const tr = await o.core.createNamespacedServiceAccountToken({
      name: o.serviceAccount,
      namespace: o.namespace,
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: [audience], expirationSeconds: 600 },
      },
    });
    token = tr.status?.token ?? '';
    claims = decodeJwt(token);
  } catch (err) {
    checks.push({
      id: 'token',
      title: `TokenRequest (audience ${audience})`,
      status: 'fail',
      detail: kubeErrorText(err),
    });
    return checks;
  }
  checks.push({
    id: 'token',
    title: `TokenRequest (audience ${audience})`,
    status: 'pass',
    detail: `iss ${claims.iss}, sub ${claims.sub}`,
  });
  if (!claims.iss || !claims.sub) return checks;
  checks.push(
    ...(await runAwsChecks({
      token,
      issuer: claims.iss,
      sub: claims.sub,
      audience,
      roleArn,
      exchange: true,
    })),
  );
  return checks;
}
