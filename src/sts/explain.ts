/**
 * `openirsa explain`: the STS decision for a role and a token, offline, step by step — the same functions the
 * server runs (token verification, trust policy, duration), plus the role's permission policies for an
 * action/resource. Returns a structured report; the CLI prints it.
 */
import { terminalSafe } from '../escape.js';
import { explain, explainPolicies, formatExplanation, type Explanation } from '../iam/explain.js';
import { parseRoleArn } from '../iam/arn.js';
import type { ConditionValue } from '../iam/types.js';
import { verifyToken, type KeyLookup, type VerifiedToken } from '../oidc/verify.js';
import type { StsConfig } from './config.js';
import { MSG, StsError } from './protocol.js';
import { globalKeys } from './common.js';
import { principalKeys } from './assume-role.js';
import { evaluatePermissions } from './policy.js';
import { WEB_IDENTITY_ACTION, checkTrust, webIdentityKeys } from './web-identity.js';

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
  assumedRoleArn?: string;
  signatureVerified: boolean;
}

/** The fix a user most likely needs for a token-level failure. */
export function tokenFix(err: StsError, config: StsConfig): string {
  const m = err.message;
  if (m.startsWith('No OpenIDConnect provider'))
    return `register the token's issuer as an IAM OIDC provider (oidcProviders[].Url must equal iss exactly, scheme, case and trailing slash included), or fix kube-apiserver --service-account-issuer; registered: ${config.providers.map((p) => p.url).join(', ') || 'none'}`;
  if (m === MSG.incorrectAudience || m === MSG.missingClaim('aud'))
    return "add the token's audience to the provider's ClientIDList, or mint the token for sts.amazonaws.com (the webhook's default audience; annotation eks.amazonaws.com/audience overrides it)";
  if (m === MSG.keyRetrieval)
    return "publish the issuer's current signing key in its JWKS (the token's kid must be listed), and make discovery + JWKS reachable over HTTPS";
  if (m === MSG.thumbprint)
    return "update ThumbprintList with the SHA-1 of the top certificate of the issuer's HTTPS chain (openirsa issuer thumbprint), or give a caBundle";
  if (m === MSG.badSignature)
    return 'the token was not signed by the key its kid names: check that the JWKS belongs to this issuer (key rotation, wrong cluster)';
  if (err.code === 'ExpiredTokenException')
    return 'use a fresh token: projected service-account tokens are rotated by the kubelet; re-read the token file instead of caching it';
  if (m.startsWith('Unsupported token signing algorithm'))
    return 'sign tokens with RS256/384/512 or ES256/384/512 (AWS accepts nothing else)';
  if (m === MSG.notJwt)
    return 'the token file must hold an OIDC ID token (a signed JWT), not an access token or other text';
  if (m.startsWith('Missing a required claim')) return 'mint tokens with iss, aud, sub and exp claims';
  return 'see the reason above';
}

export async function explainWebIdentity(input: ExplainInput): Promise<ExplainReport> {
  const { config } = input;
  const steps: ExplainStep[] = [];
  const report: ExplainReport = { allowed: false, steps, trust: [], signatureVerified: false };
  const deny = (err: StsError, step: string, fix?: string): ExplainReport => {
    steps.push({ step, ok: false, detail: err.explanation ?? err.message, fix });
    report.aws = { code: err.code, status: err.status, message: err.message };
    return report;
  };
  const arn = parseRoleArn(input.roleArn);
  if (!arn)
    return deny(
      new StsError('ValidationError', `${input.roleArn} is invalid`),
      'role ARN',
      'give a role ARN: arn:aws:iam::<account>:role/<name>',
    );
  const providers =
    arn.account === config.accountId && arn.partition === config.partition ? config.providers : [];
  let token: VerifiedToken;
  try {
    token = await verifyToken(input.token, {
      now: Math.floor(input.now / 1000),
      providers,
      getKey: input.getKey,
      skipSignature: !input.verifySignature,
      maxTokenAgeSeconds: config.maxTokenAgeSeconds,
    });
  } catch (err) {
    if (!(err instanceof StsError)) throw err;
    const extra =
      providers.length === 0 && config.providers.length > 0
        ? ` (the role's account ${arn.account} is not this config's account ${config.accountId})`
        : '';
    return deny(
      new StsError(err.code, err.message, `${err.explanation ?? err.message}${extra}`),
      'token',
      tokenFix(err, config),
    );
  }
  report.signatureVerified = token.signatureVerified;
  steps.push({
    step: 'token',
    ok: true,
    detail:
      `iss ${token.provider.url} → ${token.provider.arn}; aud ${JSON.stringify(token.audience)} is in ClientIDList; sub ${JSON.stringify(token.subject)}; ` +
      `exp ${new Date(token.exp * 1000).toISOString()}; ${token.alg} kid ${JSON.stringify(token.kid)}; ` +
      (token.signatureVerified
        ? `signature verified (${input.keySource(token.provider.url)})`
        : 'signature NOT verified (--no-verify-signature)'),
  });
  const role = config.roles.get(input.roleArn);
  if (!role)
    return deny(
      new StsError(
        'AccessDenied',
        MSG.notAuthorizedWebIdentity,
        `role ${input.roleArn} is not in ${config.file}`,
      ),
      'role',
      `check the role ARN (path included) against the config: ${[...config.roles.keys()].join(', ') || 'no roles'}`,
    );
  steps.push({
    step: 'role',
    ok: true,
    detail: `${role.arn} (RoleId ${role.roleId}, MaxSessionDuration ${role.maxSessionDuration} s)`,
  });

  const keys = webIdentityKeys(
    token,
    input.sessionName,
    globalKeys(config, { secureTransport: true, sourceIp: input.sourceIp }, input.now),
  );
  const principal = { type: 'Federated' as const, id: token.provider.arn };
  const trust = checkTrust(role, principal, WEB_IDENTITY_ACTION, keys, {
    tags: token.tags !== undefined && Object.keys(token.tags).length > 0,
    sourceIdentity: token.sourceIdentity !== undefined,
  });
  for (const c of trust.checks) {
    const e = explain(c.result, { action: c.action, principal, conditionKeys: keys });
    report.trust.push({ action: c.action, explanation: e });
    steps.push({
      step: `trust policy: ${c.action}`,
      ok: c.result.decision === 'Allow',
      detail: e.summary,
      fix: e.fixes[0] ? `${e.fixes[0].fix} (at ${e.fixes[0].path})` : undefined,
    });
  }
  if (!trust.allowed) {
    report.aws = { code: 'AccessDenied', status: 403, message: MSG.notAuthorizedWebIdentity };
    return report;
  }
  const duration = input.durationSeconds ?? 3600;
  if (duration > role.maxSessionDuration)
    return deny(
      new StsError(
        'ValidationError',
        MSG.durationExceedsMax,
        `DurationSeconds ${duration} > MaxSessionDuration ${role.maxSessionDuration}`,
      ),
      'duration',
      `ask for at most ${role.maxSessionDuration} s, or raise the role's MaxSessionDuration`,
    );
  steps.push({
    step: 'duration',
    ok: true,
    detail: `${duration} s ≤ MaxSessionDuration ${role.maxSessionDuration} s`,
  });
  report.allowed = true;
  report.assumedRoleArn = `arn:${config.partition}:sts::${config.accountId}:assumed-role/${role.name}/${input.sessionName}`;

  if (input.action) {
    const session = {
      accessKeyId: '',
      secretAccessKey: '',
      partition: config.partition,
      account: config.accountId,
      roleName: role.name,
      rolePath: role.path,
      roleId: role.roleId,
      sessionName: input.sessionName,
      issuedAt: input.now,
      expiresAt: input.now + duration * 1000,
      provider: token.provider.arn,
      tags: token.tags,
      sourceIdentity: token.sourceIdentity,
    };
    const permKeys: Record<string, ConditionValue> = {
      ...globalKeys(config, { secureTransport: true, sourceIp: input.sourceIp }, input.now),
      ...principalKeys(session, role.tags),
      'aws:PrincipalIsAWSService': 'false',
    };
    const docs = [
      ...role.inlinePolicies,
      ...role.managedPolicyArns.flatMap((a) => {
        const p = config.managedPolicies.get(a);
        return p ? [p] : [];
      }),
    ];
    const ctx = { action: input.action, resource: input.resource ?? '*', conditionKeys: permKeys };
    const perm = evaluatePermissions(docs, ctx);
    const e = explainPolicies(perm, ctx);
    report.permissions = e;
    const ok = perm.decision === 'Allow';
    const missing = role.managedPolicyArns.filter((a) => !config.managedPolicies.has(a));
    steps.push({
      step: `permissions: ${input.action}${input.resource ? ` on ${input.resource}` : ''}`,
      ok,
      detail:
        docs.length === 0
          ? `the role has no permission policies in the config (implicit deny)${missing.length ? `; AWS managed policies not evaluated: ${missing.join(', ')}` : ''}`
          : e.summary,
      fix: ok
        ? undefined
        : e.fixes[0]
          ? `${e.fixes[0].fix} (at ${e.fixes[0].path})`
          : `add a statement allowing ${input.action} on ${input.resource ?? '*'} to a policy of ${role.arn}`,
    });
    if (!ok) report.allowed = false;
  }
  return report;
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
      `result: DENIED — the session would be issued, but ${input.action} is not allowed by the role's permission policies`,
    );
  // Token claims and parameters are in these lines: escape them so they cannot move the cursor or fake a verdict.
  return out.map(terminalSafe).join('\n');
}
