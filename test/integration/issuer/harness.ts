/** Helpers for the issuer integration tests: the built CLI, free ports, moto's S3 server. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const BIN = join(ROOT, 'dist/src/cli/bin.js');

export function requireBuild(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run "npm run build" first`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Waits until a line on the child's stdout matches, or fails with what it printed. */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((res, rej) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => rej(new Error(`timed out waiting for ${re}; stdout=${out} stderr=${err}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[0]);
      }
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`exited with ${code} before ${re}; stdout=${out} stderr=${err}`));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

export function stop(child: ChildProcess | undefined): Promise<number | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(child?.exitCode ?? null);
  return new Promise((res) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', (code) => {
      clearTimeout(t);
      res(code);
    });
    child.kill('SIGTERM');
  });
}

/** moto's S3-compatible server (a real HTTP server). Fails loudly when the Python tools are missing. */
export async function startMoto(): Promise<{ child: ChildProcess; endpoint: string }> {
  const bin = join(ROOT, '.cache/venv/bin/moto_server');
  if (!existsSync(bin))
    throw new Error(`${bin} not found: npm test installs it (bash scripts/python-tools.sh)`);
  const port = await freePort();
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${stderr}`);
    if (await portOpen(port)) return { child, endpoint: `http://127.0.0.1:${port}` };
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop(child);
  throw new Error(`moto_server did not listen on ${port} within 30 s: ${stderr}`);
}
