/**
 * A lean Kubernetes API transport for the webhook's caches: kubeconfig / in-cluster / `--kube-api` configuration,
 * JSON GETs and line-delimited watch streams over node:https with one keep-alive agent. The webhook needs nothing
 * more, and @kubernetes/client-node costs ~80 MiB of RSS just to load (its generated models and every API class);
 * that library is loaded here only for the auth plugins this file does not implement (kubeconfig `exec` and
 * `auth-provider` users), which it then authenticates each request through.
 *
 * Configuration rules are clientcmd's (BuildConfigFromFlags), as src/kube/client.ts: `--kube-api` overrides the
 * server, `--kubeconfig` names the file, and with neither the in-cluster service account is used.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { dirname, isAbsolute, join } from 'node:path';
import { loadYaml } from '../lazy-yaml.js';
import {
  KubeConfigError,
  kubeClientSource,
  loadingKubeConfig,
  type KubeClientOptions,
} from './client-errors.js';
import type { ListPage, ListWatch } from './reflector.js';
import { OpenIrsaError } from '../errors.js';

export { KubeConfigError, type KubeClientOptions };

/** A non-2xx answer of the API server (`statusCode` and `code` as client-node's ApiException has them). */
/** Its code is the HTTP status, as client-node's ApiException has it, so callers read either client's the same way. */
export class KubeApiError extends OpenIrsaError<number> {
  constructor(
    readonly statusCode: number,
    readonly body: string,
    what: string,
  ) {
    super(statusCode, `${what}: HTTP ${statusCode}: ${body.slice(0, 300)}`);
  }
}

/** How a request authenticates and trusts the server. */
interface Credentials {
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  rejectUnauthorized: boolean;
  servername?: string | undefined;
  /** The Authorization header, read fresh when it can change (token files, auth plugins). */
  authorization?: () => Promise<string | undefined>;
}

const IN_CLUSTER = '/var/run/secrets/kubernetes.io/serviceaccount';
/** A token file is re-read at most this often (kubelet rotates projected tokens; client-go re-reads every minute). */
const TOKEN_FILE_TTL_MS = 60_000;

function tokenFileReader(path: string): () => Promise<string | undefined> {
  let value = '';
  let readAt = -Infinity;
  return async () => {
    if (Date.now() - readAt > TOKEN_FILE_TTL_MS) {
      value = readFileSync(path, 'utf8').trim();
      readAt = Date.now();
    }
    return `Bearer ${value}`;
  };
}

type Named<T> = Array<{ name?: string } & Record<string, T | undefined>>;

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Named<Record<string, unknown>>;
  users?: Named<Record<string, unknown>>;
  contexts?: Named<Record<string, unknown>>;
}

function pick(list: Named<Record<string, unknown>> | undefined, field: string, name: string | undefined) {
  return list?.find((e) => e.name === name)?.[field];
}

/** Load the connection the way src/kube/client.ts's loadKubeConfig configures client-node. */
export function loadKubeConnection(options: KubeClientOptions): KubeConnection {
  const env = options.env ?? process.env;
  return loadingKubeConfig(() => {
    switch (kubeClientSource(options)) {
      case 'kubeconfig':
        return fromKubeconfig(options.kubeconfig!, options.kubeApi);
      case 'kube-api':
        // An https --kube-api alone is verified against the system's CAs (as client-node does); http has no TLS.
        return new KubeConnection(options.kubeApi!, { rejectUnauthorized: true });
      case 'in-cluster': {
        const host = env.KUBERNETES_SERVICE_HOST!.includes(':')
          ? `[${env.KUBERNETES_SERVICE_HOST}]`
          : env.KUBERNETES_SERVICE_HOST!;
        return new KubeConnection(`https://${host}:${env.KUBERNETES_SERVICE_PORT}`, {
          ca: readFileSync(join(IN_CLUSTER, 'ca.crt')),
          rejectUnauthorized: true,
          authorization: tokenFileReader(join(IN_CLUSTER, 'token')),
        });
      }
    }
  });
}

function fromKubeconfig(path: string, serverOverride: string | undefined): KubeConnection {
  const doc = (loadYaml().parse(readFileSync(path, 'utf8')) ?? {}) as KubeconfigFile;
  const base = dirname(path);
  const file = (p: unknown): Buffer | undefined =>
    typeof p === 'string' && p !== '' ? readFileSync(isAbsolute(p) ? p : join(base, p)) : undefined;
  const data = (d: unknown): Buffer | undefined =>
    typeof d === 'string' && d !== '' ? Buffer.from(d, 'base64') : undefined;
  const contextName = doc['current-context'];
  const context = pick(doc.contexts, 'context', contextName) as
    { cluster?: string; user?: string } | undefined;
  if (!context) throw new KubeConfigError('the kubeconfig has no current cluster');
  const cluster = pick(doc.clusters, 'cluster', context.cluster);
  if (!cluster || typeof cluster.server !== 'string')
    throw new KubeConfigError('the kubeconfig has no current cluster');
  const user = pick(doc.users, 'user', context.user) ?? {};
  const creds: Credentials = {
    ca: data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']),
    cert: data(user['client-certificate-data']) ?? file(user['client-certificate']),
    key: data(user['client-key-data']) ?? file(user['client-key']),
    rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
    servername: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
  };
  if (user.exec || user['auth-provider']) {
    creds.authorization = pluginAuthorization(path);
  } else if (typeof user.token === 'string' && user.token !== '') {
    const header = `Bearer ${user.token}`;
    creds.authorization = async () => header;
  } else if (typeof user.tokenFile === 'string' && user.tokenFile !== '') {
    creds.authorization = tokenFileReader(
      isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile),
    );
  } else if (typeof user.username === 'string' && typeof user.password === 'string') {
    const header = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    creds.authorization = async () => header;
  }
  // --kube-api's default is '' (unset): only a non-empty value overrides the kubeconfig's server.
  return new KubeConnection(serverOverride || cluster.server, creds);
}

/** exec / auth-provider users: client-node runs the plugin (and caches its token); loaded only for them. */
function pluginAuthorization(path: string): () => Promise<string | undefined> {
  let kc: Promise<{ applyToHTTPSOptions(o: RequestOptions): Promise<void> }> | undefined;
  return async () => {
    kc ??= import('@kubernetes/client-node').then(({ KubeConfig }) => {
      const c = new KubeConfig();
      c.loadFromFile(path);
      return c;
    });
    const opts: RequestOptions = { headers: {} };
    await (await kc).applyToHTTPSOptions(opts);
    const h = (opts.headers as Record<string, string | undefined>).Authorization;
    return h ?? (opts.headers as Record<string, string | undefined>).authorization;
  };
}

export type WatchEvent = (type: string, object: unknown) => void;

/** A watch in progress: `abort()` ends it (its done callback then gets an AbortError). */
export interface WatchHandle {
  abort(): void;
}

export class KubeConnection {
  readonly server: URL;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly tls: boolean;

  constructor(
    server: string,
    private readonly creds: Credentials,
  ) {
    this.server = new URL(server);
    this.tls = this.server.protocol === 'https:';
    if (!this.tls && this.server.protocol !== 'http:')
      throw new KubeConfigError(`the API server URL ${server} is neither https nor http`);
    this.agent = this.tls
      ? new HttpsAgent({
          keepAlive: true,
          ca: creds.ca,
          cert: creds.cert,
          key: creds.key,
          rejectUnauthorized: creds.rejectUnauthorized,
          ...(creds.servername ? { servername: creds.servername } : {}),
        })
      : new HttpAgent({ keepAlive: true });
  }

  private async open(path: string, query: Record<string, string | number | boolean | undefined>) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') qs.set(k, String(v));
    const prefix = this.server.pathname.replace(/\/$/, '');
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'openirsa' };
    const auth = await this.creds.authorization?.();
    if (auth) headers.Authorization = auth;
    const options: RequestOptions = {
      protocol: this.server.protocol,
      hostname: this.server.hostname.replace(/^\[|\]$/g, ''),
      port: this.server.port || (this.tls ? 443 : 80),
      path: `${prefix}${path}${qs.size > 0 ? `?${qs.toString()}` : ''}`,
      method: 'GET',
      headers,
      agent: this.agent,
    };
    return this.tls ? httpsRequest(options) : httpRequest(options);
  }

  /** GET a JSON object; rejects with KubeApiError on a non-2xx status. */
  async get<T>(
    path: string,
    query: Record<string, string | number | boolean | undefined> = {},
    timeoutMs = 60_000,
  ): Promise<T> {
    const req = await this.open(path, query);
    return new Promise<T>((resolve, reject) => {
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path}: no answer after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) return reject(new KubeApiError(status, body, `GET ${path}`));
          try {
            resolve(JSON.parse(body) as T);
          } catch {
            reject(new Error(`GET ${path}: the API server's answer is not JSON`));
          }
        });
      });
      req.end();
    });
  }

  /**
   * Watch a collection: each event of the line-delimited stream goes to `onEvent`; `onDone` is called once, with
   * null when the server ends the stream, a KubeApiError for a non-200 answer, an error named TimeoutError when
   * nothing arrived for `idleTimeoutMs`, or an AbortError after `abort()`.
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: WatchEvent,
    onDone: (err: unknown) => void,
    idleTimeoutMs: number,
  ): Promise<WatchHandle> {
    const req = await this.open(path, { ...query, watch: true });
    let done = false;
    const finish = (err: unknown): void => {
      if (done) return;
      done = true;
      req.destroy();
      onDone(err);
    };
    const named = (name: string, message: string): Error => Object.assign(new Error(message), { name });
    req.setTimeout(idleTimeoutMs, () =>
      finish(named('TimeoutError', `watch ${path}: idle for ${idleTimeoutMs} ms`)),
    );
    req.on('error', (err) => finish(err));
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          finish(new KubeApiError(status, Buffer.concat(chunks).toString('utf8'), `watch ${path}`)),
        );
        res.on('error', (err) => finish(err));
        return;
      }
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        let nl: number;
        while (!done && (nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (line.trim() === '') continue;
          let ev: { type?: unknown; object?: unknown };
          try {
            ev = JSON.parse(line) as { type?: unknown; object?: unknown };
          } catch {
            return finish(new Error(`watch ${path}: a line of the stream is not JSON`));
          }
          onEvent(String(ev.type), ev.object);
        }
      });
      res.on('end', () => finish(null));
      res.on('error', (err) => finish(err));
    });
    req.end();
    return { abort: () => finish(named('AbortError', `watch ${path} aborted`)) };
  }

  /** Close idle keep-alive sockets (on stop). */
  close(): void {
    this.agent.destroy();
  }
}

/**
 * A Reflector's list (one page of the collection at `path`; the query parameter is `continue`, client-node spells
 * the option `_continue`) and watch over this connection.
 */
export function leanListWatch(kube: KubeConnection, path: string): ListWatch {
  return {
    list: ({ _continue, ...rest }) => kube.get<ListPage>(path, { ...rest, continue: _continue }),
    watch: (watchPath, query, onEvent, onDone, idleTimeoutMs) =>
      kube.watch(watchPath, query, onEvent, onDone, idleTimeoutMs),
  };
}
