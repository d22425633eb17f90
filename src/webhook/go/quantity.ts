/**
 * resource.Quantity as k8s.io/apimachinery parses and re-serialises it (UnmarshalJSON → MarshalJSON), so
 * `resources` round-trip exactly as the reference emits them: `1000m` → `1`, `0.5` → `500m`, `1024Mi` → `1Gi`,
 * while strings already in canonical form (`100Mi`, `500m`) are kept verbatim, as Go caches them.
 */
import { GoNumber } from './number.js';
import { OpenIrsaError } from '../../errors.js';

export class QuantityError extends OpenIrsaError {
  constructor(message: string) {
    super('QuantityInvalid', message);
  }
}

const ERR_FORMAT =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const ERR_SUFFIX = "unable to parse quantity's suffix";
const ERR_NUMERIC = 'unable to parse numeric part of quantity';

type Format = 'DecimalExponent' | 'BinarySI' | 'DecimalSI';

const DECIMAL_SUFFIX: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_BY_EXP = new Map(Object.entries(DECIMAL_SUFFIX).map(([s, e]) => [e, s]));
const BINARY_BY_EXP = new Map(Object.entries(BINARY_SUFFIX).map(([s, e]) => [e, s]));
const SUFFIX_CHARS = 'eEinumkKMGTP';

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

interface Parsed {
  positive: boolean;
  value: string;
  num: string;
  denom: string;
  suffix: string;
}

/** apimachinery parseQuantityString, step for step. */
function parseQuantityString(str: string): Parsed {
  let positive = true;
  let pos = 0;
  const end = str.length;
  let num = '';
  let denom = '';
  if (pos < end) {
    if (str[0] === '-') {
      positive = false;
      pos++;
    } else if (str[0] === '+') pos++;
  }
  // strip leading zeros
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value: '0', num: '0', denom: '', suffix: '' };
    if (str[i] === '0') pos++;
    else break;
  }
  // numerator
  for (let i = pos; ; i++) {
    if (i >= end)
      return { positive, value: str.slice(0, end), num: str.slice(pos, end), denom: '', suffix: '' };
    if (isDigit(str[i])) continue;
    num = str.slice(pos, i);
    pos = i;
    break;
  }
  if (num.length === 0) num = '0';
  if (pos < end && str[pos] === '.') {
    pos++;
    for (let i = pos; ; i++) {
      if (i >= end)
        return { positive, value: str.slice(0, end), num, denom: str.slice(pos, end), suffix: '' };
      if (isDigit(str[i])) continue;
      denom = str.slice(pos, i);
      pos = i;
      break;
    }
  }
  const value = str.slice(0, pos);
  const suffixStart = pos;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart, end) };
    if (!SUFFIX_CHARS.includes(str[i] as string)) {
      pos = i;
      break;
    }
  }
  if (pos < end && (str[pos] === '-' || str[pos] === '+')) pos++;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart, end) };
    if (!isDigit(str[i])) break;
  }
  throw new QuantityError(ERR_FORMAT);
}

function interpretSuffix(s: string): { base: 10 | 2; exponent: number; format: Format } | undefined {
  if (Object.prototype.hasOwnProperty.call(DECIMAL_SUFFIX, s))
    return { base: 10, exponent: DECIMAL_SUFFIX[s] as number, format: 'DecimalSI' };
  if (Object.prototype.hasOwnProperty.call(BINARY_SUFFIX, s))
    return { base: 2, exponent: BINARY_SUFFIX[s] as number, format: 'BinarySI' };
  if (s.length > 1 && (s[0] === 'e' || s[0] === 'E')) {
    const rest = s.slice(1);
    if (!/^[+-]?[0-9]+$/.test(rest)) return undefined;
    return { base: 10, exponent: Number(rest), format: 'DecimalExponent' };
  }
  return undefined;
}

/** A quantity as unscaled × 10^scale. */
interface Amount {
  unscaled: bigint;
  scale: number;
  format: Format;
  /** The input string, when Go would cache it because it is already canonical. */
  cached?: string;
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);
const abs = (v: bigint): bigint => (v < 0n ? -v : v);

function parseQuantity(str: string): Amount {
  if (str.length === 0) throw new QuantityError(ERR_FORMAT);
  const p = parseQuantityString(str);
  const sfx = interpretSuffix(p.suffix);
  if (sfx === undefined) throw new QuantityError(ERR_SUFFIX);
  const { base, exponent } = sfx;
  let format = sfx.format;
  let precision = 0;
  let scale = 0;
  let mantissa = 1n;
  if (format === 'BinarySI') {
    if (exponent >= 0 && p.denom.length === 0) {
      mantissa = 1n << BigInt(exponent);
      precision = 15 - p.num.length - Math.trunc((exponent * 3) / 10) - 1;
    } else precision = -1;
  } else {
    scale = exponent;
    precision = 18 - (p.num.length + p.denom.length);
  }
  if (precision >= 0) {
    scale -= p.denom.length;
    if (scale >= -9) {
      const shifted = p.num + p.denom;
      const value = BigInt(shifted);
      const result = value * mantissa;
      if (result <= 0x7fffffffffffffffn) {
        const signed = p.positive ? result : -result;
        let canonical: boolean;
        if (format === 'BinarySI') canonical = exponent % 10 === 0 && (value & 7n) !== 0n;
        else canonical = scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0';
        return { unscaled: signed, scale, format, ...(canonical ? { cached: str } : {}) };
      }
    }
  }
  // Slow path (inf.Dec): exact value, rounded up to the nano scale.
  if (!/^[+-]?[0-9]*\.?[0-9]*$/.test(p.value) || !/[0-9]/.test(p.value)) throw new QuantityError(ERR_NUMERIC);
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/.exec(p.value) as RegExpExecArray;
  const intPart = m[2] ?? '';
  const fracPart = m[3] ?? '';
  let unscaled = BigInt((intPart + fracPart).replace(/^0+(?=.)/, '') || '0');
  let dscale = -fracPart.length;
  if (m[1] === '-') unscaled = -unscaled;
  if (base === 10) dscale += exponent;
  else unscaled *= 1n << BigInt(exponent);
  const negative = unscaled < 0n;
  unscaled = abs(unscaled);
  if (unscaled !== 0n && dscale < -9) {
    // round up (away from zero) to 9 decimal places
    const div = pow10(-9 - dscale);
    const q = unscaled / div;
    unscaled = unscaled % div === 0n ? q : q + 1n;
    dscale = -9;
  }
  if (format === 'BinarySI') {
    // cap at the maximum int64 for binary quantities; below 1 they are shown in decimal
    const max = 0x7fffffffffffffffn;
    if (cmp(unscaled, dscale, max, 0) > 0) {
      unscaled = max;
      dscale = 0;
    }
    if (unscaled !== 0n && cmp(unscaled, dscale, 1n, 0) < 0) format = 'DecimalSI';
  }
  return { unscaled: negative ? -unscaled : unscaled, scale: dscale, format };
}

function cmp(a: bigint, as: number, b: bigint, bs: number): number {
  const s = Math.min(as, bs);
  const x = a * pow10(as - s);
  const y = b * pow10(bs - s);
  return x < y ? -1 : x > y ? 1 : 0;
}

function removeFactors(v: bigint, f: bigint): [bigint, number] {
  let times = 0;
  if (v === 0n) return [v, 0];
  while (v % f === 0n) {
    v /= f;
    times++;
  }
  return [v, times];
}

function canonicalize(a: Amount): string {
  if (a.unscaled === 0n) return '0';
  let format = a.format;
  let rounded: bigint | undefined;
  if (format === 'BinarySI') {
    if (cmp(a.unscaled, a.scale, -1024n, 0) > 0 && cmp(a.unscaled, a.scale, 1024n, 0) < 0)
      format = 'DecimalSI';
    else if (a.scale >= 0) rounded = a.unscaled * pow10(a.scale);
    else {
      const div = pow10(-a.scale);
      if (a.unscaled % div === 0n) rounded = a.unscaled / div;
      else format = 'DecimalSI';
    }
  }
  if (format !== 'BinarySI' || rounded === undefined) {
    const [stripped, times] = removeFactors(a.unscaled, 10n);
    let exponent = a.scale + times;
    // Lower the exponent to a multiple of 3 (Go's % truncates, hence the double modulo).
    const r = ((exponent % 3) + 3) % 3;
    const amount = stripped * pow10(r);
    exponent -= r;
    let suffix: string;
    if (format === 'DecimalExponent') suffix = exponent === 0 ? '' : 'e' + String(exponent);
    else suffix = DECIMAL_BY_EXP.get(exponent) ?? '';
    return amount.toString() + suffix;
  }
  const [amount, times] = removeFactors(rounded, 1024n);
  return amount.toString() + (BINARY_BY_EXP.get(times * 10) ?? '');
}

const cache = new Map<string, string>();

/**
 * The string Go's Quantity.MarshalJSON emits for a decoded JSON value (string or number; null → "0").
 * Throws QuantityError with Go's message when Go's UnmarshalJSON would fail.
 */
export function goQuantityString(v: unknown): string {
  if (v === null || v === undefined) return '0';
  let s: string;
  if (typeof v === 'string') s = v.trim();
  // Quantity.UnmarshalJSON parses a number's own text (parseGoJson keeps it when a double would not).
  else if (typeof v === 'number') s = String(v);
  else if (v instanceof GoNumber) s = v.text;
  else throw new QuantityError(ERR_FORMAT);
  const hit = cache.get(s);
  if (hit !== undefined) return hit;
  const a = parseQuantity(s);
  const out = a.cached ?? canonicalize(a);
  if (cache.size > 4096) cache.clear();
  cache.set(s, out);
  return out;
}
