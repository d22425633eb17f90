/** What both Kubernetes client configurations (client.ts for client-node, lean.ts) take and throw, and how a command words an API error. */
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

/**
 * Which configuration clientcmd's BuildConfigFromFlags takes, for both loaders: `--kubeconfig` (its server replaced
 * by a non-empty `--kube-api`), else `--kube-api` alone, else the in-cluster service account.
 */
export function kubeClientSource(options: KubeClientOptions): 'kubeconfig' | 'kube-api' | 'in-cluster' {
  const env = options.env ?? process.env;
  if (options.kubeconfig) return 'kubeconfig';
  if (options.kubeApi) return 'kube-api';
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return 'in-cluster';
  throw new KubeConfigError(
    'no Kubernetes API configured: not running in a cluster (KUBERNETES_SERVICE_HOST is unset); pass --kubeconfig or --kube-api, or --service-accounts-file to run without an API server',
  );
}

/** Runs a loader: a failure that is not already a KubeConfigError (an unreadable file, bad YAML) becomes one. */
export function loadingKubeConfig<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof KubeConfigError) throw err;
    throw new KubeConfigError(`cannot load the Kubernetes client configuration: ${(err as Error).message}`);
  }
}

/** A Kubernetes API error in one line: its HTTP status and the API server's reason, never a stack. */
export function kubeErrorText(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (typeof e.code === 'number') {
    let reason = '';
    try {
      const body =
        typeof e.body === 'string'
          ? (JSON.parse(e.body) as { message?: string })
          : (e.body as { message?: string });
      reason = body?.message ?? '';
    } catch {
      reason = '';
    }
    return `HTTP ${e.code}${reason ? `: ${reason}` : ''}`;
  }
  return e.message ?? String(err);
}
