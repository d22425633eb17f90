/** What both Kubernetes client configurations (client.ts for client-node, lean.ts) take and throw. */
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
