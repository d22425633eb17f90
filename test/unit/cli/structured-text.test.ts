// Parse errors of JSON/YAML inputs: one line with the line and column of the first error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  jsonErrorOffset,
  lineColumn,
  parseStructured,
  SyntaxPositionError,
} from '../../../src/cli/structured-text.js';

/** Broken JSON, with the offending character marked by ‸ (removed before parsing). */
const BROKEN_JSON = [
  '{"Version": "2012-10-17",‸}',
  '{\n  "Statement": [\n    {"Effect": tru‸}\n  ]\n}',
  '{\n  "a": 1\n  ‸"b": 2\n}',
  '{"a" ‸1}',
  '{"a": [1,\n 2 ‸x]}',
  '{"a": 1}\n‸}',
  "{‸'a': 1}",
  '‸x',
  '{"a": "b\\‸x"}',
];

const positionOf = (err: unknown): { line: number; column: number; reason: string } => {
  assert.ok(err instanceof SyntaxPositionError, String(err));
  return { line: err.line, column: err.column, reason: err.reason };
};

test('JSON: the position is that of the offending character, the reason one line without the input quoted', () => {
  for (const marked of BROKEN_JSON) {
    const at = marked.indexOf('‸');
    const text = marked.replace('‸', '');
    let err: unknown;
    try {
      parseStructured('p.json', text);
    } catch (e) {
      err = e;
    }
    const got = positionOf(err);
    assert.deepEqual({ line: got.line, column: got.column }, lineColumn(text, at), marked);
    assert.ok(!got.reason.includes('\n') && !/is not valid JSON/.test(got.reason), got.reason);
    // Where V8 prints a line and column itself (Node 22.?+), it agrees.
    try {
      JSON.parse(text);
    } catch (e) {
      const v8 = /\(line (\d+) column (\d+)\)/.exec((e as Error).message);
      if (v8) assert.deepEqual([got.line, got.column], [Number(v8[1]), Number(v8[2])], marked);
    }
  }
});

test('JSON: an early end points past the last character', () => {
  const text = '{\n  "Version": ';
  assert.equal(jsonErrorOffset(text, 'Unexpected end of JSON input'), text.length);
  assert.throws(
    () => parseStructured('-', text),
    (e: unknown) =>
      e instanceof SyntaxPositionError && e.message === '2:14: not valid JSON: Unexpected end of JSON input',
  );
});

test('a .json file is JSON only (a trailing comma YAML would accept is an error); .yaml is YAML', () => {
  assert.throws(
    () => parseStructured('p.json', '{"a": [1, 2,]}'),
    /^SyntaxPositionError: 1:13: not valid JSON: /,
  );
  assert.deepEqual(parseStructured('p.yaml', '{"a": [1, 2,]}'), { a: [1, 2] });
  assert.deepEqual(parseStructured('p.yml', 'a:\n  - 1\n'), { a: [1] });
});

test('YAML: line and column of the first error, one line', () => {
  const cases: Array<[string, number, number]> = [
    ['Version: "2012-10-17"\nStatement:\n  - Effect: Allow\n    Principal: {Federated: x\n', 5, 1],
    ['a: 1\na: 2\n', 2, 1],
    ['a:\n\t- b\n', 2, 1],
  ];
  for (const [text, line, column] of cases) {
    let err: unknown;
    try {
      parseStructured('p.yaml', text);
    } catch (e) {
      err = e;
    }
    const got = positionOf(err);
    assert.deepEqual([got.line, got.column], [line, column], `${text} → ${got.reason}`);
    assert.ok(got.reason && !got.reason.includes('\n') && !/at line/.test(got.reason), got.reason);
  }
});

test('stdin and other names: JSON when the text starts like JSON, YAML otherwise', () => {
  assert.throws(() => parseStructured('-', '{"a": 1,}'), /not valid JSON/);
  assert.deepEqual(parseStructured('-', 'a: 1'), { a: 1 });
});
