/** The judgements more than one rule (or one rule's two checks) rests on, so that they cannot disagree. */
import {
  issuerLike,
  isString,
  withoutScheme,
  type Condition,
  type OidcProvider,
  type Statement,
} from './statements.js';
import type { LintContext } from './types.js';

export const CLAIMS = new Set(['sub', 'aud', 'amr', 'azp']);
/** Issuers for which IAM exposes extra claims (GitHub, GitLab, Terraform Cloud, Buildkite, CircleCI, Google, Cognito...). */
export const EXTRA_CLAIM_ISSUERS = [
  'token.actions.githubusercontent.com',
  'gitlab.com',
  'app.terraform.io',
  'agent.buildkite.com',
  'oidc.circleci.com',
  'accounts.google.com',
  'cognito-identity.amazonaws.com',
  'graph.facebook.com',
  'www.amazon.com',
];
export const SA_SUB_RE = /^system:serviceaccount:([^:]+):([^:]+)$/;

/** Where a condition key's issuer differs from every provider the statement trusts, and how. */
export function keyIssuerMismatch(
  c: Condition,
  st: Statement,
): { bySlash: boolean; providerId: string } | { other: true } | undefined {
  const prefix = c.prefix.toLowerCase();
  if (st.providers.length === 0 || !issuerLike(c.prefix) || st.lowerIds.includes(prefix)) return undefined;
  const stripped = prefix.replace(/^https?:\/\//, '');
  const near = st.lowerIds.find((id) => id.replace(/\/$/, '') === stripped.replace(/\/$/, ''));
  if (near === undefined) return { other: true };
  // Equal once the scheme is dropped: the key has the scheme; otherwise they differ by the trailing slash.
  return { bySlash: stripped !== near, providerId: st.providerIds[st.lowerIds.indexOf(near)]! };
}

/** A :sub condition of an Allow that a pod's token must satisfy: positive, string-compared. */
export const subMustMatch = (c: Condition, st: Statement): boolean =>
  c.claim.toLowerCase() === 'sub' && st.allow && isString(c.op) && !c.op!.negated;

/** What is too wide about a StringLike :sub value, if anything. */
export function subTooWide(v: string): { message: string; fix: string } | undefined {
  const m = /^system:serviceaccount:([^:]*)(:|$)/.exec(v);
  // The first wildcard comes before the namespace: every ServiceAccount of the cluster.
  const literal = v.split(/[*?]/)[0]!;
  const whole = /[*?]/.test(v) && 'system:serviceaccount:'.startsWith(literal);
  if (whole || (m && /^[*?]+$/.test(m[1]!)))
    return {
      message: `${JSON.stringify(v)} matches ServiceAccounts of every namespace`,
      fix: 'name the namespace: "system:serviceaccount:<namespace>:<serviceaccount>" (or "system:serviceaccount:<namespace>:*")',
    };
  if (m && /[*?]/.test(m[1]!))
    return {
      message: `${JSON.stringify(v)} has a wildcard in the namespace part, so it matches ServiceAccounts of several namespaces`,
      fix: `name one namespace: ${JSON.stringify(v.replace(/^system:serviceaccount:[^:]*/, 'system:serviceaccount:<namespace>'))}, one value per namespace if the role serves several`,
    };
  if (m && m[2] === '' && !m[1]!.includes('/'))
    return {
      message: `${JSON.stringify(v)} has no ServiceAccount name`,
      fix: `add the name: "${v}:<serviceaccount>" (or "${v}:*" for every ServiceAccount of ${m[1]})`,
    };
  return undefined;
}

/** A trusted provider judged against the config: why no token of it can be accepted, or what the config declares. */
export function againstConfig(
  p: OidcProvider,
  ctx: LintContext,
): { unknown: { message: string; fix: string } } | { declared: { clientIds: string[] } } | undefined {
  const id = p.parsed.providerId;
  if (withoutScheme(id) !== id) return undefined; // provider-url-scheme says what to change
  if (ctx.accountId && p.parsed.account !== ctx.accountId)
    return {
      unknown: {
        message: `the provider ${JSON.stringify(p.arn)} is in account ${p.parsed.account}, the role in ${ctx.accountId}`,
        fix: `IAM OIDC providers are per account: use arn:${ctx.partition ?? p.parsed.partition}:iam::${ctx.accountId}:oidc-provider/${id}`,
      },
    };
  if (ctx.partition && p.parsed.partition !== ctx.partition)
    return {
      unknown: {
        message: `the provider ${JSON.stringify(p.arn)} is in partition ${p.parsed.partition}, the config in ${ctx.partition}`,
        fix: `use arn:${ctx.partition}:iam::${p.parsed.account}:oidc-provider/${id}`,
      },
    };
  if (!ctx.providers) return undefined;
  const declared = ctx.providers.find((d) => d.providerId === id);
  if (declared) return { declared };
  const near = ctx.providers.find(
    (d) => d.providerId.replace(/\/$/, '').toLowerCase() === id.replace(/\/$/, '').toLowerCase(),
  );
  return {
    unknown: {
      message: `the role trusts ${JSON.stringify(id)}, but the config declares ${ctx.providers.length ? ctx.providers.map((d) => JSON.stringify(d.providerId)).join(', ') : 'no OIDC provider'}${near ? ' (differs in case or trailing slash only)' : ''}`,
      fix: near
        ? `use exactly ${JSON.stringify(near.providerId)}`
        : `declare the provider https://${id} under oidcProviders, or trust a declared one`,
    },
  };
}

/** Where a missing condition is reported: the Condition block, or the statement when it has none. */
export const conditionBlockPath = (st: Statement): string =>
  st.conditions.length ? `${st.path}.Condition` : st.path;
