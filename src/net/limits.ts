/**
 * Connection limits shared by every openirsa server (STS, issuer, webhook): a cap on open connections and
 * deadlines for each phase, so idle or slow clients cannot hold file descriptors or memory for long.
 * Node applies them: `maxConnections` closes a connection over the cap at once, `headersTimeout` and
 * `requestTimeout` answer 408 and close, `keepAliveTimeout` closes an idle kept-alive connection,
 * `handshakeTimeout` (a TLS server option) drops a client that never finishes its TLS handshake, and the socket
 * `timeout` ends a connection that sends nothing at all.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

export interface ConnectionLimits {
  /** Open connections at most; more are closed on accept. */
  maxConnections: number;
  /** Time to receive a request's headers. */
  headersTimeoutMs: number;
  /** Time to receive a whole request. */
  requestTimeoutMs: number;
  /** An idle kept-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A TLS handshake must finish within this (pass to createServer as `handshakeTimeout`). */
  handshakeTimeoutMs: number;
  /** A connection that sends or receives nothing for this long is closed. */
  idleTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<ConnectionLimits> = {
  maxConnections: 1024,
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 120_000,
};

/** Applies the limits to a server (the handshake deadline is given at creation, see `handshakeTimeoutMs`). */
export function applyLimits(
  server: HttpServer | HttpsServer,
  limits: Partial<ConnectionLimits> = {},
): ConnectionLimits {
  const l = { ...DEFAULT_LIMITS, ...limits };
  server.maxConnections = l.maxConnections;
  server.headersTimeout = l.headersTimeoutMs;
  server.requestTimeout = l.requestTimeoutMs;
  server.keepAliveTimeout = l.keepAliveTimeoutMs;
  server.timeout = l.idleTimeoutMs;
  return l;
}

/** A --max-connections value: an integer from 1 to 1,000,000, or a one-line reason. */
export function parseMaxConnections(text: string): number {
  if (!/^\d{1,7}$/.test(text) || Number(text) < 1 || Number(text) > 1_000_000)
    throw new RangeError(
      `--max-connections must be an integer from 1 to 1000000, not ${JSON.stringify(text)}`,
    );
  return Number(text);
}
