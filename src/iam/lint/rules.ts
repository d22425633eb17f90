/**
 * The lint rule table: every rule's id, severity, title and why, beside the check that finds it and says what to
 * change. Adding a rule is adding one entry here. One rule sets the severity: `error` when the role cannot be
 * assumed by the ServiceAccount it is meant for, or can be by others too (IAM rejects the document, or a condition
 * can never match the intended ServiceAccount, or matches more than one); `warning` when it works but is weaker
 * than AWS recommends (no :aud pin, ForAllValues); `info` for what is worth knowing.
 *
 * The table's order is the order rules are listed in (SARIF); each check's `order` is when it runs (types.ts).
 */
import { parseOidcProviderArn } from '../arn.js';
import { MalformedPolicyError } from '../errors.js';
import { checkPolicy } from '../policy.js';
import { globMatch } from '../variables.js';
import { invalidPolicyFix, subFix } from './fixes.js';
import {
  againstConfig,
  CLAIMS,
  conditionBlockPath,
  EXTRA_CLAIM_ISSUERS,
  keyIssuerMismatch,
  SA_SUB_RE,
  subMustMatch,
  subTooWide,
} from './judgements.js';
import {
  BUILTIN_PROVIDERS,
  federatedPath,
  isString,
  issuerLike,
  valuePath,
  withoutScheme,
} from './statements.js';
import type { LintRule, RuleDefinition } from './types.js';

const RULES: RuleDefinition[] = [
  {
    id: 'invalid-policy',
    severity: 'error',
    title: 'IAM would reject this trust policy',
    why: 'CreateRole / UpdateAssumeRolePolicy fail with MalformedPolicyDocument, so the role cannot have this trust policy.',
    checks: [
      {
        order: 0,
        loop: 'input',
        run: ({ doc, syntaxError, maxSize }, report) => {
          if (syntaxError !== undefined) {
            report(
              '$',
              `Syntax errors in policy. (not valid JSON: ${syntaxError})`,
              'write the trust policy as one JSON object: {"Version": "2012-10-17", "Statement": [...]}',
            );
            return;
          }
          for (const p of checkPolicy(doc, 'trust', maxSize === undefined ? {} : { maxSize }).problems) {
            const detail = p instanceof MalformedPolicyError && p.detail ? ` (${p.detail})` : '';
            report(p.path ?? '$', `${p.code}: ${p.message}${detail}`, invalidPolicyFix(p, doc));
          }
        },
      },
    ],
  },
  {
    id: 'missing-sub',
    severity: 'error',
    title: 'no :sub condition',
    why: 'Without a condition on <issuer>:sub, every ServiceAccount of every namespace in the cluster (any subject the issuer signs for) can assume the role.',
    checks: [
      {
        order: 30,
        loop: 'trusted-provider',
        run: (p, st, report) => {
          if (!st.isWebIdentity || !('oidc' in p)) return;
          const id = withoutScheme(p.oidc.parsed.providerId);
          const hasSub = st.conditions.some(
            (c) => c.claim.toLowerCase() === 'sub' && c.op && !c.op.negated && issuerLike(c.prefix),
          );
          if (!hasSub)
            report(
              conditionBlockPath(st),
              `no condition on "${id}:sub": any subject of ${id} can assume the role`,
              `add "StringEquals": {"${id}:sub": "system:serviceaccount:<namespace>:<serviceaccount>"}`,
            );
        },
      },
    ],
  },
  {
    id: 'sub-wildcard-too-wide',
    severity: 'error',
    title: ':sub wildcard wider than a namespace',
    why: 'A wildcard in the namespace part of system:serviceaccount:<namespace>:<name> lets ServiceAccounts of other namespaces (including ones created later) assume the role.',
    checks: [
      {
        order: 41,
        loop: 'value',
        run: (v, i, c, st, report) => {
          if (!subMustMatch(c, st) || c.op?.base !== 'StringLike') return;
          const wide = subTooWide(v);
          if (wide) report(valuePath(c, i), wide.message, wide.fix);
        },
      },
    ],
  },
  {
    id: 'stringequals-wildcard',
    severity: 'error',
    title: 'StringEquals with a wildcard',
    why: 'StringEquals compares literally: "*" and "?" only match themselves, so the condition never matches a real subject (a classic AccessDenied cause).',
    checks: [
      {
        order: 40,
        loop: 'condition',
        run: (c, _st, _policy, report) => {
          const base = c.op?.base ?? '';
          if (
            base !== 'StringEquals' &&
            base !== 'StringEqualsIgnoreCase' &&
            base !== 'StringNotEquals' &&
            base !== 'StringNotEqualsIgnoreCase'
          )
            return;
          c.values.forEach((v, i) => {
            if (v.includes('*'))
              report(
                valuePath(c, i),
                `${c.operator} ${JSON.stringify(c.key)} has the wildcard value ${JSON.stringify(v)}, which ${base} compares literally`,
                `use "${c.operator.replace('StringNotEquals', 'StringNotLike').replace('StringEquals', 'StringLike').replace('IgnoreCase', '')}"`,
              );
          });
        },
      },
    ],
  },
  {
    id: 'missing-aud',
    severity: 'warning',
    title: 'no :aud condition',
    why: 'Without <issuer>:aud the role accepts any audience the IAM OIDC provider lists; pin it to sts.amazonaws.com as AWS recommends.',
    checks: [
      {
        order: 31,
        loop: 'trusted-provider',
        run: (p, st, report) => {
          if (!st.isWebIdentity) return;
          if ('builtin' in p) {
            // A built-in provider has no ClientIDList: without :aud, any application's tokens are accepted.
            const b = p.builtin;
            const hasAud = st.conditions.some(
              (c) => c.key.toLowerCase() === `${b.toLowerCase()}:aud` && c.op && !c.op.negated,
            );
            if (!hasAud)
              report(
                conditionBlockPath(st),
                `no condition on "${b}:aud": tokens ${b} issued to any application (or identity pool) of anyone can assume the role`,
                `add "StringEquals": {"${b}:aud": "<your ${b.startsWith('cognito') ? 'identity pool id' : 'client id'}>"}`,
                'error',
              );
            return;
          }
          const id = withoutScheme(p.oidc.parsed.providerId);
          const hasAud = st.conditions.some(
            (c) => c.claim.toLowerCase() === 'aud' && c.op && !c.op.negated && issuerLike(c.prefix),
          );
          if (!hasAud)
            report(
              conditionBlockPath(st),
              `no condition on "${id}:aud"`,
              `add "StringEquals": {"${id}:aud": "sts.amazonaws.com"}`,
            );
        },
      },
    ],
  },
  {
    id: 'issuer-mismatch',
    severity: 'error',
    title: 'condition key of another issuer',
    why: 'Condition keys are named after the token issuer (the provider URL without https://). A key naming another issuer is never present in the request, so the condition fails (or, negated, always passes).',
    checks: [
      {
        order: 21,
        loop: 'condition',
        run: (c, st, _policy, report) => {
          const mismatch = keyIssuerMismatch(c, st);
          if (!mismatch) return;
          if ('other' in mismatch)
            report(
              c.path,
              `condition key ${JSON.stringify(c.key)} names issuer ${JSON.stringify(c.prefix)}, but the statement trusts ${JSON.stringify(st.providerIds)}`,
              `rename the key to "${st.providerIds[0]}:${c.claim}", or trust the provider of ${JSON.stringify(c.prefix)}`,
            );
          else if (!mismatch.bySlash)
            report(
              c.path,
              `condition key ${JSON.stringify(c.key)} includes the URL scheme`,
              `use ${JSON.stringify(`${mismatch.providerId}:${c.claim}`)} (the provider URL without https://)`,
            );
        },
      },
    ],
  },
  {
    id: 'trailing-slash-mismatch',
    severity: 'error',
    title: 'trailing slash differs',
    why: 'IAM matches the issuer URL, provider ARN and condition-key prefix exactly: "host/path" and "host/path/" are different providers.',
    checks: [
      {
        order: 20,
        loop: 'condition',
        run: (c, st, _policy, report) => {
          const mismatch = keyIssuerMismatch(c, st);
          if (!mismatch || 'other' in mismatch || !mismatch.bySlash) return;
          report(
            c.path,
            `condition key ${JSON.stringify(c.key)} and the Federated provider ${JSON.stringify(mismatch.providerId)} differ by a trailing slash`,
            `use ${JSON.stringify(`${mismatch.providerId}:${c.claim}`)}`,
          );
        },
      },
      {
        // Providers whose URL ends with a slash: legal, but the token's iss must end with one too.
        order: 60,
        loop: 'statement',
        run: (st, _policy, report) => {
          for (const p of st.providers) {
            if (!p.parsed.providerId.endsWith('/')) continue;
            report(
              federatedPath(st, p.arn),
              `the provider ${JSON.stringify(p.arn)} ends with "/": the token's iss must be "https://${p.parsed.providerId}" exactly`,
              'make sure the issuer URL (--service-account-issuer) ends with "/" too, or drop the slash everywhere',
              'info',
            );
          }
        },
      },
    ],
  },
  {
    id: 'forallvalues-allow',
    severity: 'warning',
    title: 'ForAllValues in an Allow',
    why: 'ForAllValues is true when the key is missing or empty, so an Allow statement guarded by it can match requests that lack the key entirely.',
    checks: [
      {
        order: 44,
        loop: 'condition',
        run: (c, st, _policy, report) => {
          if (st.allow && c.op?.qualifier === 'ForAllValues')
            report(
              c.path,
              `${c.operator} on ${JSON.stringify(c.key)} is true when the key is absent`,
              `use ForAnyValue:${c.op.base}, or add "Null": {${JSON.stringify(c.key)}: "false"}`,
            );
        },
      },
    ],
  },
  {
    id: 'assume-role-not-web-identity',
    severity: 'error',
    title: 'sts:AssumeRole for a web identity',
    why: 'A web identity (OIDC) caller uses sts:AssumeRoleWithWebIdentity; sts:AssumeRole is for AWS principals and never matches.',
    checks: [
      {
        order: 14,
        loop: 'statement',
        run: (st, _policy, report) => {
          if (!st.allow || st.providers.length === 0 || st.allowsWebIdentity) return;
          const wrong = (st.actions ?? []).filter((a) => /^sts:AssumeRole(WithSAML)?$/i.test(a));
          if (wrong.length > 0)
            report(
              `${st.path}.Action`,
              `the statement trusts an OIDC provider but allows ${JSON.stringify(st.actions ?? [])}, not sts:AssumeRoleWithWebIdentity`,
              'use "Action": "sts:AssumeRoleWithWebIdentity"',
            );
        },
      },
    ],
  },
  {
    id: 'oidc-provider-not-federated',
    severity: 'error',
    title: 'OIDC provider under the wrong principal type',
    why: 'An IAM OIDC provider ARN is a Federated principal; under "AWS" or "Service" IAM rejects it and no token can match.',
    checks: [
      {
        order: 10,
        loop: 'statement',
        run: (st, _policy, report) => {
          for (const [type, values] of [
            ['AWS', st.aws],
            ['Service', st.service],
          ] as const) {
            values.forEach((v, i) => {
              if (!parseOidcProviderArn(v)) return;
              report(
                values.length > 1 ? `${st.path}.Principal.${type}[${i}]` : `${st.path}.Principal.${type}`,
                `the OIDC provider ${JSON.stringify(v)} is listed as an ${type} principal`,
                `move it to "Principal": {"Federated": ${JSON.stringify(v)}}`,
              );
            });
          }
        },
      },
    ],
  },
  {
    id: 'provider-url-scheme',
    severity: 'error',
    title: 'URL scheme in the OIDC provider ARN',
    why: 'An IAM OIDC provider ARN names the provider by its URL without https:// (arn:aws:iam::<account>:oidc-provider/<host>/<path>); with the scheme it names a provider that cannot exist, so no token matches.',
    checks: [
      {
        // oidc-provider/https://host/path: the principal is wrong, not the condition keys.
        order: 12,
        loop: 'statement',
        run: (st, _policy, report) => {
          for (const p of st.providers) {
            if (withoutScheme(p.parsed.providerId) === p.parsed.providerId) continue;
            report(
              federatedPath(st, p.arn),
              `the Federated principal ${JSON.stringify(p.arn)} includes the URL scheme`,
              `drop ${JSON.stringify(/^[a-z]+:\/\//i.exec(p.parsed.providerId)![0])} from the principal: "Federated": ${JSON.stringify(p.arn.replace(/oidc-provider\/[a-z]+:\/\//i, 'oidc-provider/'))}`,
            );
          }
        },
      },
    ],
  },
  {
    id: 'federated-not-provider-arn',
    severity: 'error',
    title: 'Federated principal is a host, not a provider ARN',
    why: 'Apart from accounts.google.com, cognito-identity.amazonaws.com, graph.facebook.com and www.amazon.com, a Federated principal must be the ARN of an IAM OIDC provider (arn:aws:iam::<account>:oidc-provider/<host>/<path>); a bare host name matches no token.',
    checks: [
      {
        order: 11,
        loop: 'statement',
        run: (st, _policy, report) => {
          if (!st.allow || !st.allowsWebIdentity) return;
          for (const f of st.federated) {
            if (
              f.startsWith('arn:') ||
              BUILTIN_PROVIDERS.has(f.toLowerCase()) ||
              !/^([a-z]+:\/\/)?[\w.-]+\.[a-z]{2,}/i.test(f)
            )
              continue;
            report(
              federatedPath(st, f),
              `the Federated principal ${JSON.stringify(f)} is an issuer, not the ARN of its IAM OIDC provider`,
              `use "Federated": "arn:aws:iam::<account>:oidc-provider/${withoutScheme(f)}"`,
            );
          }
        },
      },
    ],
  },
  {
    id: 'principal-wildcard',
    severity: 'error',
    title: 'Principal "*" for web identity',
    why: 'Principal "*" trusts every identity provider (any Google, Cognito or OIDC token), not only your cluster.',
    checks: [
      {
        order: 13,
        loop: 'statement',
        run: (st, _policy, report) => {
          if (st.allow && st.principalStar && st.allowsWebIdentity)
            report(
              `${st.path}.Principal`,
              'Principal "*" allows sts:AssumeRoleWithWebIdentity for tokens of any identity provider',
              'name the provider: "Principal": {"Federated": "arn:aws:iam::<account>:oidc-provider/<issuer host/path>"}',
            );
        },
      },
    ],
  },
  {
    id: 'malformed-sub',
    severity: 'error',
    title: ':sub value is not a ServiceAccount subject',
    why: 'ServiceAccount tokens have sub "system:serviceaccount:<namespace>:<name>"; any other shape never matches a pod\'s token.',
    checks: [
      {
        order: 42,
        loop: 'value',
        run: (v, i, c, st, report) => {
          if (!subMustMatch(c, st)) return;
          if (c.op?.base === 'StringLike' && subTooWide(v)) return; // sub-wildcard-too-wide says what to change
          // Policy variables stand for one value each.
          const shape = v.replace(/\$\{[^}]*\}/g, 'x');
          if (shape.startsWith('system:') && !/[*]/.test(shape) && !SA_SUB_RE.test(shape))
            report(
              valuePath(c, i),
              `${JSON.stringify(v)} is not of the form system:serviceaccount:<namespace>:<name>`,
              subFix(v),
            );
          else if (shape.startsWith('system:serviceaccount:') && /[/]/.test(shape))
            report(
              valuePath(c, i),
              `${JSON.stringify(v)} uses "/"; the subject separates namespace and name with ":"`,
              `use ${JSON.stringify(v.replace(/^system:serviceaccount:([^/:]+)\//, 'system:serviceaccount:$1:'))}`,
            );
        },
      },
    ],
  },
  {
    id: 'aud-typo',
    severity: 'error',
    title: ':aud looks like a typo of sts.amazonaws.com',
    why: 'The webhook requests tokens for "sts.amazonaws.com" by default; a near miss such as "sts.amazon.com" never matches.',
    checks: [
      {
        order: 43,
        loop: 'condition',
        run: (c, _st, _policy, report) => {
          if (c.claim.toLowerCase() !== 'aud' || !isString(c.op)) return;
          c.values.forEach((v, i) => {
            if (v !== 'sts.amazonaws.com' && v !== 'sts.amazonaws.com.cn' && /sts\.amazon/i.test(v))
              report(
                valuePath(c, i),
                `audience ${JSON.stringify(v)} looks like a typo of "sts.amazonaws.com"`,
                'use "sts.amazonaws.com" (the audience the webhook requests by default)',
              );
          });
        },
      },
    ],
  },
  {
    id: 'unsupported-claim',
    severity: 'error',
    title: 'condition on a claim IAM does not expose',
    why: 'For a generic OIDC provider IAM exposes only aud, sub, amr and azp as condition keys; other claims are missing, so the condition fails.',
    checks: [
      {
        order: 45,
        loop: 'condition',
        run: (c, st, _policy, report) => {
          const host = c.prefix.split('/')[0]!.toLowerCase();
          if (
            st.allow &&
            st.lowerIds.includes(c.prefix.toLowerCase()) &&
            !CLAIMS.has(c.claim.toLowerCase()) &&
            !EXTRA_CLAIM_ISSUERS.includes(host) &&
            c.op &&
            !c.op.negated &&
            !c.op.ifExists
          )
            report(
              c.path,
              `${JSON.stringify(c.key)} is not a condition key IAM provides for this issuer, so the condition never matches`,
              `condition on "${c.prefix}:sub" (or :aud, :amr, :azp) instead`,
            );
        },
      },
    ],
  },
  {
    id: 'variables-need-2012',
    severity: 'error',
    title: 'policy variable in a pre-2012 policy',
    why: 'Policy variables are only substituted when Version is "2012-10-17"; otherwise "${...}" is literal text.',
    checks: [
      {
        order: 46,
        loop: 'condition',
        run: (c, _st, policy, report) => {
          if (!policy.v2012 && c.values.some((v) => /\$\{[^}]+\}/.test(v)))
            report(
              c.path,
              `${JSON.stringify(c.key)} uses a policy variable but Version is ${JSON.stringify(policy.doc.Version ?? '(absent)')}`,
              'set "Version": "2012-10-17"',
            );
        },
      },
    ],
  },
  {
    id: 'unknown-provider',
    severity: 'error',
    title: 'trusts a provider the config does not declare',
    why: "The STS only accepts tokens of the IAM OIDC providers declared in the config (in the role's own account and partition); a Federated principal naming another provider never matches a token.",
    checks: [
      {
        order: 50,
        loop: 'oidc-provider',
        run: (p, st, { context }, report) => {
          if (!context || !st.allow) return;
          const verdict = againstConfig(p, context);
          if (verdict && 'unknown' in verdict)
            report(federatedPath(st, p.arn), verdict.unknown.message, verdict.unknown.fix);
        },
      },
    ],
  },
  {
    id: 'aud-not-client-id',
    severity: 'error',
    title: ":aud condition outside the provider's ClientIDList",
    why: "A token must carry an audience from the provider's ClientIDList to be accepted at all; if the :aud condition allows none of them, no token can satisfy both.",
    checks: [
      {
        order: 51,
        loop: 'oidc-provider',
        run: (p, st, { context }, report) => {
          if (!context || !st.allow) return;
          const verdict = againstConfig(p, context);
          if (!verdict || !('declared' in verdict)) return;
          const { clientIds } = verdict.declared;
          const id = p.parsed.providerId;
          for (const c of st.conditions) {
            if (c.claim.toLowerCase() !== 'aud' || c.prefix.toLowerCase() !== id.toLowerCase()) continue;
            const op = c.op;
            if (!op || op.family !== 'String' || op.negated || op.qualifier === 'ForAllValues') continue;
            const ok = c.values.some((v) =>
              clientIds.some((cid) =>
                op.base === 'StringLike'
                  ? globMatch(v, cid)
                  : op.base === 'StringEqualsIgnoreCase'
                    ? v.toLowerCase() === cid.toLowerCase()
                    : v === cid,
              ),
            );
            if (!ok)
              report(
                c.path,
                `${c.operator} ${JSON.stringify(c.key)} allows ${JSON.stringify(c.values)}, but the provider accepts only the audiences ${JSON.stringify(clientIds)}`,
                `allow one of ${JSON.stringify(clientIds)} (usually "sts.amazonaws.com"), or add the audience to the provider's ClientIDList`,
              );
          }
        },
      },
    ],
  },
  {
    id: 'no-web-identity-statement',
    severity: 'info',
    title: 'no statement allows web identity',
    why: 'No Allow statement trusts an OIDC provider with sts:AssumeRoleWithWebIdentity, so IRSA cannot use this role.',
    checks: [
      {
        order: 70,
        loop: 'document',
        run: ({ statements }, report) => {
          // Only when no other finding already explains why web identity cannot work.
          const mentionsOidc = statements.some(
            (st) =>
              st.principalStar ||
              st.federated.some((f) => BUILTIN_PROVIDERS.has(f.toLowerCase()) || !f.startsWith('arn:')) ||
              [...st.federated, ...st.aws, ...st.service].some((v) => parseOidcProviderArn(v)),
          );
          if (!statements.some((st) => st.isWebIdentity) && !mentionsOidc && statements.length > 0)
            report(
              '$.Statement',
              'no Allow statement trusts an OIDC provider with sts:AssumeRoleWithWebIdentity',
              'add {"Effect": "Allow", "Principal": {"Federated": "<provider ARN>"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {...}}',
            );
        },
      },
    ],
  },
];

/** Every rule, its severity, and why it matters. */
export const LINT_RULES: Readonly<Record<string, LintRule>> = Object.fromEntries(
  RULES.map(({ id, severity, title, why }) => [id, { id, severity, title, why }]),
);

/** Every check with the rule it reports for, in the order they run. */
export const CHECKS = RULES.flatMap((rule) => rule.checks.map((check) => ({ rule, check }))).sort(
  (a, b) => a.check.order - b.check.order,
);
