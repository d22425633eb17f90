import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { unsupportedNode } from '../../../src/cli/node-version.js';

const engines = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    engines: { node: string };
  }
).engines.node;

test('package.json engines: a >=x.y.z range the CLI can check, at Node 22 or newer', () => {
  assert.match(engines, /^>=22\.\d+\.\d+$/);
});

test('an older Node.js gets one line naming what it needs; this one and newer ones pass', () => {
  assert.equal(unsupportedNode(process.version, engines), undefined, 'the Node.js running the tests');
  for (const v of ['v26.12.1', 'v22.19.0', 'v22.23.5', 'v23.0.0', 'v100.0.0'])
    assert.equal(unsupportedNode(v, '>=22.19.0'), undefined, v);
  for (const v of ['v20.20.2', 'v22.18.9', 'v22.0.0', 'v18.20.8']) {
    const m = unsupportedNode(v, '>=22.19.0');
    assert.equal(
      m,
      `openirsa needs Node.js 22.19.0 or newer (engines >=22.19.0); this is ${v}. Install Node.js 22 LTS or newer (https://nodejs.org/en/download).`,
    );
  }
  // Ranges it cannot read are not guessed at.
  assert.equal(unsupportedNode('v20.0.0', '^22 || ^24'), undefined);
});
