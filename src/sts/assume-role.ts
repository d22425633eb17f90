/**
 * AssumeRole with STS-issued session credentials (role chaining). The caller is the assumed-role session that
 * signed the request; the target role's trust policy must allow it. When the trust policy names the caller only
 * through its account (`arn:…:root` / account id), IAM also requires the caller's own permission policies to
 * allow sts:AssumeRole on the target (same-account rule for account principals).
 */
import { parseRoleArn, roleArn as buildRoleArn } from '../iam/arn.js';
import type { ConditionValue } from '../iam/types.js';
import type { RoleConfig, StsConfig } from './config.js';
import { issueCredentials, sessionArn, type Session } from './credentials.js';
import { effectivePermission, type ResourceGrant } from '../iam/effective.js';
import type { EvaluationResult } from '../iam/types.js';
import {
  evaluateTrust,
  renderEvaluation,
  roleOfSession,
  sessionPermissionPolicies,
  summarizeEvaluation,
  type PolicyDoc,
} from './policy.js';
import {
  MSG,
  PATTERNS,
  StsError,
  checkString,
  type AssumedRoleOut,
  type Params,
  type Violation,
} from './protocol.js';
import {
  assumedRoleOut,
  checkDuration,
  defaultRandom,
  failStep,
  globalKeys,
  readCommonParams,
  roleSessionInput,
  sessionPoliciesStep,
  tagKeys,
  throwIfViolations,
  type CommonParams,
  type RequestMeta,
  type StsDeps,
  type Trace,
} from './common.js';

export const ASSUME_ROLE_ACTION = 'sts:AssumeRole';
/** Role chaining caps sessions at one hour. */
export const CHAINED_MAX_SECONDS = 3600;

export interface AssumeRoleParams extends CommonParams {
  externalId?: string;
  sourceIdentity?: string;
  tags: Record<string, string>;
  transitiveTagKeys: string[];
}

export function readAssumeRoleParams(params: Params): AssumeRoleParams {
  const out: Violation[] = [];
  const common = readCommonParams(params, out);
  const externalId = checkString(
    params,
    'ExternalId',
    {
      field: 'externalId',
      min: 2,
      max: 1224,
      pattern: PATTERNS.externalId.re,
      patternText: PATTERNS.externalId.text,
    },
    out,
  );
  const sourceIdentity = checkString(
    params,
    'SourceIdentity',
    {
      field: 'sourceIdentity',
      min: 2,
      max: 64,
      pattern: PATTERNS.roleSessionName.re,
      patternText: PATTERNS.roleSessionName.text,
    },
    out,
  );
  // Collected in a Map: `__proto__` is a valid tag key (it matches AWS's pattern) and must stay an ordinary tag,
  // which assigning it into an object literal would silently drop.
  const tagEntries = new Map<string, string>();
  for (let i = 1; ; i++) {
    const k = params.get(`Tags.member.${i}.Key`);
    if (k === undefined) break;
    const kv = new Map([
      ['k', k],
      ['v', params.get(`Tags.member.${i}.Value`) ?? ''],
    ]);
    checkString(
      kv,
      'k',
      {
        field: `tags.${i}.member.key`,
        min: 1,
        max: 128,
        pattern: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u,
        patternText: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+',
      },
      out,
    );
    checkString(
      kv,
      'v',
      {
        field: `tags.${i}.member.value`,
        max: 256,
        pattern: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u,
        patternText: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*',
      },
      out,
    );
    tagEntries.set(k, kv.get('v')!);
  }
  const tags: Record<string, string> = Object.fromEntries(tagEntries);
  if (tagEntries.size > 50)
    out.push({
      field: 'tags',
      value: undefined,
      constraint: 'Member must have length less than or equal to 50',
    });
  const transitiveTagKeys: string[] = [];
  for (let i = 1; ; i++) {
    const k = params.get(`TransitiveTagKeys.member.${i}`);
    if (k === undefined) break;
    transitiveTagKeys.push(k);
  }
  throwIfViolations(out);
  return { ...(common as CommonParams), externalId, sourceIdentity, tags, transitiveTagKeys };
}

export interface AssumeRoleResult extends AssumedRoleOut {
  session: Session;
  role: RoleConfig;
}

/** aws:Principal* keys of an assumed-role caller; the role's own tags are principal tags unless a session tag overrides. */
export function principalKeys(
  caller: Session,
  roleTags: Record<string, string> = {},
): Record<string, ConditionValue> {
  const keys: Record<string, ConditionValue> = {
    'aws:PrincipalArn': buildRoleArn(
      caller.partition,
      caller.account,
      caller.roleName,
      caller.rolePath ?? '/',
    ),
    'aws:PrincipalAccount': caller.account,
    'aws:PrincipalType': 'AssumedRole',
    'aws:userid': `${caller.roleId}:${caller.sessionName}`,
    'aws:TokenIssueTime': new Date(caller.issuedAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  if (caller.sourceIdentity) keys['aws:SourceIdentity'] = caller.sourceIdentity;
  if (caller.provider) keys['aws:FederatedProvider'] = caller.provider;
  const tags = new Map<string, [string, string]>();
  for (const [k, v] of Object.entries(roleTags)) tags.set(k.toLowerCase(), [k, v]);
  for (const [k, v] of Object.entries(caller.tags ?? {})) tags.set(k.toLowerCase(), [k, v]);
  for (const [k, v] of tags.values()) keys[`aws:PrincipalTag/${k}`] = v;
  return keys;
}

const GRANT_TEXT: Record<ResourceGrant, string> = {
  none: "the trust policy trusts the caller's account, so the caller's own policies must allow it",
  principal: "the trust policy names the caller's role",
  session: 'the trust policy names this session',
};

/** What the applying Allow statements of a trust policy name: the session itself, its role (or everyone), or only its account. */
export function trustGrant(
  trust: EvaluationResult,
  doc: PolicyDoc,
  callerRoleArn: string,
  callerSessionArn: string,
): ResourceGrant {
  let grant: ResourceGrant = 'none';
  for (const s of trust.statements) {
    if (!s.matched || s.effect !== 'Allow') continue;
    const spec = doc.statements[s.index]?.principal;
    const values = spec === '*' ? ['*'] : (spec?.AWS ?? []);
    if (values.includes(callerSessionArn)) return 'session';
    if (values.some((v) => v === '*' || v === callerRoleArn)) grant = 'principal';
  }
  return grant;
}

/** The tags, transitive tag keys and source identity of the new session, as a role chain passes them on. */
function chainedSessionClaims(
  req: AssumeRoleParams,
  caller: Session,
  trace: Trace | undefined,
): { tags: Record<string, string>; transitive: string[]; sourceIdentity?: string } {
  // Session tags: transitive tags of the caller carry over and cannot be overridden.
  // Own properties only, built with fromEntries: a `__proto__` tag is data here, never the prototype.
  const inherited: Record<string, string> = Object.fromEntries(
    (caller.transitiveTagKeys ?? []).flatMap((k) =>
      caller.tags && Object.hasOwn(caller.tags, k) ? [[k, caller.tags[k]!]] : [],
    ),
  );
  for (const k of Object.keys(req.tags))
    if (Object.keys(inherited).some((t) => t.toLowerCase() === k.toLowerCase()))
      failStep(
        trace,
        'tags',
        new StsError(
          'InvalidParameterValue',
          `Tag key ${k} is a transitive tag of the calling session and cannot be set`,
        ),
      );
  const tags = { ...inherited, ...req.tags };
  const transitive = [...new Set([...(caller.transitiveTagKeys ?? []), ...req.transitiveTagKeys])];
  for (const k of req.transitiveTagKeys)
    if (!Object.hasOwn(req.tags, k))
      failStep(
        trace,
        'tags',
        new StsError('InvalidParameterValue', `Transitive tag key ${k} is not one of the session tags`),
      );
  // Source identity is sticky along a chain.
  if (caller.sourceIdentity && req.sourceIdentity && req.sourceIdentity !== caller.sourceIdentity)
    failStep(
      trace,
      'source identity',
      new StsError('ValidationError', 'SourceIdentity cannot be changed once set on a role session chain'),
    );
  return { tags, transitive, sourceIdentity: caller.sourceIdentity ?? req.sourceIdentity };
}

/** The condition keys an AssumeRole request carries: the request's, the calling session's, the parameters'. */
function assumeRoleKeys(
  req: AssumeRoleParams,
  caller: Session,
  deps: StsDeps,
  meta: RequestMeta,
  nowMs: number,
): Record<string, ConditionValue> {
  const { config } = deps;
  const keys: Record<string, ConditionValue> = {
    ...globalKeys(config, meta, nowMs),
    ...principalKeys(caller, roleOfSession(config, caller)?.tags),
    ...tagKeys(Object.keys(req.tags).length ? req.tags : undefined),
    'sts:RoleSessionName': req.roleSessionName,
  };
  if (req.externalId !== undefined) keys['sts:ExternalId'] = req.externalId;
  if (req.sourceIdentity !== undefined) keys['sts:SourceIdentity'] = req.sourceIdentity;
  if (req.transitiveTagKeys.length) keys['sts:TransitiveTagKeys'] = req.transitiveTagKeys;
  return keys;
}

/**
 * For each action the request needs (sts:AssumeRole, and sts:TagSession / sts:SetSourceIdentity when it sets
 * them): the target's trust policy allows the caller, and so do the caller's own policies where IAM requires it.
 */
function checkChainTrust(
  req: AssumeRoleParams,
  caller: Session,
  role: RoleConfig,
  keys: Record<string, ConditionValue>,
  config: StsConfig,
  trace: Trace | undefined,
): void {
  const callerArn = sessionArn(caller);
  const denied = (why: string) =>
    new StsError('AccessDenied', MSG.notAuthorizedAssumeRole(callerArn, req.roleArn), why);
  const principal = { type: 'AWS' as const, id: callerArn };
  const actions = [ASSUME_ROLE_ACTION];
  if (Object.keys(req.tags).length) actions.push('sts:TagSession');
  if (req.sourceIdentity !== undefined && !caller.sourceIdentity) actions.push('sts:SetSourceIdentity');
  const callerRoleArn = String(keys['aws:PrincipalArn']);
  const { identity, session } = sessionPermissionPolicies(config, caller);
  for (const action of actions) {
    const context = { action, principal, conditionKeys: keys };
    const trust = evaluateTrust(role.trustPolicy, context);
    // Rendering every statement costs more than evaluating it: only when someone reads the trace.
    trace?.push({
      step: `trust policy: ${action}`,
      ok: trust.decision === 'Allow',
      detail: `${trust.decision}: ${summarizeEvaluation(trust)}`,
      lines: renderEvaluation(trust, '    '),
      evaluation: { result: trust, context },
    });
    if (trust.decision !== 'Allow')
      throw denied(
        `trust policy of ${role.arn} does not allow ${action} for ${callerArn}: ${summarizeEvaluation(trust)}`,
      );
    // The trust policy is the target's resource-based policy: what it names decides which of the caller's own
    // policies must also allow (same-account rule), and whether the session policies limit it.
    const grant = trustGrant(trust, role.trustPolicy, callerRoleArn, callerArn);
    const perm = effectivePermission(
      { identity, session, resourceGrant: grant },
      { action, resource: role.arn, conditionKeys: keys },
    );
    trace?.push({
      step: `caller's policies: ${action}`,
      ok: perm.decision === 'Allow',
      detail: `${perm.decision} (${GRANT_TEXT[grant]}${session ? '; the session policies limit the session' : ''})`,
      lines: [
        ...perm.identity.policies.flatMap((p) => [
          `    policy ${p.name}:`,
          ...renderEvaluation(p.result, '      '),
        ]),
        ...(perm.session?.policies ?? []).flatMap((p) => [
          `    ${p.name}:`,
          ...renderEvaluation(p.result, '      '),
        ]),
      ],
    });
    if (perm.decision !== 'Allow')
      throw denied(
        perm.decision === 'ExplicitDeny'
          ? `an explicit Deny in the caller's ${perm.deniedBy === 'session' ? 'session policies' : `policies (${callerRoleArn})`} refuses ${action} on ${role.arn}`
          : perm.deniedBy === 'session'
            ? `the session policies of ${callerArn} do not allow ${action} on ${role.arn}`
            : `the trust policy of ${role.arn} trusts account ${caller.account} but no permission policy of ${callerRoleArn} allows ${action} on it`,
      );
  }
}

/**
 * AssumeRole with the caller's session: request → target role → session tags and source identity → trust policy
 * and the caller's policies → duration (chained sessions: at most an hour) → session policies → credentials.
 */
export async function assumeRole(
  req: AssumeRoleParams,
  caller: Session,
  deps: StsDeps,
  meta: RequestMeta,
  trace?: Trace,
): Promise<AssumeRoleResult> {
  const { config } = deps;
  if (!parseRoleArn(req.roleArn))
    failStep(trace, 'role ARN', new StsError('ValidationError', `${req.roleArn} is invalid`));
  const role = config.roles.get(req.roleArn);
  if (!role)
    failStep(
      trace,
      'role',
      new StsError(
        'AccessDenied',
        MSG.notAuthorizedAssumeRole(sessionArn(caller), req.roleArn),
        `role ${req.roleArn} does not exist in this STS's config`,
      ),
    );
  const { tags, transitive, sourceIdentity } = chainedSessionClaims(req, caller, trace);
  const nowMs = deps.now();
  checkChainTrust(req, caller, role, assumeRoleKeys(req, caller, deps, meta, nowMs), config, trace);
  if ((req.durationSeconds ?? 3600) > CHAINED_MAX_SECONDS)
    failStep(
      trace,
      'duration',
      new StsError(
        'ValidationError',
        MSG.chainingLimit,
        `DurationSeconds ${req.durationSeconds} > 3600 for a chained role session`,
      ),
    );
  const duration = checkDuration(req.durationSeconds, role, trace);
  const policies = sessionPoliciesStep(
    config,
    req,
    Object.keys(req.tags).length ? req.tags : undefined,
    trace,
  );
  const issued = issueCredentials(
    {
      ...roleSessionInput(config, role, req.roleSessionName, duration, nowMs),
      sourceIdentity,
      tags: Object.keys(tags).length ? tags : undefined,
      transitiveTagKeys: transitive.length ? transitive : undefined,
      provider: caller.provider,
      chained: true,
      sessionPolicy: policies.policy,
      policyArns: policies.policyArns,
    },
    config.sessionKeys[0]!,
    deps.random ?? defaultRandom,
  );
  trace?.push({ step: 'credentials', ok: true, detail: `${duration} s chained session` });
  return {
    session: issued.session,
    role: role,
    ...assumedRoleOut(issued),
    sourceIdentity,
    packedPolicySize: policies.packedPolicySize,
  };
}
