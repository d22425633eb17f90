/** Go's strconv parsing, exactly: annotations are parsed the way the reference webhook parses them. */
import { INT64_RANGE } from './number.js';

const GO_BOOLS: Record<string, boolean> = {
  '1': true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

/** strconv.ParseBool: undefined when Go would return an error. */
export function parseGoBool(s: string): boolean | undefined {
  return Object.prototype.hasOwnProperty.call(GO_BOOLS, s) ? GO_BOOLS[s] : undefined;
}

/** strconv.ParseInt(s, 10, 64): optional sign, decimal digits only, int64 range; the exact value or undefined. */
export function parseGoInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v < INT64_RANGE.min || v > INT64_RANGE.max ? undefined : v;
}

/** The larger of two int64 values. */
export function maxInt64(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
