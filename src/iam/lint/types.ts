/** The shapes of `openirsa lint`: rules, findings, options, and the checks that the rule table registers. */
import type { Condition, OidcProvider, PolicyFacts, Statement } from './statements.js';

export type Severity = 'error' | 'warning' | 'info';

export interface LintRule {
  id: string;
  severity: Severity;
  title: string;
  why: string;
}

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

/** Records one finding of the rule the check belongs to; the severity is the rule's unless given. */
export type Report = (path: string, message: string, fix: string, severity?: Severity) => void;

/** The input as given, and what it parsed to. */
export interface PolicyInput {
  doc: unknown;
  /** Why the JSON text did not parse; nothing else is checked then. */
  syntaxError?: string;
  maxSize?: number;
}

/** A Federated principal a statement trusts for web identity: a built-in provider's host or an OIDC provider. */
export type TrustedProvider = { builtin: string } | { oidc: OidcProvider };

/**
 * One check of a rule. `order` places it in the run: `input` first, then per statement every statement-level loop
 * in order, then `document`. Consecutive checks of the same loop take turns per item (per condition, per value...),
 * so findings come out grouped by the thing they are about.
 */
export type Check = { order: number } & (
  | { loop: 'input'; run: (input: PolicyInput, report: Report) => void }
  | { loop: 'statement'; run: (st: Statement, policy: PolicyFacts, report: Report) => void }
  | { loop: 'trusted-provider'; run: (p: TrustedProvider, st: Statement, report: Report) => void }
  | {
      loop: 'oidc-provider';
      run: (p: OidcProvider, st: Statement, policy: PolicyFacts, report: Report) => void;
    }
  | { loop: 'condition'; run: (c: Condition, st: Statement, policy: PolicyFacts, report: Report) => void }
  /** Each value of a condition, inside the condition loop. */
  | { loop: 'value'; run: (v: string, i: number, c: Condition, st: Statement, report: Report) => void }
  | { loop: 'document'; run: (policy: PolicyFacts, report: Report) => void }
);

export interface RuleDefinition extends LintRule {
  checks: Check[];
}
