/**
 * The Kubernetes API sources (reference pkg/cache/cache.go): a list/watch of ServiceAccounts in all
 * namespaces (only the prefix's annotations are kept), the single-object GET for the grace-period fallback, and the
 * namespaced watch of the `pod-identity-webhook` ConfigMap.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { Reflector, type ListPage } from '../kube/reflector.js';
import { CONFIG_MAP_NAME } from './constants.js';
import { stripServiceAccount, type IdentityCache, type StrippedServiceAccount } from './cache.js';
import { ConfigMapHandler } from './config-map.js';
import type { Logger } from '../log.js';

export interface ApiSourceOptions {
  kubeConfig: KubeConfig;
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

const errStatus = (err: unknown): number | undefined => {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  return typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
};

function watchTimeout(resyncPeriodMs: number): number {
  // client-go picks a random watch timeout in [5min, 10min); we follow the resync period, within sane bounds.
  const base = Math.max(60, Math.min(600, Math.round(resyncPeriodMs / 1000) || 300));
  return base + Math.floor(Math.random() * Math.min(60, base / 2));
}

export class ServiceAccountApiSource {
  readonly reflector: Reflector;
  private readonly core: CoreV1Api;

  constructor(private readonly o: ApiSourceOptions) {
    this.core = o.kubeConfig.makeApiClient(CoreV1Api);
    const strip = (obj: unknown): StrippedServiceAccount | undefined =>
      stripServiceAccount(obj, o.annotationPrefix);
    this.reflector = new Reflector({
      name: 'serviceaccounts',
      kubeConfig: o.kubeConfig,
      path: '/api/v1/serviceaccounts',
      list: (opts) => this.core.listServiceAccountForAllNamespaces(opts) as Promise<ListPage>,
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
        const sa = await withTimeout(this.core.readNamespacedServiceAccount({ name, namespace }), 1000);
        return stripServiceAccount(sa, this.o.annotationPrefix);
      } catch (err) {
        const status = errStatus(err);
        if (status === 404) return undefined;
        const serverTimeout =
          status === 504 || /ServerTimeout/.test(String((err as { body?: unknown }).body ?? ''));
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
    const core = o.kubeConfig.makeApiClient(CoreV1Api);
    const handler = new ConfigMapHandler(o.cache, o.logger);
    const fieldSelector = `metadata.name=${CONFIG_MAP_NAME}`;
    this.reflector = new Reflector({
      name: 'configmap',
      kubeConfig: o.kubeConfig,
      path: `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/configmaps`,
      fieldSelector,
      list: (opts) => core.listNamespacedConfigMap({ namespace: o.namespace, ...opts }) as Promise<ListPage>,
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
