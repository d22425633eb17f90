/**
 * `openirsa explain`: the STS decision for a role and a token, offline, step by step. It runs the server's own
 * decision (decideWebIdentity) with its trace and renders that trace, so the two cannot disagree; then, for an
 * action/resource, the permissions of the session that decision would issue. Returns a structured report; the
 * CLI prints it.
 */
import { terminalSafe } from '../escape.js';
import { explain, explainPolicies, formatExplanation, type Explanation } from '../iam/explain.js';
import { assumedRoleArn } from '../iam/arn.js';
import { effectivePermission } from '../iam/effective.js';
import type { ConditionValue } from '../iam/types.js';
import { TokenError, type TokenErrorCode } from '../oidc/errors.js';
import type { KeyLookup } from '../oidc/verify.js';
import type { StsConfig } from './config.js';
import { sessionOf } from './credentials.js';
import { StsError } from './protocol.js';
import { globalKeys, type RequestMeta, type TraceStep } from './common.js';
import { principalKeys } from './assume-role.js';
import { sessionPermissionPolicies } from './policy.js';
import { decideWebIdentity, type WebIdentityDecision } from './web-identity.js';

export interface ExplainInput {
  config: StsConfig;
  roleArn: string;
  token: string;
  sessionName: string;
  /** Epoch ms. */
  now: number;
  getKey: KeyLookup;
  verifySignature: boolean;
  /** Describes where keys come from, for the report ("inline JWKS", "fetched from ..."). */
  keySource: (providerUrl: string) => string;
  durationSeconds?: number;
  sourceIp?: string;
  action?: string;
  resource?: string;
  /** The session `Policy` (JSON text) and `PolicyArns` of the call: they bound the session's permissions. */
  sessionPolicy?: string;
  policyArns?: string[];
}

export interface ExplainStep {
  step: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export interface ExplainReport {
  allowed: boolean;
  /** What AWS would answer when denied: code, HTTP status and message. */
  aws?: { code: string; status: number; message: string };
  steps: ExplainStep[];
  trust: Array<{ action: string; explanation: Explanation }>;
  permissions?: Explanation;
  /** The session policies' own evaluation, when the call passes Policy or PolicyArns. */
  sessionPermissions?: Explanation;
  assumedRoleArn?: string;
  signatureVerified: boolean;
}

/** The fix a user most likely needs for each reason oidc refuses a token (every code has one). */
const TOKEN_FIX: Record<TokenErrorCode, (config: StsConfig) => string> = {
  'issuer-unknown': (config) =>
    `register the token's issuer as an IAM OIDC provider (oidcProviders[].Url must equal iss exactly, scheme, case and trailing slash included), or fix kube-apiserver --service-account-issuer; registered: ${config.providers.map((p) => p.url).join(', ') || 'none'}`,
  'audience-mismatch': () => AUDIENCE_FIX,
  'jwks-unreachable': () =>
    "publish the issuer's current signing key in its JWKS (the token's kid must be listed), and make discovery + JWKS reachable over HTTPS",
  'thumbprint-mismatch': () =>
    "update ThumbprintList with the SHA-1 of the top certificate of the issuer's HTTPS chain (openirsa issuer thumbprint), or give a caBundle",
  'signature-invalid': () =>
    'the token was not signed by the key its kid names: check that the JWKS belongs to this issuer (key rotation, wrong cluster)',
  'token-expired': () => EXPIRED_FIX,
  'token-too-old': () => EXPIRED_FIX,
  'alg-unsupported': () => 'sign tokens with RS256/384/512 or ES256/384/512 (AWS accepts nothing else)',
  'token-malformed': () =>
    'the token file must hold an OIDC ID token (a signed JWT), not an access token or other text',
  'claim-missing': () => CLAIMS_FIX,
  'claim-not-numeric-date': () => SEE_ABOVE,
  'token-not-yet-valid': () => SEE_ABOVE,
  'token-issued-in-future': () => SEE_ABOVE,
  'session-tags-invalid': () => SEE_ABOVE,
  'source-identity-invalid': () => SEE_ABOVE,
};
const AUDIENCE_FIX =
  "add the token's audience to the provider's ClientIDList, or mint the token for sts.amazonaws.com (the webhook's default audience; annotation eks.amazonaws.com/audience overrides it)";
const EXPIRED_FIX =
  'use a fresh token: projected service-account tokens are rotated by the kubelet; re-read the token file instead of caching it';
const CLAIMS_FIX = 'mint tokens with iss, aud, sub and exp claims';
const SEE_ABOVE = 'see the reason above';

/** The fix a user most likely needs for a token-level failure. */
export function tokenFix(err: StsError, config: StsConfig): string {
  if (!(err.cause instanceof TokenError)) return SEE_ABOVE;
  // A missing or empty aud is about the audience, not the other claims.
  if (err.cause.code === 'claim-missing' && err.cause.facts.claim === 'aud') return AUDIENCE_FIX;
  return TOKEN_FIX[err.cause.code](config);
}

/** The fix for a failed step of the decision, by step. */
function stepFix(t: TraceStep, input: ExplainInput): string | undefined {
  const { config } = input;
  switch (t.step) {
    case 'role ARN':
      return 'give a role ARN: arn:aws:iam::<account>:role/<name>';
    case 'token':
      return t.error ? tokenFix(t.error, config) : undefined;
    case 'role':
      return `check the role ARN (path included) against the config: ${[...config.roles.keys()].join(', ') || 'no roles'}`;
    case 'duration': {
      const max = config.roles.get(input.roleArn)?.maxSessionDuration;
      return `ask for at most ${max} s, or raise the role's MaxSessionDuration`;
    }
    case 'session policies':
      return 'give a valid identity policy as Policy, and PolicyArns of declared managed policies';
    default:
      return undefined;
  }
}

/** The server's decision, run with a trace; explain only watches which provider's keys it used. */
async function runDecision(input: ExplainInput): Promise<{
  trace: TraceStep[];
  decision?: WebIdentityDecision;
  error?: StsError;
  keysOf?: string;
}> {
  const out: Awaited<ReturnType<typeof runDecision>> = { trace: [] };
  try {
    out.decision = await decideWebIdentity(
      {
        roleArn: input.roleArn,
        roleSessionName: input.sessionName,
        webIdentityToken: input.token,
        durationSeconds: input.durationSeconds,
        policy: input.sessionPolicy,
        policyArns: input.policyArns ?? [],
      },
      {
        config: input.config,
        getKey: (provider, kid, alg) => {
          out.keysOf = provider.url;
          return input.getKey(provider, kid, alg);
        },
        now: () => input.now,
        skipSignature: !input.verifySignature,
      },
      requestMeta(input),
      out.trace,
    );
  } catch (err) {
    if (!(err instanceof StsError)) throw err;
    out.error = err;
  }
  return out;
}

const requestMeta = (input: ExplainInput): RequestMeta => ({
  secureTransport: true,
  sourceIp: input.sourceIp,
});

/** One step of the server's trace as the report shows it: policy evaluations statement by statement, fixes. */
function renderStep(t: TraceStep, input: ExplainInput, report: ExplainReport, keysOf?: string): ExplainStep {
  if (t.evaluation) {
    const e = explain(t.evaluation.result, t.evaluation.context);
    report.trust.push({ action: t.evaluation.context.action, explanation: e });
    return {
      step: t.step,
      ok: t.ok,
      detail: e.summary,
      fix: e.fixes[0] ? `${e.fixes[0].fix} (at ${e.fixes[0].path})` : undefined,
    };
  }
  if (t.step === 'token' && t.ok) {
    report.signatureVerified = input.verifySignature;
    return {
      step: t.step,
      ok: true,
      detail: input.verifySignature ? `${t.detail} (${input.keySource(keysOf ?? '')})` : t.detail,
    };
  }
  return { step: t.step, ok: t.ok, detail: t.detail, fix: t.ok ? undefined : stepFix(t, input) };
}

export async function explainWebIdentity(input: ExplainInput): Promise<ExplainReport> {
  const { config } = input;
  const report: ExplainReport = { allowed: false, steps: [], trust: [], signatureVerified: false };
  const { trace, decision, error, keysOf } = await runDecision(input);
  for (const t of trace) report.steps.push(renderStep(t, input, report, keysOf));
  if (error) report.aws = { code: error.code, status: error.status, message: error.message };
  if (!decision) return report;
  const { role } = decision;
  report.allowed = true;
  report.assumedRoleArn = assumedRoleArn(config.partition, config.accountId, role.name, input.sessionName);
  if (input.action) explainPermissions(input, input.action, decision, report);
  return report;
}

/** Does the session the decision would issue allow the action: the role's policies, bounded by the session's. */
function explainPermissions(
  input: ExplainInput,
  action: string,
  { role, issue }: WebIdentityDecision,
  report: ExplainReport,
): void {
  const { config, resource } = input;
  const on = `${action}${resource ? ` on ${resource}` : ''}`;
  // The session the decision would issue, without keys: explain issues nothing.
  const session = sessionOf(issue, '', '');
  const conditionKeys: Record<string, ConditionValue> = {
    ...globalKeys(config, requestMeta(input), input.now),
    ...principalKeys(session, role.tags),
    'aws:PrincipalIsAWSService': 'false',
  };
  const { identity: docs, session: bound } = sessionPermissionPolicies(config, session);
  const ctx = { action, resource: resource ?? '*', conditionKeys };
  const perm = effectivePermission({ identity: docs, session: bound }, ctx);
  const e = explainPolicies(perm.identity, ctx);
  report.permissions = e;
  const identityOk = perm.identity.decision === 'Allow';
  const missing = role.managedPolicyArns.filter((a) => !config.managedPolicies.has(a));
  report.steps.push({
    step: `permissions: ${on}`,
    ok: identityOk,
    detail:
      docs.length === 0
        ? `the role has no permission policies in the config (implicit deny)${missing.length ? `; AWS managed policies not evaluated: ${missing.join(', ')}` : ''}`
        : e.summary,
    fix: identityOk
      ? undefined
      : e.fixes[0]
        ? `${e.fixes[0].fix} (at ${e.fixes[0].path})`
        : `add a statement allowing ${action} on ${resource ?? '*'} to a policy of ${role.arn}`,
  });
  if (perm.session) {
    const se = explainPolicies(perm.session, ctx);
    report.sessionPermissions = se;
    const sessionOk = perm.session.decision === 'Allow';
    report.steps.push({
      step: `session policies: ${on}`,
      ok: sessionOk,
      detail: se.summary,
      fix: sessionOk
        ? undefined
        : `the session policies must allow ${action} too (the session gets the intersection)`,
    });
  }
  if (perm.decision !== 'Allow') report.allowed = false;
}

/** The text the CLI prints. */
export function formatReport(
  r: ExplainReport,
  input: Pick<ExplainInput, 'roleArn' | 'action' | 'resource'>,
): string {
  const out: string[] = [];
  out.push(
    `AssumeRoleWithWebIdentity into ${input.roleArn}${input.action ? `, then ${input.action}${input.resource ? ` on ${input.resource}` : ''}` : ''}`,
  );
  for (const s of r.steps) {
    out.push(`${s.ok ? '✓' : '✗'} ${s.step}: ${s.detail}`);
    if (s.fix) out.push(`    most likely fix: ${s.fix}`);
  }
  for (const t of r.trust) {
    out.push('');
    out.push(`trust policy, ${t.action}:`);
    out.push(
      ...formatExplanation(t.explanation)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  if (r.permissions) {
    out.push('');
    out.push('permission policies:');
    out.push(
      ...formatExplanation(r.permissions)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  if (r.sessionPermissions) {
    out.push('');
    out.push('session policies:');
    out.push(
      ...formatExplanation(r.sessionPermissions)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  out.push('');
  if (!r.signatureVerified && r.steps.some((s) => s.step === 'token' && s.ok))
    out.push('note: the token signature was NOT verified (--no-verify-signature); AWS verifies it.');
  if (r.allowed)
    out.push(
      `result: ALLOWED — AWS would issue credentials for ${r.assumedRoleArn}${input.action ? ` and allow ${input.action}` : ''}`,
    );
  else if (r.aws)
    out.push(`result: DENIED — AWS would answer ${r.aws.code} (HTTP ${r.aws.status}): ${r.aws.message}`);
  else
    out.push(
      `result: DENIED — the session would be issued, but ${input.action} is not allowed by ${r.sessionPermissions ? "the role's permission policies and the session policies together" : "the role's permission policies"}`,
    );
  // Token claims and parameters are in these lines: escape them so they cannot move the cursor or fake a verdict.
  return out.map(terminalSafe).join('\n');
}
