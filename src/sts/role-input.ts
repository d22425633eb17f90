/**
 * A real AWS role explained without an openirsa config: the role as `aws iam get-role` prints it (account and
 * partition taken from its Arn) and the IAM OIDC provider given on the command line, turned into the config the
 * STS would hold for that account. Pure: the caller reads the files.
 */
import { randomBytes } from 'node:crypto';
import { parseRoleArn } from '../iam/arn.js';
import { buildConfig, ConfigError, type StsConfig } from './config.js';

export interface ProviderFlags {
  /** The IAM OIDC provider's URL (the issuer), e.g. https://oidc.eks.us-west-2.amazonaws.com/id/ABC. */
  url: string;
  /** Its ClientIDList. */
  clientIds: string[];
  /** A file holding the issuer's JWKS, to verify offline; else it is fetched over HTTPS as STS does. */
  jwksFile?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The role object of `aws iam get-role` output ({"Role": {...}}) or a bare role object. */
export function roleOf(doc: unknown, file: string): Record<string, unknown> {
  const role = isObject(doc) && isObject(doc.Role) ? doc.Role : doc;
  if (!isObject(role) || !('AssumeRolePolicyDocument' in role))
    throw new ConfigError(file, '$', 'not a role: give the output of `aws iam get-role --role-name NAME`');
  return role;
}

export function configForRole(doc: unknown, file: string, provider: ProviderFlags): StsConfig {
  const role = roleOf(doc, file);
  const arnText = typeof role.Arn === 'string' ? role.Arn : undefined;
  const arn = arnText === undefined ? undefined : parseRoleArn(arnText);
  if (!arn)
    throw new ConfigError(
      file,
      '$.Role.Arn',
      arnText === undefined
        ? 'missing: the account comes from the role ARN (`aws iam get-role` prints it)'
        : `${JSON.stringify(arnText)} is not a role ARN`,
    );
  return buildConfig(
    {
      accountId: arn.account,
      partition: arn.partition,
      // Never used to issue anything: explain issues no credentials.
      sessionKey: randomBytes(32).toString('base64'),
      oidcProviders: [
        {
          Url: provider.url,
          ClientIDList: provider.clientIds,
          ...(provider.jwksFile ? { jwksFile: provider.jwksFile } : {}),
        },
      ],
      roles: [role],
    },
    file,
  );
}
