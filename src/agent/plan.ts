/**
 * The pure decision: a verified pod identity and its association → what to ask STS for. Time-free and I/O-free.
 *
 * Two credential models, chosen per installation:
 * - `agent-identity` (EKS Pod Identity's): the agent's own role calls sts:AssumeRole into the association's role
 *   with EKS's six session tags, all transitive, so one trust policy on the agent's role serves every cluster and
 *   ServiceAccount and permissions can test `aws:PrincipalTag/kubernetes-namespace`;
 * - `web-identity`: the pod's own token is traded with sts:AssumeRoleWithWebIdentity (the role's trust policy names
 *   the issuer and the ServiceAccount, as with IRSA; the provider lists the agent's audience).
 */
import { serviceError } from './errors.js';
import type { Association } from './association.js';
import type { PodIdentity } from './token.js';

export type CredentialsModel = 'agent-identity' | 'web-identity';
export const CREDENTIALS_MODELS: readonly CredentialsModel[] = ['agent-identity', 'web-identity'];

/** EKS's cluster name pattern (AssumeRoleForPodIdentity's clusterName). */
export const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;

/** The session tags EKS Pod Identity adds (EKS user guide, "List of session tags added by EKS Pod Identity"). */
export const TAG = {
  clusterArn: 'eks-cluster-arn',
  clusterName: 'eks-cluster-name',
  namespace: 'kubernetes-namespace',
  serviceAccount: 'kubernetes-service-account',
  podName: 'kubernetes-pod-name',
  podUid: 'kubernetes-pod-uid',
} as const;

export interface PlanOptions {
  model: CredentialsModel;
  clusterName: string;
  /** Optional: a cluster that is not EKS has no ARN unless the operator names one. */
  clusterArn?: string;
}

export interface CredentialsPlan {
  model: CredentialsModel;
  roleArn: string;
  targetRoleArn?: string;
  externalId?: string;
  sessionName: string;
  /** Session tags (agent-identity only; with web identity tags can only come from the token). */
  tags: Record<string, string>;
  transitiveTagKeys: string[];
  /** One credentials session: the pod and the association's revision (a changed association starts a new one). */
  cacheKey: string;
  association: string;
}

const SESSION_NAME_MAX = 64;

/** `eks-<cluster>-<pod>-<uid prefix>`, within STS's 64 characters of [\w+=,.@-]. */
export function sessionName(clusterName: string, pod: PodIdentity): string {
  const suffix = `-${pod.podUid.replace(/[^\w]/g, '').slice(0, 8)}`;
  const head = `eks-${clusterName}-${pod.podName}`.replace(/[^\w+=,.@-]/g, '-');
  return head.slice(0, SESSION_NAME_MAX - suffix.length) + suffix;
}

export function planCredentials(
  pod: PodIdentity,
  association: Association | undefined,
  o: PlanOptions,
  requestId: string,
): CredentialsPlan {
  if (!association)
    throw serviceError(
      'ResourceNotFoundException',
      `No Pod Identity Association for service account ${pod.serviceAccount} in namespace ${pod.namespace} of cluster ${o.clusterName}`,
      requestId,
    );
  const tags: Record<string, string> = {};
  let transitiveTagKeys: string[] = [];
  if (o.model === 'agent-identity') {
    if (!association.disableSessionTags) {
      if (o.clusterArn) tags[TAG.clusterArn] = o.clusterArn;
      tags[TAG.clusterName] = o.clusterName;
      tags[TAG.namespace] = pod.namespace;
      tags[TAG.serviceAccount] = pod.serviceAccount;
      tags[TAG.podName] = pod.podName;
      tags[TAG.podUid] = pod.podUid;
      transitiveTagKeys = Object.keys(tags);
    }
    for (const [k, v] of Object.entries(association.sessionTags))
      if (!Object.keys(tags).some((t) => t.toLowerCase() === k.toLowerCase())) tags[k] = v;
  }
  return {
    model: o.model,
    roleArn: association.roleArn,
    ...(association.targetRoleArn !== undefined && { targetRoleArn: association.targetRoleArn }),
    ...(association.externalId !== undefined && { externalId: association.externalId }),
    sessionName: sessionName(o.clusterName, pod),
    tags,
    transitiveTagKeys,
    cacheKey: `${pod.podUid}\n${association.revision}\n${o.model}`,
    association: association.name,
  };
}
