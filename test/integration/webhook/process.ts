/** Start the built `openirsa webhook` as a real process and find its ports from its JSON log. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '../../../dist/src/cli/bin.js');

export function requireBuild(): void {
  if (!existsSync(BIN))
    throw new Error(`${BIN} is missing: run \`npm run build\` first (npm run test:integration does)`);
}

export interface WebhookProcess {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  /** Everything the process wrote to stderr so far. */
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startProcess(args: string[], timeoutMs = 20_000): Promise<WebhookProcess> {
  requireBuild();
  const child = spawn(
    process.execPath,
    [
      BIN,
      'webhook',
      '--in-cluster=false',
      '--port=0',
      '--metrics-port=0',
      '--bind-address=127.0.0.1',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ports = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`webhook did not start within ${timeoutMs} ms:\n${err}`)),
      timeoutMs,
    );
    const check = (): void => {
      const m = /"port":(\d+),"metricsPort":(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), metricsPort: Number(m[2]) });
      }
    };
    child.stderr.on('data', check);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`webhook exited with ${code} before listening:\n${err}`));
    });
  });
  return { child, ...ports, stderr: () => err, exited };
}

/** Run the CLI to completion (for --version, --help, startup errors). */
export function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  requireBuild();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
