/**
 * Pieces shared by the benchmarks: a minimal HTTP/1.1 response framer for the lean load generators, and the
 * /proc readings of a server's CPU time and memory.
 */
import { readFileSync } from 'node:fs';

const CRLF2 = Buffer.from('\r\n\r\n');

/**
 * One HTTP/1.1 response at the start of `buf`: undefined while incomplete, else its status, body and whether the
 * server closes the connection after it (or why it cannot be read), and how many bytes it used. Handles Content-Length and chunked framing (no trailers).
 */
export function parseReply(
  buf: Buffer,
): { reply: { status: number; body: Buffer; close: boolean } | string; consumed: number } | undefined {
  const end = buf.indexOf(CRLF2);
  if (end < 0) return undefined;
  const head = buf.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  // The server ends the connection after this reply (HTTP/1.0, or `Connection: close`).
  const close = head.startsWith('HTTP/1.0') || /\r\nconnection: *close/i.test(head);
  let at = end + 4;
  const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (cl) {
    const n = Number(cl[1]);
    if (buf.length < at + n) return undefined;
    return { reply: { status, body: buf.subarray(at, at + n), close }, consumed: at + n };
  }
  if (!/\r\ntransfer-encoding: *chunked/i.test(head))
    return { reply: `no framing in ${JSON.stringify(head)}`, consumed: buf.length };
  const parts: Buffer[] = [];
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(buf.toString('latin1', at, eol), 16);
    if (!Number.isFinite(size)) return { reply: 'bad chunk size', consumed: buf.length };
    if (buf.length < eol + 2 + size + 2) return undefined;
    if (size === 0) return { reply: { status, body: Buffer.concat(parts), close }, consumed: eol + 4 };
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** The direct children of a process (e.g. `--workers` processes), from /proc. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/**
 * Proportional set size in MiB (/proc/PID/smaps_rollup): pages shared by several processes (the node binary of
 * `--workers`) count as their share, so the sum over processes is closer to what a cgroup memory limit sees.
 */
export function pssMiB(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A field of /proc/PID/status in MiB (VmRSS: now, VmHWM: peak). */
export function memoryMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
