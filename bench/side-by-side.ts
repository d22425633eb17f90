/**
 * The side-by-side machinery of bench:compare and bench:memory: one load-generator round against one server
 * (its CPU read from /proc when the measured window opens and closes), alternating rounds, the summary table,
 * RSS of a server and its children, waiting for a side to answer.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { sleep, type CliProcess } from '../test/e2e/support.js';
import { childPids, cpuSeconds, memoryMiB, pssMiB } from './http-client.js';
import type { LoadResult, LoadSpec } from './load-generator.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Side {
  name: string;
  pid: number;
  url: string;
}

export interface RoundResult extends LoadResult {
  serverCpuPerRequestUs: number;
  requestsPerSecond: number;
}

/**
 * The NODE_OPTIONS that a build's deploy files give the webhook container (deploy/kustomize/base/deployment.yaml of
 * the repository holding CLI_JS = REPO/dist/src/cli/bin.js; the Helm chart gives the same, test/unit/repo checks), so
 * that a bench runs each openirsa side with the V8 options it is deployed with. Undefined when that build has none.
 */
export function deployedWebhookNodeOptions(cliJs: string): string | undefined {
  const file = resolve(cliJs, '../../../../deploy/kustomize/base/deployment.yaml');
  if (!existsSync(file)) return undefined;
  const doc = parseYaml(readFileSync(file, 'utf8')) as {
    spec: {
      template: {
        spec: { containers: Array<{ name: string; env?: Array<{ name: string; value?: string }> }> };
      };
    };
  };
  const webhook = doc.spec.template.spec.containers.find((c) => c.name === 'webhook');
  return webhook?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
}

/** All the processes of a server (it and its direct children, e.g. --workers). */
function pidsOf(pid: number): number[] {
  return [pid, ...childPids(pid)];
}

/** Run the load generator once against one side; server CPU is read when the measured window opens and closes. */
export async function round(side: Side, spec: Omit<LoadSpec, 'url'>, dir: string): Promise<RoundResult> {
  const specFile = join(dir, `load-${side.name.replace(/\W/g, '_')}.json`);
  writeFileSync(specFile, JSON.stringify({ ...spec, url: side.url }));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/load-generator.ts'), specFile],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  let cpu0 = 0;
  let cpu1 = 0;
  const serverCpu = (): number => pidsOf(side.pid).reduce((s, p) => s + cpuSeconds(p), 0);
  child.stdout.on('data', (d: Buffer) => {
    const before = out;
    out += d.toString();
    if (!before.includes('START\n') && out.includes('START\n')) cpu0 = serverCpu();
    if (!before.includes('STOP\n') && out.includes('STOP\n')) cpu1 = serverCpu();
  });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  const last = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !last.startsWith('{'))
    throw new Error(`load generator failed against ${side.name}: ${out}`);
  const r = JSON.parse(last) as LoadResult;
  // No reply in the window: the quantiles are NaN (null in JSON).
  for (const k of ['p50ms', 'p90ms', 'p99ms'] as const) r[k] ??= NaN;
  return {
    ...r,
    requestsPerSecond: r.requests / r.seconds,
    serverCpuPerRequestUs: ((cpu1 - cpu0) * 1e6) / Math.max(1, r.requests),
  };
}

/** Alternating rounds: A B, B A, A B … Returns each side's rounds. */
export async function alternate(
  sides: Side[],
  rounds: number,
  spec: Omit<LoadSpec, 'url'>,
  dir: string,
): Promise<Map<string, RoundResult[]>> {
  const out = new Map<string, RoundResult[]>(sides.map((s) => [s.name, []]));
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const r = await round(side, spec, dir);
      out.get(side.name)!.push(r);
      console.log(
        `  round ${i + 1} ${side.name.padEnd(10)} ${r.requestsPerSecond.toFixed(0).padStart(6)}/s  p50 ${r.p50ms.toFixed(1)} ms  p99 ${r.p99ms.toFixed(1)} ms  server CPU ${r.serverCpuPerRequestUs.toFixed(0)} µs/req  client CPU ${r.clientCpuPerRequestUs.toFixed(0)} µs/req  errors ${r.errors}${r.reconnects ? `  reconnects ${r.reconnects}` : ''}${r.firstError ? ` (${r.firstError.slice(0, 160)})` : ''}  (load ${loadavg()[0]!.toFixed(1)})`,
      );
    }
  }
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const range = (xs: number[], digits = 0): string => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const f = (x: number): string =>
    x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return lo === hi ? f(lo) : `${f(lo)}–${f(hi)}`;
};

/** The summary table: each figure's range over the rounds per side, and ours/theirs of the medians. */
export function summary(
  title: string,
  results: Map<string, RoundResult[]>,
  rss: Map<string, Memory>,
  ours: string,
  theirs: string,
): string {
  const a = results.get(ours)!;
  const b = results.get(theirs)!;
  const rows: Array<[string, (r: RoundResult) => number, number]> = [
    ['requests/s', (r) => r.requestsPerSecond, 0],
    ['server CPU per request (µs)', (r) => r.serverCpuPerRequestUs, 0],
    ['p50 (ms)', (r) => r.p50ms, 1],
    ['p99 (ms)', (r) => r.p99ms, 1],
  ];
  const lines = [
    `${title}: ${a.length} alternating rounds per side (load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs)`,
    `| figure | ${theirs} | ${ours} | ${ours}/${theirs} (medians) |`,
    '|---|---|---|---|',
  ];
  for (const [name, f, d] of rows) {
    const ra = a.map(f);
    const rb = b.map(f);
    lines.push(`| ${name} | ${range(rb, d)} | ${range(ra, d)} | ${(median(ra) / median(rb)).toFixed(2)}× |`);
  }
  const ra = rss.get(ours)!;
  const rb = rss.get(theirs)!;
  lines.push(
    `| RSS after the load (MiB) | ${rb.now.toFixed(0)} | ${ra.now.toFixed(0)} | ${(ra.now / rb.now).toFixed(2)}× |`,
  );
  lines.push(
    `| peak RSS (MiB) | ${rb.peak.toFixed(0)} | ${ra.peak.toFixed(0)} | ${(ra.peak / rb.peak).toFixed(2)}× |`,
  );
  lines.push(
    `| PSS after the load (MiB) | ${rb.pss.toFixed(0)} | ${ra.pss.toFixed(0)} | ${(ra.pss / rb.pss).toFixed(2)}× |`,
  );
  return lines.join('\n');
}

/** A server's memory in MiB, summed over it and its children: RSS now and at its peak, and PSS now. */
export interface Memory {
  now: number;
  peak: number;
  pss: number;
}

export function rssOf(pid: number): Memory {
  const pids = pidsOf(pid);
  return {
    now: pids.reduce((s, p) => s + memoryMiB(p, 'VmRSS'), 0),
    peak: pids.reduce((s, p) => s + memoryMiB(p, 'VmHWM'), 0),
    pss: pids.reduce((s, p) => s + pssMiB(p), 0),
  };
}

export async function waitFor(what: string, proc: CliProcess, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (await ok().catch(() => false)) return;
    if (proc.child.exitCode !== null) throw new Error(`${what} exited:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready after 120 s:\n${proc.output()}`);
    await sleep(300);
  }
}
