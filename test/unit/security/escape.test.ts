/* eslint-disable no-control-regex -- these tests look for control characters */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { terminalSafe, terminalSafeJson, xmlSafe } from '../../../src/escape.js';
import { xmlEscape } from '../../../src/sts/protocol.js';

const ESC = '\u001b';

test('terminalSafe: every character a terminal acts on is shown as \\uXXXX; printable text is unchanged', () => {
  const cases: Array<[string, string]> = [
    ['plain system:serviceaccount:ns:sa', 'plain system:serviceaccount:ns:sa'],
    ['ünïcödé ✓ 🙂 (pair kept)', 'ünïcödé ✓ 🙂 (pair kept)'],
    [`${ESC}[2K\rresult: ALLOWED`, '\\u001B[2K\\u000Dresult: ALLOWED'],
    ['a\nb\tc\u0000d', 'a\\u000Ab\\u0009c\\u0000d'],
    ['del\u007f c1\u009b[31m nel\u0085', 'del\\u007F c1\\u009B[31m nel\\u0085'],
    ['bidi \u202eevil\u202c \u2066iso\u2069 \u200f', 'bidi \\u202Eevil\\u202C \\u2066iso\\u2069 \\u200F'],
    ['lone \ud800 and \udc00', 'lone \\uD800 and \\uDC00'],
    ['\\u001B stays text', '\\u001B stays text'],
  ];
  for (const [input, want] of cases) {
    assert.equal(terminalSafe(input), want, JSON.stringify(input));
    assert.equal(terminalSafe(terminalSafe(input)), want, 'idempotent');
  }
  // Exhaustively over the BMP: what remains is never a control.
  for (let c = 0; c < 0x10000; c++) {
    const out = terminalSafe(String.fromCharCode(c));
    assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, c.toString(16));
  }
});

test('terminalSafeJson: still JSON with the same value, and no DEL, C1 or bidi control left raw', () => {
  const value = { sub: `${ESC}[2J\u009b31m\u202e\u007f\n`, ok: 'plain' };
  const out = terminalSafeJson(JSON.stringify(value, null, 2));
  assert.deepEqual(JSON.parse(out), value);
  assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
});

test('xmlSafe / xmlEscape: what XML 1.0 cannot carry becomes \\uXXXX; markup is escaped; CR survives', () => {
  assert.equal(
    xmlSafe('a\u0000b\u0008c\u000bd\u001be\ufffef\uffff'),
    'a\\u0000b\\u0008c\\u000Bd\\u001Be\\uFFFEf\\uFFFF',
  );
  assert.equal(xmlSafe('tab\tLF\nCR\r DEL\u007f 🙂'), 'tab\tLF\nCR\r DEL\u007f 🙂', 'XML allows these');
  assert.equal(xmlSafe('\ud800x'), '\\uD800x');
  assert.equal(xmlEscape('<a>&\u0000\r'), '&lt;a&gt;&amp;\\u0000&#xD;');
  // Every BMP code unit: the escaped text matches XML 1.0's Char production.
  for (let c = 0; c < 0x10000; c++) {
    const out = xmlEscape(String.fromCharCode(c));
    assert.match(out, /^[\u0009\u000a\u0020-\ud7ff\ue000-\ufffd]*$/u, c.toString(16));
  }
});
