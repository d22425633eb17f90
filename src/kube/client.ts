/**
 * Kubernetes client configuration the way the reference builds it (clientcmd.BuildConfigFromFlags): `--kube-api`
 * overrides the server, `--kubeconfig` names the file, and with neither the in-cluster service account is used.
 */
import type { RequestOptions } from 'node:https';
import { httpRequestText } from '../net/http-client.js';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { WatchFn } from './reflector.js';

import {
  KubeConfigError,
  kubeClientSource,
  loadingKubeConfig,
  type KubeClientOptions,
} from './client-errors.js';

export { KubeConfigError, type KubeClientOptions };

export function loadKubeConfig(options: KubeClientOptions): KubeConfig {
  const kc = new KubeConfig();
  loadingKubeConfig(() => {
    switch (kubeClientSource(options)) {
      case 'kubeconfig':
        return kc.loadFromFile(options.kubeconfig!);
      case 'kube-api':
        return kc.loadFromOptions({
          // client-node refuses plain http unless skipTLSVerify is set; for http (e.g. `kubectl proxy`) there is no TLS.
          clusters: [
            {
              name: 'kube-api',
              server: options.kubeApi!,
              skipTLSVerify: options.kubeApi!.startsWith('http://'),
            },
          ],
          users: [{ name: 'anonymous' }],
          contexts: [{ name: 'kube-api', cluster: 'kube-api', user: 'anonymous' }],
          currentContext: 'kube-api',
        });
      case 'in-cluster':
        return kc.loadFromCluster();
    }
  });
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeConfigError('the kubeconfig has no current cluster');
  if (options.kubeconfig && options.kubeApi) {
    // --kube-api overrides the kubeconfig's server (clientcmd's masterUrl override).
    const clusters = kc.clusters.map((c) =>
      c.name === cluster.name ? { ...c, server: options.kubeApi! } : c,
    );
    kc.loadFromOptions({
      clusters,
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
  }
  return kc;
}

/** Largest body kubeGet reads: discovery and JWKS documents are a few KiB. */
const MAX_RAW_BODY = 1024 * 1024;

/** GET a non-resource path (discovery, JWKS) with the kubeconfig's credentials. */
export async function kubeGet(kc: KubeConfig, path: string): Promise<{ status: number; body: string }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeConfigError('the kubeconfig has no current cluster');
  // Keep a path prefix of the server URL (API servers behind a proxy), as client-go does.
  const url = new URL(`${cluster.server.replace(/\/$/, '')}${path}`);
  const options: RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const { status, body } = await httpRequestText(url.href, { options, maxBytes: MAX_RAW_BODY });
  return { status, body };
}

/** The Reflector's watch on client-node's Watch. */
export function clientNodeWatch(kc: KubeConfig): WatchFn {
  return (path, query, onEvent, onDone, idleTimeoutMs) => {
    const w = new Watch(kc);
    // client-node 2.x aborts a watch after `requestTimeoutMs` (30 s) without data, far shorter than kube-apiserver's
    // silence on a quiet resource; the field is not in its typings, so it is set where it exists.
    if ('requestTimeoutMs' in w) Object.assign(w, { requestTimeoutMs: idleTimeoutMs });
    return w.watch(path, query, onEvent, onDone);
  };
}
