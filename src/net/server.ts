/**
 * The listener of `sts serve` and `issuer serve`: HTTPS when a certificate is given (plain HTTP otherwise), the
 * connection limits applied (limits.ts), and, when the certificate's files are known, the certificate followed
 * as they change (an invalid pair keeps the current one).
 */
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Logger } from '../log.js';
import { CertificateReloader } from './tls.js';
import { applyLimits, DEFAULT_LIMITS, type ConnectionLimits } from './limits.js';

export interface LimitedServerOptions {
  tls?: { cert: string; key: string };
  /** The files `tls` was read from: watched, and re-read by reloadTls(). */
  tlsFiles?: { certFile: string; keyFile: string };
  limits?: Partial<ConnectionLimits>;
  /** Where the certificate reloads are reported. */
  logger: Logger;
}

export interface LimitedServer {
  server: Server;
  /** Re-reads the TLS files now; true when a new certificate is served. */
  reloadTls: () => Promise<boolean>;
  /** Stops following the TLS files (also done when the server closes). */
  stopTlsReload: () => void;
}

/** Creates the server (not listening yet); an invalid certificate or key throws from node:https. */
export function createLimitedServer(options: LimitedServerOptions, handler: RequestListener): LimitedServer {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const tls = options.tls;
  const server: Server = tls
    ? createHttpsServer(
        { cert: tls.cert, key: tls.key, handshakeTimeout: limits.handshakeTimeoutMs },
        handler,
      )
    : createHttpServer(handler);
  applyLimits(server, limits);
  const reloader =
    tls && options.tlsFiles
      ? new CertificateReloader(
          { ...options.tlsFiles, ciphers: undefined, minVersion: 'TLSv1.2' },
          { cert: Buffer.from(tls.cert), key: Buffer.from(tls.key) },
          (o) => (server as unknown as HttpsServer).setSecureContext(o),
          options.logger,
        )
      : undefined;
  server.once('close', () => reloader?.close());
  return {
    server,
    reloadTls: () => reloader?.reload() ?? Promise.resolve(false),
    stopTlsReload: () => reloader?.close(),
  };
}
