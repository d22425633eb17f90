import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:http';
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
