/** `openirsa dev` settings: --host binds every listener, busy ports are reported together, errors name what was written. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, cleanEnv, DEV_FREE_PORTS } from '../../helpers/sts-harness.js';

const run = promisify(execFile);
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
    [BIN, 'dev', '--json', '--host', '127.0.0.1', '--state-dir', state, ...DEV_FREE_PORTS],
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

test('--host with another address: the printed URLs name it, and its certificate is valid for it (from the same CA)', async () => {
  const state = join(await tempDir(), 'state');
  const start = (
    host: string,
  ): { child: ReturnType<typeof spawn>; summary: Promise<Record<string, string>> } => {
    const child = spawn(
      process.execPath,
      [BIN, 'dev', '--json', '--host', host, '--state-dir', state, ...DEV_FREE_PORTS],
      {
        env: cleanEnv({}),
      },
    );
    const summary = new Promise<Record<string, string>>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as Record<string, string>);
      });
      child.on('exit', (code) => reject(new Error(`dev exited ${code}`)));
    });
    return { child, summary };
  };
  const stop = async (child: ReturnType<typeof spawn>): Promise<void> => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  // First on localhost (the state and its CA are created), then on 127.0.0.2: the leaf is reissued by the same CA.
  const first = start('127.0.0.1');
  const caOf = (summary: Record<string, unknown>): string =>
    (summary.env as Record<string, string>).AWS_CA_BUNDLE!;
  const caBefore = caOf(await first.summary);
  await stop(first.child);
  const second = start('127.0.0.2');
  try {
    const summary = await second.summary;
    assert.equal(caOf(summary), caBefore);
    const ca = await readFile(caOf(summary), 'utf8');
    for (const key of ['issuerUrl', 'stsUrl', 'webhookUrl', 'metricsUrl']) {
      const url = new URL(summary[key]!);
      assert.equal(url.hostname, '127.0.0.2', `${key}: ${summary[key]}`);
      if (url.protocol !== 'https:') continue;
      // A TLS client that checks the name, trusting only dev's CA, accepts the listener at that address.
      await new Promise<void>((resolve, reject) => {
        const s = tlsConnect({ host: url.hostname, port: Number(url.port), ca }, () => {
          s.destroy();
          resolve();
        });
        s.on('error', reject);
      });
    }
    // The issuer URL inside the tokens is the one printed: its discovery document says so.
    const discovery = await new Promise<string>((resolve, reject) => {
      const req = httpsGet(`${summary.issuerUrl}/.well-known/openid-configuration`, { ca }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
    });
    assert.equal((JSON.parse(discovery) as { issuer: string }).issuer, summary.issuerUrl);
  } finally {
    await stop(second.child);
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
        [
          BIN,
          'dev',
          '--state-dir',
          state,
          ...DEV_FREE_PORTS,
          `--sts-port=${a.port}`,
          `--metrics-port=${b.port}`,
        ],
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
