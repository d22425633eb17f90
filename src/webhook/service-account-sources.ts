/**
 * The Kubernetes API sources (reference pkg/cache/cache.go): a list/watch of ServiceAccounts in all
 * namespaces (only the prefix's annotations are kept), the single-object GET for the grace-period fallback, and the
 * namespaced watch of the `pod-identity-webhook` ConfigMap, over the lean transport (src/kube/lean.ts).
 */
import { leanListWatch, type KubeConnection } from '../kube/lean.js';
import { Reflector } from '../kube/reflector.js';
import { CONFIG_MAP_NAME } from './constants.js';
import { stripServiceAccount, type IdentityCache, type StrippedServiceAccount } from './cache.js';
import { ConfigMapHandler } from './config-map.js';
import type { Logger } from '../log.js';
import { kubeStatusOf } from '../kube/client-errors.js';

export interface ApiSourceOptions {
  kube: KubeConnection;
  cache: IdentityCache;
  annotationPrefix: string;
  logger: Logger;
  /** --resync-period (ms): the watch is re-established at least this often (min 60 s). */
  resyncPeriodMs: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** See ReflectorOptions.watchIdleTimeoutMs (tests shorten it). */
  watchIdleTimeoutMs?: number;
}

function watchTimeout(resyncPeriodMs: number): number {
  // client-go picks a random watch timeout in [5min, 10min); we follow the resync period, within sane bounds.
  const base = Math.max(60, Math.min(600, Math.round(resyncPeriodMs / 1000) || 300));
  return base + Math.floor(Math.random() * Math.min(60, base / 2));
}

export class ServiceAccountApiSource {
  readonly reflector: Reflector;

  constructor(private readonly o: ApiSourceOptions) {
    const strip = (obj: unknown): StrippedServiceAccount | undefined =>
      stripServiceAccount(obj, o.annotationPrefix);
    this.reflector = new Reflector({
      name: 'serviceaccounts',
      ...leanListWatch(o.kube, '/api/v1/serviceaccounts'),
      path: '/api/v1/serviceaccounts',
      onReplace: (items) => {
        const sas = items.map(strip).filter((x): x is StrippedServiceAccount => x !== undefined);
        o.cache.replaceServiceAccounts(sas);
      },
      onUpsert: (obj) => {
        const sa = strip(obj);
        if (sa) o.cache.addServiceAccount(sa);
      },
      onDelete: (obj) => {
        const sa = strip(obj);
        if (sa) o.cache.removeServiceAccount(sa.namespace, sa.name);
      },
      logger: o.logger,
      watchTimeoutSeconds: watchTimeout(o.resyncPeriodMs),
      initialBackoffMs: o.initialBackoffMs ?? 1000,
      maxBackoffMs: o.maxBackoffMs ?? 30_000,
      watchIdleTimeoutMs: o.watchIdleTimeoutMs,
    });
  }

  start(): void {
    this.reflector.start();
  }

  stop(): void {
    this.reflector.stop();
  }

  /**
   * GET one ServiceAccount (grace-period fallback): undefined when it does not exist. Retries a server timeout
   * like the reference (4 steps from 10 ms, ×5) and gives each attempt 1 s.
   */
  async fetch(namespace: string, name: string): Promise<StrippedServiceAccount | undefined> {
    let delay = 10;
    for (let attempt = 0; ; attempt++) {
      try {
        const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}`;
        const sa = await withTimeout(this.o.kube.get(path, {}, 1000), 1000);
        return stripServiceAccount(sa, this.o.annotationPrefix);
      } catch (err) {
        const status = kubeStatusOf(err);
        if (status === 404) return undefined;
        const serverTimeout =
          status === 504 || /ServerTimeout/.test(bodyText((err as { body?: unknown }).body));
        if (!serverTimeout || attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, delay * (0.9 + Math.random() * 0.2)));
        delay *= 5;
      }
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_r, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class ConfigMapApiSource {
  readonly reflector: Reflector;

  constructor(o: Omit<ApiSourceOptions, 'annotationPrefix'> & { namespace: string }) {
    const handler = new ConfigMapHandler(o.cache, o.logger);
    const fieldSelector = `metadata.name=${CONFIG_MAP_NAME}`;
    const path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/configmaps`;
    this.reflector = new Reflector({
      name: 'configmap',
      ...leanListWatch(o.kube, path),
      path,
      fieldSelector,
      onReplace: (items) => items.forEach((i) => handler.upsert(i)),
      onUpsert: (obj) => handler.upsert(obj),
      onDelete: () => handler.remove(),
      logger: o.logger,
      watchTimeoutSeconds: watchTimeout(o.resyncPeriodMs),
      initialBackoffMs: o.initialBackoffMs ?? 1000,
      maxBackoffMs: o.maxBackoffMs ?? 30_000,
      watchIdleTimeoutMs: o.watchIdleTimeoutMs,
    });
  }

  start(): void {
    this.reflector.start();
  }

  stop(): void {
    this.reflector.stop();
  }
}

/** An API error's body as text: a string, or the parsed Status object (whose `reason` may be ServerTimeout). */
function bodyText(body: unknown): string {
  return typeof body === 'string' ? body : JSON.stringify(body ?? '');
}
