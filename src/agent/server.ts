/**
 * The thin HTTP shell: `/v1/credentials` where the SDKs look, answered as EKS's agent answers
 * (pkg/handlers/eks_credential_handler.go), and a probe server (`/healthz`, `/readyz`, `/metrics`).
 * Every decision is made by the pure pieces (token.ts, plan.ts) and the caches; this file only adapts HTTP.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import type { Logger } from '../log.js';
import { AgentError, addressError, internalError } from './errors.js';
import { basicTokenChecks } from './token.js';
import { planCredentials, type PlanOptions } from './plan.js';
import { credentialsBody } from './response.js';
import type { CredentialsCache } from './cache.js';
import type { PodTokenAuthenticator } from './authenticate.js';
import type { Association } from './association.js';
import type { Upstream } from './upstream.js';
import { messageOf } from '../errors.js';

export const CREDENTIALS_PATH = '/v1/credentials';
/** EKS's link-local addresses: where the webhook's AWS_CONTAINER_CREDENTIALS_FULL_URI points. */
export const DEFAULT_BIND_HOSTS = ['169.254.170.23', 'fd00:ec2::23'];
/** Node's default is 16 KiB; a token is ~1 KiB. Bigger headers get 431 before any of our code runs. */
export const MAX_HEADER_BYTES = 16 * 1024;

export interface AgentMetrics {
  registry: client.Registry;
  responses: client.Counter<'code'>;
}

export function createAgentMetrics(): AgentMetrics {
  const registry = new client.Registry();
  const responses = new client.Counter({
    name: 'pod_identity_http_response',
    help: 'Pod Identity http response code',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  return { registry, responses };
}

export interface CredentialsHandlerDeps {
  authenticator: PodTokenAuthenticator;
  associations: { lookup(namespace: string, serviceAccount: string): Association | undefined };
  plan: PlanOptions;
  upstream: Upstream;
  cache: CredentialsCache;
  /** Hosts a request may name (the EKS agent refuses others with 403); undefined = any. */
  allowedHosts: readonly string[] | undefined;
  /** Milliseconds since the epoch. */
  now: () => number;
  logger: Logger;
  metrics?: AgentMetrics;
}

export interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** The request's host without port or IPv6 brackets (EKS agent: validateRequestTargetHost). */
export function targetHost(hostHeader: string | undefined): string {
  let h = hostHeader ?? '';
  const m = /^(\[[^\]]*\]|[^:]*):\d*$/.exec(h);
  if (m) h = m[1]!;
  if (h.length > 1 && h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h;
}

/** Go's http.Error: text/plain, the message and a newline. */
export function errorAnswer(err: AgentError): Answer {
  return { status: err.status, contentType: 'text/plain; charset=utf-8', body: `${err.body}\n` };
}

/** One credentials request, start to finish. Never throws: every failure is an answer. */
export async function answerCredentialsRequest(
  d: CredentialsHandlerDeps,
  host: string | undefined,
  authorization: string | undefined,
  requestId: string,
): Promise<Answer> {
  try {
    if (d.allowedHosts) {
      const h = targetHost(host);
      if (!d.allowedHosts.includes(h)) throw addressError(d.allowedHosts, h);
    }
    const nowMs = d.now();
    const now = Math.floor(nowMs / 1000);
    const token = basicTokenChecks(authorization, now);
    const pod = await d.authenticator.authenticate(token, now, requestId);
    const plan = planCredentials(
      pod,
      d.associations.lookup(pod.namespace, pod.serviceAccount),
      d.plan,
      requestId,
    );
    const creds = await d.cache.get(plan.cacheKey, () => {
      d.logger.info(
        {
          namespace: pod.namespace,
          serviceAccount: pod.serviceAccount,
          pod: pod.podName,
          role: plan.roleArn,
          model: plan.model,
        },
        'fetching credentials',
      );
      return d.upstream.issue(plan, token);
    });
    return { status: 200, contentType: 'application/json', body: credentialsBody(creds) };
  } catch (err) {
    const e = err instanceof AgentError ? err : internalError('Unable to fetch credentials');
    if (!(err instanceof AgentError))
      d.logger.error({ err: messageOf(err), requestId }, 'unexpected failure');
    d.logger.warn(
      { requestId, status: e.status, code: e.code, reason: e.body },
      'Error fetching credentials',
    );
    return errorAnswer(e);
  }
}

function send(res: ServerResponse, a: Answer): void {
  const headers: Record<string, string | number> = {
    'content-type': a.contentType,
    'content-length': Buffer.byteLength(a.body),
  };
  if (a.contentType.startsWith('text/plain')) headers['x-content-type-options'] = 'nosniff';
  res.writeHead(a.status, headers);
  res.end(a.body);
}

export function credentialsListener(
  d: CredentialsHandlerDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== CREDENTIALS_PATH) {
      send(res, { status: 404, contentType: 'text/plain; charset=utf-8', body: '404 page not found\n' });
      return;
    }
    void answerCredentialsRequest(d, req.headers.host, req.headers.authorization, randomUUID()).then((a) => {
      d.metrics?.responses.inc({ code: String(a.status) });
      send(res, a);
    });
  };
}

export interface Listening {
  servers: Server[];
  /** `host:port` as bound (IPv6 in brackets). */
  addresses: string[];
  close(): Promise<void>;
}

/** Listens on every host (one server each, as EKS's agent does); rejects if any cannot bind. */
export async function listenAll(
  hosts: readonly string[],
  port: number,
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Listening> {
  const servers: Server[] = [];
  const close = () =>
    Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((r) => {
            s.close(() => r());
            s.closeAllConnections();
          }),
      ),
    ).then(() => undefined);
  try {
    for (const host of hosts) {
      const s = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 30_000 }, listener);
      s.keepAliveTimeout = 30_000;
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host.replace(/^\[|\]$/g, ''), () => {
          s.off('error', reject);
          resolve();
        });
      });
    }
  } catch (err) {
    await close();
    throw err;
  }
  const addresses = servers.map((s) => {
    const a = s.address() as AddressInfo;
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  });
  return { servers, addresses, close };
}

/** `/healthz` and `/readyz` (200 once ready) and `/metrics`. */
export function probeListener(
  ready: () => boolean,
  metrics: AgentMetrics,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' || ready();
      send(res, {
        status: ok ? 200 : 503,
        contentType: 'text/plain; charset=utf-8',
        body: ok ? 'ok\n' : 'not ready\n',
      });
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (body) => send(res, { status: 200, contentType: metrics.registry.contentType, body }),
        () =>
          send(res, { status: 500, contentType: 'text/plain; charset=utf-8', body: 'metrics unavailable\n' }),
      );
    } else send(res, { status: 404, contentType: 'text/plain; charset=utf-8', body: '404 page not found\n' });
  };
}
