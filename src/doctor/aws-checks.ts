/**
 * The IAM side of the chain as AWS sees it, for `doctor --aws` and `setup verify`. Pure: each analyser gets what
 * IAM and STS answered (or the error they gave) and returns one checklist line, naming the failing condition.
 */
import { providerIdFromIssuer } from '../iam/arn.js';
import { evaluatePolicy } from '../iam/evaluate.js';
import { explain } from '../iam/explain.js';
import type { Check } from './checks.js';
import { messageOf } from '../errors.js';

/** What a read returned: the value, undefined for NoSuchEntity, or the error text of another failure. */
export type Read<T> = { value: T } | { missing: true } | { error: string };

export function checkAwsProvider(
  read: Read<{ clientIds: string[] }>,
  providerArn: string,
  audience: string,
): Check {
  const base = { id: 'aws-provider', title: 'IAM OIDC provider for the issuer (GetOpenIDConnectProvider)' };
  if ('error' in read) return { ...base, status: 'fail', detail: `${providerArn}: ${read.error}` };
  if ('missing' in read) {
    return {
      ...base,
      status: 'fail',
      detail: `${providerArn} does not exist: STS answers InvalidIdentityToken (no OpenIDConnect provider found)`,
      fix: 'openirsa setup --phases provider … (or aws iam create-open-id-connect-provider)',
    };
  }
  if (!read.value.clientIds.includes(audience)) {
    return {
      ...base,
      status: 'fail',
      detail: `${providerArn} lists client ids ${JSON.stringify(read.value.clientIds)}, not the token's audience ${audience}: STS answers InvalidIdentityToken (Incorrect token audience)`,
      fix: `aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn ${providerArn} --client-id ${audience}`,
    };
  }
  return { ...base, status: 'pass', detail: `${providerArn} lists client id ${audience}` };
}

export function checkAwsTrust(
  read: Read<{ trustPolicy: string }>,
  roleArn: string,
  providerArn: string,
  claims: { sub: string; aud: string },
): Check {
  const base = { id: 'aws-trust', title: "role's trust policy in IAM admits the ServiceAccount (GetRole)" };
  if ('error' in read) return { ...base, status: 'fail', detail: `${roleArn}: ${read.error}` };
  if ('missing' in read) {
    return {
      ...base,
      status: 'fail',
      detail: `${roleArn} does not exist`,
      fix: 'openirsa setup --phases role …',
    };
  }
  const id = providerIdFromIssuer(providerArn.split(':oidc-provider/')[1] ?? '');
  const request = {
    action: 'sts:AssumeRoleWithWebIdentity',
    principal: { type: 'Federated' as const, id: providerArn },
    conditionKeys: { [`${id}:sub`]: claims.sub, [`${id}:aud`]: claims.aud },
  };
  let result;
  try {
    result = evaluatePolicy(read.value.trustPolicy, request, 'trust');
  } catch (err) {
    return {
      ...base,
      status: 'fail',
      detail: `${roleArn}: its trust policy does not parse: ${messageOf(err)}`,
    };
  }
  if (result.decision === 'Allow') {
    return { ...base, status: 'pass', detail: `${roleArn} admits ${claims.sub} with aud ${claims.aud}` };
  }
  const why = explain(result, request);
  const first = why.fixes[0];
  return {
    ...base,
    status: 'fail',
    detail: `${roleArn} does not admit ${claims.sub}: ${first ? `${first.path}: ${first.problem}` : why.summary}`,
    fix: first?.fix ?? `openirsa setup --phases role -n … --service-account … --role-name …`,
  };
}

/** arn:aws:sts::ACCT:assumed-role/NAME/SESSION is the role arn:aws:iam::ACCT:role[/path]/NAME. */
export function assumedRoleMatches(roleArn: string, assumedArn: string): boolean {
  const r = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  const a = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(assumedArn);
  return !!r && !!a && r[1] === a[1] && r[2] === a[2] && r[3] === a[3];
}

export function checkAwsExchange(read: Read<{ callerArn: string }>, roleArn: string): Check {
  const base = {
    id: 'aws-exchange',
    title: 'token exchanged at STS (AssumeRoleWithWebIdentity → GetCallerIdentity)',
  };
  if ('error' in read) return { ...base, status: 'fail', detail: read.error };
  if ('missing' in read) return { ...base, status: 'skip', detail: 'no role to assume' };
  if (!assumedRoleMatches(roleArn, read.value.callerArn)) {
    return {
      ...base,
      status: 'fail',
      detail: `GetCallerIdentity answered ${read.value.callerArn}, not a session of ${roleArn}`,
    };
  }
  return { ...base, status: 'pass', detail: `GetCallerIdentity: ${read.value.callerArn}` };
}
