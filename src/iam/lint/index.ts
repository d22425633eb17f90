/** Trust-policy lint: the rule table, the runner, and the renderers that locate findings in files and write SARIF. */
export type { LintContext, LintFinding, LintOptions, LintRule, Severity } from './types.js';
export { LINT_RULES } from './rules.js';
export { lintRoles, lintTrustPolicy, type RoleInput } from './lint.js';
export { locator, pathSegments } from './locate.js';
export { toSarif, type LocatedFinding } from './sarif.js';
