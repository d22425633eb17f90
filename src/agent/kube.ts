/**
 * The Kubernetes side of the agent (thin adapters): the bound pod's lookup, TokenReview, and the list/watch of
 * PodIdentityAssociation objects (also used by the webhook as its second source of container-credentials
 * ServiceAccounts).
 */
import { AuthenticationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { Reflector, type ListPage } from '../kube/reflector.js';
import { clientNodeWatch } from '../kube/client.js';
import type { Logger } from '../log.js';
import {
  ASSOCIATION_API_PATH,
  ASSOCIATION_GROUP,
  ASSOCIATION_PLURAL,
  ASSOCIATION_VERSION,
  AssociationIndex,
  parseAssociation,
  type Association,
} from './association.js';
import type { PodCheck, TokenReviewer } from './authenticate.js';

const statusOf = (err: unknown): number | undefined => {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  return typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
};

export function kubePodCheck(kc: KubeConfig): PodCheck {
  const core = kc.makeApiClient(CoreV1Api);
  return async (namespace, name, uid) => {
    try {
      const pod = await core.readNamespacedPod({ name, namespace });
      return pod.metadata?.uid === uid ? 'exists' : 'replaced';
    } catch (err) {
      if (statusOf(err) === 404) return 'gone';
      throw new Error(`GET pod failed (HTTP ${statusOf(err) ?? 'error'})`);
    }
  };
}

export function kubeTokenReviewer(kc: KubeConfig): TokenReviewer {
  const auth = kc.makeApiClient(AuthenticationV1Api);
  return async (token, audiences) => {
    let r;
    try {
      r = await auth.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: [...audiences] },
        },
      });
    } catch (err) {
      throw new Error(`TokenReview failed (HTTP ${statusOf(err) ?? 'error'})`);
    }
    const s = r.status ?? {};
    return {
      authenticated: s.authenticated === true,
      ...(s.error !== undefined && { error: s.error }),
      ...(s.user?.username !== undefined && { username: s.user.username }),
      ...(s.audiences !== undefined && { audiences: s.audiences }),
      ...(s.user?.extra !== undefined && { extra: s.user.extra }),
    };
  };
}

/** Keeps an AssociationIndex in step with the cluster's PodIdentityAssociation objects. */
export class AssociationApiSource {
  readonly reflector: Reflector;
  constructor(
    kc: KubeConfig,
    readonly index: AssociationIndex,
    logger: Logger,
    opts: { watchIdleTimeoutMs?: number; initialBackoffMs?: number; maxBackoffMs?: number } = {},
  ) {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const parse = (obj: unknown): Association | undefined => {
      try {
        return parseAssociation(obj);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'ignoring an invalid PodIdentityAssociation');
        return undefined;
      }
    };
    const nameOf = (obj: unknown) => (obj as { metadata?: { name?: string } } | null)?.metadata?.name;
    const warnConflicts = () => {
      for (const names of index.conflicts())
        logger.warn(
          { associations: names },
          `several PodIdentityAssociations for one ServiceAccount; using ${names[0]}`,
        );
    };
    this.reflector = new Reflector({
      name: ASSOCIATION_PLURAL,
      watch: clientNodeWatch(kc),
      path: ASSOCIATION_API_PATH,
      list: (o) =>
        custom.listClusterCustomObject({
          group: ASSOCIATION_GROUP,
          version: ASSOCIATION_VERSION,
          plural: ASSOCIATION_PLURAL,
          limit: o.limit,
          ...(o._continue !== undefined && { _continue: o._continue }),
        }) as Promise<ListPage>,
      onReplace: (items) => {
        index.replace(items.map(parse).filter((a): a is Association => a !== undefined));
        warnConflicts();
      },
      onUpsert: (obj) => {
        const a = parse(obj);
        const name = nameOf(obj);
        if (a) index.upsert(a);
        else if (name) index.remove(name); // an object turned invalid no longer grants anything
        warnConflicts();
      },
      onDelete: (obj) => {
        const name = nameOf(obj);
        if (name) index.remove(name);
      },
      logger,
      ...opts,
    });
  }
  start(): Promise<void> {
    this.reflector.start();
    return this.reflector.synced;
  }
  stop(): void {
    this.reflector.stop();
  }
}
