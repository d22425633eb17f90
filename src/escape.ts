/**
 * Escaping of text that came from input (tokens, parameters, files) wherever it is printed: an operator's
 * terminal must not receive escape codes or fake line breaks, and XML must stay well-formed.
 */

/* eslint-disable no-control-regex */
/**
 * What a terminal acts on rather than shows: C0 controls (line breaks included: a value must not fake a line),
 * DEL, C1 controls (U+009B is CSI), bidirectional overrides and isolates (Trojan Source), lone surrogates.
 */
const TERMINAL_UNSAFE =
  /[\u0000-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Characters XML 1.0 does not allow at all, even as character references (§2.2 Char). */
const XML_INVALID =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/* eslint-enable no-control-regex */

/** `\uXXXX`, as JSON and JavaScript write a code unit: readable, and unambiguous in a one-line message. */
function codeUnit(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** One line of terminal output: every character a terminal would interpret is written as `\uXXXX`. */
export function terminalSafe(s: string): string {
  TERMINAL_UNSAFE.lastIndex = 0;
  return TERMINAL_UNSAFE.test(s) ? s.replace(TERMINAL_UNSAFE, codeUnit) : s;
}

/** JSON text for a terminal: JSON already escapes C0; DEL, C1 and bidi controls become `\uXXXX` too. */
export function terminalSafeJson(json: string): string {
  return json.replace(/[\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, codeUnit);
}

/** Text XML 1.0 cannot carry (NUL and most C0 controls, U+FFFE/U+FFFF, lone surrogates) written as `\uXXXX`. */
export function xmlSafe(s: string): string {
  XML_INVALID.lastIndex = 0;
  return XML_INVALID.test(s) ? s.replace(XML_INVALID, codeUnit) : s;
}

/** POSIX shell single-quoting: the only character that needs care inside '...' is ' itself. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
