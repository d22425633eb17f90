/**
 * The IAM Query API's wire format: `<ActionResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">` with
 * `<ActionResult>` and `<ResponseMetadata>`, lists as `<member>`, policy documents URL-encoded (as IAM returns
 * them), dates as ISO 8601 UTC. Element order follows the sample responses of AWS's IAM API Reference
 * (API_CreateRole, API_GetRole, API_GetOpenIDConnectProvider, API_CreatePolicy, API_GetPolicy,
 * API_GetPolicyVersion, API_GetRolePolicy …); elements the samples omit follow botocore's shape order.
 */
import { renderError, xmlEscape } from '../sts/protocol.js';
import type { ResolvedPolicy } from './actions.js';
import type { IamApiError } from './errors.js';
import { roleArnOf, type Account, type ProviderEntity, type RoleEntity, type Tag } from './model.js';

export const IAM_API_VERSION = '2010-05-08';
export const IAM_XML_NS = `https://iam.amazonaws.com/doc/${IAM_API_VERSION}/`;

function el(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${xmlEscape(String(value))}</${name}>`;
}

function members(name: string, items: string[]): string {
  return `<${name}>${items.map((x) => `<member>${x}</member>`).join('')}</${name}>`;
}

/** IAM's encoding of policy documents in responses (percent-encoding, `%20` for spaces). */
export function encodeDocument(doc: string): string {
  return encodeURIComponent(doc);
}

function tagsXml(tags: Tag[], always = false): string {
  if (tags.length === 0 && !always) return '';
  return members(
    'Tags',
    tags.map((t) => el('Key', t.Key) + el('Value', t.Value)),
  );
}

/** `full`: GetRole/CreateRole (with tags, boundary, last use); list entries omit those, as ListRoles does. */
export function roleXml(a: Account, r: RoleEntity, full: boolean): string {
  return (
    el('Path', r.path) +
    el('Arn', roleArnOf(a, r)) +
    el('RoleName', r.name) +
    el('AssumeRolePolicyDocument', encodeDocument(r.trustPolicy)) +
    el('CreateDate', r.createDate) +
    el('RoleId', r.roleId) +
    el('Description', r.description) +
    el('MaxSessionDuration', r.maxSessionDuration) +
    (full && r.permissionsBoundary
      ? `<PermissionsBoundary>${el('PermissionsBoundaryType', 'PermissionsBoundaryPolicy')}${el('PermissionsBoundaryArn', r.permissionsBoundary)}</PermissionsBoundary>`
      : '') +
    (full ? tagsXml(r.tags) : '') +
    (full ? '<RoleLastUsed/>' : '')
  );
}

function policyXml(p: ResolvedPolicy, attachmentCount: number): string {
  return (
    el('PolicyName', p.name) +
    el('DefaultVersionId', p.defaultVersionId) +
    el('PolicyId', p.policyId) +
    el('Path', p.path) +
    el('Arn', p.arn) +
    el('AttachmentCount', attachmentCount) +
    el('PermissionsBoundaryUsageCount', 0) +
    el('Description', p.description) +
    el('CreateDate', p.createDate) +
    el('IsAttachable', true) +
    el('UpdateDate', p.updateDate) +
    tagsXml(p.tags)
  );
}

function providerXml(p: ProviderEntity): string {
  return (
    members('ThumbprintList', p.thumbprints.map(xmlEscape)) +
    el('CreateDate', p.createDate) +
    members('ClientIDList', p.clientIds.map(xmlEscape)) +
    // IAM answers the URL without its scheme.
    el('Url', p.url.replace(/^https:\/\//i, '')) +
    tagsXml(p.tags)
  );
}

function paging(r: { isTruncated: boolean; marker?: string }): string {
  return el('IsTruncated', r.isTruncated) + el('Marker', r.marker);
}

type Renderer = (a: Account, result: Record<string, unknown>) => string;

const R = {
  role: (a: Account, x: Record<string, unknown>) => `<Role>${roleXml(a, x.role as RoleEntity, true)}</Role>`,
};

/** The `<ActionResult>` body per action; absent = the action returns only ResponseMetadata. */
const RESULTS: Readonly<Record<string, Renderer>> = {
  CreateOpenIDConnectProvider: (_a, x) =>
    el('OpenIDConnectProviderArn', x.arn as string) + tagsXml(x.tags as Tag[]),
  GetOpenIDConnectProvider: (_a, x) => providerXml(x.provider as ProviderEntity),
  ListOpenIDConnectProviders: (_a, x) =>
    members(
      'OpenIDConnectProviderList',
      (x.arns as string[]).map((arn) => el('Arn', arn)),
    ),
  CreateRole: R.role,
  GetRole: R.role,
  // UpdateRole's model has an (empty) output wrapper; botocore fails without it.
  UpdateRole: () => '',
  ListRoles: (a, x) =>
    members(
      'Roles',
      (x.items as RoleEntity[]).map((r) => roleXml(a, r, false)),
    ) + paging(x as { isTruncated: boolean }),
  ListRoleTags: (_a, x) => tagsXml(x.items as Tag[], true) + paging(x as { isTruncated: boolean }),
  GetRolePolicy: (_a, x) =>
    el('PolicyName', x.policyName as string) +
    el('RoleName', x.roleName as string) +
    el('PolicyDocument', encodeDocument(x.document as string)),
  ListRolePolicies: (_a, x) =>
    members('PolicyNames', (x.items as string[]).map(xmlEscape)) + paging(x as { isTruncated: boolean }),
  CreatePolicy: (_a, x) =>
    `<Policy>${policyXml(x.policy as ResolvedPolicy, x.attachmentCount as number)}</Policy>`,
  GetPolicy: (_a, x) =>
    `<Policy>${policyXml(x.policy as ResolvedPolicy, x.attachmentCount as number)}</Policy>`,
  GetPolicyVersion: (_a, x) => {
    const p = x.policy as ResolvedPolicy;
    return `<PolicyVersion>${el('Document', encodeDocument(p.document))}${el('IsDefaultVersion', true)}${el('VersionId', p.defaultVersionId)}${el('CreateDate', p.updateDate)}</PolicyVersion>`;
  },
  ListInstanceProfilesForRole: (_a, x) =>
    members('InstanceProfiles', []) + paging(x as { isTruncated: boolean }),
  ListAttachedRolePolicies: (_a, x) =>
    members(
      'AttachedPolicies',
      (x.items as Array<{ name: string; arn: string }>).map(
        (p) => el('PolicyName', p.name) + el('PolicyArn', p.arn),
      ),
    ) + paging(x as { isTruncated: boolean }),
};

export function renderResponse(
  action: string,
  account: Account,
  result: Record<string, unknown>,
  requestId: string,
): string {
  const body = Object.hasOwn(RESULTS, action) ? RESULTS[action] : undefined;
  const meta = `<ResponseMetadata><RequestId>${xmlEscape(requestId)}</RequestId></ResponseMetadata>`;
  return body
    ? `<${action}Response xmlns="${IAM_XML_NS}">\n  <${action}Result>${body(account, result)}</${action}Result>\n  ${meta}\n</${action}Response>\n`
    : `<${action}Response xmlns="${IAM_XML_NS}">\n  ${meta}\n</${action}Response>\n`;
}

export function renderIamError(err: IamApiError, requestId: string): string {
  return renderError(err, requestId, IAM_XML_NS);
}
