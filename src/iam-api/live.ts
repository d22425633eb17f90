/**
 * Between the STS config and the IAM state: the config's providers, roles and managed policies are the seed of
 * the state, and every state becomes the StsConfig the STS, `explain` and `lint` read (policies parsed once per
 * distinct text). AWS managed policies of the catalogue are added so permission checks evaluate them.
 */
import { oidcProviderArn, roleArn } from '../iam/arn.js';
import { parsePolicy, type ParsedPolicy, type PolicyKind } from '../iam/policy.js';
import {
  deriveUniqueId,
  type ProviderConfig,
  type RoleConfig,
  type RolePolicy,
  type StsConfig,
} from '../sts/config.js';
import { AWS_MANAGED_POLICIES } from './aws-managed.js';
import {
  emptyState,
  policyArnOf,
  providerId,
  type IamState,
  type PolicyEntity,
  type RoleEntity,
} from './model.js';
import { messageOf } from '../errors.js';

const isoSeconds = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** The config's entities as IAM state. `createdAt` dates entities whose config gives no CreateDate. */
export function seedFromConfig(config: StsConfig, createdAt: number): IamState {
  const date = isoSeconds(createdAt);
  const state = emptyState();
  for (const p of config.providers) {
    state.providers.set(providerId(p.url), {
      url: p.url,
      clientIds: [...p.clientIds],
      thumbprints: [...p.thumbprints],
      tags: [],
      createDate: date,
      ...(p.caBundle !== undefined ? { caBundle: p.caBundle } : {}),
      ...(p.jwks !== undefined ? { jwks: p.jwks } : {}),
      ...(p.discovery !== undefined ? { discovery: p.discovery } : {}),
    });
  }
  for (const [arn, p] of config.managedPolicies) {
    if (arn.includes(':aws:policy/')) continue;
    const rest = arn.slice(arn.indexOf(':policy') + ':policy'.length);
    const path = rest.slice(0, rest.lastIndexOf('/') + 1);
    const entity: PolicyEntity = {
      name: p.name,
      path,
      policyId: deriveUniqueId('ANPA', arn),
      document: p.text ?? JSON.stringify(p.document),
      createDate: date,
      updateDate: date,
      tags: [],
    };
    state.policies.set(p.name.toLowerCase(), entity);
  }
  for (const r of config.roles.values()) {
    const role: RoleEntity = {
      name: r.name,
      path: r.path,
      roleId: r.roleId,
      createDate: r.createDate ?? date,
      trustPolicy: r.trustPolicyText ?? JSON.stringify(r.trustPolicy),
      maxSessionDuration: r.maxSessionDuration,
      tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
      inlinePolicies: r.inlinePolicies.map((p) => ({
        name: p.name,
        document: p.text ?? JSON.stringify(p.document),
      })),
      attachedPolicies: [...r.managedPolicyArns],
    };
    if (r.description !== undefined) role.description = r.description;
    state.roles.set(r.name.toLowerCase(), role);
  }
  return state;
}

const CACHE_MAX = 5000;
const parsed: Record<PolicyKind, Map<string, ParsedPolicy>> = { trust: new Map(), identity: new Map() };

/** Parse once per distinct text (every state change rebuilds the config; most documents did not change). */
function parseCached(text: string, kind: PolicyKind): ParsedPolicy {
  const cache = parsed[kind];
  let doc = cache.get(text);
  if (!doc) {
    doc = parsePolicy(text, kind, { maxSize: 0 });
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(text, doc);
  }
  return doc;
}

export interface LiveProblem {
  entity: string;
  what: string;
}

/**
 * The StsConfig for a state: `base` gives the account, keys and tunables; providers, roles and managed policies
 * come from the state. An entity whose stored policy no longer parses is left out and reported.
 */
export function liveConfig(base: StsConfig, state: IamState, problems: LiveProblem[] = []): StsConfig {
  const { partition, accountId } = base;
  const account = { partition, accountId };
  const providers: ProviderConfig[] = [...state.providers.values()].map((p) => ({
    url: p.url,
    arn: oidcProviderArn(partition, accountId, p.url),
    clientIds: p.clientIds,
    keyPrefix: providerId(p.url),
    thumbprints: p.thumbprints,
    caBundle: p.caBundle,
    jwks: p.jwks,
    discovery: p.discovery,
  }));
  const managedPolicies = new Map<string, RolePolicy>();
  for (const m of AWS_MANAGED_POLICIES)
    managedPolicies.set(`arn:${partition}:iam::aws:policy${m.path}${m.name}`, {
      name: m.name,
      document: parseCached(m.document, 'identity'),
      text: m.document,
    });
  for (const p of state.policies.values()) {
    const arn = policyArnOf(account, p);
    try {
      managedPolicies.set(arn, {
        name: p.name,
        document: parseCached(p.document, 'identity'),
        text: p.document,
      });
    } catch (err) {
      problems.push({ entity: arn, what: `stored document does not parse: ${messageOf(err)}` });
    }
  }
  const roles = new Map<string, RoleConfig>();
  for (const r of state.roles.values()) {
    const arn = roleArn(partition, accountId, r.name, r.path);
    try {
      const role: RoleConfig = {
        name: r.name,
        path: r.path,
        arn,
        roleId: r.roleId,
        trustPolicy: parseCached(r.trustPolicy, 'trust'),
        trustPolicyText: r.trustPolicy,
        createDate: r.createDate,
        maxSessionDuration: r.maxSessionDuration,
        tags: Object.fromEntries(r.tags.map((t) => [t.Key, t.Value])),
        inlinePolicies: r.inlinePolicies.map((p) => ({
          name: p.name,
          document: parseCached(p.document, 'identity'),
          text: p.document,
        })),
        managedPolicyArns: [...r.attachedPolicies],
      };
      if (r.description !== undefined) role.description = r.description;
      roles.set(arn, role);
    } catch (err) {
      problems.push({ entity: arn, what: `stored policy does not parse: ${messageOf(err)}` });
    }
  }
  return { ...base, providers, roles, managedPolicies };
}
