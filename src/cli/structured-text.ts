/**
 * JSON or YAML input files (policies, roles, configs) parsed with the position of the first syntax error, so that a
 * command can say `FILE:LINE:COL: not valid JSON: …` on one line. `.json` files are JSON only (what IAM parses;
 * YAML would accept e.g. a trailing comma), `.yaml`/`.yml` YAML, anything else (stdin) JSON when it starts like
 * JSON and YAML otherwise.
 */
import { parseDocument } from 'yaml';
import { OpenIrsaError, messageOf } from '../errors.js';

export class SyntaxPositionError extends OpenIrsaError {
  constructor(
    readonly format: 'JSON' | 'YAML',
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super('SyntaxInvalid', `${line}:${column}: not valid ${format}: ${reason}`);
  }
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
}

const failsWithin = (text: string, k: number): boolean => {
  try {
    JSON.parse(text.slice(0, k));
    return false;
  } catch (err) {
    const m = messageOf(err);
    const at = /at position (\d+)/.exec(m);
    return !/Unexpected end of JSON input/.test(m) && (at === null || Number(at[1]) < k);
  }
};

/**
 * The offset of JSON.parse's error. V8 names it ("at position N") for most errors but not for "Unexpected token";
 * then the shortest prefix that fails before its end ends just past the offending character (every shorter prefix
 * is a valid beginning, which fails only for ending early).
 */
export function jsonErrorOffset(text: string, message: string): number {
  const at = /at position (\d+)/.exec(message);
  if (at) return Number(at[1]);
  if (/Unexpected end of JSON input/.test(message)) return text.length;
  let lo = 1;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (failsWithin(text, mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo - 1;
}

/** V8's reason without its position or its quote of the input (which can span lines). */
function jsonReason(message: string): string {
  return message
    .replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, '')
    .replace(/ in JSON at position \d+( \(line \d+ column \d+\))?$/, '');
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = messageOf(err);
    const { line, column } = lineColumn(text, jsonErrorOffset(text, message));
    throw new SyntaxPositionError('JSON', line, column, jsonReason(message));
  }
}

export function parseYamlText(text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const e = doc.errors[0];
  if (e) {
    const { line, column } = lineColumn(text, e.pos[0]);
    // yaml's messages end with " at line L, column C:" and a quote of the source; keep the reason.
    throw new SyntaxPositionError(
      'YAML',
      line,
      column,
      e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
    );
  }
  return doc.toJS() as unknown;
}

/** Parses by the file's extension (JSON for .json, YAML for .yaml/.yml), else by how the text starts. */
export function parseStructured(file: string, text: string): unknown {
  if (/\.json$/i.test(file)) return parseJson(text);
  if (/\.ya?ml$/i.test(file)) return parseYamlText(text);
  return /^\s*[[{]/.test(text) ? parseJson(text) : parseYamlText(text);
}
