/** Lint findings as SARIF 2.1.0, the format code-scanning tools (GitHub, GitLab, IDEs) read. */
import { relative, sep } from 'node:path';
import type { Log, ReportingDescriptor, Result } from 'sarif';
import { LINT_RULES } from './rules.js';
import type { LintFinding } from './types.js';

/** A finding with the file it is in and, when found, its line and column there. */
export interface LocatedFinding extends LintFinding {
  file: string;
  line?: number;
  column?: number;
}

/** The file as a URI relative to `cwd` when it is under it (code scanning resolves it against the checkout). */
function artifactUri(file: string, cwd: string): string {
  if (file === 'stdin') return 'stdin';
  const rel = relative(cwd, file);
  const p = rel.startsWith('..') ? file : rel;
  return encodeURI(p.split(sep).join('/'));
}

const SARIF_LEVEL = { error: 'error', warning: 'warning', info: 'note' } as const;

/** SARIF 2.1.0: one run, every rule described, one result per finding; file paths relative to `cwd`. */
export function toSarif(findings: LocatedFinding[], cwd: string): Log {
  const rules = Object.values(LINT_RULES);
  const index = new Map(rules.map((r, i) => [r.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'openirsa',
            version: '0.1.0',
            informationUri: 'https://github.com/openirsa/openirsa',
            rules: rules.map((r): ReportingDescriptor => ({
              id: r.id,
              name: r.id.replace(/(^|-)([a-z0-9])/g, (_m, _d, ch: string) => ch.toUpperCase()),
              shortDescription: { text: r.title },
              fullDescription: { text: r.why },
              defaultConfiguration: { level: SARIF_LEVEL[r.severity] },
              help: { text: r.why },
            })),
          },
        },
        results: findings.map((f): Result => ({
          ruleId: f.ruleId,
          ruleIndex: index.get(f.ruleId) ?? 0,
          level: SARIF_LEVEL[f.severity],
          message: { text: `${f.message}. Fix: ${f.fix}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: artifactUri(f.file, cwd) },
                ...(f.line ? { region: { startLine: f.line, startColumn: f.column ?? 1 } } : {}),
              },
              logicalLocations: [{ fullyQualifiedName: f.path, kind: 'element' }],
            },
          ],
          properties: { jsonPath: f.path, fix: f.fix, ...(f.role ? { role: f.role } : {}) },
        })),
      },
    ],
  };
}
