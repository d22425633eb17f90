/**
 * Reads IAM and STS for the AWS-side checks (aws-checks.ts): the provider and the role through
 * @aws-sdk/client-iam, and, when asked, a real AssumeRoleWithWebIdentity + GetCallerIdentity with the token.
 * The standard AWS environment decides where (AWS_ENDPOINT_URL_IAM / _STS, AWS_CA_BUNDLE).
 */
import { GetOpenIDConnectProviderCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { Check } from './checks.js';
import { awsClientConfig, awsErrorText, isNoSuchEntity } from '../aws/sdk.js';
import { decodePolicyText } from '../iam/policy.js';
import { providerIdFromIssuer } from '../iam/arn.js';
import { checkAwsExchange, checkAwsProvider, checkAwsTrust, type Read } from './aws-checks.js';
import { messageOf } from '../errors.js';

async function read<T>(f: () => Promise<T>): Promise<Read<T>> {
  try {
    return { value: await f() };
  } catch (err) {
    return isNoSuchEntity(err) ? { missing: true } : { error: awsErrorText(err) };
  }
}

export interface AwsCheckInput {
  token: string;
  issuer: string;
  sub: string;
  audience: string;
  roleArn: string;
  /** Also trade the token at STS (a real AssumeRoleWithWebIdentity). */
  exchange: boolean;
  partition?: string;
}

/** The role's account: the provider is in the same account as the role that trusts it. */
export async function runAwsChecks(i: AwsCheckInput): Promise<Check[]> {
  let config;
  try {
    config = await awsClientConfig();
  } catch (err) {
    return [
      {
        id: 'aws-provider',
        title: 'AWS client configuration',
        status: 'fail',
        detail: messageOf(err),
      },
    ];
  }
  const account = /^arn:[^:]+:iam::(\d{12}):/.exec(i.roleArn)?.[1] ?? '000000000000';
  const partition = i.partition ?? i.roleArn.split(':')[1] ?? 'aws';
  const providerArn = `arn:${partition}:iam::${account}:oidc-provider/${providerIdFromIssuer(i.issuer)}`;
  const iam = new IAMClient(config);
  const checks: Check[] = [];
  const provider = await read(async () => {
    const p = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }));
    return { clientIds: p.ClientIDList ?? [] };
  });
  checks.push(checkAwsProvider(provider, providerArn, i.audience));
  const roleName = i.roleArn.split('/').pop()!;
  const role = await read(async () => {
    const r = await iam.send(new GetRoleCommand({ RoleName: roleName }));
    const doc = r.Role?.AssumeRolePolicyDocument ?? '';
    return { trustPolicy: decodePolicyText(doc) };
  });
  checks.push(checkAwsTrust(role, i.roleArn, providerArn, { sub: i.sub, aud: i.audience }));
  if (i.exchange) {
    const exchanged = await read(async () => {
      const sts = new STSClient(config);
      const r = await sts.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: i.roleArn,
          RoleSessionName: 'openirsa-verify',
          WebIdentityToken: i.token,
          DurationSeconds: 900,
        }),
      );
      const c = r.Credentials!;
      const as = new STSClient({
        ...config,
        credentials: {
          accessKeyId: c.AccessKeyId!,
          secretAccessKey: c.SecretAccessKey!,
          sessionToken: c.SessionToken!,
        },
      });
      const id = await as.send(new GetCallerIdentityCommand({}));
      return { callerArn: id.Arn! };
    });
    checks.push(checkAwsExchange(exchanged, i.roleArn));
  }
  return checks;
}
