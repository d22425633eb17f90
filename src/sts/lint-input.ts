/**
 * The sts config (and `aws iam get-role` / `list-roles` output) as `openirsa lint` inputs: the roles' trust
 * policies and the providers they may trust. iam/lint knows trust policies only; the config format is known here.
 */
import {
  IamError,
  lintRoles,
  lintTrustPolicy,
  type LintContext,
  type LintFinding,
  type LintOptions,
  type RoleInput,
} from '../iam/index.js';
import type { StsConfig } from './config.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

/** What a lint input file holds: a policy document, or roles (sts config, get-role, list-roles). */
export function lintInputKind(value: unknown): 'policy' | 'roles' | 'unknown' {
  if (!isObject(value)) return 'unknown';
  if ('Statement' in value) return 'policy';
  if (Array.isArray(value.roles) || Array.isArray(value.Roles) || isObject(value.Role)) return 'roles';
  return 'unknown';
}

/**
 * The roles of an sts config: `{roles: [{RoleName, AssumeRolePolicyDocument, ...}]}` in IAM's get-role shapes.
 * Also accepts `aws iam get-role` output (`{Role: {...}}`) and `aws iam list-roles` output (`{Roles: [...]}`).
 * One function so that it can follow the STS config format.
 */
export function rolesFromConfig(config: unknown): RoleInput[] {
  if (!isObject(config))
    throw new IamError('InvalidInput', 'the config must be an object with a "roles" array', '$');
  let items: unknown[];
  let base: string;
  if (Array.isArray(config.roles)) {
    items = config.roles;
    base = '$.roles';
  } else if (Array.isArray(config.Roles)) {
    items = config.Roles;
    base = '$.Roles';
  } else if (isObject(config.Role)) {
    items = [config.Role];
    base = '$.Role';
  } else {
    throw new IamError('InvalidInput', 'no "roles" array in the config', '$');
  }
  return items.map((item, i) => {
    const path = base === '$.Role' ? base : `${base}[${i}]`;
    if (!isObject(item)) throw new IamError('InvalidInput', 'a role must be an object', path);
    if (typeof item.RoleName !== 'string' || item.RoleName === '') {
      throw new IamError('InvalidInput', 'a role needs a RoleName', `${path}.RoleName`);
    }
    const doc = item.AssumeRolePolicyDocument;
    if (!(typeof doc === 'string' || isObject(doc))) {
      throw new IamError(
        'InvalidInput',
        `role ${item.RoleName} needs an AssumeRolePolicyDocument (object or JSON text)`,
        `${path}.AssumeRolePolicyDocument`,
      );
    }
    return { roleName: item.RoleName, document: doc, path: `${path}.AssumeRolePolicyDocument` };
  });
}

/** The provider context of an sts config (accountId, partition, oidcProviders[].Url/ClientIDList); lenient. */
export function contextFromConfig(config: unknown): LintContext | undefined {
  if (!isObject(config) || !('oidcProviders' in config || 'accountId' in config)) return undefined;
  const ctx: LintContext = {};
  if (typeof config.accountId === 'string') ctx.accountId = config.accountId;
  ctx.partition = typeof config.partition === 'string' ? config.partition : 'aws';
  if (Array.isArray(config.oidcProviders)) {
    ctx.providers = config.oidcProviders.flatMap((raw: unknown) => {
      const p = isObject(raw) && isObject(raw.OpenIDConnectProvider) ? raw.OpenIDConnectProvider : raw;
      if (!isObject(p) || typeof p.Url !== 'string') return [];
      return [{ providerId: p.Url.replace(/^https:\/\//i, ''), clientIds: strings(p.ClientIDList) }];
    });
  }
  return ctx;
}

/** A config whose roles all come from the IAM API: it has no seed roles to lint in the file. */
export function rolesOnlyFromIamApi(config: unknown): boolean {
  return isObject(config) && 'iamApi' in config && !('roles' in config);
}

/** The provider context of a loaded config. */
export function contextOfConfig(config: StsConfig): LintContext {
  return {
    accountId: config.accountId,
    partition: config.partition,
    providers: config.providers.map((p) => ({ providerId: p.keyPrefix, clientIds: p.clientIds })),
  };
}

/**
 * The roles of the live config (IAM API state) that differ from the seed's: their trust policies are linted as
 * the seed's are, each at `<role arn>.AssumeRolePolicyDocument`.
 */
export function changedRoles(seed: StsConfig, live: StsConfig): RoleInput[] {
  return [...live.roles.values()]
    .filter((r) => {
      const before = seed.roles.get(r.arn);
      return !before || before.trustPolicyText !== r.trustPolicyText;
    })
    .map((r) => ({
      roleName: r.name,
      document: r.trustPolicyText ?? '',
      path: `${r.arn}.AssumeRolePolicyDocument`,
    }));
}

/**
 * Lint what an input file holds: a trust policy, or the roles of a config (`asConfig`: given as --config, so read
 * as one whatever its shape). Undefined when it is neither. Throws IamError when the roles are malformed.
 */
export function lintInput(
  value: unknown,
  asConfig: boolean,
  options: LintOptions,
): LintFinding[] | undefined {
  const kind = lintInputKind(value);
  if (asConfig || kind === 'roles') {
    const roles = asConfig && rolesOnlyFromIamApi(value) ? [] : rolesFromConfig(value);
    const context = contextFromConfig(value);
    return lintRoles(roles, context ? { ...options, context } : options);
  }
  return kind === 'policy' ? lintTrustPolicy(value, options) : undefined;
}
