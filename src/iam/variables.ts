/**
 * Policy variables (`${aws:username}`, `${key, 'default'}`, `${*}` `${?}` `${$}`) and wildcard patterns.
 * A pattern is compiled into tokens so that text substituted from a variable is always literal: a `*` in a
 * request value never becomes a wildcard.
 */
import type { ConditionValue } from './types.js';

export type Token = { kind: 'lit'; text: string; fromVariable: boolean } | { kind: 'star' } | { kind: 'one' };

export type Lookup = (key: string) => ConditionValue | undefined;

export type Resolved = { ok: true; tokens: Token[] } | { ok: false; variable: string; reason: string };

const VAR_RE = /\$\{([^}]*)\}/g;
const VAR_BODY_RE = /^\s*([^\s,']+)\s*(?:,\s*'([^']*)'\s*)?$/;

/** The `${...}` variables a text refers to (keys only, not the `${*}` escapes). */
export function variablesIn(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(VAR_RE)) {
    const body = m[1]!.trim();
    if (body === '*' || body === '?' || body === '$') continue;
    const v = VAR_BODY_RE.exec(m[1]!);
    if (v) out.push(v[1]!);
  }
  return out;
}

function pushLiteral(tokens: Token[], text: string, wildcards: boolean, fromVariable: boolean): void {
  if (text === '') return;
  if (!wildcards || fromVariable || !/[*?]/.test(text)) {
    tokens.push({ kind: 'lit', text, fromVariable });
    return;
  }
  let buf = '';
  for (const ch of text) {
    if (ch === '*' || ch === '?') {
      if (buf) tokens.push({ kind: 'lit', text: buf, fromVariable: false });
      buf = '';
      tokens.push({ kind: ch === '*' ? 'star' : 'one' });
    } else buf += ch;
  }
  if (buf) tokens.push({ kind: 'lit', text: buf, fromVariable: false });
}

/**
 * Compile a policy value. `wildcards`: `*` and `?` in the policy text are wildcards (StringLike, ArnLike,
 * Action, Resource). `variables`: substitute `${...}` (only for Version 2012-10-17 policies).
 * An unresolvable variable (key missing, multivalued, no default) makes the value unusable.
 */
export function resolvePattern(
  text: string,
  wildcards: boolean,
  variables: boolean,
  lookup: Lookup,
): Resolved {
  const tokens: Token[] = [];
  if (!variables || !text.includes('${')) {
    pushLiteral(tokens, text, wildcards, false);
    return { ok: true, tokens };
  }
  let last = 0;
  for (const m of text.matchAll(VAR_RE)) {
    const at = m.index ?? 0;
    pushLiteral(tokens, text.slice(last, at), wildcards, false);
    last = at + m[0].length;
    const body = m[1]!.trim();
    if (body === '*' || body === '?' || body === '$') {
      tokens.push({ kind: 'lit', text: body, fromVariable: true });
      continue;
    }
    const v = VAR_BODY_RE.exec(m[1]!);
    if (!v) {
      // Not a variable IAM would recognise: keep it as text.
      pushLiteral(tokens, m[0], wildcards, false);
      continue;
    }
    const key = v[1]!;
    const fallback = v[2];
    const value = lookup(key);
    // An empty string is "a null data set" (IAM user guide, multivalued context keys): no value, as if absent.
    if (typeof value === 'string' && value !== '')
      tokens.push({ kind: 'lit', text: value, fromVariable: true });
    else if (Array.isArray(value) && fallback === undefined) {
      return {
        ok: false,
        variable: m[0],
        reason: `\${${key}} is multivalued and cannot be used as a policy variable`,
      };
    } else if (fallback !== undefined) tokens.push({ kind: 'lit', text: fallback, fromVariable: true });
    else
      return {
        ok: false,
        variable: m[0],
        reason: `\${${key}} cannot be resolved: "${key}" is ${value === '' ? 'empty' : 'not'} in the request`,
      };
  }
  pushLiteral(tokens, text.slice(last), wildcards, false);
  return { ok: true, tokens };
}

/** The text a token list stands for (wildcards as `*` / `?`). */
export function tokensToText(tokens: Token[]): string {
  return tokens.map((t) => (t.kind === 'lit' ? t.text : t.kind === 'star' ? '*' : '?')).join('');
}

export function hasWildcard(tokens: Token[]): boolean {
  return tokens.some((t) => t.kind !== 'lit');
}

const STAR = 0;
const ONE = 1;

/** Wildcard match: `*` any run (including empty), `?` exactly one character. Linear-time greedy backtracking. */
export function matchTokens(tokens: Token[], input: string, ignoreCase = false): boolean {
  // Fast path: no wildcard, plain comparison (the common case for actions and exact values).
  if (tokens.every((t) => t.kind === 'lit')) {
    const text = tokens.map((t) => (t as { text: string }).text).join('');
    return ignoreCase ? text.toLowerCase() === input.toLowerCase() : text === input;
  }
  const pat: Array<string | number> = [];
  for (const t of tokens) {
    if (t.kind === 'star') {
      if (pat[pat.length - 1] !== STAR) pat.push(STAR);
    } else if (t.kind === 'one') pat.push(ONE);
    else for (const ch of ignoreCase ? t.text.toLowerCase() : t.text) pat.push(ch);
  }
  const s = Array.from(ignoreCase ? input.toLowerCase() : input);
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    const c = pat[p];
    if (p < pat.length && (c === ONE || c === s[i])) {
      p++;
      i++;
    } else if (p < pat.length && c === STAR) {
      starP = p++;
      starI = i;
    } else if (starP >= 0) {
      p = starP + 1;
      i = ++starI;
    } else return false;
  }
  while (p < pat.length && pat[p] === STAR) p++;
  return p === pat.length;
}

/** A pattern's `*` and `?` wildcards, its other text literal (`${...}` included: no variables here). */
export function wildcardTokens(pattern: string): Token[] {
  const tokens: Token[] = [];
  pushLiteral(tokens, pattern, true, false);
  return tokens;
}

/** Convenience: match a plain wildcard pattern (no variables). */
export function globMatch(pattern: string, input: string, ignoreCase = false): boolean {
  return matchTokens(wildcardTokens(pattern), input, ignoreCase);
}
