/**
 * Go encoding/json's string and map-key rules: HTML-safe escaping, U+2028/2029, invalid UTF-16 as U+FFFD, map keys
 * in UTF-8 byte order, and values of unknown fields encoded as Go writes an `interface{}`.
 */
import { GoNumber, noteNumber } from './number.js';

const NEEDS_GO_ESCAPE = /[<>&\u2028\u2029]/;
const GO_ESCAPE_ALL = /[<>&\u2028\u2029]/g;
const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** Go encoding/json string encoding (HTML-safe escaping, U+2028/2029, invalid UTF-16 → U+FFFD). */
interface WellFormed {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

export function goString(s: string): string {
  // Fast path (almost every string in a pod): printable ASCII needing no escape at all.
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) {
      plain = false;
      break;
    }
  }
  if (plain) return '"' + s + '"';
  // Node 20 has these (ES2024); Go replaces unpaired surrogates with U+FFFD.
  const w = s as unknown as WellFormed;
  if (!w.isWellFormed()) s = w.toWellFormed();
  const out = JSON.stringify(s);
  return NEEDS_GO_ESCAPE.test(out) ? out.replace(GO_ESCAPE_ALL, (c) => GO_ESCAPES[c] as string) : out;
}

/** Byte-wise (UTF-8, i.e. code point) order, which is how Go sorts map keys. */
export function goKeyCompare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (astral code points) sort after every BMP character in UTF-8.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function goScalar(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return goString(v);
    case 'number':
      noteNumber(v);
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      return v instanceof GoNumber ? v.text : 'null';
    default:
      return 'null';
  }
}

interface Frame {
  /** The array, or the object's values in key order. */
  values: unknown[];
  /** The object's encoded keys (`"k":`), undefined for arrays. */
  keys: string[] | undefined;
  next: number;
}

/**
 * Encode an arbitrary decoded JSON value (an unknown field) with Go's escaping, keeping its key order.
 * Iterative: JSON.parse accepts nesting as deep as Go does (10000), which recursion (even JSON.stringify's)
 * cannot print.
 */
export function goAny(root: unknown): string {
  if (root === null || typeof root !== 'object' || root instanceof GoNumber) return goScalar(root);
  let out = '';
  const stack: Frame[] = [];
  const open = (v: object): void => {
    if (Array.isArray(v)) {
      out += '[';
      stack.push({ values: v, keys: undefined, next: 0 });
    } else {
      const o = v as Record<string, unknown>;
      const ks = Object.keys(o);
      out += '{';
      stack.push({ values: ks.map((k) => o[k]), keys: ks.map((k) => goString(k) + ':'), next: 0 });
    }
  };
  open(root);
  while (stack.length > 0) {
    const f = stack[stack.length - 1] as Frame;
    if (f.next === f.values.length) {
      out += f.keys === undefined ? ']' : '}';
      stack.pop();
      continue;
    }
    const i = f.next++;
    if (i > 0) out += ',';
    if (f.keys !== undefined) out += f.keys[i] as string;
    const v = f.values[i];
    if (v !== null && typeof v === 'object' && !(v instanceof GoNumber)) open(v);
    else out += goScalar(v);
  }
  return out;
}
