/** `openirsa dev` settings: --host binds every listener, busy ports are reported together, errors name what was written. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, cleanEnv } from '../../helpers/sts-harness.js';

const run = promisify(execFile);
const FREE_PORTS = ['--issuer-port=0', '--sts-port=0', '--webhook-port=0', '--metrics-port=0'];
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'openirsa-dev-settings-'));
  dirs.push(d);
  return d;
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function blockPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

test('--host applies to every listener: issuer, STS, webhook and its metrics', async () => {
  const state = join(await tempDir(), 'state');
  const child = spawn(
    process.execPath,
    [BIN, 'dev', '--json', '--host', '127.0.0.1', '--state-dir', state, ...FREE_PORTS],
    {
      env: cleanEnv({}),
    },
  );
  try {
    const summary = await new Promise<Record<string, string>>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as Record<string, string>);
      });
      child.on('exit', (code) => reject(new Error(`dev exited ${code}`)));
    });
    for (const key of ['issuerUrl', 'stsUrl', 'webhookUrl', 'metricsUrl']) {
      const port = Number(new URL(summary[key]!).port);
      assert.equal(await reachable('127.0.0.1', port), true, `${key} on 127.0.0.1`);
      // Another loopback address reaches a listener on all interfaces, not one bound to 127.0.0.1.
      assert.equal(await reachable('127.0.0.2', port), false, `${key} (port ${port}) listens beyond --host`);
    }
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});

test('every busy port is named in one message, each with its flag', async () => {
  const a = await blockPort();
  const b = await blockPort();
  try {
    const state = join(await tempDir(), 'state');
    await assert.rejects(
      run(
        process.execPath,
        [BIN, 'dev', '--state-dir', state, ...FREE_PORTS, `--sts-port=${a.port}`, `--metrics-port=${b.port}`],
        {
          env: cleanEnv({}),
        },
      ),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.equal(err.stderr.trim().split('\n').length, 1, err.stderr);
        assert.match(
          err.stderr,
          new RegExp(
            `${a.port} for the sts \\(--sts-port\\), ${b.port} for the metrics \\(--metrics-port\\)`,
          ),
        );
        return true;
      },
    );
  } finally {
    a.server.close();
    b.server.close();
  }
});

test('a bad or busy setting from --config is named as the key written there', async () => {
  const dir = await tempDir();
  const config = join(dir, 'dev.yaml');
  await writeFile(config, 'stsPort: eighty\n');
  await assert.rejects(
    run(process.execPath, [BIN, 'dev', '--config', config], { env: cleanEnv({}) }),
    (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.equal(
        err.stderr.trim(),
        `openirsa: stsPort in --config ${config} must be an integer from 0 to 65535, not "eighty"`,
      );
      return true;
    },
  );
  const busy = await blockPort();
  try {
    await writeFile(
      config,
      `issuerPort: 0\nstsPort: 0\nwebhookPort: ${busy.port}\nmetricsPort: 0\nstateDir: ${join(dir, 'state')}\n`,
    );
    await assert.rejects(
      run(process.execPath, [BIN, 'dev', '--config', config], { env: cleanEnv({}) }),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.match(
          err.stderr,
          new RegExp(
            `port ${busy.port} for the webhook is already in use: stop what uses it or change webhookPort in --config `,
          ),
        );
        return true;
      },
    );
  } finally {
    busy.server.close();
  }
  // A flag given as well wins, and is what an error names.
  await assert.rejects(
    run(process.execPath, [BIN, 'dev', '--config', config, '--sts-port', 'x']),
    /--sts-port must be an integer/,
  );
});
