/**
 * `openirsa lint`: static checks on role trust policies for the IRSA mistakes that let the wrong workload in
 * or keep the right one out (docs/iam.md). Works on the raw JSON so that it can still point at mistakes in
 * a document IAM would reject. The rules are in rules.ts; this runs them.
 */
import { decodePolicyText } from '../policy.js';
import { CHECKS } from './rules.js';
import { isObject, policyFacts, type Condition, type PolicyFacts, type Statement } from './statements.js';
import type { Check, LintFinding, LintOptions, Report, RuleDefinition, TrustedProvider } from './types.js';

type Bound = { rule: RuleDefinition; check: Check };

/** Runs of consecutive checks that loop over the same items (`value` loops run inside `condition` ones). */
function runsOf(checks: Bound[], same: (a: Check, b: Check) => boolean): Bound[][] {
  const runs: Bound[][] = [];
  for (const c of checks) {
    const last = runs.at(-1);
    if (last && same(last[0]!.check, c.check)) last.push(c);
    else runs.push([c]);
  }
  return runs;
}

const levelOf = (c: Check): string => (c.loop === 'value' ? 'condition' : c.loop);

function trustedProviders(st: Statement): TrustedProvider[] {
  return [...st.builtins.map((builtin) => ({ builtin })), ...st.providers.map((oidc) => ({ oidc }))];
}

function runOnCondition(
  run: Bound[],
  c: Condition,
  st: Statement,
  policy: PolicyFacts,
  report: (r: RuleDefinition) => Report,
): void {
  for (const part of runsOf(run, (a, b) => a.loop === b.loop)) {
    if (part[0]!.check.loop === 'value') {
      c.values.forEach((v, i) => {
        for (const { rule, check } of part) if (check.loop === 'value') check.run(v, i, c, st, report(rule));
      });
    } else {
      for (const { rule, check } of part)
        if (check.loop === 'condition') check.run(c, st, policy, report(rule));
    }
  }
}

function runOnStatement(
  run: Bound[],
  st: Statement,
  policy: PolicyFacts,
  report: (r: RuleDefinition) => Report,
): void {
  switch (run[0]!.check.loop) {
    case 'statement':
      for (const { rule, check } of run) if (check.loop === 'statement') check.run(st, policy, report(rule));
      return;
    case 'trusted-provider':
      for (const p of trustedProviders(st))
        for (const { rule, check } of run)
          if (check.loop === 'trusted-provider') check.run(p, st, report(rule));
      return;
    case 'oidc-provider':
      for (const p of st.providers)
        for (const { rule, check } of run)
          if (check.loop === 'oidc-provider') check.run(p, st, policy, report(rule));
      return;
    default:
      for (const c of st.conditions) runOnCondition(run, c, st, policy, report);
  }
}

/** The per-statement checks, in runs that share one loop. */
const PER_STATEMENT = runsOf(
  CHECKS.filter(({ check }) => check.loop !== 'input' && check.loop !== 'document'),
  (a, b) => levelOf(a) === levelOf(b),
);

/** Lint one trust policy document (object, JSON text, or URL-encoded JSON as `aws iam get-role` gives). */
export function lintTrustPolicy(input: unknown, options: LintOptions = {}): LintFinding[] {
  const findings: LintFinding[] = [];
  const report =
    (rule: RuleDefinition): Report =>
    (path, message, fix, severity) =>
      findings.push({
        ruleId: rule.id,
        severity: severity ?? rule.severity,
        path,
        message,
        why: rule.why,
        fix,
      });

  let doc: unknown = input;
  let syntaxError: string | undefined;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(decodePolicyText(input));
    } catch (err) {
      syntaxError = err instanceof Error ? err.message : String(err);
    }
  }
  const parsed = { doc, syntaxError, ...(options.maxSize === undefined ? {} : { maxSize: options.maxSize }) };
  for (const { rule, check } of CHECKS) if (check.loop === 'input') check.run(parsed, report(rule));
  if (syntaxError !== undefined || !isObject(doc)) return findings;

  const policy = policyFacts(doc, options.context);
  for (const st of policy.statements)
    for (const run of PER_STATEMENT) runOnStatement(run, st, policy, report);
  for (const { rule, check } of CHECKS) if (check.loop === 'document') check.run(policy, report(rule));
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
