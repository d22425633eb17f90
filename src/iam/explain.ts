/**
 * Explanations: turn an evaluation into what `openirsa explain` prints (text) or returns (JSON): the decision,
 * every statement's elements with reasons, and the fix a user most likely needs for the usual IRSA mistakes.
 */
import { terminalSafe } from '../escape.js';
import type {
  ConditionResult,
  Decision,
  ElementResult,
  EvaluationResult,
  RequestContext,
  StatementResult,
} from './types.js';
import { parseOidcProviderArn } from './arn.js';
import type { MultiEvaluationResult } from './evaluate.js';
import { childPath } from './policy.js';
import { globMatch } from './variables.js';

export interface Fix {
  /** JSON path of the element to change (prefixed by the policy name for several policies). */
  path: string;
  problem: string;
  fix: string;
}

export interface ExplainedStatement extends StatementResult {
  /** The policy the statement belongs to, when several were evaluated. */
  policy?: string;
}

export interface Explanation {
  decision: Decision;
  allowed: boolean;
  summary: string;
  request: {
    action: string;
    principal?: RequestContext['principal'];
    resource?: string;
    conditionKeys: RequestContext['conditionKeys'];
  };
  statements: ExplainedStatement[];
  /** Most likely fixes first. Empty when allowed. */
  fixes: Fix[];
}

const q = (s: string): string => JSON.stringify(s);
const list = (xs: string[]): string => (xs.length === 1 ? q(xs[0]!) : `[${xs.map(q).join(', ')}]`);
const SA_RE = /^system:serviceaccount:([^:]+):([^:]+)$/;

function label(st: ExplainedStatement): string {
  const where = st.policy ? `${st.policy} ${st.path}` : st.path;
  return `${where}${st.sid ? ` (Sid ${q(st.sid)})` : ''}`;
}

function fullPath(st: ExplainedStatement, suffix = ''): string {
  return `${st.policy ? `${st.policy}:` : ''}${st.path}${suffix}`;
}

/** Explain one policy's evaluation. */
export function explain(result: EvaluationResult, request: RequestContext): Explanation {
  return build(result.decision, result.statements, request);
}

/** Explain the evaluation of several permission policies. */
export function explainPolicies(result: MultiEvaluationResult, request: RequestContext): Explanation {
  const statements = result.policies.flatMap((p) =>
    p.result.statements.map((s) => ({ ...s, policy: p.name })),
  );
  return build(result.decision, statements, request);
}

function build(decision: Decision, statements: ExplainedStatement[], request: RequestContext): Explanation {
  const req: Explanation['request'] = { action: request.action, conditionKeys: request.conditionKeys };
  if (request.principal) req.principal = request.principal;
  if (request.resource !== undefined) req.resource = request.resource;
  const fixes: Fix[] = [];
  let summary: string;
  if (decision === 'Allow') {
    const by = statements.filter((s) => s.matched && s.effect === 'Allow').map(label);
    summary = `allowed: ${request.action} is allowed by ${by.join(', ')}`;
  } else if (decision === 'ExplicitDeny') {
    const denies = statements.filter((s) => s.matched && s.effect === 'Deny');
    summary = `denied (explicit deny): ${denies.map(label).join(', ')} matches the request and overrides every Allow`;
    for (const d of denies) {
      fixes.push({
        path: fullPath(d),
        problem: `the Deny statement ${label(d)} matches: ${d.elements.map((e) => e.reason).join('; ')}`,
        fix: 'an explicit Deny always wins: narrow its Condition (or remove it) if this caller should be allowed',
      });
    }
  } else {
    const allows = statements.filter((s) => s.effect === 'Allow');
    if (allows.length === 0) {
      summary = 'denied (implicit deny): the policy has no Allow statement';
      fixes.push({
        path: statements[0]?.path ?? '$.Statement',
        problem: 'no statement allows anything',
        fix: `add an Allow statement for ${q(request.action)}`,
      });
    } else {
      const failing = (s: StatementResult): number => s.elements.filter((e) => !e.matched).length;
      const best = Math.min(...allows.map(failing));
      const nearest = allows.filter((s) => failing(s) === best);
      summary = `denied (implicit deny): no Allow statement matches; nearest: ${nearest.map(label).join(', ')}`;
      for (const st of nearest) {
        for (const el of st.elements) if (!el.matched) fixes.push(...diagnose(st, el, request));
      }
    }
  }
  return { decision, allowed: decision === 'Allow', summary, request: req, statements, fixes };
}

// ---------------------------------------------------------------- diagnosis of one failing element

function diagnose(st: ExplainedStatement, el: ElementResult, request: RequestContext): Fix[] {
  const path = fullPath(st, `.${el.element}`);
  if (el.undetermined && el.element !== 'Condition') {
    return [
      {
        path,
        problem: el.reason,
        fix: "write an entry whose match can be decided: variables the request has (or with a default, ${key, 'default'}), in the resource part after the fifth colon, and an ARN of six parts with partition, service and region in lowercase",
      },
    ];
  }
  switch (el.element) {
    case 'Principal':
      return [diagnosePrincipal(path, st, el, request)];
    case 'Action':
    case 'NotAction':
      return [diagnoseAction(path, el, request)];
    case 'Condition':
      return (el.conditions ?? []).filter((c) => !c.matched).map((c) => diagnoseCondition(st, c, request));
    case 'Resource':
      return [
        {
          path,
          problem: el.reason,
          fix:
            request.resource === undefined
              ? 'the request names no resource: only "Resource": "*" covers it'
              : `add ${q(request.resource)} (or a pattern covering it) to Resource`,
        },
      ];
    default:
      return [
        { path, problem: el.reason, fix: `change ${el.element} so that it excludes less of the request` },
      ];
  }
}

function diagnosePrincipal(
  path: string,
  _st: ExplainedStatement,
  el: ElementResult,
  request: RequestContext,
): Fix {
  const p = request.principal;
  const fix = (problem: string, f: string): Fix => ({ path, problem, fix: f });
  if (!p) return fix(el.reason, 'the request has no principal; trust policies need one');
  if (p.type === 'Federated') {
    const r = parseOidcProviderArn(p.id);
    const spec = el.principal && el.principal !== '*' ? el.principal : {};
    const trusted = (spec.Federated ?? []).filter((a) => a !== p.id);
    const misplaced = [...(spec.AWS ?? []), ...(spec.Service ?? [])];
    if (trusted.length === 0 && misplaced.length > 0) {
      return fix(
        el.reason,
        `a web identity caller is a Federated principal: use "Principal": {"Federated": ${q(p.id)}} (an OIDC provider ARN is never an AWS principal)`,
      );
    }
    for (const t of trusted) {
      const f = parseOidcProviderArn(t);
      if (!r || !f) continue;
      if (f.providerId.replace(/\/$/, '') === r.providerId.replace(/\/$/, '') && f.account === r.account) {
        return fix(
          `the trusted provider ${q(t)} and the token's provider ${q(p.id)} differ only by a trailing slash`,
          `IAM matches the issuer exactly, slash included: make the token's iss, the IAM OIDC provider URL and the Federated principal agree (use ${q(p.id)} or re-create the provider)`,
        );
      }
      if (f.account !== r.account) {
        return fix(
          `the role trusts a provider in account ${f.account}, the token's provider is in account ${r.account}`,
          `IAM OIDC providers are per account: trust ${q(p.id)} (the provider in the role's account)`,
        );
      }
      if (f.partition !== r.partition) {
        return fix(
          `the trusted provider is in partition ${f.partition}, the token's provider in ${r.partition}`,
          `use the partition of the role's account: ${q(p.id)}`,
        );
      }
      if (f.host === r.host) {
        return fix(
          `the role trusts ${q(f.providerId)} but the token was issued by ${q(r.providerId)} (same host, another cluster or issuer path)`,
          `set the Federated principal to ${q(p.id)} — and the condition keys to "${r.providerId}:sub" / ":aud"`,
        );
      }
      return fix(
        `the role trusts the issuer https://${f.providerId} but the token was issued by https://${r.providerId}`,
        `set the Federated principal to ${q(p.id)} and rename the condition keys to "${r.providerId}:…", or mint the token from the trusted issuer`,
      );
    }
    return fix(el.reason, `add ${q(p.id)} to Principal.Federated`);
  }
  return fix(el.reason, `add ${q(p.id)} (or its account) to Principal.${p.type}`);
}

function diagnoseAction(path: string, el: ElementResult, request: RequestContext): Fix {
  const a = request.action.toLowerCase();
  const listed = (el.values ?? []).map((v) => v.toLowerCase());
  if (a === 'sts:assumerolewithwebidentity' && el.element === 'Action' && listed.includes('sts:assumerole')) {
    return {
      path,
      problem:
        'the statement allows sts:AssumeRole, which is for AWS principals; a web identity token calls AssumeRoleWithWebIdentity',
      fix: 'use "Action": "sts:AssumeRoleWithWebIdentity"',
    };
  }
  if (a === 'sts:tagsession') {
    return {
      path,
      problem:
        'the token carries session tags (claim https://aws.amazon.com/tags), which requires sts:TagSession',
      fix: 'add "sts:TagSession" to the Action of the Allow statement, or stop sending tags in the token',
    };
  }
  if (a === 'sts:setsourceidentity') {
    return {
      path,
      problem:
        'the token carries a source identity (claim https://aws.amazon.com/source_identity), which requires sts:SetSourceIdentity',
      fix: 'add "sts:SetSourceIdentity" to the Action of the Allow statement',
    };
  }
  return { path, problem: el.reason, fix: `add ${q(request.action)} to Action` };
}

function splitKey(key: string): { prefix: string; claim: string } {
  const i = key.lastIndexOf(':');
  return { prefix: key.slice(0, i), claim: key.slice(i + 1) };
}

const CLAIMS = new Set(['sub', 'aud', 'amr', 'azp']);

function diagnoseCondition(st: ExplainedStatement, c: ConditionResult, request: RequestContext): Fix {
  const path = childPath(childPath(fullPath(st, '.Condition'), c.operator), c.key);
  const fix = (problem: string, f: string): Fix => ({ path, problem, fix: f });
  const { prefix, claim } = splitKey(c.key);
  const base = c.operator.replace(/^For(Any|All)Values:/, '').replace(/IfExists$/, '');

  if (c.requestValues === undefined) {
    const sameClaim = Object.keys(request.conditionKeys).filter((k) => {
      const s = splitKey(k);
      return s.claim.toLowerCase() === claim.toLowerCase() && s.prefix.toLowerCase() !== prefix.toLowerCase();
    });
    const other = sameClaim[0];
    if (other !== undefined) {
      const op = splitKey(other).prefix;
      if (prefix.replace(/^https:\/\//, '') === op) {
        return fix(
          `condition key ${q(c.key)} starts with https://, so it is never in a request`,
          `use ${q(other)} (the provider URL without https://)`,
        );
      }
      if (prefix.replace(/\/$/, '') === op.replace(/\/$/, '')) {
        return fix(
          `condition key ${q(c.key)} and the token's provider ${q(op)} differ only by a trailing slash, so the key is missing`,
          `use ${q(other)}; the key prefix must be the provider URL exactly as registered`,
        );
      }
      return fix(
        `condition key ${q(c.key)} names provider ${q(prefix)}, but the token comes from ${q(op)}, so the key is missing and ${c.operator} fails`,
        `rename the key to ${q(other)} (the condition-key prefix must be the token's issuer without https://)`,
      );
    }
    if (request.principal?.type === 'Federated' && prefix.includes('.') && !CLAIMS.has(claim.toLowerCase())) {
      return fix(
        `${q(c.key)} is not in the request: IAM exposes only aud, sub, amr and azp (plus a few issuer-specific claims) as condition keys, not custom claims`,
        `condition on "${prefix}:sub" or "${prefix}:aud" instead`,
      );
    }
    return fix(
      c.reason,
      `the request has no ${q(c.key)}: use ${base}IfExists if it is optional, or remove the condition`,
    );
  }

  const req = c.requestValues;
  if (
    (base === 'StringEquals' || base === 'StringEqualsIgnoreCase') &&
    c.policyValues.some((v) => /[*?]/.test(v))
  ) {
    const literal = c.policyValues.filter((v) => /[*?]/.test(v));
    const like = literal.some((v) => req.some((r) => globMatch(v, r)));
    return fix(
      `${base} compares literally: ${list(literal)} contains a wildcard that only matches the character itself${like ? ` (as a pattern it would match ${list(req)})` : ''}`,
      `use "StringLike" for wildcard values`,
    );
  }
  if (claim.toLowerCase() === 'sub') {
    const token = SA_RE.exec(req[0] ?? '');
    if (token) {
      const [, ns, sa] = token;
      const nss = c.policyValues.map((v) => SA_RE.exec(v)).filter((m): m is RegExpExecArray => !!m);
      const wanted = `system:serviceaccount:${ns}:${sa}`;
      if (nss.length > 0 && !nss.some((m) => globMatch(m[1]!, ns!))) {
        return fix(
          `the token is for ServiceAccount ${ns}/${sa}, but ${q(c.key)} allows namespace(s) ${list([...new Set(nss.map((m) => m[1]!))])}`,
          `allow ${q(wanted)} in the condition, or run the pod in the namespace the role trusts`,
        );
      }
      if (nss.length > 0) {
        return fix(
          `the token is for ServiceAccount ${ns}/${sa}, but ${q(c.key)} allows ${list(c.policyValues)}`,
          `allow ${q(wanted)} in the condition, or annotate the ServiceAccount the role trusts instead`,
        );
      }
      if (c.policyValues.some((v) => v.toLowerCase() === wanted.toLowerCase())) {
        return fix(
          `values are case-sensitive: token sub ${q(wanted)} vs ${list(c.policyValues)}`,
          `write ${q(wanted)} exactly`,
        );
      }
      return fix(
        `the token's sub is ${q(wanted)}, the condition allows ${list(c.policyValues)} (not of the form system:serviceaccount:<namespace>:<name>)`,
        `use ${q(wanted)}`,
      );
    }
  }
  if (claim.toLowerCase() === 'aud') {
    return fix(
      `the token's audience is ${list(req)} but ${q(c.key)} expects ${list(c.policyValues)}`,
      `make them agree: the webhook requests the audience from the eks.amazonaws.com/audience annotation (default "sts.amazonaws.com")`,
    );
  }
  if (base.startsWith('String') && !/IgnoreCase/.test(base)) {
    const ci = c.policyValues.find((v) => req.some((r) => r.toLowerCase() === v.toLowerCase()));
    if (ci !== undefined) {
      return fix(
        `values are case-sensitive: ${q(ci)} vs ${list(req)}`,
        `fix the case, or use StringEqualsIgnoreCase`,
      );
    }
  }
  return fix(
    c.reason,
    `change the ${c.operator} values for ${q(c.key)} to cover ${list(req)}, or send a request that matches`,
  );
}

// ---------------------------------------------------------------- text

/** `?`: undetermined (an unresolvable variable, an ARN AWS documents no reading for). */
const mark = (b: boolean, undetermined = false): string => (b ? '✓' : undetermined ? '?' : '✗');

/** The text `openirsa explain` prints. */
export function formatExplanation(e: Explanation): string {
  const out: string[] = [];
  out.push(`decision: ${e.decision === 'Allow' ? 'ALLOWED' : 'DENIED'} (${e.decision})`);
  out.push(`  ${e.summary}`);
  const who = e.request.principal ? ` by ${e.request.principal.type} ${e.request.principal.id}` : '';
  out.push(`request: ${e.request.action}${who}${e.request.resource ? ` on ${e.request.resource}` : ''}`);
  for (const [k, v] of Object.entries(e.request.conditionKeys))
    out.push(`  ${k} = ${Array.isArray(v) ? list(v) : q(v)}`);
  out.push('statements:');
  for (const st of e.statements) {
    out.push(
      `  ${mark(st.matched)} ${label(st)} ${st.effect}${st.matched ? ' — applies' : ' — does not apply'}`,
    );
    for (const el of st.elements) {
      if (el.conditions) {
        out.push(`      ${mark(el.matched, el.undetermined)} Condition`);
        for (const c of el.conditions)
          out.push(`          ${mark(c.matched, c.undetermined)} ${c.operator} ${c.key}: ${c.reason}`);
      } else out.push(`      ${mark(el.matched, el.undetermined)} ${el.element}: ${el.reason}`);
    }
  }
  if (e.fixes.length > 0) {
    out.push(e.fixes.length === 1 ? 'most likely fix:' : 'most likely fixes:');
    for (const f of e.fixes) {
      out.push(`  - at ${f.path}: ${f.problem}`);
      out.push(`    fix: ${f.fix}`);
    }
  }
  // Values from tokens and requests are in these lines: nothing in them may reach a terminal as a control.
  return out.map(terminalSafe).join('\n');
}
