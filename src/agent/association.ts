/**
 * Pod identity associations: which ServiceAccount gets which role. Kept as the cluster-scoped custom resource
 * `PodIdentityAssociation` (openirsa.io/v1alpha1) — cluster-scoped because an association hands out a role: only
 * who may manage cluster-wide objects may create one, as only IAM-authorized callers may on EKS. Parsing and lookup
 * are pure; the agent and the webhook read the same objects (one source of truth).
 */
import { loadYaml } from '../lazy-yaml.js';
import { parseRoleArn } from '../iam/arn.js';
import { OpenIrsaError, messageOf } from '../errors.js';

export const ASSOCIATION_GROUP = 'openirsa.io';
export const ASSOCIATION_VERSION = 'v1alpha1';
export const ASSOCIATION_KIND = 'PodIdentityAssociation';
export const ASSOCIATION_PLURAL = 'podidentityassociations';
export const ASSOCIATION_API_PATH = `/apis/${ASSOCIATION_GROUP}/${ASSOCIATION_VERSION}/${ASSOCIATION_PLURAL}`;

/** IAM's limits on session tags (AssumeRole): 50 tags, keys ≤ 128, values ≤ 256 characters. */
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SA_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export interface Association {
  /** The object's name (cluster-scoped). */
  name: string;
  namespace: string;
  serviceAccount: string;
  roleArn: string;
  /** A role assumed from `roleArn`'s session (EKS's cross-account target role). */
  targetRoleArn?: string;
  /** `sts:ExternalId` for the target role's trust policy. */
  externalId?: string;
  /** No automatic session tags (EKS's `disableSessionTags`). */
  disableSessionTags: boolean;
  /** Extra session tags, added to the automatic ones. */
  sessionTags: Record<string, string>;
  /** metadata.uid + generation: a changed association is a new credentials session. */
  revision: string;
}

export class AssociationError extends OpenIrsaError {
  constructor(message: string) {
    super('AssociationInvalid', message);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** A PodIdentityAssociation object → Association, or an AssociationError naming the bad field. */
export function parseAssociation(obj: unknown): Association {
  if (!isObj(obj)) throw new AssociationError('not an object');
  const meta = isObj(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  const where = name ? `PodIdentityAssociation ${name}` : 'PodIdentityAssociation';
  const bad = (m: string) => new AssociationError(`${where}: ${m}`);
  if (!isObj(obj.spec)) throw bad('spec is missing');
  const s = obj.spec;
  const text = (field: string, required: boolean): string | undefined => {
    const v = s[field];
    if (v === undefined || v === null || v === '') {
      if (required) throw bad(`spec.${field} is required`);
      return undefined;
    }
    if (typeof v !== 'string') throw bad(`spec.${field} must be a string`);
    return v;
  };
  const namespace = text('namespace', true)!;
  if (!DNS_LABEL.test(namespace) || namespace.length > 63)
    throw bad(`spec.namespace "${namespace}" is not a namespace name`);
  const serviceAccount = text('serviceAccount', true)!;
  if (!SA_NAME.test(serviceAccount) || serviceAccount.length > 253)
    throw bad(`spec.serviceAccount "${serviceAccount}" is not a ServiceAccount name`);
  const roleArn = text('roleArn', true)!;
  if (!parseRoleArn(roleArn)) throw bad(`spec.roleArn "${roleArn}" is not an IAM role ARN`);
  const targetRoleArn = text('targetRoleArn', false);
  if (targetRoleArn !== undefined && !parseRoleArn(targetRoleArn))
    throw bad(`spec.targetRoleArn "${targetRoleArn}" is not an IAM role ARN`);
  const externalId = text('externalId', false);
  if (
    externalId !== undefined &&
    (externalId.length < 2 || externalId.length > 1224 || !/^[\w+=,.@:/-]*$/.test(externalId))
  )
    throw bad('spec.externalId must be 2-1224 characters of [\\w+=,.@:/-]');
  const dst = s.disableSessionTags;
  if (dst !== undefined && typeof dst !== 'boolean') throw bad('spec.disableSessionTags must be a boolean');
  const sessionTags: Record<string, string> = {};
  if (s.sessionTags !== undefined) {
    if (!isObj(s.sessionTags)) throw bad('spec.sessionTags must be a map of strings');
    for (const [k, v] of Object.entries(s.sessionTags)) {
      if (typeof v !== 'string') throw bad(`spec.sessionTags.${k} must be a string`);
      if (!TAG_KEY.test(k)) throw bad(`spec.sessionTags key "${k}" is not a valid tag key`);
      if (!TAG_VALUE.test(v)) throw bad(`spec.sessionTags.${k} is not a valid tag value`);
      sessionTags[k] = v;
    }
  }
  const uid = typeof meta.uid === 'string' ? meta.uid : '';
  const generation = typeof meta.generation === 'number' ? String(meta.generation) : '';
  return {
    name,
    namespace,
    serviceAccount,
    roleArn,
    ...(targetRoleArn !== undefined && { targetRoleArn }),
    ...(externalId !== undefined && { externalId }),
    disableSessionTags: dst === true,
    sessionTags,
    revision: `${uid}/${generation}/${JSON.stringify(s)}`,
  };
}

/**
 * The associations by namespace/ServiceAccount. Two objects for one ServiceAccount (EKS refuses the second): the
 * one whose name sorts first wins, so every replica decides alike.
 */
export class AssociationIndex {
  private byName = new Map<string, Association>();
  private byAccount = new Map<string, Association>();

  replace(list: Association[]): void {
    this.byName = new Map(list.map((a) => [a.name, a]));
    this.rebuild();
  }
  upsert(a: Association): void {
    this.byName.set(a.name, a);
    this.rebuild();
  }
  remove(name: string): void {
    if (this.byName.delete(name)) this.rebuild();
  }
  lookup(namespace: string, serviceAccount: string): Association | undefined {
    return this.byAccount.get(`${namespace}/${serviceAccount}`);
  }
  /** The webhook's question: does this ServiceAccount use container credentials? */
  has(namespace: string, serviceAccount: string): boolean {
    return this.byAccount.has(`${namespace}/${serviceAccount}`);
  }
  get size(): number {
    return this.byName.size;
  }
  /** ServiceAccounts claimed by more than one association (for warnings). */
  conflicts(): string[][] {
    const seen = new Map<string, string[]>();
    for (const a of this.byName.values()) {
      const k = `${a.namespace}/${a.serviceAccount}`;
      seen.set(k, [...(seen.get(k) ?? []), a.name]);
    }
    return [...seen.values()].filter((names) => names.length > 1).map((n) => n.sort());
  }
  private rebuild(): void {
    const next = new Map<string, Association>();
    for (const name of [...this.byName.keys()].sort()) {
      const a = this.byName.get(name)!;
      const k = `${a.namespace}/${a.serviceAccount}`;
      if (!next.has(k)) next.set(k, a);
    }
    this.byAccount = next;
  }
}

/**
 * A file of PodIdentityAssociation objects (YAML or JSON; several documents, or a `List`/`items`), for an agent
 * without an API server. Invalid → an AssociationError naming the object; the caller keeps the previous set.
 */
export function parseAssociationsText(text: string): Association[] {
  let docs: unknown[];
  try {
    docs = loadYaml()
      .parseAllDocuments(text)
      .map((d) => {
        if (d.errors.length > 0) throw new AssociationError(`invalid YAML: ${d.errors[0]!.message}`);
        return d.toJS() as unknown;
      });
  } catch (err) {
    if (err instanceof AssociationError) throw err;
    throw new AssociationError(`invalid YAML: ${messageOf(err)}`);
  }
  const objects: unknown[] = [];
  for (const d of docs) {
    if (d === null || d === undefined) continue;
    if (isObj(d) && Array.isArray(d.items)) objects.push(...(d.items as unknown[]));
    else objects.push(d);
  }
  return objects.map((o, i) => {
    if (isObj(o) && o.kind !== undefined && o.kind !== ASSOCIATION_KIND)
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a kind is a YAML scalar; anything else is refused as it prints
      throw new AssociationError(`object ${i + 1} is a ${String(o.kind)}, not a ${ASSOCIATION_KIND}`);
    const a = parseAssociation(o);
    if (!a.name) throw new AssociationError(`object ${i + 1}: metadata.name is required`);
    return a;
  });
}
