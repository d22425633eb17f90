/**
 * The HTTP(S) shell: Query protocol over POST (form) and GET, dispatch, AWS error XML for every failure (never a
 * stack trace), body size limit, /healthz, denial logging with explanations, graceful shutdown.
 */
import { type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { ConnectionLimits } from '../net/limits.js';
import { createLimitedServer } from '../net/server.js';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createLogger, type Logger } from '../log.js';
import { KeyStore } from '../oidc/keys.js';
import type { StsConfig } from './config.js';
import { assumeRole, readAssumeRoleParams } from './assume-role.js';
import { callerIdentity } from './caller-identity.js';
import type { RequestMeta, StsDeps } from './common.js';
import {
  API_VERSION,
  MSG,
  StsError,
  parseParams,
  renderAssumeRole,
  renderCallerIdentity,
  renderCallerIdentityJson,
  renderError,
  renderErrorJson,
  renderWebIdentity,
  type Params,
} from './protocol.js';
import { hasSigV4, verifySigV4, type SignedRequest } from './sigv4.js';
import { assumeRoleWithWebIdentity, readWebIdentityParams } from './web-identity.js';
import { messageOf } from '../errors.js';

export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h)
  );
}

/** The warning `sts serve` prints when it would hand out credentials in clear text to other machines. */
export function plainHttpWarning(host: string, tls: boolean): string | undefined {
  if (tls || isLoopbackHost(host)) return undefined;
  return `no --tls-cert/--tls-key: serving plain HTTP on ${host}, reachable from other machines — credentials (secret keys, session tokens) and web identity tokens cross the network in clear text; give a certificate, or listen on 127.0.0.1`;
}

/** The parameters of an empty query string, shared (only read). */
const NO_QUERY = new URLSearchParams();

/** iss/sub/aud/exp/kid of a token, for the denial log: claims identify the caller, the signature never leaves. */
function peekClaims(token: string | undefined): Record<string, unknown> | undefined {
  if (!token) return undefined;
  try {
    const [h, p] = token.trim().split('.');
    const header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const pick = (v: unknown) =>
      typeof v === 'string' ? v.slice(0, 256) : Array.isArray(v) ? v.slice(0, 10) : v;
    return {
      alg: pick(header.alg),
      kid: pick(header.kid),
      iss: pick(payload.iss),
      sub: pick(payload.sub),
      aud: pick(payload.aud),
      exp: pick(payload.exp),
    };
  } catch {
    return undefined;
  }
}

export interface HttpInput extends SignedRequest {
  remoteAddress?: string;
  secure: boolean;
}

export interface HttpOutput {
  status: number;
  contentType: string;
  body: string;
  requestId: string;
}

/** Another Query service on the same port (the IAM API): takes the requests it claims. */
export interface SharedPortService {
  claims(input: HttpInput): boolean;
  handle(input: HttpInput): Promise<HttpOutput>;
}

export interface ServiceOptions {
  config: StsConfig;
  logger?: Logger;
  now?: () => number;
  keyStore?: KeyStore;
  iam?: SharedPortService;
}

/** Transport-independent request handling: tests drive it directly, the server adapts HTTP to it. */
export class StsService {
  readonly deps: StsDeps;
  readonly keyStore: KeyStore;
  private readonly log?: Logger;

  constructor(readonly options: ServiceOptions) {
    const { config, logger } = options;
    this.log = logger;
    this.keyStore =
      options.keyStore ??
      new KeyStore(config.providers, {
        ttlMs: config.jwksCacheSeconds * 1000,
        minRefetchMs: config.jwksMinRefetchSeconds * 1000,
        onFetch: (info) =>
          info.ok
            ? logger?.info(
                { event: 'jwks_fetch', provider: info.provider, url: info.url },
                'fetched provider keys',
              )
            : logger?.warn(
                { event: 'jwks_fetch_failed', provider: info.provider, url: info.url, reason: info.error },
                'fetching provider keys failed',
              ),
        onWarning: (w) =>
          logger?.warn({ event: 'jwks_entry_ignored', provider: w.provider, url: w.url }, w.message),
      });
    this.deps = { config, getKey: this.keyStore.getKey, now: options.now ?? Date.now };
  }

  /** The IAM API changed roles or providers: the next call sees them (each call reads `deps.config` once). */
  updateConfig(config: StsConfig): void {
    this.deps.config = config;
    this.keyStore.sync(config.providers);
  }

  async handle(input: HttpInput): Promise<HttpOutput> {
    if (this.options.iam?.claims(input)) return this.options.iam.handle(input);
    const requestId = randomUUID();
    const accept = input.headers.accept;
    const json = accept !== undefined && /application\/json/i.test(String(accept));
    let action = '';
    let params: Params | undefined;
    try {
      if (input.method !== 'GET' && input.method !== 'POST')
        throw new StsError('MethodNotAllowed', MSG.methodNotAllowed(input.method));
      params = parseParams(input.method === 'POST' ? input.body : '', input.query);
      action = params.get('Action') ?? '';
      if (!action) throw new StsError('MissingAction', MSG.missingAction);
      const version = params.get('Version');
      if (version !== API_VERSION)
        throw new StsError('InvalidAction', MSG.invalidAction(action, version ?? 'NO_VERSION_SPECIFIED'));
      const meta: RequestMeta = {
        sourceIp: input.remoteAddress?.startsWith('::ffff:')
          ? input.remoteAddress.slice(7)
          : input.remoteAddress,
        secureTransport: input.secure,
        userAgent: typeof input.headers['user-agent'] === 'string' ? input.headers['user-agent'] : undefined,
      };
      const verifyCaller = () =>
        verifySigV4(input, {
          now: this.deps.now(),
          keys: this.deps.config.sessionKeys,
          partition: this.deps.config.partition,
        });
      switch (action) {
        case 'AssumeRoleWithWebIdentity': {
          const req = readWebIdentityParams(params);
          // The call is unsigned; stale credentials attached anyway are checked like any signed call (AWS does).
          if (
            hasSigV4(input, input.query ? new URLSearchParams(input.query) : NO_QUERY) ||
            input.headers['x-amz-security-token'] !== undefined
          )
            await verifyCaller();
          const r = await assumeRoleWithWebIdentity(req, this.deps, meta);
          // Checked first: the line's fields are not even gathered when `info` is off.
          if (this.log?.isLevelEnabled('info'))
            this.log.info(
              {
                event: 'assume_role_with_web_identity',
                requestId,
                roleArn: r.role.arn,
                sessionName: req.roleSessionName,
                sub: r.subject,
                iss: r.token.provider.url,
                accessKeyId: r.credentials.accessKeyId,
              },
              'issued credentials',
            );
          return { status: 200, contentType: 'text/xml', body: renderWebIdentity(r, requestId), requestId };
        }
        case 'GetCallerIdentity': {
          const caller = await verifyCaller();
          const out = callerIdentity(caller.session);
          return json
            ? {
                status: 200,
                contentType: 'application/json',
                body: renderCallerIdentityJson(out, requestId),
                requestId,
              }
            : { status: 200, contentType: 'text/xml', body: renderCallerIdentity(out, requestId), requestId };
        }
        case 'AssumeRole': {
          const caller = await verifyCaller();
          const req = readAssumeRoleParams(params);
          const r = await assumeRole(req, caller.session, this.deps, meta);
          this.log?.info(
            {
              event: 'assume_role',
              requestId,
              roleArn: r.role.arn,
              sessionName: req.roleSessionName,
              caller: callerIdentity(caller.session).arn,
              accessKeyId: r.credentials.accessKeyId,
            },
            'issued chained credentials',
          );
          return { status: 200, contentType: 'text/xml', body: renderAssumeRole(r, requestId), requestId };
        }
        default:
          throw new StsError('InvalidAction', MSG.invalidAction(action, version));
      }
    } catch (err) {
      const e = err instanceof StsError ? err : new StsError('InternalFailure', MSG.internal, messageOf(err));
      const fields: Record<string, unknown> = {
        event: 'denied',
        requestId,
        action,
        code: e.code,
        status: e.status,
        message: e.message,
        reason: e.explanation ?? e.message,
      };
      // Who asked for what (never the token itself): enough to find the pod and the role.
      const roleArn = params?.get('RoleArn');
      if (roleArn !== undefined) fields.roleArn = roleArn.slice(0, 2048);
      const sessionName = params?.get('RoleSessionName');
      if (sessionName !== undefined) fields.roleSessionName = sessionName.slice(0, 64);
      const claims = peekClaims(params?.get('WebIdentityToken'));
      if (claims) fields.claims = claims;
      if (e.details) fields.statements = e.details;
      if (e.status >= 500) this.log?.error(fields, 'request failed');
      else this.log?.warn(fields, 'request denied');
      return {
        status: e.status,
        contentType: json ? 'application/json' : 'text/xml',
        body: json ? renderErrorJson(e, requestId) : renderError(e, requestId),
        requestId,
      };
    }
  }
}

export interface ServeOptions extends ServiceOptions {
  port?: number;
  host?: string;
  tls?: { cert: string; key: string };
  /** The files `tls` was read from: watched, and re-read on reloadTls() (SIGHUP); a bad pair keeps the old one. */
  tlsFiles?: { certFile: string; keyFile: string };
  bodyLimit?: number;
  /** Connection cap and deadlines (src/net/limits.ts defaults). */
  limits?: Partial<ConnectionLimits>;
}

export interface RunningServer {
  server: Server;
  url: string;
  service: StsService;
  /** Re-reads the TLS files now; true when a new certificate is served. */
  reloadTls: () => Promise<boolean>;
  close(graceMs?: number): Promise<void>;
}

/** `close`: the socket is dropped after this answer, so say so (a keep-alive client would otherwise reuse it). */
function send(res: ServerResponse, out: HttpOutput, close = false): void {
  // A flat [name, value, …] list: no header object to build and walk per answer.
  const headers = [
    'content-type',
    out.contentType,
    'content-length',
    String(Buffer.byteLength(out.body)),
    'x-amzn-requestid',
    out.requestId,
  ];
  if (close) headers.push('connection', 'close');
  res.writeHead(out.status, headers);
  res.end(out.body);
}

function errorOut(err: StsError): HttpOutput {
  const requestId = randomUUID();
  return { status: err.status, contentType: 'text/xml', body: renderError(err, requestId), requestId };
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const service = new StsService(options);
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const secure = options.tls !== undefined;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/healthz' || path === '/readyz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      send(res, errorOut(new StsError('RequestEntityTooLarge', MSG.bodyTooLarge(limit))), true);
      req.resume();
      res.on('finish', () => req.socket.destroy());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > limit) {
        tooLarge = true;
        send(res, errorOut(new StsError('RequestEntityTooLarge', MSG.bodyTooLarge(limit))), true);
        res.on('finish', () => req.socket.destroy());
      } else chunks.push(c);
    });
    req.on('error', () => req.socket.destroy());
    req.on('end', () => {
      if (tooLarge) return;
      service
        .handle({
          method: req.method ?? 'GET',
          path,
          query: q < 0 ? '' : url.slice(q + 1),
          headers: req.headers,
          body: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'),
          remoteAddress: req.socket.remoteAddress,
          secure: secure || (req.socket as TLSSocket).encrypted === true,
        })
        .then(
          (out) => send(res, out),
          () => send(res, errorOut(new StsError('InternalFailure', MSG.internal))),
        );
    });
  };
  const { server, reloadTls } = createLimitedServer(
    {
      tls: options.tls,
      tlsFiles: options.tlsFiles,
      limits: options.limits,
      logger: options.logger ?? createLogger({ name: 'sts', level: 'silent' }),
    },
    handler,
  );
  // A failed or timed-out TLS handshake: nothing can be answered on it, and ending it politely would keep it open.
  server.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());
  server.on('clientError', (_err, socket) => {
    if (socket.writable)
      socket.end(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: 12\r\n\r\nbad request\n',
      );
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${secure ? 'https' : 'http'}://${host}:${addr.port}`;
  return {
    server,
    url,
    service,
    reloadTls,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
