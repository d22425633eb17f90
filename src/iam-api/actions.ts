/**
 * The IAM actions as pure functions: (current state, request parameters) → result data and the one entity the
 * action writes. Validation follows IAM: the request model's constraints (botocore's IAM service-2.json: lengths,
 * patterns, ranges → ValidationError), then IAM's own rules (policy grammar → MalformedPolicyDocument, quotas →
 * LimitExceeded, URL/thumbprint/tag rules → InvalidInput, existence → NoSuchEntity / EntityAlreadyExists,
 * dependants → DeleteConflict). Time and randomness come in through the context.
 *
 * Over 600 lines on purpose: the 29 actions are one dispatch table over one model, each a short function next to
 * the request validators they share; split by resource, every file would import the same validators and the table
 * would stand apart from what it names.
 */
import { isIamPath, tryParseArn } from '../iam/arn.js';
import { MalformedPolicyError, PolicySizeError } from '../iam/errors.js';
import { decodePolicyText, parsePolicy, type PolicyKind } from '../iam/policy.js';
import { base32, deriveUniqueId } from '../sts/config.js';
import { checkInteger, checkString, type Params, type Violation } from '../sts/protocol.js';
import { AWS_MANAGED_POLICIES, type AwsManagedPolicy } from './aws-managed.js';
import { IAM_MSG, IamApiError, iamValidationError } from './errors.js';
import {
  attachmentCount,
  policyArnOf,
  providerArnOf,
  providerId,
  roleArnOf,
  type Account,
  type IamState,
  type OverlayEntry,
  type PolicyEntity,
  type ProviderEntity,
  type RoleEntity,
  type Tag,
} from './model.js';

export interface ActionContext {
  account: Account;
  state: IamState;
  /** Epoch ms. */
  now: number;
  random: (n: number) => Buffer;
  /** Trust-policy size quota (ACLSizePerRole): 2048 by default, 4096 when raised. */
  trustPolicyMaxSize?: number;
}

export interface ActionOutcome {
  result: Record<string, unknown>;
  /** The entity written (whole) or deleted; absent for reads. */
  write?: OverlayEntry;
}

/** IAM's account quotas (reference_iam-quotas.md). */
export const QUOTAS = {
  rolesPerAccount: 1000,
  providersPerAccount: 100,
  clientIdsPerProvider: 100,
  thumbprintsPerProvider: 5,
  managedPoliciesPerRole: 10,
  customerPoliciesPerAccount: 1500,
  inlineRolePolicyBytes: 10240,
  tagsPerEntity: 50,
} as const;

// ------------------------------------------------------------------------------------------------ parameters

/* eslint-disable no-control-regex */
const P = {
  name: { re: /^[\w+=,.@-]+$/, text: '[\\w+=,.@-]+' },
  rolePath: {
    re: /^(\u002F|\u002F[\u0021-\u007E]+\u002F)$/,
    text: '(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)',
  },
  pathPrefix: { re: /^\u002F[\u0021-\u007F]*$/, text: '\\u002F[\\u0021-\\u007F]*' },
  policyPath: { re: /^((\/[A-Za-z0-9.,+@=_-]+)*)\/$/, text: '((/[A-Za-z0-9\\.,\\+@=_-]+)*)/' },
  document: { re: /^[\u0009\u000A\u000D\u0020-\u00FF]+$/, text: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+' },
  roleDescription: {
    re: /^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$/,
    text: '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*',
  },
  marker: { re: /^[\u0020-\u00FF]+$/, text: '[\\u0020-\\u00FF]+' },
  tagKey: { re: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u, text: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+' },
  tagValue: { re: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u, text: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*' },
  versionId: { re: /^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$/, text: 'v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?' },
};
/* eslint-enable no-control-regex */

/** Reads one request's parameters, collecting the model's constraint failures into one ValidationError. */
class Reader {
  readonly out: Violation[] = [];
  constructor(readonly p: Params) {}
  str(
    name: string,
    rule: { required?: boolean; min?: number; max?: number; pattern?: { re: RegExp; text: string } },
  ): string | undefined {
    const field = name[0]!.toLowerCase() + name.slice(1);
    return checkString(
      this.p,
      name,
      {
        field,
        required: rule.required,
        min: rule.min,
        max: rule.max,
        pattern: rule.pattern?.re,
        patternText: rule.pattern?.text,
      },
      this.out,
    );
  }
  need(name: string, rule: Parameters<Reader['str']>[1]): string {
    return this.str(name, { ...rule, required: true }) ?? '';
  }
  roleName(): string {
    return this.need('RoleName', { min: 1, max: 64, pattern: P.name });
  }
  policyName(): string {
    return this.need('PolicyName', { min: 1, max: 128, pattern: P.name });
  }
  arn(name: string): string {
    return this.need(name, { min: 20, max: 2048 });
  }
  document(name: string): string {
    return this.need(name, { min: 1, max: 131072, pattern: P.document });
  }
  int(name: string, min: number, max: number): number | undefined {
    return checkInteger(this.p, name, name[0]!.toLowerCase() + name.slice(1), min, max, this.out);
  }
  /** `Name.member.N` in order, stopping at the first gap. */
  list(name: string): string[] | undefined {
    const out: string[] = [];
    for (let i = 1; ; i++) {
      const v = this.p.get(`${name}.member.${i}`);
      if (v === undefined) break;
      out.push(v);
    }
    // An empty list is sent as the bare name (`ClientIDList=`).
    return out.length > 0 || this.p.has(name) ? out : undefined;
  }
  tags(): Tag[] | undefined {
    const tags: Tag[] = [];
    for (let i = 1; ; i++) {
      const key = this.p.get(`Tags.member.${i}.Key`);
      if (key === undefined) break;
      const kv = new Map([
        ['k', key],
        ['v', this.p.get(`Tags.member.${i}.Value`) ?? ''],
      ]);
      checkString(
        kv,
        'k',
        { field: `tags.${i}.member.key`, min: 1, max: 128, pattern: P.tagKey.re, patternText: P.tagKey.text },
        this.out,
      );
      checkString(
        kv,
        'v',
        {
          field: `tags.${i}.member.value`,
          min: 0,
          max: 256,
          pattern: P.tagValue.re,
          patternText: P.tagValue.text,
        },
        this.out,
      );
      tags.push({ Key: key, Value: kv.get('v')! });
    }
    if (tags.length > QUOTAS.tagsPerEntity)
      this.out.push({
        field: 'tags',
        value: undefined,
        constraint: 'Member must have length less than or equal to 50',
      });
    return tags.length > 0 || this.p.has('Tags') ? tags : undefined;
  }
  paging(): { marker?: string; maxItems: number } {
    const marker = this.str('Marker', { min: 1, max: 320, pattern: P.marker });
    const maxItems = this.int('MaxItems', 1, 1000) ?? 100;
    return { marker, maxItems };
  }
  done(): void {
    if (this.out.length > 0) throw iamValidationError(this.out);
  }
}

// ------------------------------------------------------------------------------------------------ helpers

const iso = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** A unique id as IAM makes them: a 4-letter prefix (AROA role, ANPA policy) and 17 base32 characters. */
export function uniqueId(prefix: string, random: (n: number) => Buffer): string {
  return prefix + base32(random(11), 17);
}

/** Parse a policy document as IAM does, with IAM's errors (MalformedPolicyDocument, LimitExceeded). */
export function checkDocument(text: string, kind: PolicyKind, maxSize?: number): void {
  try {
    parsePolicy(text, kind, maxSize === undefined ? {} : { maxSize });
  } catch (err) {
    if (err instanceof PolicySizeError) throw new IamApiError('LimitExceeded', err.message);
    if (err instanceof MalformedPolicyError)
      throw new IamApiError('MalformedPolicyDocument', err.message, err.describe());
    throw err;
  }
}

/** Characters IAM counts toward the inline-policy quota: the document without insignificant whitespace. */
function policySize(text: string): number {
  try {
    return JSON.stringify(JSON.parse(decodePolicyText(text))).length;
  } catch {
    return text.length;
  }
}

function findRole(ctx: ActionContext, name: string): RoleEntity {
  const role = ctx.state.roles.get(name.toLowerCase());
  if (!role) throw new IamApiError('NoSuchEntity', IAM_MSG.noSuchRole(name));
  return role;
}

function checkTags(tags: Tag[]): void {
  const seen = new Set<string>();
  for (const t of tags) {
    const k = t.Key.toLowerCase();
    if (seen.has(k)) throw new IamApiError('InvalidInput', IAM_MSG.duplicateTagKeys);
    seen.add(k);
  }
}

/** Existing tags updated by new ones (keys case-insensitive, new values win), capped at 50. */
function mergeTags(existing: Tag[], add: Tag[], what: string): Tag[] {
  checkTags(add);
  const out = existing.map((t) => ({ ...t }));
  for (const t of add) {
    const i = out.findIndex((o) => o.Key.toLowerCase() === t.Key.toLowerCase());
    if (i >= 0) out[i] = { Key: out[i]!.Key, Value: t.Value };
    else out.push({ ...t });
  }
  if (out.length > QUOTAS.tagsPerEntity) throw new IamApiError('LimitExceeded', IAM_MSG.tagsQuota(what));
  return out;
}

function removeTags(existing: Tag[], keys: string[]): Tag[] {
  const drop = new Set(keys.map((k) => k.toLowerCase()));
  return existing.filter((t) => !drop.has(t.Key.toLowerCase()));
}

function tagKeys(r: Reader): string[] {
  const keys = r.list('TagKeys');
  if (keys === undefined) {
    r.out.push({ field: 'tagKeys', value: undefined, constraint: 'Member must not be null' });
    return [];
  }
  if (keys.length > 50)
    r.out.push({
      field: 'tagKeys',
      value: undefined,
      constraint: 'Member must have length less than or equal to 50',
    });
  keys.forEach((k, i) => {
    const kv = new Map([['k', k]]);
    checkString(
      kv,
      'k',
      {
        field: `tagKeys.${i + 1}.member`,
        min: 1,
        max: 128,
        pattern: P.tagKey.re,
        patternText: P.tagKey.text,
      },
      r.out,
    );
  });
  return keys;
}

/** A page of a sorted list: IAM's Marker is opaque; ours is the index of the next item, base64. */
export function page<T>(
  items: T[],
  marker: string | undefined,
  maxItems: number,
): { items: T[]; isTruncated: boolean; marker?: string } {
  let start = 0;
  if (marker !== undefined) {
    const n = Number(Buffer.from(marker, 'base64').toString('utf8'));
    if (!Number.isInteger(n) || n < 0 || !/^[A-Za-z0-9+/=]+$/.test(marker))
      throw new IamApiError('InvalidInput', 'Invalid Marker.');
    start = n;
  }
  const slice = items.slice(start, start + maxItems);
  const next = start + slice.length;
  return next < items.length
    ? { items: slice, isTruncated: true, marker: Buffer.from(String(next)).toString('base64') }
    : { items: slice, isTruncated: false };
}

// ------------------------------------------------------------------------------------------------ OIDC providers

function providerByArn(ctx: ActionContext, arn: string): ProviderEntity {
  const a = tryParseArn(arn);
  if (!a || a.service !== 'iam' || !a.resource.startsWith('oidc-provider/'))
    throw new IamApiError('InvalidInput', IAM_MSG.invalidArn(arn));
  const id = a.resource.slice('oidc-provider/'.length);
  const p = ctx.state.providers.get(id);
  if (!p || a.account !== ctx.account.accountId || a.partition !== ctx.account.partition)
    throw new IamApiError('NoSuchEntity', IAM_MSG.noSuchProvider(arn));
  return p;
}

function checkThumbprints(list: string[]): string[] {
  if (list.length > QUOTAS.thumbprintsPerProvider)
    throw new IamApiError('InvalidInput', IAM_MSG.thumbprintCount);
  return list.map((t) => {
    if (!/^[0-9a-fA-F]{40}$/.test(t)) throw new IamApiError('InvalidInput', IAM_MSG.thumbprintHex(t));
    return t.toLowerCase();
  });
}

function thumbprintList(r: Reader): string[] | undefined {
  const list = r.list('ThumbprintList');
  list?.forEach((t, i) => {
    const kv = new Map([['t', t]]);
    checkString(kv, 't', { field: `thumbprintList.${i + 1}.member`, min: 40, max: 40 }, r.out);
  });
  return list;
}

function clientIdList(r: Reader, name: string, field: string): string[] | undefined {
  const list = r.list(name);
  list?.forEach((c, i) => {
    const kv = new Map([['c', c]]);
    checkString(kv, 'c', { field: `${field}.${i + 1}.member`, min: 1, max: 255 }, r.out);
  });
  return list;
}

/** IAM's provider URL rules: https, a host, no query or fragment; a port is allowed here for local issuers. */
export function checkProviderUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new IamApiError('InvalidInput', IAM_MSG.invalidUrl, `${url} is not a URL`);
  }
  if (u.protocol !== 'https:' || !/^https:\/\//i.test(url))
    throw new IamApiError('InvalidInput', IAM_MSG.invalidUrl, `${url} must begin with https://`);
  if (u.search || u.hash || url.includes('?') || url.includes('#'))
    throw new IamApiError('InvalidInput', IAM_MSG.invalidUrl, `${url} must not have a query or fragment`);
  if (u.username || u.password)
    throw new IamApiError('InvalidInput', IAM_MSG.invalidUrl, `${url} must not carry credentials`);
  // Kept exactly as given: the STS matches a token's iss to it exactly, trailing slash included, as AWS does.
  return url;
}

export function createOpenIDConnectProvider(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const rawUrl = r.need('Url', { min: 1, max: 255 });
  const clientIds = clientIdList(r, 'ClientIDList', 'clientIDList') ?? [];
  const thumbs = thumbprintList(r) ?? [];
  const tags = r.tags() ?? [];
  r.done();
  const url = checkProviderUrl(rawUrl);
  const thumbprints = checkThumbprints(thumbs);
  if (clientIds.length > QUOTAS.clientIdsPerProvider)
    throw new IamApiError('LimitExceeded', IAM_MSG.clientIdQuota);
  checkTags(tags);
  const id = providerId(url);
  if (ctx.state.providers.has(id)) throw new IamApiError('EntityAlreadyExists', IAM_MSG.providerExists(url));
  if (ctx.state.providers.size >= QUOTAS.providersPerAccount)
    throw new IamApiError('LimitExceeded', IAM_MSG.providerQuota);
  const value: ProviderEntity = {
    url,
    clientIds: [...new Set(clientIds)],
    thumbprints: [...new Set(thumbprints)],
    tags,
    createDate: iso(ctx.now),
  };
  return {
    result: { arn: providerArnOf(ctx.account, value), tags },
    write: { kind: 'oidc-provider', id, value },
  };
}

export function getOpenIDConnectProvider(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const arn = r.arn('OpenIDConnectProviderArn');
  r.done();
  return { result: { provider: providerByArn(ctx, arn) } };
}

export function listOpenIDConnectProviders(ctx: ActionContext): ActionOutcome {
  const arns = [...ctx.state.providers.values()].map((v) => providerArnOf(ctx.account, v)).sort();
  return { result: { arns } };
}

export function deleteOpenIDConnectProvider(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const arn = r.arn('OpenIDConnectProviderArn');
  r.done();
  const prov = providerByArn(ctx, arn);
  return { result: {}, write: { kind: 'oidc-provider', id: providerId(prov.url), deleted: true } };
}

function updateProvider(
  ctx: ActionContext,
  arn: string,
  change: (p: ProviderEntity) => ProviderEntity,
): ActionOutcome {
  const prov = providerByArn(ctx, arn);
  const value = change({
    ...prov,
    clientIds: [...prov.clientIds],
    thumbprints: [...prov.thumbprints],
    tags: [...prov.tags],
  });
  return { result: {}, write: { kind: 'oidc-provider', id: providerId(prov.url), value } };
}

export function addClientIDToOpenIDConnectProvider(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const arn = r.arn('OpenIDConnectProviderArn');
  const clientId = r.need('ClientID', { min: 1, max: 255 });
  r.done();
  return updateProvider(ctx, arn, (prov) => {
    if (prov.clientIds.includes(clientId)) return prov; // IAM: adding an existing id is a no-op
    if (prov.clientIds.length >= QUOTAS.clientIdsPerProvider)
      throw new IamApiError('LimitExceeded', IAM_MSG.clientIdQuota);
    return { ...prov, clientIds: [...prov.clientIds, clientId] };
  });
}

export function removeClientIDFromOpenIDConnectProvider(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const arn = r.arn('OpenIDConnectProviderArn');
  const clientId = r.need('ClientID', { min: 1, max: 255 });
  r.done();
  // IAM: removing an id that is not registered succeeds.
  return updateProvider(ctx, arn, (prov) => ({
    ...prov,
    clientIds: prov.clientIds.filter((c) => c !== clientId),
  }));
}

export function updateOpenIDConnectProviderThumbprint(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const arn = r.arn('OpenIDConnectProviderArn');
  const thumbs = thumbprintList(r);
  if (thumbs === undefined)
    r.out.push({ field: 'thumbprintList', value: undefined, constraint: 'Member must not be null' });
  r.done();
  const thumbprints = checkThumbprints(thumbs!);
  return updateProvider(ctx, arn, (prov) => ({ ...prov, thumbprints: [...new Set(thumbprints)] }));
}

export function tagOpenIDConnectProvider(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const arn = r.arn('OpenIDConnectProviderArn');
  const tags = r.tags();
  if (tags === undefined)
    r.out.push({ field: 'tags', value: undefined, constraint: 'Member must not be null' });
  r.done();
  return updateProvider(ctx, arn, (prov) => ({
    ...prov,
    tags: mergeTags(prov.tags, tags!, 'OpenIdConnectProvider'),
  }));
}

export function untagOpenIDConnectProvider(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const arn = r.arn('OpenIDConnectProviderArn');
  const keys = tagKeys(r);
  r.done();
  return updateProvider(ctx, arn, (prov) => ({ ...prov, tags: removeTags(prov.tags, keys) }));
}

// ------------------------------------------------------------------------------------------------ roles

function writeRole(role: RoleEntity, result: Record<string, unknown> = {}): ActionOutcome {
  return { result, write: { kind: 'role', id: role.name.toLowerCase(), value: role } };
}

function copyRole(r: RoleEntity): RoleEntity {
  return {
    ...r,
    tags: r.tags.map((t) => ({ ...t })),
    inlinePolicies: r.inlinePolicies.map((i) => ({ ...i })),
    attachedPolicies: [...r.attachedPolicies],
  };
}

export function createRole(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const path = r.str('Path', { min: 1, max: 512, pattern: P.rolePath }) ?? '/';
  const name = r.roleName();
  const trust = r.document('AssumeRolePolicyDocument');
  const description = r.str('Description', { max: 1000, pattern: P.roleDescription });
  const maxSessionDuration = r.int('MaxSessionDuration', 3600, 43200) ?? 3600;
  const boundary = r.str('PermissionsBoundary', { min: 20, max: 2048 });
  const tags = r.tags() ?? [];
  r.done();
  if (!isIamPath(path)) throw new IamApiError('ValidationError', IAM_MSG.invalidPath);
  checkDocument(trust, 'trust', ctx.trustPolicyMaxSize);
  checkTags(tags);
  if (boundary !== undefined) resolvePolicy(ctx, boundary, 'notAttachable');
  if (ctx.state.roles.has(name.toLowerCase()))
    throw new IamApiError('EntityAlreadyExists', IAM_MSG.roleExists(name));
  if (ctx.state.roles.size >= QUOTAS.rolesPerAccount)
    throw new IamApiError('LimitExceeded', IAM_MSG.rolesQuota(QUOTAS.rolesPerAccount));
  const role: RoleEntity = {
    name,
    path,
    roleId: uniqueId('AROA', ctx.random),
    createDate: iso(ctx.now),
    trustPolicy: decodePolicyText(trust),
    maxSessionDuration,
    tags,
    inlinePolicies: [],
    attachedPolicies: [],
  };
  if (description !== undefined) role.description = description;
  if (boundary !== undefined) role.permissionsBoundary = boundary;
  return writeRole(role, { role });
}

export function getRole(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  r.done();
  return { result: { role: findRole(ctx, name) } };
}

export function listRoles(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const prefix = r.str('PathPrefix', { min: 1, max: 512, pattern: P.pathPrefix }) ?? '/';
  const { marker, maxItems } = r.paging();
  r.done();
  const roles = [...ctx.state.roles.values()]
    .filter((x) => x.path.startsWith(prefix))
    .sort((a, b) =>
      a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0,
    );
  return { result: page(roles, marker, maxItems) };
}

export function updateRole(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  const description = r.str('Description', { max: 1000, pattern: P.roleDescription });
  const maxSessionDuration = r.int('MaxSessionDuration', 3600, 43200);
  r.done();
  const role = copyRole(findRole(ctx, name));
  if (description !== undefined) role.description = description;
  if (maxSessionDuration !== undefined) role.maxSessionDuration = maxSessionDuration;
  return writeRole(role);
}

export function updateAssumeRolePolicy(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  const doc = r.document('PolicyDocument');
  r.done();
  const role = copyRole(findRole(ctx, name));
  checkDocument(doc, 'trust', ctx.trustPolicyMaxSize);
  role.trustPolicy = decodePolicyText(doc);
  return writeRole(role);
}

export function deleteRole(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  r.done();
  const role = findRole(ctx, name);
  if (role.inlinePolicies.length > 0) throw new IamApiError('DeleteConflict', IAM_MSG.deleteRoleInline);
  if (role.attachedPolicies.length > 0) throw new IamApiError('DeleteConflict', IAM_MSG.deleteRoleAttached);
  return { result: {}, write: { kind: 'role', id: role.name.toLowerCase(), deleted: true } };
}

export function tagRole(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  const tags = r.tags();
  if (tags === undefined)
    r.out.push({ field: 'tags', value: undefined, constraint: 'Member must not be null' });
  r.done();
  const role = copyRole(findRole(ctx, name));
  role.tags = mergeTags(role.tags, tags!, 'Role');
  return writeRole(role);
}

export function untagRole(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  const keys = tagKeys(r);
  r.done();
  const role = copyRole(findRole(ctx, name));
  role.tags = removeTags(role.tags, keys);
  return writeRole(role);
}

export function listRoleTags(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  const { marker, maxItems } = r.paging();
  r.done();
  return { result: page(findRole(ctx, name).tags, marker, maxItems) };
}

// ------------------------------------------------------------------------------------------------ inline policies

export function putRolePolicy(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  const policyName = r.policyName();
  const doc = r.document('PolicyDocument');
  r.done();
  const role = copyRole(findRole(ctx, name));
  checkDocument(doc, 'identity', 0);
  const text = decodePolicyText(doc);
  const i = role.inlinePolicies.findIndex((x) => x.name === policyName);
  if (i >= 0) role.inlinePolicies[i] = { name: policyName, document: text };
  else role.inlinePolicies.push({ name: policyName, document: text });
  const total = role.inlinePolicies.reduce((n, x) => n + policySize(x.document), 0);
  if (total > QUOTAS.inlineRolePolicyBytes)
    throw new IamApiError('LimitExceeded', IAM_MSG.inlineSizeQuota(role.name));
  return writeRole(role);
}

function inlinePolicy(
  ctx: ActionContext,
  p: Params,
): { role: RoleEntity; index: number; policyName: string } {
  const r = new Reader(p);
  const name = r.roleName();
  const policyName = r.policyName();
  r.done();
  const role = findRole(ctx, name);
  const index = role.inlinePolicies.findIndex((x) => x.name === policyName);
  if (index < 0) throw new IamApiError('NoSuchEntity', IAM_MSG.noSuchRolePolicy(policyName));
  return { role, index, policyName };
}

export function getRolePolicy(ctx: ActionContext, p: Params): ActionOutcome {
  const { role, index } = inlinePolicy(ctx, p);
  const pol = role.inlinePolicies[index]!;
  return { result: { roleName: role.name, policyName: pol.name, document: pol.document } };
}

export function listRolePolicies(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  const { marker, maxItems } = r.paging();
  r.done();
  const names = findRole(ctx, name)
    .inlinePolicies.map((x) => x.name)
    .sort();
  return { result: page(names, marker, maxItems) };
}

export function deleteRolePolicy(ctx: ActionContext, p: Params): ActionOutcome {
  const { role, index } = inlinePolicy(ctx, p);
  const next = copyRole(role);
  next.inlinePolicies.splice(index, 1);
  return writeRole(next);
}

// ------------------------------------------------------------------------------------------------ managed policies

export interface ResolvedPolicy {
  arn: string;
  name: string;
  path: string;
  policyId: string;
  description?: string;
  document: string;
  defaultVersionId: string;
  createDate: string;
  updateDate: string;
  tags: Tag[];
  awsManaged: boolean;
}

const awsByName = new Map<string, AwsManagedPolicy>(AWS_MANAGED_POLICIES.map((x) => [x.name, x]));

/** The managed policies of the catalogue by ARN, for the permission check. */
export function awsManagedPolicy(partition: string, arn: string): ResolvedPolicy | undefined {
  const a = tryParseArn(arn);
  if (
    !a ||
    a.partition !== partition ||
    a.service !== 'iam' ||
    a.account !== 'aws' ||
    !a.resource.startsWith('policy/')
  )
    return undefined;
  const rest = a.resource.slice('policy'.length);
  const name = rest.slice(rest.lastIndexOf('/') + 1);
  const m = awsByName.get(name);
  if (!m || `${m.path}${name}` !== rest) return undefined;
  return {
    arn,
    name,
    path: m.path,
    policyId: deriveUniqueId('ANPA', arn), // AWS does not publish its ids with the documents
    document: m.document,
    defaultVersionId: m.defaultVersionId,
    createDate: m.createDate,
    updateDate: m.updateDate,
    tags: [],
    awsManaged: true,
  };
}

function customerPolicy(ctx: ActionContext, arn: string): PolicyEntity | undefined {
  const a = tryParseArn(arn);
  if (!a || !a.resource.startsWith('policy/')) return undefined;
  const rest = a.resource.slice('policy'.length);
  const name = rest.slice(rest.lastIndexOf('/') + 1);
  const pol = ctx.state.policies.get(name.toLowerCase());
  return pol && policyArnOf(ctx.account, pol) === arn ? pol : undefined;
}

/** IAM's InvalidInput for anything that is not an IAM policy ARN. */
function checkPolicyArn(arn: string): void {
  const a = tryParseArn(arn);
  if (!a || a.service !== 'iam' || !/^policy\/./.test(a.resource))
    throw new IamApiError('InvalidInput', IAM_MSG.invalidArn(arn));
}

/** A policy ARN → the policy (customer or catalogue), or IAM's error. */
export function resolvePolicy(
  ctx: ActionContext,
  arn: string,
  missing: 'notFound' | 'notAttachable',
): ResolvedPolicy {
  checkPolicyArn(arn);
  const aws = awsManagedPolicy(ctx.account.partition, arn);
  if (aws) return aws;
  const pol = customerPolicy(ctx, arn);
  if (!pol)
    throw new IamApiError(
      'NoSuchEntity',
      missing === 'notFound' ? IAM_MSG.noSuchPolicy(arn) : IAM_MSG.notAttachable(arn),
    );
  return resolvedCustomer(arn, pol);
}

function resolvedCustomer(arn: string, pol: PolicyEntity): ResolvedPolicy {
  return {
    arn,
    name: pol.name,
    path: pol.path,
    policyId: pol.policyId,
    description: pol.description,
    document: pol.document,
    defaultVersionId: 'v1',
    createDate: pol.createDate,
    updateDate: pol.updateDate,
    tags: pol.tags,
    awsManaged: false,
  };
}

export function createPolicy(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.policyName();
  const path = r.str('Path', { min: 1, max: 512, pattern: P.policyPath }) ?? '/';
  const doc = r.document('PolicyDocument');
  const description = r.str('Description', { max: 1000 });
  const tags = r.tags() ?? [];
  r.done();
  checkDocument(doc, 'identity');
  checkTags(tags);
  if (ctx.state.policies.has(name.toLowerCase()))
    throw new IamApiError('EntityAlreadyExists', IAM_MSG.policyExists(name));
  if (ctx.state.policies.size >= QUOTAS.customerPoliciesPerAccount)
    throw new IamApiError('LimitExceeded', IAM_MSG.policiesQuota(QUOTAS.customerPoliciesPerAccount));
  const now = iso(ctx.now);
  const value: PolicyEntity = {
    name,
    path,
    policyId: uniqueId('ANPA', ctx.random),
    document: decodePolicyText(doc),
    createDate: now,
    updateDate: now,
    tags,
  };
  if (description !== undefined) value.description = description;
  const arn = policyArnOf(ctx.account, value);
  return {
    result: { policy: resolvedCustomer(arn, value), attachmentCount: 0 },
    write: { kind: 'policy', id: name.toLowerCase(), value },
  };
}

export function getPolicy(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const arn = r.arn('PolicyArn');
  r.done();
  const policy = resolvePolicy(ctx, arn, 'notFound');
  return { result: { policy, attachmentCount: attachmentCount(ctx.state, arn) } };
}

export function getPolicyVersion(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const arn = r.arn('PolicyArn');
  const versionId = r.need('VersionId', { pattern: P.versionId });
  r.done();
  const policy = resolvePolicy(ctx, arn, 'notFound');
  if (versionId !== policy.defaultVersionId)
    throw new IamApiError('NoSuchEntity', IAM_MSG.noSuchPolicyVersion(arn, versionId));
  return { result: { policy, versionId } };
}

export function deletePolicy(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const arn = r.arn('PolicyArn');
  r.done();
  const policy = resolvePolicy(ctx, arn, 'notFound');
  if (policy.awsManaged)
    throw new IamApiError('InvalidInput', IAM_MSG.invalidArn(arn), 'AWS managed policies cannot be deleted');
  if (attachmentCount(ctx.state, arn) > 0)
    throw new IamApiError('DeleteConflict', IAM_MSG.deletePolicyAttached);
  return { result: {}, write: { kind: 'policy', id: policy.name.toLowerCase(), deleted: true } };
}

export function attachRolePolicy(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  const arn = r.arn('PolicyArn');
  r.done();
  const role = copyRole(findRole(ctx, name));
  resolvePolicy(ctx, arn, 'notAttachable');
  if (role.attachedPolicies.includes(arn)) return { result: {} }; // IAM: attaching twice is a no-op
  if (role.attachedPolicies.length >= QUOTAS.managedPoliciesPerRole)
    throw new IamApiError('LimitExceeded', IAM_MSG.attachedQuota(QUOTAS.managedPoliciesPerRole));
  role.attachedPolicies.push(arn);
  return writeRole(role);
}

export function detachRolePolicy(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  const arn = r.arn('PolicyArn');
  r.done();
  const role = copyRole(findRole(ctx, name));
  checkPolicyArn(arn);
  const i = role.attachedPolicies.indexOf(arn);
  if (i < 0) throw new IamApiError('NoSuchEntity', IAM_MSG.policyNotAttached(arn));
  role.attachedPolicies.splice(i, 1);
  return writeRole(role);
}

export function listAttachedRolePolicies(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  const prefix = r.str('PathPrefix', { min: 1, max: 512, pattern: P.policyPath }) ?? '/';
  const { marker, maxItems } = r.paging();
  r.done();
  const role = findRole(ctx, name);
  const attached = role.attachedPolicies
    .map((arn) => {
      const a = tryParseArn(arn)!;
      const rest = a.resource.slice('policy'.length);
      const cut = rest.lastIndexOf('/');
      return { arn, name: rest.slice(cut + 1), path: rest.slice(0, cut + 1) };
    })
    .filter((x) => x.path.startsWith(prefix));
  return { result: page(attached, marker, maxItems) };
}

/** Instance profiles do not exist here; Terraform lists a role's before deleting it, so the list is empty. */
export function listInstanceProfilesForRole(ctx: ActionContext, p: Params): ActionOutcome {
  const r = new Reader(p);
  const name = r.roleName();
  r.paging();
  r.done();
  findRole(ctx, name);
  return { result: { items: [], isTruncated: false } };
}

// ------------------------------------------------------------------------------------------------ the table

export type ActionFn = (ctx: ActionContext, p: Params) => ActionOutcome;

/** Every action the endpoint serves, by Query `Action` name. */
export const ACTIONS: Readonly<Record<string, ActionFn>> = {
  CreateOpenIDConnectProvider: createOpenIDConnectProvider,
  GetOpenIDConnectProvider: getOpenIDConnectProvider,
  ListOpenIDConnectProviders: listOpenIDConnectProviders,
  DeleteOpenIDConnectProvider: deleteOpenIDConnectProvider,
  AddClientIDToOpenIDConnectProvider: addClientIDToOpenIDConnectProvider,
  RemoveClientIDFromOpenIDConnectProvider: removeClientIDFromOpenIDConnectProvider,
  UpdateOpenIDConnectProviderThumbprint: updateOpenIDConnectProviderThumbprint,
  TagOpenIDConnectProvider: tagOpenIDConnectProvider,
  UntagOpenIDConnectProvider: untagOpenIDConnectProvider,
  CreateRole: createRole,
  GetRole: getRole,
  ListRoles: listRoles,
  UpdateRole: updateRole,
  UpdateAssumeRolePolicy: updateAssumeRolePolicy,
  DeleteRole: deleteRole,
  TagRole: tagRole,
  UntagRole: untagRole,
  ListRoleTags: listRoleTags,
  PutRolePolicy: putRolePolicy,
  GetRolePolicy: getRolePolicy,
  ListRolePolicies: listRolePolicies,
  DeleteRolePolicy: deleteRolePolicy,
  CreatePolicy: createPolicy,
  GetPolicy: getPolicy,
  GetPolicyVersion: getPolicyVersion,
  DeletePolicy: deletePolicy,
  AttachRolePolicy: attachRolePolicy,
  DetachRolePolicy: detachRolePolicy,
  ListAttachedRolePolicies: listAttachedRolePolicies,
  ListInstanceProfilesForRole: listInstanceProfilesForRole,
};

/**
 * The resource an action is authorized on (the Service Authorization Reference's resource type for IAM):
 * the role, provider or policy ARN; `*` for list actions without a resource type.
 */
export function actionResource(
  ctx: Pick<ActionContext, 'account' | 'state'>,
  action: string,
  p: Params,
): string {
  const { partition, accountId } = ctx.account;
  const base = `arn:${partition}:iam::${accountId}:`;
  const roleName = p.get('RoleName');
  if (action === 'ListRoles') return `${base}role/`;
  if (action === 'ListOpenIDConnectProviders') return '*';
  if (action === 'CreateOpenIDConnectProvider') {
    const url = p.get('Url') ?? '';
    return `${base}oidc-provider/${providerId(url)}`;
  }
  if (action === 'CreatePolicy') return `${base}policy${p.get('Path') ?? '/'}${p.get('PolicyName') ?? ''}`;
  if (roleName !== undefined) {
    const role = ctx.state.roles.get(roleName.toLowerCase());
    return role
      ? roleArnOf(ctx.account, role)
      : `${base}role${action === 'CreateRole' ? (p.get('Path') ?? '/') : '/'}${roleName}`;
  }
  return p.get('OpenIDConnectProviderArn') ?? p.get('PolicyArn') ?? '*';
}
