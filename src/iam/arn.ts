/**
 * ARNs: the one source of truth for the formats openirsa builds and parses.
 * `arn:<partition>:<service>:<region>:<account>:<resource>`; the resource part may itself contain colons.
 */
import { InvalidArnError } from './errors.js';

/** Partitions and the DNS suffix of their endpoints. */
export const PARTITIONS: Readonly<Record<string, string>> = {
  aws: 'amazonaws.com',
  'aws-cn': 'amazonaws.com.cn',
  'aws-us-gov': 'amazonaws.com',
  'aws-iso': 'c2s.ic.gov',
  'aws-iso-b': 'sc2s.sgov.gov',
  'aws-iso-e': 'cloud.adc-e.uk',
  'aws-iso-f': 'csp.hci.ic.gov',
  'aws-eusc': 'amazonaws.eu',
};

export type Partition = keyof typeof PARTITIONS;

/**
 * The region names of each partition: `regionRegex` of the AWS SDKs' partitions.json
 * (aws-sdk-js-v3 packages/util-endpoints/src/lib/aws/partitions.json, Apache-2.0).
 */
export const PARTITION_REGIONS: Readonly<Record<string, RegExp>> = {
  aws: /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/,
  'aws-cn': /^cn-\w+-\d+$/,
  'aws-us-gov': /^us-gov-\w+-\d+$/,
  'aws-iso': /^us-iso-\w+-\d+$/,
  'aws-iso-b': /^us-isob-\w+-\d+$/,
  'aws-iso-e': /^eu-isoe-\w+-\d+$/,
  'aws-iso-f': /^us-isof-\w+-\d+$/,
  'aws-eusc': /^eusc-(de)-\w+-\d+$/,
};

/** The partition a region name belongs to, or undefined when it is no region's name. */
export function partitionOfRegion(region: string): string | undefined {
  for (const [partition, re] of Object.entries(PARTITION_REGIONS)) if (re.test(region)) return partition;
  return undefined;
}

export function isPartition(p: string): boolean {
  return Object.prototype.hasOwnProperty.call(PARTITIONS, p);
}

export interface Arn {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

const ACCOUNT_RE = /^\d{12}$/;
/** IAM role / user names: `[\w+=,.@-]`, 1-64 characters. */
const ROLE_NAME_RE = /^[\w+=,.@-]{1,64}$/;
/** IAM paths: `/` or `/segment/.../`, printable ASCII without spaces, at most 512 characters. */
const PATH_RE = /^\/(?:[\x21-\x7e]*\/)?$/;
/** Role session names: `[\w+=,.@-]`, 2-64 characters. */
const SESSION_NAME_RE = /^[\w+=,.@-]{2,64}$/;

export function isAccountId(s: string): boolean {
  return ACCOUNT_RE.test(s);
}

export function isRoleName(s: string): boolean {
  return ROLE_NAME_RE.test(s);
}

export function isIamPath(s: string): boolean {
  return s.length <= 512 && PATH_RE.test(s);
}

export function isRoleSessionName(s: string): boolean {
  return SESSION_NAME_RE.test(s);
}

/** Split an ARN into its six parts, or undefined when it is not `arn:` plus at least five colons. */
export function tryParseArn(s: string): Arn | undefined {
  if (typeof s !== 'string' || !s.startsWith('arn:')) return undefined;
  const parts = s.split(':');
  if (parts.length < 6) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-type-assertion -- six parts at least, checked above
  const [, partition, service, region, account] = parts as [string, string, string, string, string];
  return { partition, service, region, account, resource: parts.slice(5).join(':') };
}

/** Like tryParseArn, but also requires a known partition and a non-empty service and resource. */
export function parseArn(s: string): Arn {
  const arn = tryParseArn(s);
  if (!arn)
    throw new InvalidArnError(
      `"${s}" is not an ARN (expected arn:partition:service:region:account:resource)`,
    );
  if (!isPartition(arn.partition))
    throw new InvalidArnError(`"${s}" has an unknown partition "${arn.partition}"`);
  if (arn.service === '') throw new InvalidArnError(`"${s}" has an empty service`);
  if (arn.resource === '') throw new InvalidArnError(`"${s}" has an empty resource`);
  return arn;
}

export function formatArn(a: Arn): string {
  return `arn:${a.partition}:${a.service}:${a.region}:${a.account}:${a.resource}`;
}

function checkPartition(partition: string): void {
  if (!isPartition(partition)) throw new InvalidArnError(`unknown partition "${partition}"`);
}
function checkAccount(account: string): void {
  if (!isAccountId(account)) throw new InvalidArnError(`"${account}" is not a 12-digit account id`);
}

// ---------------------------------------------------------------- roles

export interface RoleArn {
  partition: string;
  account: string;
  /** `/` or `/a/b/`. */
  path: string;
  name: string;
}

export function roleArn(partition: string, account: string, roleName: string, path = '/'): string {
  checkPartition(partition);
  checkAccount(account);
  if (!isRoleName(roleName)) throw new InvalidArnError(`"${roleName}" is not a valid role name`);
  if (!isIamPath(path))
    throw new InvalidArnError(`"${path}" is not a valid IAM path (must start and end with /)`);
  return `arn:${partition}:iam::${account}:role${path}${roleName}`;
}

/** Parse `arn:P:iam::ACCOUNT:role[/path/]NAME`; undefined when it is not a well-formed role ARN. */
export function parseRoleArn(s: string): RoleArn | undefined {
  const a = tryParseArn(s);
  if (!a || !isPartition(a.partition) || a.service !== 'iam' || a.region !== '' || !isAccountId(a.account)) {
    return undefined;
  }
  if (!a.resource.startsWith('role/')) return undefined;
  const rest = a.resource.slice('role'.length); // "/path/name" or "/name"
  const cut = rest.lastIndexOf('/');
  const path = rest.slice(0, cut + 1);
  const name = rest.slice(cut + 1);
  if (!isRoleName(name) || !isIamPath(path)) return undefined;
  return { partition: a.partition, account: a.account, path, name };
}

// ---------------------------------------------------------------- OIDC providers

/**
 * The provider id IAM uses in provider ARNs and condition-key prefixes: the issuer URL without `https://`,
 * path and trailing slash preserved (`https://host/path/` -> `host/path/`).
 */
export function providerIdFromIssuer(issuerUrl: string): string {
  return issuerUrl.startsWith('https://') ? issuerUrl.slice('https://'.length) : issuerUrl;
}

export function oidcProviderArn(partition: string, account: string, issuerUrlOrId: string): string {
  checkPartition(partition);
  checkAccount(account);
  const id = providerIdFromIssuer(issuerUrlOrId);
  if (id === '' || /\s/.test(id))
    throw new InvalidArnError(`"${issuerUrlOrId}" is not a valid OIDC provider URL`);
  return `arn:${partition}:iam::${account}:oidc-provider/${id}`;
}

export interface OidcProviderArn {
  partition: string;
  account: string;
  /** `host[/path]`, as in condition keys `<providerId>:sub`. */
  providerId: string;
  host: string;
  /** Path after the host including the leading slash, or '' when none. */
  path: string;
}

export function parseOidcProviderArn(s: string): OidcProviderArn | undefined {
  const a = tryParseArn(s);
  if (!a || !isPartition(a.partition) || a.service !== 'iam' || a.region !== '' || !isAccountId(a.account)) {
    return undefined;
  }
  if (!a.resource.startsWith('oidc-provider/')) return undefined;
  const providerId = a.resource.slice('oidc-provider/'.length);
  if (providerId === '') return undefined;
  const slash = providerId.indexOf('/');
  const host = slash < 0 ? providerId : providerId.slice(0, slash);
  if (host === '') return undefined;
  return {
    partition: a.partition,
    account: a.account,
    providerId,
    host,
    path: slash < 0 ? '' : providerId.slice(slash),
  };
}

export function isSamlProviderArn(s: string): boolean {
  const a = tryParseArn(s);
  return (
    !!a &&
    isPartition(a.partition) &&
    a.service === 'iam' &&
    a.region === '' &&
    isAccountId(a.account) &&
    /^saml-provider\/[\w.-]+$/.test(a.resource)
  );
}

// ---------------------------------------------------------------- sessions and accounts

/** `arn:P:sts::ACCOUNT:assumed-role/ROLE/SESSION` — never the role path (IAM drops it). */
export function assumedRoleArn(
  partition: string,
  account: string,
  roleName: string,
  sessionName: string,
): string {
  checkPartition(partition);
  checkAccount(account);
  if (!isRoleName(roleName)) throw new InvalidArnError(`"${roleName}" is not a valid role name`);
  if (!isRoleSessionName(sessionName))
    throw new InvalidArnError(`"${sessionName}" is not a valid role session name`);
  return `arn:${partition}:sts::${account}:assumed-role/${roleName}/${sessionName}`;
}

export interface AssumedRoleArn {
  partition: string;
  account: string;
  roleName: string;
  sessionName: string;
}

export function parseAssumedRoleArn(s: string): AssumedRoleArn | undefined {
  const a = tryParseArn(s);
  if (!a || !isPartition(a.partition) || a.service !== 'sts' || a.region !== '' || !isAccountId(a.account)) {
    return undefined;
  }
  const m = /^assumed-role\/([^/]+)\/([^/]+)$/.exec(a.resource);
  if (!m) return undefined;
  return { partition: a.partition, account: a.account, roleName: m[1]!, sessionName: m[2]! };
}

/** `arn:P:iam::ACCOUNT:user[/path/]NAME` (the IAM API's admin caller). */
export function iamUserArn(partition: string, account: string, userName: string, path = '/'): string {
  checkPartition(partition);
  checkAccount(account);
  if (!isRoleName(userName)) throw new InvalidArnError(`"${userName}" is not a valid user name`);
  return `arn:${partition}:iam::${account}:user${path}${userName}`;
}

export function accountRootArn(partition: string, account: string): string {
  checkPartition(partition);
  checkAccount(account);
  return `arn:${partition}:iam::${account}:root`;
}

/** The DNS suffix of a partition's endpoints (`amazonaws.com.cn` for aws-cn). */
export function dnsSuffix(partition: string): string {
  checkPartition(partition);
  return PARTITIONS[partition]!;
}
