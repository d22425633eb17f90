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
