/**
 * `openirsa lint`: static checks on role trust policies for the IRSA mistakes that let the wrong workload in
 * or keep the right one out (docs/iam.md). Works on the raw JSON so that it can still point at mistakes in
 * a document IAM would reject.
 */
import { parseOidcProviderArn } from './arn.js';
import { parseOperator, type ParsedOperator } from './conditions.js';
import { IamError, MalformedPolicyError, PolicySizeError } from './errors.js';
import { checkPolicy, childPath, decodePolicyText } from './policy.js';
import { globMatch } from './variables.js';

export type Severity = 'error' | 'warning' | 'info';

export interface LintRule {
  id: string;
  severity: Severity;
  title: string;
  why: string;
}

/**
 * Every rule, its severity, and why it matters. One rule sets the severity: `error` when the role cannot be
 * assumed by the ServiceAccount it is meant for, or can be by others too (IAM rejects the document, or a
 * condition can never match the intended ServiceAccount, or matches more than one); `warning` when it works
 * but is weaker than AWS recommends (no :aud pin, ForAllValues); `info` for what is worth knowing.
 */
export const LINT_RULES: Readonly<Record<string, LintRule>> = Object.fromEntries(
  (
    [
      [
        'invalid-policy',
        'error',
        'IAM would reject this trust policy',
        'CreateRole / UpdateAssumeRolePolicy fail with MalformedPolicyDocument, so the role cannot have this trust policy.',
      ],
      [
        'missing-sub',
        'error',
        'no :sub condition',
        'Without a condition on <issuer>:sub, every ServiceAccount of every namespace in the cluster (any subject the issuer signs for) can assume the role.',
      ],
      [
        'sub-wildcard-too-wide',
        'error',
        ':sub wildcard wider than a namespace',
        'A wildcard in the namespace part of system:serviceaccount:<namespace>:<name> lets ServiceAccounts of other namespaces (including ones created later) assume the role.',
      ],
      [
        'stringequals-wildcard',
        'error',
        'StringEquals with a wildcard',
        'StringEquals compares literally: "*" and "?" only match themselves, so the condition never matches a real subject (a classic AccessDenied cause).',
      ],
      [
        'missing-aud',
        'warning',
        'no :aud condition',
        'Without <issuer>:aud the role accepts any audience the IAM OIDC provider lists; pin it to sts.amazonaws.com as AWS recommends.',
      ],
      [
        'issuer-mismatch',
        'error',
        'condition key of another issuer',
        'Condition keys are named after the token issuer (the provider URL without https://). A key naming another issuer is never present in the request, so the condition fails (or, negated, always passes).',
      ],
      [
        'trailing-slash-mismatch',
        'error',
        'trailing slash differs',
        'IAM matches the issuer URL, provider ARN and condition-key prefix exactly: "host/path" and "host/path/" are different providers.',
      ],
      [
        'forallvalues-allow',
        'warning',
        'ForAllValues in an Allow',
        'ForAllValues is true when the key is missing or empty, so an Allow statement guarded by it can match requests that lack the key entirely.',
      ],
      [
        'assume-role-not-web-identity',
        'error',
        'sts:AssumeRole for a web identity',
        'A web identity (OIDC) caller uses sts:AssumeRoleWithWebIdentity; sts:AssumeRole is for AWS principals and never matches.',
      ],
      [
        'oidc-provider-not-federated',
        'error',
        'OIDC provider under the wrong principal type',
        'An IAM OIDC provider ARN is a Federated principal; under "AWS" or "Service" IAM rejects it and no token can match.',
      ],
      [
        'provider-url-scheme',
        'error',
        'URL scheme in the OIDC provider ARN',
        'An IAM OIDC provider ARN names the provider by its URL without https:// (arn:aws:iam::<account>:oidc-provider/<host>/<path>); with the scheme it names a provider that cannot exist, so no token matches.',
      ],
      [
        'federated-not-provider-arn',
        'error',
        'Federated principal is a host, not a provider ARN',
        'Apart from accounts.google.com, cognito-identity.amazonaws.com, graph.facebook.com and www.amazon.com, a Federated principal must be the ARN of an IAM OIDC provider (arn:aws:iam::<account>:oidc-provider/<host>/<path>); a bare host name matches no token.',
      ],
      [
        'principal-wildcard',
        'error',
        'Principal "*" for web identity',
        'Principal "*" trusts every identity provider (any Google, Cognito or OIDC token), not only your cluster.',
      ],
      [
        'malformed-sub',
        'error',
        ':sub value is not a ServiceAccount subject',
        'ServiceAccount tokens have sub "system:serviceaccount:<namespace>:<name>"; any other shape never matches a pod\'s token.',
      ],
      [
        'aud-typo',
        'error',
        ':aud looks like a typo of sts.amazonaws.com',
        'The webhook requests tokens for "sts.amazonaws.com" by default; a near miss such as "sts.amazon.com" never matches.',
      ],
      [
        'unsupported-claim',
        'error',
        'condition on a claim IAM does not expose',
        'For a generic OIDC provider IAM exposes only aud, sub, amr and azp as condition keys; other claims are missing, so the condition fails.',
      ],
      [
        'variables-need-2012',
        'error',
        'policy variable in a pre-2012 policy',
        'Policy variables are only substituted when Version is "2012-10-17"; otherwise "${...}" is literal text.',
      ],
      [
        'unknown-provider',
        'error',
        'trusts a provider the config does not declare',
        "The STS only accepts tokens of the IAM OIDC providers declared in the config (in the role's own account and partition); a Federated principal naming another provider never matches a token.",
      ],
      [
        'aud-not-client-id',
        'error',
        ":aud condition outside the provider's ClientIDList",
        "A token must carry an audience from the provider's ClientIDList to be accepted at all; if the :aud condition allows none of them, no token can satisfy both.",
      ],
      [
        'no-web-identity-statement',
        'info',
        'no statement allows web identity',
        'No Allow statement trusts an OIDC provider with sts:AssumeRoleWithWebIdentity, so IRSA cannot use this role.',
      ],
    ] as Array<[string, Severity, string, string]>
  ).map(([id, severity, title, why]) => [id, { id, severity, title, why }]),
);

export interface LintFinding {
  ruleId: string;
  severity: Severity;
  /** JSON path inside the document (or inside the config for roles of an sts config). */
  path: string;
  message: string;
  why: string;
  fix: string;
  /** The role the document belongs to, when linting an sts config. */
  role?: string;
}

export interface LintOptions {
  /** Trust-policy size quota (2048 by default; 4096 when raised). */
  maxSize?: number;
  /** What the sts config declares next to the roles, for the provider checks. */
  context?: LintContext;
}

export interface LintContext {
  accountId?: string;
  partition?: string;
  /** The IAM OIDC providers: id (URL without https://) and ClientIDList. */
  providers?: Array<{ providerId: string; clientIds: string[] }>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

interface Cond {
  operator: string;
  op: ParsedOperator | undefined;
  key: string;
  prefix: string;
  claim: string;
  values: string[];
  path: string;
}

interface Stmt {
  path: string;
  effect: string;
  principalStar: boolean;
  federated: string[];
  aws: string[];
  service: string[];
  actions: string[] | undefined;
  notActions: string[] | undefined;
  conditions: Cond[];
}

function splitKey(key: string): { prefix: string; claim: string } {
  const i = key.lastIndexOf(':');
  return { prefix: key.slice(0, i), claim: key.slice(i + 1) };
}

function statementsOf(doc: Record<string, unknown>): Stmt[] {
  const raw = doc.Statement;
  const list: Array<[unknown, string]> = Array.isArray(raw)
    ? raw.map((s, i) => [s, `$.Statement[${i}]`])
    : isObject(raw)
      ? [[raw, '$.Statement']]
      : [];
  const out: Stmt[] = [];
  for (const [s, path] of list) {
    if (!isObject(s)) continue;
    const p = s.Principal;
    const conditions: Cond[] = [];
    if (isObject(s.Condition)) {
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
    }
    out.push({
      path,
      effect: typeof s.Effect === 'string' ? s.Effect : '',
      principalStar: p === '*' || (isObject(p) && strings(p.AWS).includes('*')),
      federated: isObject(p) ? strings(p.Federated) : [],
      aws: isObject(p) ? strings(p.AWS) : [],
      service: isObject(p) ? strings(p.Service) : [],
      actions: 'Action' in s ? strings(s.Action) : undefined,
      notActions: 'NotAction' in s ? strings(s.NotAction) : undefined,
      conditions,
    });
  }
  return out;
}

const WEB_IDENTITY_STATEMENT =
  '{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::<account>:oidc-provider/<issuer host/path>"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"<issuer host/path>:sub": "system:serviceaccount:<namespace>:<serviceaccount>", "<issuer host/path>:aud": "sts.amazonaws.com"}}}';

/** What to change for each way IAM rejects a trust policy (policy.ts's messages), naming the element. */
function invalidPolicyFix(p: IamError, doc: unknown): string {
  if (p instanceof PolicySizeError)
    return `shorten the document to at most ${p.limit} characters without whitespace (it has ${p.size}): merge statements, list values in one array; or ask AWS to raise ACLSizePerRole and lint with --max-size 4096`;
  const m = p.message;
  const d = (p instanceof MalformedPolicyError ? p.detail : undefined) ?? '';
  const field = /^Has prohibited field (\w+)\./.exec(m)?.[1];
  if (field === 'NotPrincipal')
    return 'replace "NotPrincipal" by "Principal": {"Federated": "<provider ARN>"}: trust policies name who may assume the role';
  if (field)
    return `remove "${field}" from the statement: a trust policy has no resources (the role itself is the resource)`;
  if (m.startsWith('Missing required field Principal'))
    return 'add "Principal": {"Federated": "arn:aws:iam::<account>:oidc-provider/<issuer host/path>"}';
  if (m.startsWith('Policy statement must contain actions'))
    return 'add "Action": "sts:AssumeRoleWithWebIdentity"';
  if (
    m.startsWith('Actions/Conditions must be prefaced') ||
    m.startsWith('Actions/Condition can contain only one colon')
  )
    return d.startsWith('condition key')
      ? 'name the key with its issuer: "<issuer host/path>:sub" or "<issuer host/path>:aud" (or a global key such as "aws:SourceIp")'
      : 'write the action as service:Action, e.g. "sts:AssumeRoleWithWebIdentity"';
  if (m.startsWith('Vendor ')) return 'use the sts service: "sts:AssumeRoleWithWebIdentity"';
  if (m.startsWith('Federated principals must be valid domain names')) {
    const value = d.replace(/^"|"$/g, '');
    const id = value.replace(/^[a-z]+:\/\//i, '').replace(/^arn:[^:]*:iam::[^:]*:oidc-provider\//, '');
    return `use the IAM OIDC provider's ARN: "Federated": "arn:aws:iam::<account>:oidc-provider/${id || '<issuer host/path>'}"`;
  }
  if (m.startsWith('Invalid principal in policy'))
    return /OIDC provider belongs under "Federated"/.test(d)
      ? 'move the provider ARN to "Principal": {"Federated": …}'
      : /unknown principal type/.test(d)
        ? 'use "Federated" for an OIDC provider (the other types are AWS, Service and CanonicalUser)'
        : 'for IRSA trust the provider: "Principal": {"Federated": "arn:aws:iam::<account>:oidc-provider/<issuer host/path>"}; an AWS principal is a 12-digit account id or an IAM role/user ARN';
  if (m.startsWith('Invalid Condition type'))
    return 'use a condition operator IAM knows: "StringEquals" for exact values, "StringLike" for wildcards';
  if (m.startsWith('Statement IDs (SID)')) return 'give each statement its own Sid, or remove the Sids';
  if (m.startsWith('The policy failed legacy parsing'))
    return 'write "Effect": "Allow" or "Deny" exactly (case-sensitive)';
  if (m.startsWith('Policy document should not specify a principal'))
    return "this is a permission policy element: a trust policy is the role's AssumeRolePolicyDocument";
  const name = /^(?:unknown (?:top-level|statement) element) "([^"]+)"/.exec(d)?.[1];
  if (name)
    return `remove "${name}" (or fix its spelling: Version, Statement, Sid, Effect, Principal, Action, Condition)`;
  if (/^Version must be/.test(d)) return 'set "Version": "2012-10-17"';
  if (/^Id must be/.test(d)) return 'make "Id" a string, or remove it';
  if (/^Sid must be/.test(d)) return 'make "Sid" a string, or remove it';
  if (/^missing Statement|^Statement is empty|^Statement must be/.test(d))
    return `write "Statement": [${WEB_IDENTITY_STATEMENT}]`;
  if (/^a statement must be a JSON object/.test(d))
    return `make the statement an object: ${WEB_IDENTITY_STATEMENT}`;
  if (/^missing Effect|^Effect must be/.test(d)) return 'set "Effect": "Allow" (or "Deny")';
  if (/both Principal and NotPrincipal/.test(d)) return 'remove "NotPrincipal"';
  if (/both Action and NotAction/.test(d))
    return 'remove "NotAction"; keep "Action": "sts:AssumeRoleWithWebIdentity"';
  if (/^Principal must be|^Principal is empty/.test(d))
    return 'write "Principal": {"Federated": "arn:aws:iam::<account>:oidc-provider/<issuer host/path>"}';
  const list = /^([\w.]+) must be a string or an array of strings/.exec(d)?.[1];
  if (list)
    return `write ${list} as a string or an array of strings, e.g. ${list.startsWith('Principal') ? '"arn:aws:iam::<account>:oidc-provider/<issuer host/path>"' : '"sts:AssumeRoleWithWebIdentity"'}`;
  if (/^Condition must be|must map condition keys to values/.test(d))
    return 'write "Condition": {"StringEquals": {"<issuer host/path>:sub": "system:serviceaccount:<namespace>:<serviceaccount>"}}';
  if (/^condition values must be/.test(d))
    return 'write each condition value as a string, or an array of strings';
  if (/^Null takes|^Bool takes/.test(d)) return 'use the string "true" or "false"';
  if (/^the policy must be a JSON object/.test(d))
    return 'write the trust policy as one JSON object: {"Version": "2012-10-17", "Statement": [...]}';
  if (/^not valid JSON/.test(d)) return 'correct the JSON syntax at the position given';
  return `change ${p.path ?? 'the document'} as the message says${isObject(doc) ? '' : '; a trust policy is a JSON object'}`;
}

/** The fix for a :sub value that is not a ServiceAccount subject, with the namespace it names when it names one. */
function subFix(v: string): string {
  const plural = /^system:serviceaccounts:([^:]+):(.+)$/.exec(v);
  if (plural)
    return `use "system:serviceaccount:${plural[1]}:${plural[2]}" (singular: "system:serviceaccounts:" names groups)`;
  const group = /^system:serviceaccounts:([^:]+)$/.exec(v);
  if (group)
    return `"system:serviceaccounts:${group[1]}" is the group of every ServiceAccount of ${group[1]}, never a token's sub: use "system:serviceaccount:${group[1]}:<serviceaccount>" (singular), or "system:serviceaccount:${group[1]}:*" with StringLike for all of them`;
  if (v === 'system:serviceaccounts')
    return 'name one ServiceAccount: "system:serviceaccount:<namespace>:<serviceaccount>" (the group of all of them is never a token\'s sub)';
  return 'use "system:serviceaccount:<namespace>:<serviceaccount>"';
}

/** A provider id as IAM writes it: the issuer URL without its scheme. */
const withoutScheme = (providerId: string): string => providerId.replace(/^[a-z]+:\/\//i, '');

function federatedPath(st: Stmt, arn: string): string {
  return st.federated.length > 1
    ? `${st.path}.Principal.Federated[${st.federated.indexOf(arn)}]`
    : `${st.path}.Principal.Federated`;
}

function allows(st: Stmt, action: string): boolean {
  if (st.actions) return st.actions.some((a) => globMatch(a, action, true));
  if (st.notActions) return !st.notActions.some((a) => globMatch(a, action, true));
  return false;
}

const WEB_IDENTITY = 'sts:AssumeRoleWithWebIdentity';
const CLAIMS = new Set(['sub', 'aud', 'amr', 'azp']);
/** Issuers for which IAM exposes extra claims (GitHub, GitLab, Terraform Cloud, Buildkite, CircleCI, Google, Cognito...). */
const EXTRA_CLAIM_ISSUERS = [
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
const SA_SUB_RE = /^system:serviceaccount:([^:]+):([^:]+)$/;
const BUILTIN_PROVIDERS = new Set([
  'accounts.google.com',
  'cognito-identity.amazonaws.com',
  'graph.facebook.com',
  'www.amazon.com',
]);
/** A condition-key prefix naming an issuer (host[:port][/path]) rather than a service (aws:, sts:, s3:...). */
const issuerLike = (prefix: string): boolean => /[.:/]/.test(prefix);
const isString = (op: ParsedOperator | undefined): boolean => op?.family === 'String';

/** Lint one trust policy document (object, JSON text, or URL-encoded JSON as `aws iam get-role` gives). */
export function lintTrustPolicy(input: unknown, options: LintOptions = {}): LintFinding[] {
  const findings: LintFinding[] = [];
  const add = (ruleId: string, path: string, message: string, fix: string, severity?: Severity): void => {
    const rule = LINT_RULES[ruleId]!;
    findings.push({ ruleId, severity: severity ?? rule.severity, path, message, why: rule.why, fix });
  };

  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(decodePolicyText(input));
    } catch (err) {
      add(
        'invalid-policy',
        '$',
        `Syntax errors in policy. (not valid JSON: ${err instanceof Error ? err.message : String(err)})`,
        'write the trust policy as one JSON object: {"Version": "2012-10-17", "Statement": [...]}',
      );
      return findings;
    }
  }

  const checkOptions = options.maxSize === undefined ? {} : { maxSize: options.maxSize };
  for (const p of checkPolicy(doc, 'trust', checkOptions).problems) {
    const detail = p instanceof MalformedPolicyError && p.detail ? ` (${p.detail})` : '';
    add('invalid-policy', p.path ?? '$', `${p.code}: ${p.message}${detail}`, invalidPolicyFix(p, doc));
  }
  if (!isObject(doc)) return findings;

  const stmts = statementsOf(doc);
  const v2012 = doc.Version === '2012-10-17';
  let webIdentityStatements = 0;

  for (const st of stmts) {
    const allow = st.effect === 'Allow';
    const providers = st.federated
      .map((f) => ({ arn: f, parsed: parseOidcProviderArn(f) }))
      .filter((p) => p.parsed);
    // The provider as IAM names it: a principal written with https:// is flagged below and judged without it.
    const providerIds = providers.map((p) => withoutScheme(p.parsed!.providerId));
    // Providers IAM knows without an IAM OIDC provider (accounts.google.com, cognito-identity.amazonaws.com...).
    const builtins = st.federated.filter((f) => BUILTIN_PROVIDERS.has(f.toLowerCase()));
    const isWebIdentity = allow && providers.length + builtins.length > 0 && allows(st, WEB_IDENTITY);
    if (isWebIdentity) webIdentityStatements++;

    // OIDC provider ARNs under AWS / Service.
    for (const [type, values] of [
      ['AWS', st.aws],
      ['Service', st.service],
    ] as const) {
      values.forEach((v, i) => {
        if (parseOidcProviderArn(v)) {
          const path =
            values.length > 1 ? `${st.path}.Principal.${type}[${i}]` : `${st.path}.Principal.${type}`;
          add(
            'oidc-provider-not-federated',
            path,
            `the OIDC provider ${JSON.stringify(v)} is listed as an ${type} principal`,
            `move it to "Principal": {"Federated": ${JSON.stringify(v)}}`,
          );
        }
      });
    }

    // A bare issuer host (or URL) where the provider's ARN belongs.
    if (allow && allows(st, WEB_IDENTITY)) {
      for (const f of st.federated) {
        if (
          f.startsWith('arn:') ||
          BUILTIN_PROVIDERS.has(f.toLowerCase()) ||
          !/^([a-z]+:\/\/)?[\w.-]+\.[a-z]{2,}/i.test(f)
        )
          continue;
        add(
          'federated-not-provider-arn',
          federatedPath(st, f),
          `the Federated principal ${JSON.stringify(f)} is an issuer, not the ARN of its IAM OIDC provider`,
          `use "Federated": "arn:aws:iam::<account>:oidc-provider/${withoutScheme(f)}"`,
        );
      }
    }

    // oidc-provider/https://host/path: the principal is wrong, not the condition keys.
    providers.forEach((p) => {
      if (withoutScheme(p.parsed!.providerId) === p.parsed!.providerId) return;
      add(
        'provider-url-scheme',
        federatedPath(st, p.arn),
        `the Federated principal ${JSON.stringify(p.arn)} includes the URL scheme`,
        `drop ${JSON.stringify(/^[a-z]+:\/\//i.exec(p.parsed!.providerId)![0])} from the principal: "Federated": ${JSON.stringify(p.arn.replace(/oidc-provider\/[a-z]+:\/\//i, 'oidc-provider/'))}`,
      );
    });

    // Principal "*" with web identity.
    if (allow && st.principalStar && allows(st, WEB_IDENTITY)) {
      add(
        'principal-wildcard',
        `${st.path}.Principal`,
        'Principal "*" allows sts:AssumeRoleWithWebIdentity for tokens of any identity provider',
        'name the provider: "Principal": {"Federated": "arn:aws:iam::<account>:oidc-provider/<issuer host/path>"}',
      );
    }

    // sts:AssumeRole (or SAML) where web identity is meant.
    if (allow && providers.length > 0 && !allows(st, WEB_IDENTITY)) {
      const wrong = (st.actions ?? []).filter((a) => /^sts:AssumeRole(WithSAML)?$/i.test(a));
      if (wrong.length > 0) {
        add(
          'assume-role-not-web-identity',
          `${st.path}.Action`,
          `the statement trusts an OIDC provider but allows ${JSON.stringify(st.actions ?? [])}, not sts:AssumeRoleWithWebIdentity`,
          'use "Action": "sts:AssumeRoleWithWebIdentity"',
        );
      }
    }

    // Condition keys vs the trusted providers.
    const lowerIds = [...providerIds, ...builtins].map((p) => p.toLowerCase());
    for (const c of st.conditions) {
      const prefix = c.prefix.toLowerCase();
      if (providers.length === 0 || !issuerLike(c.prefix) || lowerIds.includes(prefix)) continue;
      const stripped = prefix.replace(/^https?:\/\//, '');
      const slash = lowerIds.find((id) => id.replace(/\/$/, '') === stripped.replace(/\/$/, ''));
      if (slash !== undefined && stripped !== slash) {
        const id = providerIds[lowerIds.indexOf(slash)]!;
        add(
          'trailing-slash-mismatch',
          c.path,
          `condition key ${JSON.stringify(c.key)} and the Federated provider ${JSON.stringify(id)} differ by a trailing slash`,
          `use ${JSON.stringify(`${id}:${c.claim}`)}`,
        );
      } else if (slash !== undefined) {
        add(
          'issuer-mismatch',
          c.path,
          `condition key ${JSON.stringify(c.key)} includes the URL scheme`,
          `use ${JSON.stringify(`${providerIds[lowerIds.indexOf(slash)]}:${c.claim}`)} (the provider URL without https://)`,
        );
      } else {
        add(
          'issuer-mismatch',
          c.path,
          `condition key ${JSON.stringify(c.key)} names issuer ${JSON.stringify(c.prefix)}, but the statement trusts ${JSON.stringify(providerIds)}`,
          `rename the key to "${providerIds[0]}:${c.claim}", or trust the provider of ${JSON.stringify(c.prefix)}`,
        );
      }
    }

    // Per provider: :sub and :aud present?
    if (isWebIdentity) {
      for (const b of builtins) {
        const hasAud = st.conditions.some(
          (c) => c.key.toLowerCase() === `${b.toLowerCase()}:aud` && c.op && !c.op.negated,
        );
        if (!hasAud) {
          add(
            'missing-aud',
            st.conditions.length ? `${st.path}.Condition` : st.path,
            `no condition on "${b}:aud": tokens ${b} issued to any application (or identity pool) of anyone can assume the role`,
            `add "StringEquals": {"${b}:aud": "<your ${b.startsWith('cognito') ? 'identity pool id' : 'client id'}>"}`,
            'error',
          );
        }
      }
      for (const p of providers) {
        const id = withoutScheme(p.parsed!.providerId);
        const hasClaim = (claim: string): boolean =>
          st.conditions.some(
            (c) => c.claim.toLowerCase() === claim && c.op && !c.op.negated && issuerLike(c.prefix),
          );
        if (!hasClaim('sub')) {
          add(
            'missing-sub',
            st.conditions.length ? `${st.path}.Condition` : st.path,
            `no condition on "${id}:sub": any subject of ${id} can assume the role`,
            `add "StringEquals": {"${id}:sub": "system:serviceaccount:<namespace>:<serviceaccount>"}`,
          );
        }
        if (!hasClaim('aud')) {
          add(
            'missing-aud',
            st.conditions.length ? `${st.path}.Condition` : st.path,
            `no condition on "${id}:aud"`,
            `add "StringEquals": {"${id}:aud": "sts.amazonaws.com"}`,
          );
        }
      }
    }

    for (const c of st.conditions) {
      const base = c.op?.base ?? '';
      const claim = c.claim.toLowerCase();
      const valuePath = (i: number): string => (c.values.length > 1 ? `${c.path}[${i}]` : c.path);

      if (
        (base === 'StringEquals' ||
          base === 'StringEqualsIgnoreCase' ||
          base === 'StringNotEquals' ||
          base === 'StringNotEqualsIgnoreCase') &&
        c.values.some((v) => v.includes('*'))
      ) {
        c.values.forEach((v, i) => {
          if (v.includes('*')) {
            add(
              'stringequals-wildcard',
              valuePath(i),
              `${c.operator} ${JSON.stringify(c.key)} has the wildcard value ${JSON.stringify(v)}, which ${base} compares literally`,
              `use "${c.operator.replace('StringNotEquals', 'StringNotLike').replace('StringEquals', 'StringLike').replace('IgnoreCase', '')}"`,
            );
          }
        });
      }

      if (claim === 'sub' && allow && isString(c.op) && !c.op!.negated) {
        const like = base === 'StringLike';
        c.values.forEach((v, i) => {
          if (like) {
            const m = /^system:serviceaccount:([^:]*)(:|$)/.exec(v);
            // The first wildcard comes before the namespace: every ServiceAccount of the cluster.
            const literal = v.split(/[*?]/)[0]!;
            const whole = /[*?]/.test(v) && 'system:serviceaccount:'.startsWith(literal);
            if (whole || (m && /^[*?]+$/.test(m[1]!))) {
              add(
                'sub-wildcard-too-wide',
                valuePath(i),
                `${JSON.stringify(v)} matches ServiceAccounts of every namespace`,
                'name the namespace: "system:serviceaccount:<namespace>:<serviceaccount>" (or "system:serviceaccount:<namespace>:*")',
              );
              return;
            }
            if (m && /[*?]/.test(m[1]!)) {
              add(
                'sub-wildcard-too-wide',
                valuePath(i),
                `${JSON.stringify(v)} has a wildcard in the namespace part, so it matches ServiceAccounts of several namespaces`,
                `name one namespace: ${JSON.stringify(v.replace(/^system:serviceaccount:[^:]*/, 'system:serviceaccount:<namespace>'))}, one value per namespace if the role serves several`,
              );
              return;
            }
            if (m && m[2] === '' && !m[1]!.includes('/')) {
              add(
                'sub-wildcard-too-wide',
                valuePath(i),
                `${JSON.stringify(v)} has no ServiceAccount name`,
                `add the name: "${v}:<serviceaccount>" (or "${v}:*" for every ServiceAccount of ${m[1]})`,
              );
              return;
            }
          }
          // Policy variables stand for one value each.
          const shape = v.replace(/\$\{[^}]*\}/g, 'x');
          if (shape.startsWith('system:') && !/[*]/.test(shape) && !SA_SUB_RE.test(shape)) {
            add(
              'malformed-sub',
              valuePath(i),
              `${JSON.stringify(v)} is not of the form system:serviceaccount:<namespace>:<name>`,
              subFix(v),
            );
          } else if (shape.startsWith('system:serviceaccount:') && /[/]/.test(shape)) {
            add(
              'malformed-sub',
              valuePath(i),
              `${JSON.stringify(v)} uses "/"; the subject separates namespace and name with ":"`,
              `use ${JSON.stringify(v.replace(/^system:serviceaccount:([^/:]+)\//, 'system:serviceaccount:$1:'))}`,
            );
          }
        });
      }

      if (claim === 'aud' && isString(c.op)) {
        c.values.forEach((v, i) => {
          if (v !== 'sts.amazonaws.com' && v !== 'sts.amazonaws.com.cn' && /sts\.amazon/i.test(v)) {
            add(
              'aud-typo',
              valuePath(i),
              `audience ${JSON.stringify(v)} looks like a typo of "sts.amazonaws.com"`,
              'use "sts.amazonaws.com" (the audience the webhook requests by default)',
            );
          }
        });
      }

      if (allow && c.op?.qualifier === 'ForAllValues') {
        add(
          'forallvalues-allow',
          c.path,
          `${c.operator} on ${JSON.stringify(c.key)} is true when the key is absent`,
          `use ForAnyValue:${c.op.base}, or add "Null": {${JSON.stringify(c.key)}: "false"}`,
        );
      }

      const host = c.prefix.split('/')[0]!.toLowerCase();
      if (
        allow &&
        lowerIds.includes(c.prefix.toLowerCase()) &&
        !CLAIMS.has(claim) &&
        !EXTRA_CLAIM_ISSUERS.includes(host) &&
        c.op &&
        !c.op.negated &&
        !c.op.ifExists
      ) {
        add(
          'unsupported-claim',
          c.path,
          `${JSON.stringify(c.key)} is not a condition key IAM provides for this issuer, so the condition never matches`,
          `condition on "${c.prefix}:sub" (or :aud, :amr, :azp) instead`,
        );
      }

      if (!v2012 && c.values.some((v) => /\$\{[^}]+\}/.test(v))) {
        add(
          'variables-need-2012',
          c.path,
          `${JSON.stringify(c.key)} uses a policy variable but Version is ${JSON.stringify(doc.Version ?? '(absent)')}`,
          'set "Version": "2012-10-17"',
        );
      }
    }

    // Against what the config declares: the provider exists in the role's account, and :aud can be satisfied.
    const ctx = options.context;
    if (ctx && allow) {
      providers.forEach((p) => {
        const path = federatedPath(st, p.arn);
        const id = p.parsed!.providerId;
        if (withoutScheme(id) !== id) return; // provider-url-scheme says what to change
        if (ctx.accountId && p.parsed!.account !== ctx.accountId) {
          add(
            'unknown-provider',
            path,
            `the provider ${JSON.stringify(p.arn)} is in account ${p.parsed!.account}, the role in ${ctx.accountId}`,
            `IAM OIDC providers are per account: use arn:${ctx.partition ?? p.parsed!.partition}:iam::${ctx.accountId}:oidc-provider/${id}`,
          );
          return;
        }
        if (ctx.partition && p.parsed!.partition !== ctx.partition) {
          add(
            'unknown-provider',
            path,
            `the provider ${JSON.stringify(p.arn)} is in partition ${p.parsed!.partition}, the config in ${ctx.partition}`,
            `use arn:${ctx.partition}:iam::${p.parsed!.account}:oidc-provider/${id}`,
          );
          return;
        }
        if (!ctx.providers) return;
        const declared = ctx.providers.find((d) => d.providerId === id);
        if (!declared) {
          const near = ctx.providers.find(
            (d) => d.providerId.replace(/\/$/, '').toLowerCase() === id.replace(/\/$/, '').toLowerCase(),
          );
          add(
            'unknown-provider',
            path,
            `the role trusts ${JSON.stringify(id)}, but the config declares ${ctx.providers.length ? ctx.providers.map((d) => JSON.stringify(d.providerId)).join(', ') : 'no OIDC provider'}${near ? ' (differs in case or trailing slash only)' : ''}`,
            near
              ? `use exactly ${JSON.stringify(near.providerId)}`
              : `declare the provider https://${id} under oidcProviders, or trust a declared one`,
          );
          return;
        }
        for (const c of st.conditions) {
          if (c.claim.toLowerCase() !== 'aud' || c.prefix.toLowerCase() !== id.toLowerCase()) continue;
          if (!c.op || c.op.family !== 'String' || c.op.negated || c.op.qualifier === 'ForAllValues')
            continue;
          const ignoreCase = c.op.base === 'StringEqualsIgnoreCase';
          const ok = c.values.some((v) =>
            declared.clientIds.some((cid) =>
              c.op!.base === 'StringLike'
                ? globMatch(v, cid)
                : ignoreCase
                  ? v.toLowerCase() === cid.toLowerCase()
                  : v === cid,
            ),
          );
          if (!ok) {
            add(
              'aud-not-client-id',
              c.path,
              `${c.operator} ${JSON.stringify(c.key)} allows ${JSON.stringify(c.values)}, but the provider accepts only the audiences ${JSON.stringify(declared.clientIds)}`,
              `allow one of ${JSON.stringify(declared.clientIds)} (usually "sts.amazonaws.com"), or add the audience to the provider's ClientIDList`,
            );
          }
        }
      });
    }

    // Providers whose URL ends with a slash: legal, but the token's iss must end with one too.
    for (const p of providers) {
      if (p.parsed!.providerId.endsWith('/')) {
        const i = st.federated.indexOf(p.arn);
        add(
          'trailing-slash-mismatch',
          st.federated.length > 1 ? `${st.path}.Principal.Federated[${i}]` : `${st.path}.Principal.Federated`,
          `the provider ${JSON.stringify(p.arn)} ends with "/": the token's iss must be "https://${p.parsed!.providerId}" exactly`,
          'make sure the issuer URL (--service-account-issuer) ends with "/" too, or drop the slash everywhere',
          'info',
        );
      }
    }
  }

  // Only when no other finding already explains why web identity cannot work.
  const mentionsOidc = stmts.some(
    (st) =>
      st.principalStar ||
      st.federated.some((f) => BUILTIN_PROVIDERS.has(f.toLowerCase()) || !f.startsWith('arn:')) ||
      [...st.federated, ...st.aws, ...st.service].some((v) => parseOidcProviderArn(v)),
  );
  if (webIdentityStatements === 0 && !mentionsOidc && stmts.length > 0) {
    add(
      'no-web-identity-statement',
      '$.Statement',
      'no Allow statement trusts an OIDC provider with sts:AssumeRoleWithWebIdentity',
      'add {"Effect": "Allow", "Principal": {"Federated": "<provider ARN>"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {...}}',
    );
  }
  return findings;
}

// ---------------------------------------------------------------- inputs

export interface RoleInput {
  roleName: string;
  /** The trust policy: an object, or JSON text (plain or URL-encoded). */
  document: unknown;
  /** JSON path of the document in the input, e.g. `$.roles[0].AssumeRolePolicyDocument`. */
  path: string;
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

/** What a lint input file holds: a policy document, or roles (sts config, get-role, list-roles). */
export function lintInputKind(value: unknown): 'policy' | 'roles' | 'unknown' {
  if (!isObject(value)) return 'unknown';
  if ('Statement' in value) return 'policy';
  if (Array.isArray(value.roles) || Array.isArray(value.Roles) || isObject(value.Role)) return 'roles';
  return 'unknown';
}

/** Lint every role of a config; finding paths are prefixed with the role document's path in the config. */
export function lintRoles(roles: RoleInput[], options: LintOptions = {}): LintFinding[] {
  return roles.flatMap((r) =>
    lintTrustPolicy(r.document, options).map((f) => ({
      ...f,
      role: r.roleName,
      // Inside a JSON-text document the path is relative to that text.
      path:
        typeof r.document === 'string'
          ? `${r.path}${f.path === '$' ? '' : ` → ${f.path}`}`
          : `${r.path}${f.path.slice(1)}`,
    })),
  );
}
