/**
 * The embedded sample account of `openirsa dev` (the seed's example): one OIDC provider for the local
 * issuer and the role s3-writer that great-namespace/great-serviceaccount may assume.
 */
import { oidcProviderArn, roleArn } from '../iam/arn.js';

export interface DevIdentity {
  accountId: string;
  partition: string;
  region: string;
  roleName: string;
  namespace: string;
  serviceAccount: string;
  audience: string;
  bucket: string;
}

export const DEFAULT_IDENTITY: DevIdentity = {
  accountId: '111122223333',
  partition: 'aws',
  region: 'us-east-1',
  roleName: 's3-writer',
  namespace: 'great-namespace',
  serviceAccount: 'great-serviceaccount',
  audience: 'sts.amazonaws.com',
  bucket: 'openirsa-dev-bucket',
};

/** The IRSA trust policy a platform team writes for one ServiceAccount (what `eksctl` generates). */
export function trustPolicy(id: DevIdentity, issuerUrl: string): object {
  const host = issuerUrl.replace(/^https:\/\//, '');
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: oidcProviderArn(id.partition, id.accountId, issuerUrl) },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${host}:sub`]: `system:serviceaccount:${id.namespace}:${id.serviceAccount}`,
            [`${host}:aud`]: id.audience,
          },
        },
      },
    ],
  };
}

/** The STS config (same shapes as `openirsa sts serve --config`), written to the state folder for reuse. */
export function stsConfigDocument(
  id: DevIdentity,
  issuerUrl: string,
  caFile: string,
  sessionKeyFile: string,
): Record<string, unknown> {
  return {
    accountId: id.accountId,
    partition: id.partition,
    region: id.region,
    sessionKeyFile,
    oidcProviders: [{ Url: issuerUrl, ClientIDList: [id.audience], caBundle: caFile }],
    roles: [
      {
        RoleName: id.roleName,
        Path: '/',
        MaxSessionDuration: 3600,
        AssumeRolePolicyDocument: trustPolicy(id, issuerUrl),
        RolePolicyList: [writeObjects(id)],
      },
      ...podIdentityRoles(id, issuerUrl),
    ],
  };
}

/**
 * EKS Pod Identity in `openirsa dev`: the agent's own ServiceAccount and role (IRSA), and the role the sample
 * ServiceAccount gets through the agent (trusts the agent's role once, ABAC on the namespace session tag).
 */
export const DEV_AGENT = {
  namespace: 'openirsa-system',
  serviceAccount: 'openirsa-agent',
  roleName: 'openirsa-agent',
  clusterName: 'dev',
};
export const podIdentityRoleName = (id: DevIdentity): string => `${id.roleName}-pod-identity`;

function podIdentityRoles(id: DevIdentity, issuerUrl: string): object[] {
  return [
    {
      RoleName: DEV_AGENT.roleName,
      Path: '/',
      AssumeRolePolicyDocument: trustPolicy(
        { ...id, namespace: DEV_AGENT.namespace, serviceAccount: DEV_AGENT.serviceAccount },
        issuerUrl,
      ),
    },
    {
      RoleName: podIdentityRoleName(id),
      Path: '/',
      MaxSessionDuration: 3600,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: devAgentRoleArn(id) },
            Action: ['sts:AssumeRole', 'sts:TagSession'],
            Condition: { StringEquals: { 'aws:RequestTag/kubernetes-namespace': id.namespace } },
          },
        ],
      },
      RolePolicyList: [writeObjects(id)],
    },
  ];
}

function writeObjects(id: DevIdentity): object {
  return {
    PolicyName: 'write-objects',
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:${id.partition}:s3:::${id.bucket}/*` },
      ],
    },
  };
}

/** The association the dev agent serves: the sample ServiceAccount → the pod identity role. */
export function associationDocument(id: DevIdentity): object {
  return {
    apiVersion: 'openirsa.io/v1alpha1',
    kind: 'PodIdentityAssociation',
    metadata: { name: `${id.namespace}-${id.serviceAccount}` },
    spec: {
      namespace: id.namespace,
      serviceAccount: id.serviceAccount,
      roleArn: roleArn(id.partition, id.accountId, podIdentityRoleName(id), '/'),
    },
  };
}

export function devRoleArn(id: DevIdentity): string {
  return roleArn(id.partition, id.accountId, id.roleName, '/');
}

/** The role of the dev agent's own ServiceAccount. */
export function devAgentRoleArn(id: DevIdentity): string {
  return roleArn(id.partition, id.accountId, DEV_AGENT.roleName, '/');
}

/** The ServiceAccount the webhook's static source holds. */
export function serviceAccountsDocument(id: DevIdentity, roleArnValue: string): object {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: id.serviceAccount,
      namespace: id.namespace,
      annotations: { 'eks.amazonaws.com/role-arn': roleArnValue },
    },
  };
}

/** A pod of that ServiceAccount, as a user would create it. */
export function samplePod(id: DevIdentity): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 's3-uploader', namespace: id.namespace },
    spec: {
      serviceAccountName: id.serviceAccount,
      containers: [
        {
          name: 'app',
          image: 'amazon/aws-cli:latest',
          command: ['aws', 's3', 'cp', '/data/report.csv', `s3://${id.bucket}/`],
        },
      ],
    },
  };
}
