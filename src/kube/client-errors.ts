/** What both Kubernetes client configurations (client.ts for client-node, lean.ts) take and throw, and how a command words an API error. */
import { OpenIrsaError, messageOf } from '../errors.js';

export class KubeConfigError extends OpenIrsaError {
  constructor(message: string) {
    super('KubeconfigInvalid', message);
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
    throw new KubeConfigError(`cannot load the Kubernetes client configuration: ${messageOf(err)}`);
  }
}

/**
 * The HTTP status of a failed Kubernetes API call: client-node's ApiException keeps it in `code`, lean.ts's
 * KubeApiError (and a watch's error) in `statusCode`.
 */
export function kubeStatusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}

/** A Kubernetes API error in one line: its HTTP status and the API server's reason, never a stack. */
export function kubeErrorText(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  const status = kubeStatusOf(err);
  if (status !== undefined) {
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
    return `HTTP ${status}${reason ? `: ${reason}` : ''}`;
  }
  return e.message ?? String(err);
}
