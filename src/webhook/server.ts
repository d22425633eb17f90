/**
 * The webhook's HTTP shells (reference main.go, pkg/handler/shutdown.go): HTTPS `/mutate` (any method), `/healthz`, `/readyz`, the
 * debug handlers, 404 for the rest; the plain-HTTP metrics server; graceful shutdown. The admission logic itself is
 * the injected `review` (admission.ts); this file only adapts it to HTTP, metrics and logs.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { SecureContextOptions } from 'node:tls';
import type { Socket } from 'node:net';
import { applyLimits, DEFAULT_LIMITS } from '../net/limits.js';
import type { WebhookMetrics } from './metrics.js';
import type { AdmissionInput, AdmissionOutput } from './admission.js';
import type { IdentityLookup, MutationConfig } from './types.js';
import type { Logger } from '../log.js';
import { messageOf } from '../errors.js';

/** The admission core the server adapts to HTTP (admission.ts `reviewAdmission`; tests may inject another). */
export type ReviewFn = (input: AdmissionInput) => Promise<AdmissionOutput>;

export interface Readiness {
  ready: boolean;
  /** Why not ready (empty when ready). */
  reasons: string[];
}

export interface ServerOptions {
  tls: SecureContextOptions;
  review: ReviewFn;
  lookup: (namespace: string, serviceAccount: string) => Promise<IdentityLookup>;
  config: MutationConfig;
  metrics: WebhookMetrics;
  logger: Logger;
  maxRequestBytes: number;
  /** Open connections at most, per port (src/net/limits.ts). */
  maxConnections?: number;
  enableDebuggingHandlers: boolean;
  readiness: () => Readiness;
  /** Debug handlers on the metrics port. */
  cacheDump: () => string;
  cacheClear: () => void;
  random?: () => number;
  /** Graceful shutdown timeout per server (the reference uses 10 s). */
  shutdownTimeoutMs?: number;
}

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };
/** How much of an oversized body is drained (as a multiple of the limit) before the connection is dropped. */
const DRAIN_FACTOR = 4;
const DENY_BODY =
  '{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"Test deny message"}}}';

/** Go's url.ParseQuery rules: bad percent escapes and `;` separators are errors (the reference answers 400). */
export function queryIsValid(query: string): boolean {
  if (query === '') return true;
  if (query.includes(';')) return false;
  for (const part of query.split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      return false;
    }
  }
  return true;
}

/** The API server gives a webhook 10 s by default (30 s max); a client that stalls longer is dropped. */
export const WEBHOOK_REQUEST_TIMEOUT_MS = 60_000;

export class WebhookServer {
  readonly https: HttpsServer;
  readonly metricsServer: HttpServer;
  private readonly o: ServerOptions;
  private readonly random: () => number;
  private shuttingDown = false;
  private inFlight = 0;
  private readonly sockets = new Set<Socket>();
  private lastNotReadyLog = 0;

  constructor(o: ServerOptions) {
    this.o = o;
    this.random = o.random ?? Math.random;
    this.https = createHttpsServer(
      { ...o.tls, handshakeTimeout: DEFAULT_LIMITS.handshakeTimeoutMs },
      (req, res) => this.handle(req, res),
    );
    const limits = {
      requestTimeoutMs: WEBHOOK_REQUEST_TIMEOUT_MS,
      maxConnections: o.maxConnections ?? DEFAULT_LIMITS.maxConnections,
    };
    applyLimits(this.https, limits);
    this.https.on('tlsClientError', (err, socket) => {
      this.o.logger.debug({ err: err.message }, 'TLS handshake failed');
      socket.destroy(); // the 400 that 'clientError' writes cannot be sent on it, and would keep it open
    });
    this.https.on('clientError', (err, socket) => {
      this.o.logger.debug({ err: err.message }, 'bad HTTP request');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    this.metricsServer = createHttpServer((req, res) => this.handleMetrics(req, res));
    applyLimits(this.metricsServer, limits);
    for (const s of [this.https, this.metricsServer] as Array<HttpServer | HttpsServer>) {
      s.on('connection', (sock: Socket) => {
        this.sockets.add(sock);
        sock.on('close', () => this.sockets.delete(sock));
      });
    }
  }

  /** Swap the serving certificate for new connections (hot reload). */
  setSecureContext(options: SecureContextOptions): void {
    this.https.setSecureContext(options);
  }

  /** Listen on both ports; with `metricsPort` undefined (a `--workers` pool's worker) on the webhook port only. */
  async listen(
    port: number,
    metricsPort: number | undefined,
    host?: string,
  ): Promise<{ port: number; metricsPort: number | undefined }> {
    const listen = (s: HttpServer | HttpsServer, p: number): Promise<number> =>
      new Promise((resolve, reject) => {
        s.once('error', reject);
        s.listen(p, host || undefined, () => {
          s.off('error', reject);
          const a = s.address();
          resolve(typeof a === 'object' && a ? a.port : p);
        });
      });
    const [wp, mp] = await Promise.all([
      listen(this.https, port),
      metricsPort === undefined ? undefined : listen(this.metricsServer, metricsPort),
    ]);
    return { port: wp, metricsPort: mp };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (this.shuttingDown) res.setHeader('Connection', 'close');
    if (q >= 0 && !queryIsValid(url.slice(q + 1))) {
      // The reference's Logging middleware answers before the instrumented route, so this is not counted.
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end('{"error": "error parsing form"}\n');
      return;
    }
    switch (path) {
      case '/mutate':
        this.instrumented(req, res, path, () => this.mutate(req, res));
        return;
      case '/healthz':
        writeHealthy(res);
        return;
      case '/readyz':
        this.readyz(res);
        return;
      case '/debug/alpha/deny':
        if (!this.o.enableDebuggingHandlers) break;
        this.instrumented(req, res, path, async () => {
          res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end(DENY_BODY);
        });
        return;
      case '/debug/alpha/500':
        if (!this.o.enableDebuggingHandlers) break;
        this.instrumented(req, res, path, async () => {
          res.writeHead(500, TEXT);
          res.end('test error\n');
        });
        return;
    }
    writeNotFound(res);
  }

  private readyz(res: ServerResponse): void {
    const r = this.o.readiness();
    if (r.ready && !this.shuttingDown) return writeReadiness(res, r);
    const reasons = this.shuttingDown ? ['shutting down'] : r.reasons;
    const now = Date.now();
    if (now - this.lastNotReadyLog > 10_000) {
      this.lastNotReadyLog = now;
      this.o.logger.info({ reasons }, 'not ready');
    }
    writeReadiness(res, { ready: false, reasons });
  }

  /** Count, time and log one instrumented request; never lets a handler error escape. */
  private instrumented(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    fn: () => Promise<void>,
  ): void {
    const start = process.hrtime.bigint();
    const verb = req.method ?? 'GET';
    this.inFlight++;
    res.once('close', () => {
      this.inFlight--;
      this.o.metrics.observe(verb, path, res.statusCode, start);
      if (this.o.logger.isLevelEnabled('trace')) {
        this.o.logger.trace(
          {
            path,
            method: verb,
            status: res.statusCode,
            user_agent: req.headers['user-agent'],
            body_bytes: Number(req.headers['content-length'] ?? 0),
          },
          'request',
        );
      }
    });
    fn().catch((err: unknown) => {
      this.o.logger.error({ err: messageOf(err), path }, 'request handler failed');
      if (!res.headersSent) {
        res.writeHead(500, TEXT);
        res.end('internal error\n');
      } else res.destroy();
    });
  }

  private async mutate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const max = this.o.maxRequestBytes;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > DRAIN_FACTOR * max) {
      this.tooLarge(res, Number(declared), true);
      return;
    }
    const body = await readBody(req, max);
    if (body === TOO_LARGE) {
      // The body was drained, so the client reads the 413 instead of a broken pipe.
      this.tooLarge(res, declared === undefined ? undefined : Number(declared), false);
      return;
    }
    if (body === null) return; // client went away, or kept streaming past the drain limit
    const out = await this.o.review({
      contentType: req.headers['content-type'],
      body,
      lookup: this.o.lookup,
      config: this.o.config,
      random: this.random,
    });
    res.writeHead(out.status, out.headers);
    res.end(out.body);
    const r = out.result;
    if (r?.method) this.o.metrics.podCount.inc({ method: r.method });
    const log = this.o.logger;
    if (out.error !== undefined) {
      log.warn({ status: out.status, err: out.error, pod: out.pod }, 'admission request rejected');
    } else if (out.pod && r && log.isLevelEnabled('debug')) {
      const p = { Pod: out.pod.name, ServiceAccount: out.pod.serviceAccount, Namespace: out.pod.namespace };
      if (r.patchJson === undefined)
        log.debug(p, 'Pod was not mutated. Reason: no identity for its service account');
      else if (r.changed) log.debug(p, 'Pod was mutated.');
      else
        log.debug(
          p,
          'Pod was not mutated. Reason: Required volume mounts and env variables were already present.',
        );
    }
    if (r && r.warnings.length > 0) log.info({ pod: out.pod, warnings: r.warnings }, 'admission warnings');
  }

  private tooLarge(res: ServerResponse, declared: number | undefined, close: boolean): void {
    const max = this.o.maxRequestBytes;
    this.o.logger.warn({ declaredBytes: declared, limitBytes: max }, 'admission request body too large');
    res.writeHead(413, close ? { ...TEXT, Connection: 'close' } : TEXT);
    res.end(`request body too large: the limit is ${max} bytes (--max-request-bytes)\n`);
  }

  private handleMetrics(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (this.shuttingDown) res.setHeader('Connection', 'close');
    if (path === '/metrics') {
      writeMetrics(res, this.o.metrics.registry.metrics(), this.o.metrics.registry.contentType);
      return;
    }
    if (path === '/healthz') {
      writeHealthy(res);
      return;
    }
    if (path === '/readyz') {
      this.readyz(res);
      return;
    }
    if (this.o.enableDebuggingHandlers && path === '/debug/alpha/cache') {
      const dump = this.o.cacheDump();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(dump);
      return;
    }
    if (this.o.enableDebuggingHandlers && path === '/debug/alpha/cache/clear') {
      this.o.cacheClear();
      res.writeHead(200);
      res.end();
      return;
    }
    writeNotFound(res);
  }

  /**
   * Stop accepting, let in-flight requests finish (responses carry `Connection: close`), close idle keep-alive
   * connections; after the timeout, force-close. Resolves true when the drain was graceful.
   */
  async shutdown(): Promise<boolean> {
    this.shuttingDown = true;
    const timeoutMs = this.o.shutdownTimeoutMs ?? 10_000;
    const closeOne = (s: HttpServer | HttpsServer): Promise<boolean> =>
      new Promise((resolve) => {
        if (!s.listening) {
          resolve(true);
          return;
        }
        const timer = setTimeout(() => {
          s.closeAllConnections();
          resolve(false);
        }, timeoutMs);
        s.close(() => {
          clearTimeout(timer);
          resolve(true);
        });
        s.closeIdleConnections();
        // Connections that finish their current request are closed by the `Connection: close` header; idle ones
        // that appear meanwhile are swept here.
        const sweep = setInterval(() => {
          s.closeIdleConnections();
          if (!s.listening) clearInterval(sweep);
        }, 100);
        sweep.unref();
        s.once('close', () => clearInterval(sweep));
      });
    const [a, b] = await Promise.all([closeOne(this.https), closeOne(this.metricsServer)]);
    if (!a || !b) {
      this.o.logger.error(
        { inFlight: this.inFlight },
        'graceful server shutdown failed, server has been force closed: timeout',
      );
      for (const s of this.sockets) s.destroy();
    }
    return a && b;
  }
}

/** `/readyz`: 200 `ok`, or 503 with the reasons. */
export function writeReadiness(res: ServerResponse, r: Readiness): void {
  if (r.ready) {
    res.writeHead(200, TEXT);
    res.end('ok');
    return;
  }
  res.writeHead(503, TEXT);
  res.end(`not ready: ${r.reasons.join('; ')}\n`);
}

/** `/metrics`: the registry's text once collected, or 500 with why not. */
export function writeMetrics(res: ServerResponse, text: Promise<string>, contentType: string): void {
  text.then(
    (t) => {
      res.writeHead(200, { 'Content-Type': contentType });
      res.end(t);
    },
    (err: unknown) => {
      res.writeHead(500, TEXT);
      res.end(`cannot collect metrics: ${messageOf(err)}\n`);
    },
  );
}

/** `/healthz`: the process answers. */
export function writeHealthy(res: ServerResponse): void {
  res.writeHead(200, TEXT);
  res.end('ok');
}

/** Any other path. */
export function writeNotFound(res: ServerResponse): void {
  res.writeHead(404, TEXT);
  res.end('404 page not found\n');
}

const TOO_LARGE = Symbol('too large');

/**
 * Read the whole body up to `max` bytes. A larger body is drained (discarded) up to DRAIN_FACTOR × max and gives
 * TOO_LARGE; past that the request is destroyed (null), as when the client goes away.
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | typeof TOO_LARGE | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    let done = false;
    const finish = (v: Buffer | typeof TOO_LARGE | null): void => {
      if (done) return;
      done = true;
      resolve(v);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (over || size > max) {
        over = true;
        chunks.length = 0;
        if (size > DRAIN_FACTOR * max) {
          req.destroy();
          finish(null);
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () =>
      finish(over ? TOO_LARGE : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)),
    );
    req.on('error', () => finish(null));
    req.on('aborted', () => finish(null));
  });
}
