/**
 * The IAM state the API changes: OIDC providers, roles (trust policy, inline policies, attachments, tags) and
 * customer managed policies, as plain data. The YAML config is the seed; API changes are an overlay of whole
 * entities (or tombstones for deleted seed entities) kept by a store (file or Kubernetes). Pure: no I/O, no clock.
 */
import type { JWK } from 'jose';
import { oidcProviderArn, roleArn } from '../iam/arn.js';

export interface Tag {
  Key: string;
  Value: string;
}

export interface InlinePolicy {
  name: string;
  /** The document as the caller sent it (IAM returns it so, URL-encoded). */
  document: string;
}

export interface RoleEntity {
  name: string;
  path: string;
  roleId: string;
  /** ISO 8601, seconds. */
  createDate: string;
  trustPolicy: string;
  description?: string;
  maxSessionDuration: number;
  /** Stored and returned, not enforced (docs/iam-api.md). */
  permissionsBoundary?: string;
  tags: Tag[];
  inlinePolicies: InlinePolicy[];
  /** Managed policy ARNs, in attachment order. */
  attachedPolicies: string[];
}

export interface ProviderEntity {
  url: string;
  clientIds: string[];
  thumbprints: string[];
  tags: Tag[];
  createDate: string;
  /** Seed-only trust settings IAM has no field for (local CAs, offline JWKS): kept across API updates. */
  caBundle?: string;
  jwks?: { keys: JWK[] };
  discovery?: { jwks_uri?: string };
}

export interface PolicyEntity {
  name: string;
  path: string;
  policyId: string;
  description?: string;
  document: string;
  createDate: string;
  updateDate: string;
  tags: Tag[];
}

export type EntityKind = 'role' | 'oidc-provider' | 'policy';

export interface IamState {
  /** By lower-cased role name (IAM role names are case-insensitive for uniqueness). */
  roles: Map<string, RoleEntity>;
  /** By provider id (URL without `https://`). */
  providers: Map<string, ProviderEntity>;
  /** Customer managed policies by lower-cased name (names are unique in an account, whatever the path). */
  policies: Map<string, PolicyEntity>;
}

export type Entity = RoleEntity | ProviderEntity | PolicyEntity;

/** One stored change: the whole entity, or a tombstone for a deleted seed entity. */
export interface OverlayEntry {
  kind: EntityKind;
  id: string;
  deleted?: true;
  value?: Entity;
}

export function emptyState(): IamState {
  return { roles: new Map(), providers: new Map(), policies: new Map() };
}

export function providerId(url: string): string {
  return url.replace(/^https:\/\//i, '');
}

/** The map key of an entity: what IAM considers "the same" entity. */
export function entityId(kind: EntityKind, e: Entity): string {
  if (kind === 'oidc-provider') return providerId((e as ProviderEntity).url);
  return (e as RoleEntity | PolicyEntity).name.toLowerCase();
}

function mapOf(state: IamState, kind: EntityKind): Map<string, Entity> {
  return kind === 'role' ? state.roles : kind === 'oidc-provider' ? state.providers : state.policies;
}

/** Seed ⊕ overlay: overlay entities replace seed ones, tombstones remove them. */
export function applyOverlay(seed: IamState, overlay: Iterable<OverlayEntry>): IamState {
  const out: IamState = {
    roles: new Map(seed.roles),
    providers: new Map(seed.providers),
    policies: new Map(seed.policies),
  };
  for (const e of overlay) {
    const m = mapOf(out, e.kind);
    if (e.deleted || !e.value) m.delete(e.id);
    else m.set(e.id, e.value);
  }
  return out;
}

export function seedHas(seed: IamState, kind: EntityKind, id: string): boolean {
  return mapOf(seed, kind).has(id);
}

export function getEntity(state: IamState, kind: EntityKind, id: string): Entity | undefined {
  return mapOf(state, kind).get(id);
}

export interface Account {
  partition: string;
  accountId: string;
}

export function roleArnOf(a: Account, r: RoleEntity): string {
  return roleArn(a.partition, a.accountId, r.name, r.path);
}

export function providerArnOf(a: Account, p: ProviderEntity): string {
  return oidcProviderArn(a.partition, a.accountId, p.url);
}

export function policyArnOf(a: Account, p: PolicyEntity): string {
  return `arn:${a.partition}:iam::${a.accountId}:policy${p.path}${p.name}`;
}

/** Roles a managed policy is attached to (AttachmentCount, DeletePolicy's conflict check). */
export function attachmentCount(state: IamState, policyArn: string): number {
  let n = 0;
  for (const r of state.roles.values()) if (r.attachedPolicies.includes(policyArn)) n++;
  return n;
}
