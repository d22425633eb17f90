/**
 * Go encoding/json's syntax error for a document JSON.parse rejected (the scanner's messages, e.g.
 * `unexpected end of JSON input`, `invalid character 'x' looking for beginning of value`). Only called on the
 * error path.
 */

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

class SyntaxErr extends Error {}
const EOF = 'unexpected end of JSON input';

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
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') bad('looking for beginning of object key string');
        string();
        ws();
        if (text[i] !== ':') bad('after object key');
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        bad('after object key:value pair');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        bad('after array element');
      }
    }
    if (c === '"') return string();
    if (c === '-' || digit(c)) return number();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    bad('looking for beginning of value');
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
