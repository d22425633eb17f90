/**
 * What the lint rules look at: a trust policy's statements read leniently from the raw JSON (so that a document IAM
 * would reject can still be checked), with the facts several rules share worked out once.
 */
import { parseOidcProviderArn, type OidcProviderArn } from '../arn.js';
import { parseOperator, type ParsedOperator } from '../conditions.js';
import { childPath } from '../policy.js';
import { globMatch } from '../variables.js';
import type { LintContext } from './types.js';

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

export const WEB_IDENTITY = 'sts:AssumeRoleWithWebIdentity';

/** Providers IAM knows without an IAM OIDC provider: a Federated principal names them by host. */
export const BUILTIN_PROVIDERS = new Set([
  'accounts.google.com',
  'cognito-identity.amazonaws.com',
  'graph.facebook.com',
  'www.amazon.com',
]);

/** A provider id as IAM writes it: the issuer URL without its scheme. */
export const withoutScheme = (providerId: string): string => providerId.replace(/^[a-z]+:\/\//i, '');

/** A condition-key prefix naming an issuer (host[:port][/path]) rather than a service (aws:, sts:, s3:...). */
export const issuerLike = (prefix: string): boolean => /[.:/]/.test(prefix);

export const isString = (op: ParsedOperator | undefined): boolean => op?.family === 'String';

/** One key of one operator of a statement's Condition block. */
export interface Condition {
  operator: string;
  op: ParsedOperator | undefined;
  key: string;
  /** The key before its last colon: the issuer for `<issuer>:sub`. */
  prefix: string;
  claim: string;
  values: string[];
  path: string;
}

/** A Federated principal that is an IAM OIDC provider ARN. */
export interface OidcProvider {
  arn: string;
  parsed: OidcProviderArn;
}

export interface Statement {
  path: string;
  effect: string;
  allow: boolean;
  principalStar: boolean;
  federated: string[];
  aws: string[];
  service: string[];
  actions: string[] | undefined;
  notActions: string[] | undefined;
  conditions: Condition[];
  providers: OidcProvider[];
  /** The providers as IAM names them: a principal written with https:// is judged without it. */
  providerIds: string[];
  /** Federated principals naming a built-in provider (accounts.google.com, cognito-identity.amazonaws.com...). */
  builtins: string[];
  /** providerIds and builtins, lower-cased: the prefixes a condition key may have. */
  lowerIds: string[];
  allowsWebIdentity: boolean;
  /** An Allow of sts:AssumeRoleWithWebIdentity to an OIDC or built-in provider. */
  isWebIdentity: boolean;
}

/** The document as the document-wide rules see it. */
export interface PolicyFacts {
  doc: Record<string, unknown>;
  statements: Statement[];
  /** Version is 2012-10-17, so policy variables are substituted. */
  v2012: boolean;
  /** What the sts config declares next to the roles, when linting one. */
  context: LintContext | undefined;
}

function splitKey(key: string): { prefix: string; claim: string } {
  const i = key.lastIndexOf(':');
  return { prefix: key.slice(0, i), claim: key.slice(i + 1) };
}

function allows(actions: string[] | undefined, notActions: string[] | undefined, action: string): boolean {
  if (actions) return actions.some((a) => globMatch(a, action, true));
  if (notActions) return !notActions.some((a) => globMatch(a, action, true));
  return false;
}

function conditionsOf(s: Record<string, unknown>, path: string): Condition[] {
  const conditions: Condition[] = [];
  if (!isObject(s.Condition)) return conditions;
  for (const [operator, block] of Object.entries(s.Condition)) {
    if (!isObject(block)) continue;
    for (const [key, value] of Object.entries(block)) {
      const values = (Array.isArray(value) ? value : [value]).map((x) => String(x));
      conditions.push({
        operator,
        op: parseOperator(operator),
        key,
        ...splitKey(key),
        values,
        path: childPath(childPath(`${path}.Condition`, operator), key),
      });
    }
  }
  return conditions;
}

function statementOf(s: Record<string, unknown>, path: string): Statement {
  const p = s.Principal;
  const effect = typeof s.Effect === 'string' ? s.Effect : '';
  const allow = effect === 'Allow';
  const federated = isObject(p) ? strings(p.Federated) : [];
  const actions = 'Action' in s ? strings(s.Action) : undefined;
  const notActions = 'NotAction' in s ? strings(s.NotAction) : undefined;
  const providers = federated.flatMap((arn) => {
    const parsed = parseOidcProviderArn(arn);
    return parsed ? [{ arn, parsed }] : [];
  });
  const providerIds = providers.map((pr) => withoutScheme(pr.parsed.providerId));
  const builtins = federated.filter((f) => BUILTIN_PROVIDERS.has(f.toLowerCase()));
  const allowsWebIdentity = allows(actions, notActions, WEB_IDENTITY);
  return {
    path,
    effect,
    allow,
    principalStar: p === '*' || (isObject(p) && strings(p.AWS).includes('*')),
    federated,
    aws: isObject(p) ? strings(p.AWS) : [],
    service: isObject(p) ? strings(p.Service) : [],
    actions,
    notActions,
    conditions: conditionsOf(s, path),
    providers,
    providerIds,
    builtins,
    lowerIds: [...providerIds, ...builtins].map((id) => id.toLowerCase()),
    allowsWebIdentity,
    isWebIdentity: allow && providers.length + builtins.length > 0 && allowsWebIdentity,
  };
}

export function policyFacts(doc: Record<string, unknown>, context?: LintContext): PolicyFacts {
  const raw = doc.Statement;
  const list: Array<[unknown, string]> = Array.isArray(raw)
    ? raw.map((s, i) => [s, `$.Statement[${i}]`])
    : isObject(raw)
      ? [[raw, '$.Statement']]
      : [];
  return {
    doc,
    statements: list.flatMap(([s, path]) => (isObject(s) ? [statementOf(s, path)] : [])),
    v2012: doc.Version === '2012-10-17',
    context,
  };
}

/** The JSON path of a condition's i-th value (the condition's own path when it has one value). */
export function valuePath(c: Condition, i: number): string {
  return c.values.length > 1 ? `${c.path}[${i}]` : c.path;
}

/** The JSON path of a Federated principal of the statement. */
export function federatedPath(st: Statement, arn: string): string {
  return st.federated.length > 1
    ? `${st.path}.Principal.Federated[${st.federated.indexOf(arn)}]`
    : `${st.path}.Principal.Federated`;
}
