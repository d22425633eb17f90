/**
 * A spf13/pflag-compatible command-line parser, as the reference's flags are parsed: `--flag=v`, `--flag v`,
 * boolean `--flag` / `--flag=false`, single-dash `-v=2`, `--` ends the flags; values read with Go's strconv and
 * time.ParseDuration rules and reported with pflag's messages. The table it parses against is flag-table.ts.
 */
import { INT64_RANGE } from './go/number.js';
import { parseGoBool } from './go/strconv.js';
import { OpenIrsaError, messageOf } from '../errors.js';

/** `int64` values are exact (a bigint); `int` ones are JS numbers (ports, sizes, levels). */
export type FlagType = 'string' | 'bool' | 'int' | 'int64' | 'duration';

/** What the parser needs to know of a flag. */
export interface PflagSpec {
  name: string;
  type: FlagType;
}

export class FlagError extends OpenIrsaError {
  constructor(message: string) {
    super('FlagInvalid', message);
  }
}

/** Go time.ParseDuration: `300ms`, `-1.5h`, `2h45m`, `0`. Returns milliseconds. */
export function parseGoDuration(s: string): number {
  const orig = s;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new FlagError(`time: invalid duration "${orig}"`);
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    μs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const re = /^([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)/;
  let total = 0;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m || m[1] === '' || m[1] === '.') throw new FlagError(`time: invalid duration "${orig}"`);
    const unit = units[m[2]!];
    if (unit === undefined) {
      throw new FlagError(`time: unknown unit "${m[2]}" in duration "${orig}"`);
    }
    total += Number(m[1]) * unit;
    s = s.slice(m[0].length);
  }
  return sign * total;
}

/** strconv.ParseInt(value, 0, 64) as pflag calls it: decimal, 0x, 0o, 0b (underscores allowed), exact. */
function parseFlagInt64(name: string, value: string): bigint {
  const t = value.replace(/_/g, '');
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$/.exec(t);
  if (!m)
    throw new FlagError(
      `invalid argument "${value}" for "--${name}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`,
    );
  // BigInt reads 0x/0o/0b itself; a bare leading 0 means octal in Go's base 0.
  const digits = /^0[0-7]/.test(m[2]!) ? '0o' + m[2]!.slice(1) : m[2]!;
  const n = m[1] === '-' ? -BigInt(digits) : BigInt(digits);
  if (n < INT64_RANGE.min || n > INT64_RANGE.max)
    throw new FlagError(
      `invalid argument "${value}" for "--${name}" flag: strconv.ParseInt: parsing "${value}": value out of range`,
    );
  return n;
}

function parseFlagInt(name: string, value: string): number {
  const n = parseFlagInt64(name, value);
  if (n < BigInt(Number.MIN_SAFE_INTEGER) || n > BigInt(Number.MAX_SAFE_INTEGER))
    throw new FlagError(`invalid argument "${value}" for "--${name}" flag: value out of range`);
  return Number(n);
}

/** Explicitly set flags: name → raw string. */
export type RawValues = Map<string, string>;

export interface ParsedArgs {
  /** Explicitly set flags (name → raw string), last one wins as in pflag. */
  values: RawValues;
  /** Positional arguments (the reference ignores them). */
  positional: string[];
  help: boolean;
}

/** Split argv into flag values with pflag's rules. Unknown flags are an error (pflag: `unknown flag: --x`). */
export function parsePflagArgs(argv: readonly string[], flags: ReadonlyMap<string, PflagSpec>): ParsedArgs {
  const values: RawValues = new Map();
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    // pflag: `--name`; klog's single-letter `-v` is a shorthand; we also accept `-name` for Go flag users.
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name === 'help' || name === 'h') {
      help = true;
      continue;
    }
    const spec = flags.get(name);
    if (!spec) throw new FlagError(`unknown flag: ${arg.startsWith('--') ? '--' : '-'}${name}`);
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else if (spec.type === 'bool') value = 'true';
    else {
      if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: --${name}`);
      value = argv[++i]!;
    }
    values.set(name, value);
  }
  return { values, positional, help };
}

/** One flag's value from its text, with pflag's messages. */
export function flagValue(spec: PflagSpec, raw: string): string | number | bigint | boolean {
  switch (spec.type) {
    case 'string':
      return raw;
    case 'bool': {
      const b = parseGoBool(raw);
      if (b === undefined) {
        throw new FlagError(
          `invalid argument "${raw}" for "--${spec.name}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`,
        );
      }
      return b;
    }
    case 'int':
      return parseFlagInt(spec.name, raw);
    case 'int64':
      return parseFlagInt64(spec.name, raw);
    case 'duration':
      try {
        return parseGoDuration(raw);
      } catch (err) {
        throw new FlagError(`invalid argument "${raw}" for "--${spec.name}" flag: ${messageOf(err)}`);
      }
  }
}
