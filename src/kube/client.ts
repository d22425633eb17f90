/**
 * Kubernetes client configuration the way the reference builds it (clientcmd.BuildConfigFromFlags): `--kube-api`
 * overrides the server, `--kubeconfig` names the file, and with neither the in-cluster service account is used.
 */
import { KubeConfig } from '@kubernetes/client-node';

export class KubeConfigError extends Error {
  readonly code = 'KUBECONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
}

export interface KubeClientOptions {
  kubeconfig?: string;
  kubeApi?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadKubeConfig(options: KubeClientOptions): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig) {
      kc.loadFromFile(options.kubeconfig);
    } else if (options.kubeApi) {
      kc.loadFromOptions({
        // client-node refuses plain http unless skipTLSVerify is set; for http (e.g. `kubectl proxy`) there is no TLS.
        clusters: [
          { name: 'kube-api', server: options.kubeApi, skipTLSVerify: options.kubeApi.startsWith('http://') },
        ],
        users: [{ name: 'anonymous' }],
        contexts: [{ name: 'kube-api', cluster: 'kube-api', user: 'anonymous' }],
        currentContext: 'kube-api',
      });
    } else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
      kc.loadFromCluster();
    } else {
      throw new KubeConfigError(
        'no Kubernetes API configured: not running in a cluster (KUBERNETES_SERVICE_HOST is unset); pass --kubeconfig or --kube-api, or --service-accounts-file to run without an API server',
      );
    }
  } catch (err) {
    if (err instanceof KubeConfigError) throw err;
    throw new KubeConfigError(`cannot load the Kubernetes client configuration: ${(err as Error).message}`);
  }
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
