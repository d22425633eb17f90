/**
 * The Kubernetes side of the agent through @kubernetes/client-node (thin adapters): the bound pod's lookup,
 * TokenReview, and the list/watch of PodIdentityAssociation objects for association-source.ts (the webhook reads
 * those over its lean transport instead).
 */
import { AuthenticationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ListPage, ListWatch } from '../kube/reflector.js';
import { clientNodeWatch } from '../kube/client.js';
import { ASSOCIATION_GROUP, ASSOCIATION_PLURAL, ASSOCIATION_VERSION } from './association.js';
import type { PodCheck, TokenReviewer } from './authenticate.js';
import { kubeStatusOf } from '../kube/client-errors.js';

export function kubePodCheck(kc: KubeConfig): PodCheck {
  const core = kc.makeApiClient(CoreV1Api);
  return async (namespace, name, uid) => {
    try {
      const pod = await core.readNamespacedPod({ name, namespace });
      return pod.metadata?.uid === uid ? 'exists' : 'replaced';
    } catch (err) {
      if (kubeStatusOf(err) === 404) return 'gone';
      throw new Error(`GET pod failed (HTTP ${kubeStatusOf(err) ?? 'error'})`);
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
      throw new Error(`TokenReview failed (HTTP ${kubeStatusOf(err) ?? 'error'})`);
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

/** The PodIdentityAssociation collection's list and watch through client-node. */
export function clientNodeAssociationListWatch(kc: KubeConfig): ListWatch {
  const custom = kc.makeApiClient(CustomObjectsApi);
  return {
    watch: clientNodeWatch(kc),
    list: (o) =>
      custom.listClusterCustomObject({
        group: ASSOCIATION_GROUP,
        version: ASSOCIATION_VERSION,
        plural: ASSOCIATION_PLURAL,
        limit: o.limit,
        ...(o._continue !== undefined && { _continue: o._continue }),
      }) as Promise<ListPage>,
  };
}
