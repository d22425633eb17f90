/**
 * Go encoding/json's syntax error for a document JSON.parse rejected (the scanner's messages, e.g.
 * `unexpected end of JSON input`, `invalid character 'x' looking for beginning of value`). Only called on the
 * error path.
 */
import { OpenIrsaError } from '../../errors.js';

function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const named: Record<string, string> = {
    '\x07': '\\a',
    '\b': '\\b',
    '\f': '\\f',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
    '\v': '\\v',
    '\\': '\\\\',
  };
  const n = named[c];
  if (n !== undefined) return `'${n}'`;
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  return `'${c}'`;
}

class SyntaxErr extends OpenIrsaError {
  constructor(message: string) {
    super('GoJsonSyntaxInvalid', message);
  }
}
/** Go's encoding/json nesting limit (scanner.go maxNestingDepth). */
export const GO_MAX_JSON_DEPTH = 10000;
const MAX_DEPTH = GO_MAX_JSON_DEPTH;
const EOF = 'unexpected end of JSON input';

/**
 * True when a syntactically valid JSON document nests deeper than Go's scanner allows (10000), which JSON.parse
 * accepts. Only valid bodies of more than 20001 bytes can (10001 opening brackets, each closed), so callers skip
 * the scan for the rest.
 */
export function exceedsGoDepth(buf: Uint8Array): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i] as number;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_DEPTH) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function goJsonSyntaxError(text: string): string | undefined {
  let i = 0;
  const n = text.length;
  const bad = (ctx: string): never => {
    if (i >= n) throw new SyntaxErr(EOF);
    throw new SyntaxErr(`invalid character ${quoteChar(text[i] as string)} ${ctx}`);
  };
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const digit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
  const literal = (word: string): void => {
    for (let k = 1; k < word.length; k++) {
      i++;
      if (text[i] !== word[k]) bad(`in literal ${word} (expecting '${word[k]}')`);
    }
    i++;
  };
  const string = (): void => {
    i++; // opening quote
    for (;;) {
      if (i >= n) throw new SyntaxErr(EOF);
      const c = text[i] as string;
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        i++;
        const e = text[i];
        if (e === 'u') {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!/[0-9a-fA-F]/.test(text[i] ?? '')) bad('in \\u hexadecimal character escape');
          }
          i++;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) bad('in string escape code');
        i++;
        continue;
      }
      if (c < ' ') bad('in string literal');
      i++;
    }
  };
  const number = (): void => {
    if (text[i] === '-') {
      i++;
      if (!digit(text[i])) bad('in numeric literal');
    }
    if (text[i] === '0') i++;
    else while (digit(text[i])) i++;
    if (text[i] === '.') {
      i++;
      if (!digit(text[i])) bad('after decimal point in numeric literal');
      while (digit(text[i])) i++;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (!digit(text[i])) bad('in exponent of numeric literal');
      while (digit(text[i])) i++;
    }
  };
  // Iterative, with Go's nesting limit (scanner.go maxNestingDepth), so hostile input cannot exhaust our stack.
  const stack: string[] = [];
  const value = (): void => {
    for (;;) {
      // parse one value start
      ws();
      const c = text[i];
      if (c === '{' || c === '[') {
        if (stack.length >= MAX_DEPTH) bad('exceeded max depth');
        i++;
        ws();
        if (text[i] === (c === '{' ? '}' : ']')) {
          i++;
        } else {
          stack.push(c);
          if (c === '{') {
            if (text[i] !== '"') bad('looking for beginning of object key string');
            string();
            ws();
            if (text[i] !== ':') bad('after object key');
            i++;
          }
          continue;
        }
      } else if (c === '"') string();
      else if (c === '-' || digit(c)) number();
      else if (c === 't') literal('true');
      else if (c === 'f') literal('false');
      else if (c === 'n') literal('null');
      else bad('looking for beginning of value');
      // after a complete value: close containers or move to the next element
      for (;;) {
        const top = stack[stack.length - 1];
        if (top === undefined) return;
        ws();
        if (text[i] === ',') {
          i++;
          if (top === '{') {
            ws();
            if (text[i] !== '"') bad('looking for beginning of object key string');
            string();
            ws();
            if (text[i] !== ':') bad('after object key');
            i++;
          }
          break; // parse the next value
        }
        if (text[i] === (top === '{' ? '}' : ']')) {
          i++;
          stack.pop();
          continue;
        }
        bad(top === '{' ? 'after object key:value pair' : 'after array element');
      }
    }
  };
  try {
    value();
    ws();
    if (i < n) bad('after top-level value');
    return undefined;
  } catch (e) {
    if (e instanceof SyntaxErr) return e.message;
    throw e;
  }
}
