/**
 * AssumeRoleWithWebIdentity (STS API Reference; docs/sts.md): parameters → token → role → trust policy (with sts:TagSession /
 * sts:SetSourceIdentity) → DurationSeconds → session policies → credentials. Every failure is an StsError whose
 * `explanation` names the exact cause; `trace` records each step for `openirsa explain`.
 */
import { parseRoleArn, type RoleArn } from '../iam/arn.js';
import type { ConditionValue, EvaluationResult } from '../iam/types.js';
import { TokenError } from '../oidc/errors.js';
import { verifyToken, type VerifiedToken } from '../oidc/verify.js';
import type { RoleConfig, StsConfig } from './config.js';
import { issueCredentials, type IssueInput, type Session } from './credentials.js';
import { evaluateTrust, renderEvaluation, summarizeEvaluation } from './policy.js';
import {
  MSG,
  PATTERNS,
  StsError,
  checkString,
  isoSeconds,
  type Params,
  type Violation,
  type WebIdentityOut,
} from './protocol.js';
import { stsErrorOf } from './token-errors.js';
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

export const WEB_IDENTITY_ACTION = 'sts:AssumeRoleWithWebIdentity';

export interface WebIdentityParams extends CommonParams {
  webIdentityToken: string;
  providerId?: string;
}

export function readWebIdentityParams(params: Params): WebIdentityParams {
  const out: Violation[] = [];
  const common = readCommonParams(params, out);
  const webIdentityToken = checkString(
    params,
    'WebIdentityToken',
    { field: 'webIdentityToken', required: true, min: 4, max: 20000, sensitive: true },
    out,
  );
  const providerId = checkString(
    params,
    'ProviderId',
    {
      field: 'providerId',
      min: 4,
      max: 2048,
      pattern: PATTERNS.clientToken.re,
      patternText: PATTERNS.clientToken.text,
    },
    out,
  );
  throwIfViolations(out);
  // Object.assign, not a spread: V8 adds properties to a spread copy slowly (~2.5 µs here).
  const req = Object.assign({}, common as CommonParams) as WebIdentityParams;
  req.webIdentityToken = webIdentityToken!;
  req.providerId = providerId;
  return req;
}

/**
 * Issuer-specific claims AWS also exposes as condition keys (IAM User Guide, "Available keys for AWS web identity federation"). GitHub Actions: the claims seen in
 * AWS-documented trust policies; `workflow_ref` is deliberately absent (AWS does not map it).
 */
export const ISSUER_EXTRA_CLAIMS: Readonly<Record<string, readonly string[]>> = {
  'https://token.actions.githubusercontent.com': [
    'actor',
    'actor_id',
    'environment',
    'event_name',
    'job_workflow_ref',
    'ref',
    'ref_type',
    'repository',
    'repository_id',
    'repository_owner',
    'repository_owner_id',
  ],
};

/** A provider's condition key names, built once per provider rather than per request. */
interface ProviderKeyNames {
  url: string;
  prefix: string;
  aud: string;
  sub: string;
  amr: string;
  azp: string;
  extra: ReadonlyArray<readonly [claim: string, key: string]>;
}
const keyNamesCache = new WeakMap<VerifiedToken['provider'], ProviderKeyNames>();
function providerKeyNames(provider: VerifiedToken['provider']): ProviderKeyNames {
  const { url, keyPrefix: p } = provider;
  let names = keyNamesCache.get(provider);
  if (!names || names.url !== url || names.prefix !== p) {
    names = {
      url,
      prefix: p,
      aud: `${p}:aud`,
      sub: `${p}:sub`,
      amr: `${p}:amr`,
      azp: `${p}:azp`,
      extra: (ISSUER_EXTRA_CLAIMS[url] ?? []).map((claim) => [claim, `${p}:${claim}`] as const),
    };
    keyNamesCache.set(provider, names);
  }
  return names;
}

/** The condition keys a web-identity request carries (IAM User Guide, IAM and AWS STS condition context keys). */
export function webIdentityKeys(
  token: VerifiedToken,
  sessionName: string,
  base: Record<string, ConditionValue>,
): Record<string, ConditionValue> {
  const names = providerKeyNames(token.provider);
  // Object.assign, not a spread: V8 adds properties to a spread copy ~25x slower (a measured 7 µs a request).
  const keys: Record<string, ConditionValue> = Object.assign({}, base);
  keys[names.aud] = token.audience;
  keys[names.sub] = token.subject;
  keys['sts:RoleSessionName'] = sessionName;
  keys['aws:FederatedProvider'] = token.provider.arn;
  if (token.tags && Object.keys(token.tags).length > 0) Object.assign(keys, tagKeys(token.tags));
  const { amr, azp } = token.claims;
  if (typeof amr === 'string' || (Array.isArray(amr) && amr.every((x) => typeof x === 'string')))
    keys[names.amr] = amr;
  if (typeof azp === 'string') keys[names.azp] = azp;
  for (const [claim, key] of names.extra) {
    const v = token.claims[claim];
    if (typeof v === 'string') keys[key] = v;
  }
  if (token.sourceIdentity !== undefined) keys['sts:SourceIdentity'] = token.sourceIdentity;
  if (token.transitiveTagKeys) keys['sts:TransitiveTagKeys'] = token.transitiveTagKeys;
  return keys;
}

export interface TrustCheck {
  action: string;
  result: EvaluationResult;
}

/** Evaluate the trust policy for the main action and for TagSession / SetSourceIdentity when the token needs them. */
export function checkTrust(
  role: RoleConfig,
  principal: { type: 'Federated' | 'AWS'; id: string },
  mainAction: string,
  keys: Record<string, ConditionValue>,
  needs: { tags: boolean; sourceIdentity: boolean },
): { allowed: boolean; checks: TrustCheck[]; failed?: TrustCheck } {
  const actions = [mainAction];
  if (needs.tags) actions.push('sts:TagSession');
  if (needs.sourceIdentity) actions.push('sts:SetSourceIdentity');
  const checks = actions.map((action) => ({
    action,
    result: evaluateTrust(role.trustPolicy, { action, principal, conditionKeys: keys }),
  }));
  const failed = checks.find((c) => c.result.decision !== 'Allow');
  return { allowed: !failed, checks, failed };
}

export function trustExplanation(role: RoleConfig, failed: TrustCheck, why: string): string {
  const extra =
    failed.action === 'sts:TagSession'
      ? ' (the token carries session tags, so the trust policy must also allow sts:TagSession)'
      : failed.action === 'sts:SetSourceIdentity'
        ? ' (the token carries a source identity, so the trust policy must also allow sts:SetSourceIdentity)'
        : '';
  return `trust policy of ${role.arn} does not allow ${failed.action}${extra}: ${why}`;
}

export interface WebIdentityResult extends WebIdentityOut {
  session: Session;
  token: VerifiedToken;
  role: RoleConfig;
}

/** What an allowed AssumeRoleWithWebIdentity decided: the session the credentials are issued for, and why. */
export interface WebIdentityDecision {
  token: VerifiedToken;
  role: RoleConfig;
  /** The session to issue (everything but its keys). */
  issue: IssueInput;
  packedPolicySize?: number;
}

/** parseRoleArn of a configured role's ARN, parsed once per role (the text is the role's, so is the result). */
const parsedRoleArns = new WeakMap<RoleConfig, RoleArn | undefined>();
function roleArnOf(config: StsConfig, text: string): RoleArn | undefined {
  const role = config.roles.get(text);
  if (role === undefined || role.arn !== text) return parseRoleArn(text);
  if (!parsedRoleArns.has(role)) parsedRoleArns.set(role, parseRoleArn(text));
  return parsedRoleArns.get(role);
}

/** RoleArn is a role ARN and ProviderId is absent (it is for OAuth 2.0 access tokens only). */
function checkRequest(config: StsConfig, req: WebIdentityParams, trace: Trace | undefined): RoleArn {
  const arn = roleArnOf(config, req.roleArn);
  if (!arn)
    failStep(
      trace,
      'role ARN',
      new StsError(
        'ValidationError',
        `${req.roleArn} is invalid`,
        `RoleArn ${req.roleArn} is not a role ARN (arn:<partition>:iam::<account>:role/<name>)`,
      ),
    );
  if (req.providerId !== undefined)
    failStep(
      trace,
      'parameters',
      new StsError(
        'InvalidParameterValue',
        'ProviderId must be omitted for OpenID Connect ID tokens',
        `ProviderId ${JSON.stringify(req.providerId)} is only for www.amazon.com / graph.facebook.com OAuth 2.0 access tokens`,
      ),
    );
  return arn;
}

/** The token, verified against the OIDC providers of the role's account; a refusal in AWS's words. */
async function verifyWebIdentityToken(
  req: WebIdentityParams,
  arn: RoleArn,
  deps: StsDeps,
  nowMs: number,
  trace: Trace | undefined,
): Promise<VerifiedToken> {
  const { config } = deps;
  // Providers are looked up in the role's account.
  const otherAccount = arn.account !== config.accountId || arn.partition !== config.partition;
  let token: VerifiedToken;
  try {
    token = await verifyToken(req.webIdentityToken, {
      now: Math.floor(nowMs / 1000),
      providers: otherAccount ? [] : config.providers,
      getKey: deps.getKey,
      skipSignature: deps.skipSignature,
      maxTokenAgeSeconds: config.maxTokenAgeSeconds,
    });
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    const why =
      otherAccount && err.code === 'issuer-unknown'
        ? `; the role is in account ${arn.account} (partition ${arn.partition}) but this STS serves account ${config.accountId} (${config.partition})`
        : '';
    failStep(trace, 'token', stsErrorOf(err, why));
  }
  trace?.push({
    step: 'token',
    ok: true,
    detail:
      `iss ${token.provider.url} → ${token.provider.arn}; aud ${JSON.stringify(token.audience)} is in ClientIDList; sub ${JSON.stringify(token.subject)}; ` +
      `exp ${new Date(token.exp * 1000).toISOString()}; ${token.alg} kid ${JSON.stringify(token.kid)}; ` +
      (token.signatureVerified ? 'signature verified' : 'signature NOT verified (--no-verify-signature)'),
  });
  return token;
}

/** The role, as this STS's config holds it. */
function findRole(config: StsConfig, roleArn: string, trace: Trace | undefined): RoleConfig {
  const role = config.roles.get(roleArn);
  if (!role)
    failStep(
      trace,
      'role',
      new StsError(
        'AccessDenied',
        MSG.notAuthorizedWebIdentity,
        `role ${roleArn} does not exist in this STS's config (roles: ${[...config.roles.keys()].join(', ') || 'none'})`,
      ),
    );
  trace?.push({
    step: 'role',
    ok: true,
    detail: `${role.arn} (RoleId ${role.roleId}, MaxSessionDuration ${role.maxSessionDuration} s)`,
  });
  return role;
}

/** The role's trust policy allows the token's provider (and sts:TagSession / sts:SetSourceIdentity when needed). */
function checkWebIdentityTrust(
  role: RoleConfig,
  token: VerifiedToken,
  keys: Record<string, ConditionValue>,
  trace: Trace | undefined,
): void {
  const principal = { type: 'Federated' as const, id: token.provider.arn };
  const trust = checkTrust(role, principal, WEB_IDENTITY_ACTION, keys, {
    tags: token.tags !== undefined && Object.keys(token.tags).length > 0,
    sourceIdentity: token.sourceIdentity !== undefined,
  });
  // Rendering every statement costs more than evaluating it: only when someone reads the trace.
  if (trace)
    for (const c of trust.checks)
      trace.push({
        step: `trust policy: ${c.action}`,
        ok: c.result.decision === 'Allow',
        detail: `${c.result.decision}: ${summarizeEvaluation(c.result)}`,
        lines: renderEvaluation(c.result, '    '),
        evaluation: { result: c.result, context: { action: c.action, principal, conditionKeys: keys } },
      });
  if (!trust.allowed) {
    const err = new StsError(
      'AccessDenied',
      MSG.notAuthorizedWebIdentity,
      trustExplanation(role, trust.failed!, summarizeEvaluation(trust.failed!.result)),
    );
    err.details = renderEvaluation(trust.failed!.result, '');
    throw err;
  }
}

/**
 * The whole decision of AssumeRoleWithWebIdentity, issuing nothing: request → token → role → trust policy →
 * duration → session policies. Throws the StsError AWS would answer; `trace` records each step. The server and
 * `openirsa explain` both run this, so they cannot disagree.
 */
export async function decideWebIdentity(
  req: WebIdentityParams,
  deps: StsDeps,
  meta: RequestMeta,
  trace?: Trace,
): Promise<WebIdentityDecision> {
  const { config } = deps;
  const arn = checkRequest(config, req, trace);
  const nowMs = deps.now();
  const token = await verifyWebIdentityToken(req, arn, deps, nowMs, trace);
  const role = findRole(config, req.roleArn, trace);
  const keys = webIdentityKeys(token, req.roleSessionName, globalKeys(config, meta, nowMs));
  checkWebIdentityTrust(role, token, keys, trace);
  const durationSeconds = checkDuration(req.durationSeconds, role, trace);
  const policies = sessionPoliciesStep(config, req, token.tags, trace);
  return {
    token,
    role,
    packedPolicySize: policies.packedPolicySize,
    issue: {
      ...roleSessionInput(config, role, req.roleSessionName, durationSeconds, nowMs),
      sourceIdentity: token.sourceIdentity,
      tags: token.tags,
      transitiveTagKeys: token.transitiveTagKeys,
      provider: token.provider.arn,
      subject: token.subject,
      audience: token.audience,
      sessionPolicy: policies.policy,
      policyArns: policies.policyArns,
    },
  };
}

export async function assumeRoleWithWebIdentity(
  req: WebIdentityParams,
  deps: StsDeps,
  meta: RequestMeta,
  trace?: Trace,
): Promise<WebIdentityResult> {
  const { config } = deps;
  const { token, role, issue, packedPolicySize } = await decideWebIdentity(req, deps, meta, trace);
  const issued = issueCredentials(issue, config.sessionKeys[0]!, deps.random ?? defaultRandom);
  trace?.push({
    step: 'credentials',
    ok: true,
    detail: `${issue.durationSeconds} s session, expires ${isoSeconds(issued.expiration.getTime())}`,
  });
  return {
    session: issued.session,
    token,
    role,
    subject: token.subject,
    audience: token.audience,
    provider: token.provider.arn,
    ...assumedRoleOut(issued),
    sourceIdentity: token.sourceIdentity,
    packedPolicySize,
  };
}
