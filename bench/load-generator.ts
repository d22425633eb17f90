/**
 * A lean HTTP/1.1 keep-alive load generator, run as its own process so that its CPU is not the server's:
 *
 *   node --import tsx bench/load-generator.ts SPEC.json
 *
 * SPEC: { url ("http(s)://127.0.0.1:PORT/path"), ca (PEM, for https), servername, connections, warmupSeconds,
 * seconds, contentType, bodies (request bodies, sent round-robin), expect (a substring every 200 reply must hold) }.
 * Each connection writes one pre-built request, waits for the whole reply, checks it, and sends the next (on a new
 * socket when the server closes each connection after its reply, as moto's server does). Prints
 * `START` when the measured window opens and `STOP` when it closes (the caller reads the server's CPU time then),
 * then one JSON line: requests, errors, the first error, seconds, p50/p90/p99 in ms, this process's CPU per request.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseReply } from './http-client.js';

export interface LoadSpec {
  url: string;
  ca?: string;
  servername?: string;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  contentType: string;
  bodies: string[];
  expect: string;
}

export interface LoadResult {
  requests: number;
  errors: number;
  firstError: string;
  seconds: number;
  p50ms: number;
  p90ms: number;
  p99ms: number;
  clientCpuPerRequestUs: number;
  /** New connections opened because the server closed the last one after a reply (`Connection: close`). */
  reconnects: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
  const url = new URL(spec.url);
  const port = Number(url.port);
  const wires = spec.bodies.map((b) => {
    const body = Buffer.from(b);
    const head = `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: ${spec.contentType}\r\nContent-Length: ${body.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head), body]);
  });
  const latencies: number[] = [];
  let errors = 0;
  let firstError = '';
  let recording = false;
  let running = true;
  let next = 0;
  const sockets = new Set<Socket>();
  const fail = (why: string): void => {
    if (!recording) return;
    errors++;
    firstError ||= why;
  };
  let reconnects = 0;
  /** One socket: resolves true when the server ended it after a reply (`Connection: close`) and false otherwise. */
  const socket = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const s =
        url.protocol === 'https:'
          ? tlsConnect({ host: url.hostname, port, servername: spec.servername ?? 'localhost', ca: spec.ca })
          : netConnect({ host: url.hostname, port });
      s.setNoDelay(true);
      sockets.add(s);
      let buf: Buffer = Buffer.alloc(0);
      let t0 = 0n;
      let done = false;
      const finish = (again: boolean): void => {
        if (done) return;
        done = true;
        sockets.delete(s);
        s.destroy();
        resolve(again);
      };
      const send = (): void => {
        if (!running) return finish(false);
        t0 = process.hrtime.bigint();
        s.write(wires[next++ % wires.length]!);
      };
      s.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', send);
      s.on('data', (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        for (;;) {
          const r = parseReply(buf);
          if (r === undefined) return;
          buf = buf.subarray(r.consumed);
          if (typeof r.reply === 'string') {
            fail(r.reply);
            return finish(false);
          }
          if (r.reply.status !== 200)
            fail(`HTTP ${r.reply.status}: ${r.reply.body.toString('utf8', 0, 200)}`);
          else if (r.reply.body.indexOf(spec.expect) < 0)
            fail(`unexpected reply: ${r.reply.body.toString('utf8', 0, 200)}`);
          else if (recording) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          if (r.reply.close) return finish(running);
          send();
          if (done) return;
        }
      });
      s.on('error', (e: Error) => {
        if (running && !done) fail(e.message);
        finish(false);
      });
      s.on('close', () => {
        if (running && !done) fail('connection closed');
        finish(false);
      });
    });
  /** One connection's worth of load: a new socket whenever the server closed the last one after a reply. */
  const connection = async (): Promise<void> => {
    while (await socket()) if (recording) reconnects++;
  };
  const all = Array.from({ length: spec.connections }, () => connection());
  await new Promise((r) => setTimeout(r, spec.warmupSeconds * 1000));
  process.stdout.write('START\n');
  recording = true;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, spec.seconds * 1000));
  recording = false;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write('STOP\n');
  running = false;
  for (const s of sockets) s.destroy();
  await Promise.all(all);
  latencies.sort((a, b) => a - b);
  const q = (p: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  const result: LoadResult = {
    requests: latencies.length,
    errors,
    firstError,
    seconds: elapsed,
    p50ms: q(0.5),
    p90ms: q(0.9),
    p99ms: q(0.99),
    clientCpuPerRequestUs: (cpu.user + cpu.system) / Math.max(1, latencies.length),
    reconnects,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  console.error(`load-generator: ${(err as Error).message}`);
  process.exit(1);
});
