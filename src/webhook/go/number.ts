/**
 * Lossless JSON numbers, as Go's encoding/json sees them.
 *
 * Go decodes an integer field from the number's exact text (strconv.ParseInt), keeps a Quantity's text, and an
 * AdmissionReview's RawExtension keeps every byte. JSON.parse turns every number into a double, so
 * `9223372036854775807` (a valid int64) becomes 2^63 (out of range) and `9007199254740993` becomes `…992`.
 *
 * parseGoJsonLossless keeps every number whose double does not print back as its source text (`1e3`, `1.0`,
 * `-0`, `9007199254740993`) as a GoNumber holding that text; every other number is a plain JS number, which is then
 * exact and prints as its source. parseGoJson decides with a regular-expression scan whether that pass is needed.
 * The admission path does cheaper still: it parses with JSON.parse, and only when the encoder meets a number that
 * is not an exact integer (isExactInteger: a fraction, beyond 2^53, -0) parses the body again, losslessly.
 */
import { randomBytes } from 'node:crypto';

/** A JSON number whose double would not print back as its source text; `text` is that text, verbatim. */
export class GoNumber {
  constructor(readonly text: string) {}
}

/** A decoded JSON object (not an array, not null, not a GoNumber). */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof GoNumber);
}

/** A JSON number, plain or lossless. */
export function isJsonNumber(v: unknown): v is number | GoNumber {
  return typeof v === 'number' || v instanceof GoNumber;
}

/**
 * A plain number whose every JSON spelling is exact and whose value Go's int parser reads the same: a safe integer
 * other than -0. (It may still have been written `1e3` or `1.0`, which Go refuses in an int field; the API server
 * never sends those.)
 */
export function isExactInteger(v: number): boolean {
  return Number.isSafeInteger(v) && !(v === 0 && 1 / v < 0);
}

/** The source text of a JSON number (a plain number prints as its source, see parseGoJsonLossless). */
export function numberText(v: number | GoNumber): string {
  return typeof v === 'number' ? String(v) : v.text;
}

/** A Go integer type's range: exact bounds, and the same as doubles (`lo` ≤ v < `hi`) for plain numbers. */
export interface GoIntRange {
  min: bigint;
  max: bigint;
  lo: number;
  hi: number;
}
export const INT32_RANGE: GoIntRange = {
  min: -(2n ** 31n),
  max: 2n ** 31n - 1n,
  lo: -(2 ** 31),
  hi: 2 ** 31,
};
export const INT64_RANGE: GoIntRange = {
  min: -(2n ** 63n),
  max: 2n ** 63n - 1n,
  lo: -(2 ** 63),
  hi: 2 ** 63,
};

const DECIMAL_INT = /^-?[0-9]+$/;

/**
 * strconv.ParseInt(text, 10, bits) for a JSON number as encoding/json does it for an int field: the exact
 * value, or undefined when Go fails (a fraction or exponent, or out of range).
 */
export function goIntOf(v: number | GoNumber, range: GoIntRange): bigint | undefined {
  const text = numberText(v);
  if (!DECIMAL_INT.test(text)) return undefined;
  const n = BigInt(text);
  return n < range.min || n > range.max ? undefined : n;
}

/**
 * A number whose double might not print back as its text: a fraction or exponent, 16 or more digits, or `-0`.
 * Matched only where a number can stand in JSON (after `:`, `,` or `[`, before `,`, `}` or `]`), so that
 * ordinary strings (`nginx:1.25`, `web-0`) do not trigger the lossless pass; a string that happens to look like
 * that only costs the slower, still exact, pass.
 */
const MAYBE_LOSSY =
  /(?:^|[:,[])[ \t\r\n]*(?:-?[0-9]+(?:\.[0-9]+)?[eE][-+]?[0-9]+|-?[0-9]+\.[0-9]+|-?[0-9]{16,}|-0)[ \t\r\n]*(?:[,}\]]|$)/;

/**
 * JSON.parse with Go's view of numbers (see the module comment). Throws what JSON.parse throws for invalid JSON;
 * duplicate keys, `__proto__` keys and nesting behave exactly as in JSON.parse.
 */
export function parseGoJson(text: string): unknown {
  const fast = JSON.parse(text) as unknown;
  if (!MAYBE_LOSSY.test(text)) return fast;
  return parseGoJsonLossless(text);
}

/**
 * The lossless pass: each number token whose double does not print as its text is replaced by a string holding a
 * per-call random marker and the token's index; the native parser then does the real work (its exact semantics
 * for duplicate keys, `__proto__`, depth), and a walk turns the marked strings into GoNumbers. A pod cannot forge
 * a marker it cannot know.
 */
export function parseGoJsonLossless(text: string): unknown {
  const marker = '\u0000' + randomBytes(12).toString('hex') + ':';
  const tokens: string[] = [];
  let out = '';
  let last = 0;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // skip a string (the text is valid JSON: every string is closed)
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if ((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d)
          i++;
        else break;
      }
      const token = text.slice(start, i);
      if (String(Number(token)) !== token) {
        out += text.slice(last, start) + JSON.stringify(marker + tokens.length);
        tokens.push(token);
        last = i;
      }
      continue;
    }
    i++;
  }
  if (tokens.length === 0) return JSON.parse(text) as unknown;
  out += text.slice(last);
  const root = JSON.parse(out) as unknown;
  const revive = (v: unknown): unknown =>
    typeof v === 'string' && v.startsWith(marker) ? new GoNumber(tokens[Number(v.slice(marker.length))]!) : v;
  // Iterative: JSON.parse accepts nesting as deep as Go does (10000), deeper than recursion can go.
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (let k = 0; k < v.length; k++) {
        const e = v[k] as unknown;
        if (e !== null && typeof e === 'object') stack.push(e);
        else if (typeof e === 'string') v[k] = revive(e);
      }
    } else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const e = o[k];
        if (e !== null && typeof e === 'object') stack.push(e);
        else if (typeof e === 'string') o[k] = revive(e);
      }
    }
  }
  return revive(root);
}

/**
 * Set when a plain number (from JSON.parse) that is not an exact integer was read or written: its source text may
 * differ from what a double prints, so the caller must parse the body again with parseGoJsonLossless.
 */
let inexact = false;
/** Note a plain number read or written: flags it when it is not an exact integer. */
export const noteNumber = (v: number): void => {
  if (!isExactInteger(v)) inexact = true;
};
/** Read and clear the flag (see `inexact`). */
export function takeInexactNumber(): boolean {
  const seen = inexact;
  inexact = false;
  return seen;
}
