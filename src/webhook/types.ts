/**
 * The contract between the pure mutation core (mutate.ts) and the shells that feed it (the caches and the
 * server). The server resolves an IdentityLookup from its caches (async: grace period, GET fallback);
 * `mutatePod` turns (pod, namespace, lookup, config) into a JSON patch without I/O.
 */

/** A ServiceAccount's settings as the reference cache stores them (pkg/cache entry), already parsed. */
export interface ServiceAccountSettings {
  /** "" = no role (no mutation). */
  roleArn: string;
  /** "" = omit `audience` from the projection (ConfigMap entries without Audience). */
  audience: string;
  useRegionalSts: boolean;
  /** Seconds (a Go int64, exact). */
  tokenExpiration: bigint;
}

/** What the caches know about the pod's (namespace, serviceAccountName), resolved before mutation. */
export type IdentityLookup =
  /** The (namespace, serviceAccount) is listed in the container-credentials identities file: EKS Pod Identity mode. */
  | { mode: 'container-credentials'; common: { useRegionalSts: boolean; tokenExpiration: bigint } }
  /** A role from the SA annotation or a ConfigMap entry. */
  | { mode: 'web-identity'; settings: ServiceAccountSettings; source: 'service-account' | 'config-map' }
  /** No mutation: the SA is unknown (counted as missing) or has no role. */
  | { mode: 'none'; reason: 'not-found' | 'no-role' };

/** The webhook's flags that shape a mutation (defaults in constants.ts). */
export interface MutationConfig {
  annotationPrefix: string;
  tokenAudience: string;
  tokenMountPath: string;
  /** Already clamped to >= MIN_TOKEN_EXPIRATION at startup. */
  tokenExpiration: bigint;
  /** `--aws-default-region`; "" = no region injection. */
  awsDefaultRegion: string;
  stsRegionalEndpoint: boolean;
  containerCredentials: {
    audience: string;
    mountPath: string;
    volumeName: string;
    tokenPath: string;
    fullUri: string;
  };
}

export interface JsonPatchOperation {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

export interface MutationResult {
  /** The JSON patch, or undefined when the pod is admitted without one (no identity). */
  patch?: JsonPatchOperation[];
  /** The patch serialised exactly as the reference would (Go field order, Go string escaping). */
  patchJson?: string;
  /** True when the patch changes the pod (the reference always sends the containers op anyway). */
  changed: boolean;
  /** Which metric `pod_identity_webhook_pod_count{method}` to count, when a config was built. */
  method?: 'sts_web_identity' | 'container_credentials';
  /** Admission warnings shown by kubectl (malformed role ARN, invalid or clamped token-expiration...). */
  warnings: string[];
  /**
   * Set when the pod cannot be decoded as a core/v1 Pod: Go's json.Unmarshal message, which the reference
   * returns as `allowed:false` (no patch then).
   */
  error?: string;
}
