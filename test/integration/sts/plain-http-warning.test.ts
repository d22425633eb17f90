import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { BIN } from '../../helpers/sts-harness.js';
import { configDoc, makeKey } from '../../helpers/sts-fixtures.js';

/** Starts `sts serve --host HOST`, returns its stderr once it listens, then stops it. */
async function serveStderr(host: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-plain-'));
  writeFileSync(join(dir, 'sts.yaml'), stringify(configDoc([await makeKey('p')])));
  const child = spawn(
    process.execPath,
    [BIN, 'sts', 'serve', '--config', join(dir, 'sts.yaml'), '--port', '0', '--host', host],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  try {
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no listening line: ${err}`)), 30_000);
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (/listening on/.test(out)) {
          clearTimeout(timer);
          res();
        }
      });
    });
  } finally {
    await new Promise((res) => {
      child.once('exit', res);
      child.kill('SIGTERM');
    });
  }
  return err;
}

test('sts serve without TLS on a non-loopback address warns on stderr; on loopback it does not', async () => {
  assert.match(
    await serveStderr('0.0.0.0'),
    /^openirsa: warning: no --tls-cert\/--tls-key: serving plain HTTP on 0\.0\.0\.0, reachable from other machines/m,
  );
  assert.doesNotMatch(await serveStderr('127.0.0.1'), /plain HTTP/);
});
