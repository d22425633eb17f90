import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:http';
import { createServer } from 'node:net';
import { stringify } from 'yaml';
import { STSClient, AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { BIN } from '../../helpers/sts-harness.js';
import { claims, configDoc, makeKey, signToken, ROLE_ARN } from '../../helpers/sts-fixtures.js';

test('--workers 2 without a configured session key: credentials issued by one worker verify on the other', async () => {
  const key = await makeKey('w');
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-workers-'));
  const doc = configDoc([key]);
  delete doc.sessionKey; // the primary must generate one key for all workers
  writeFileSync(join(dir, 'sts.yaml'), stringify(doc));
  const child = spawn(
    process.execPath,
    [BIN, 'sts', 'serve', '--config', join(dir, 'sts.yaml'), '--port', '0', '--workers', '2'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const url = await new Promise<string>((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`no listening line: ${err}`)), 30_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/\S+) \(2 workers\)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    });
  });
  try {
    // No keep-alive: every request is a new connection, so the primary spreads them over both workers.
    const handler = () => new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: false }) });
    const now = Math.floor(Date.now() / 1000);
    const sessions = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const anon = new STSClient({
        endpoint: url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
        requestHandler: handler(),
      });
      const r = await anon.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: ROLE_ARN,
          RoleSessionName: `w${i}`,
          WebIdentityToken: signToken(key, claims({ exp: now + 600, iat: now, nbf: now })),
        }),
      );
      const c = r.Credentials!;
      const signed = new STSClient({
        endpoint: url,
        region: 'us-east-1',
        credentials: {
          accessKeyId: c.AccessKeyId!,
          secretAccessKey: c.SecretAccessKey!,
          sessionToken: c.SessionToken!,
        },
        requestHandler: handler(),
      });
      for (let j = 0; j < 2; j++)
        assert.equal(
          (await signed.send(new GetCallerIdentityCommand({}))).Arn,
          `arn:aws:sts::111122223333:assumed-role/s3-writer/w${i}`,
        );
      sessions.add(String(i));
    }
    assert.equal(sessions.size, 8);
    assert.match(err, /generated a random session key/);
  } finally {
    const code = await new Promise<number | null>((res) => {
      child.once('exit', (c) => res(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
  }
});

test('--workers 2 on a port in use: the workers cannot start, the pool exits 1 instead of forking again', async () => {
  const key = await makeKey('w');
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-workers-'));
  writeFileSync(join(dir, 'sts.yaml'), stringify(configDoc([key])));
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  try {
    const port = String((busy.address() as { port: number }).port);
    const child = spawn(
      process.execPath,
      [BIN, 'sts', 'serve', '--config', join(dir, 'sts.yaml'), '--port', port, '--workers', '2'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((res, rej) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        rej(new Error(`still running after 20 s: ${err}`));
      }, 20_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        res(c);
      });
    });
    assert.equal(code, 1, err);
    assert.match(err, /EADDRINUSE/);
    assert.match(err, /^openirsa: cannot start workers: a worker exited before it listened/m);
    assert.equal(err.match(/worker died; starting another/g), null, 'no worker replaced');
  } finally {
    busy.close();
  }
});
