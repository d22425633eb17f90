/**
 * Serves an issuer folder over HTTPS (plain HTTP only when no certificate is given) with the caching
 * headers kube-apiserver sends: Cache-Control public max-age, an ETag and 304 on If-None-Match.
 * Only the discovery document and the JWKS it names are read (readDocuments), once at start and on reload, so a
 * request never touches the disk and nothing else in the folder can be reached; anything else is a 404.
 */
import { createHash } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { ConnectionLimits } from '../net/limits.js';
import { createLimitedServer, type LimitedServer } from '../net/server.js';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../log.js';
import { IssuerError } from './errors.js';
import { DISCOVERY_PATH, readDocuments, type DocumentFile } from './documents.js';
import { messageOf } from '../errors.js';

export const DEFAULT_MAX_AGE_SECONDS = 3600;

export interface ServedFile {
  body: Buffer;
  etag: string;
  contentType: string;
}

export interface HandlerOptions {
  /** URL path the folder is mounted at ("" or "/cluster-a"); default: the discovery issuer's path. */
  prefix?: string;
  maxAgeSeconds?: number;
}

/** The path the issuer's documents live under, from its discovery document ("/a/b/" → "/a/b"). */
export function prefixFromDiscovery(files: DocumentFile[]): string {
  const disc = files.find((f) => f.path === DISCOVERY_PATH);
  if (!disc) return '';
  try {
    const issuer = (JSON.parse(disc.body) as { issuer?: unknown }).issuer;
    if (typeof issuer !== 'string') return '';
    return new URL(issuer).pathname.replace(/\/+$/, '');
  } catch {
    return '';
  }
}

function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

function matches(ifNoneMatch: string, etag: string): boolean {
  return ifNoneMatch
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === '*' || t === etag);
}

function routesOf(files: DocumentFile[], prefix: string): Map<string, ServedFile> {
  const routes = new Map<string, ServedFile>();
  for (const f of files) {
    const body = Buffer.from(f.body, 'utf8');
    routes.set(`${prefix}/${f.path}`, { body, etag: etagOf(body), contentType: f.contentType });
  }
  return routes;
}

export type IssuerHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** Swaps in new documents atomically (same prefix): requests see either the old or the new set. */
  replace(files: DocumentFile[]): void;
};

/** A request handler over in-memory documents (pure routing; no I/O besides the response). */
export function createIssuerHandler(files: DocumentFile[], options: HandlerOptions = {}): IssuerHandler {
  const prefix = (options.prefix ?? prefixFromDiscovery(files)).replace(/\/+$/, '');
  const maxAge = options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
  let routes = routesOf(files, prefix);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    const file = routes.get(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(file ? 405 : 404, file ? { Allow: 'GET, HEAD' } : {});
      res.end();
      return;
    }
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : 'not found\n');
      return;
    }
    const headers = {
      'Content-Type': file.contentType,
      'Cache-Control': `public, max-age=${maxAge}`,
      ETag: file.etag,
    };
    const inm = req.headers['if-none-match'];
    if (typeof inm === 'string' && matches(inm, file.etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': String(file.body.length) });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  };
  return Object.assign(handler, {
    replace(next: DocumentFile[]) {
      routes = routesOf(next, prefix);
    },
  });
}

export interface ServeOptions extends HandlerOptions {
  /** Request lines at debug level, server errors at warn (pino; secrets are redacted by src/log). */
  logger?: Logger;
  /** The issuer folder (written by `documents`), or the files themselves. */
  dir?: string;
  /** The JWKS file under `dir` when the discovery's jwks_uri is outside the issuer (readDocuments). */
  jwksPath?: string;
  files?: DocumentFile[];
  port?: number;
  host?: string;
  /** PEM certificate (chain: leaf first, then intermediates) and key; omit both for plain HTTP. */
  tlsCert?: string;
  tlsKey?: string;
  /** The files tlsCert/tlsKey came from: watched, and re-read by reloadTls(); an invalid pair keeps the old one. */
  tlsFiles?: { certFile: string; keyFile: string };
  /** Connection cap and deadlines (src/net/limits.ts defaults). */
  limits?: Partial<ConnectionLimits>;
}

export interface IssuerServer {
  /** Base URL including the prefix, e.g. https://127.0.0.1:8443/cluster-a. */
  url: string;
  port: number;
  tls: boolean;
  server: Server;
  /** Re-reads the folder (or serves `files`) without dropping connections; for key rotation. */
  reload(files?: DocumentFile[]): Promise<number>;
  /** Re-reads the TLS files now; true when a new certificate is served. */
  reloadTls: () => Promise<boolean>;
  close(): Promise<void>;
}

export async function startIssuerServer(options: ServeOptions): Promise<IssuerServer> {
  const read = (dir: string) => readDocuments(dir, { jwksPath: options.jwksPath });
  const files = options.files ?? (options.dir ? await read(options.dir) : undefined);
  if (!files) throw new IssuerError('BadInput', 'nothing to serve: give a folder or files');
  if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) {
    throw new IssuerError('BadInput', 'give both a TLS certificate and its key, or neither');
  }
  const prefix = (options.prefix ?? prefixFromDiscovery(files)).replace(/\/+$/, '');
  const handler = createIssuerHandler(files, { ...options, prefix });
  const log = options.logger;
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    if (log?.isLevelEnabled('debug')) {
      res.once('finish', () =>
        log.debug({ method: req.method, path: req.url, status: res.statusCode }, 'request'),
      );
    }
    handler(req, res);
  };
  const tls = Boolean(options.tlsCert);
  let listener: LimitedServer;
  try {
    listener = createLimitedServer(
      {
        ...(tls ? { tls: { cert: options.tlsCert!, key: options.tlsKey! } } : {}),
        tlsFiles: options.tlsFiles,
        limits: options.limits,
        logger: log ?? createLogger({ name: 'issuer', level: 'silent' }),
      },
      serve,
    );
  } catch (err) {
    throw new IssuerError('BadInput', `invalid TLS certificate or key: ${messageOf(err)}`);
  }
  const { server, reloadTls, stopTlsReload } = listener;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new IssuerError('PortInUse', `port ${options.port ?? 8443} on ${host} is already in use`)
          : new IssuerError(
              'BadInput',
              `cannot listen on ${host}:${options.port ?? 8443}: ${err.code ?? err.message}`,
            ),
      );
    server.once('error', onError);
    server.listen(options.port ?? 8443, host, () => {
      server.off('error', onError);
      // From here on an error is logged, never a crash: documents stay served.
      server.on('error', (err) => log?.warn({ err: err.message }, 'issuer server error'));
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `${tls ? 'https' : 'http'}://${shownHost}:${port}${prefix}`,
    port,
    tls,
    server,
    reload: async (next?: DocumentFile[]) => {
      const files = next ?? (options.dir ? await read(options.dir) : undefined);
      if (!files)
        throw new IssuerError(
          'BadInput',
          'nothing to reload: the server was started with files, pass new ones',
        );
      handler.replace(files);
      return files.length;
    },
    reloadTls,
    close: () =>
      new Promise<void>((resolve) => {
        stopTlsReload();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Runs a started server until SIGINT or SIGTERM, then closes it. SIGHUP re-reads the folder (after 'documents' wrote
 * a rotation set; a bad folder keeps the previous documents) and the TLS files (also watched; an invalid pair keeps
 * the current one).
 */
export async function serveUntilStopped(
  server: IssuerServer,
  on: { reloaded: (documents: number) => void; reloadFailed: (message: string) => void },
): Promise<void> {
  const reload = () => {
    void server.reloadTls();
    server
      .reload()
      .then(on.reloaded, (err: unknown) => on.reloadFailed(err instanceof Error ? err.message : String(err)));
  };
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGHUP', reload);
      void server.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
