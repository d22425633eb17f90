/**
 * The one source of truth for the pod identity webhook's names and defaults (reference:
 * pkg/constants.go, pkg/annotations.go, main.go flag defaults, pkg/handler/handler.go; @3bf80a34).
 */

export const DEFAULT_ANNOTATION_PREFIX = 'eks.amazonaws.com';

/** Annotation names below the prefix: `${prefix}/${ANNOTATION.roleArn}`. */
export const ANNOTATION = {
  roleArn: 'role-arn',
  audience: 'audience',
  stsRegionalEndpoints: 'sts-regional-endpoints',
  tokenExpiration: 'token-expiration',
  skipContainers: 'skip-containers',
} as const;

/** Label the deploy objectSelector uses to opt a pod out (not read by the mutation itself). */
export const SKIP_POD_LABEL = 'eks.amazonaws.com/skip-pod-identity-webhook';
/**
 * Label read by the deploy MutatingWebhookConfigurations' selectors (not by the mutation itself): `disabled` on a
 * namespace keeps it out of the webhook; `required` on a namespace or a pod makes its pod creation fail closed
 * while the webhook is unreachable (everything else is failurePolicy Ignore by default).
 */
export const SCOPE_LABEL = 'openirsa.io/webhook';
export const SCOPE = { disabled: 'disabled', required: 'required' } as const;
/** Label added to pods in container-credentials mode; the key is fixed, not derived from the prefix. */
export const POD_IDENTITY_LABEL = 'eks.amazonaws.com/pod-identity';

export const DEFAULT_TOKEN_AUDIENCE = 'sts.amazonaws.com';
export const DEFAULT_TOKEN_MOUNT_PATH = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
export const IRSA_VOLUME_NAME = 'aws-iam-token';
export const IRSA_TOKEN_PATH = 'token';
/** Token lifetimes are Go int64 seconds, kept exact (a bigint) from flag, annotation or ConfigMap to the patch. */
export const DEFAULT_TOKEN_EXPIRATION = 86400n;
export const MIN_TOKEN_EXPIRATION = 600n;

export const CONTAINER_CREDENTIALS_DEFAULTS = {
  audience: 'pods.eks.amazonaws.com',
  mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
  volumeName: 'eks-pod-identity-token',
  tokenPath: 'eks-pod-identity-token',
  fullUri: 'http://169.254.170.23/v1/credentials',
} as const;

/** Container-credentials jitter: a default 86400 s token becomes a uniform integer in [79200, 86400]. */
export const JITTER_BASE_SECONDS = 79200;
export const JITTER_RANGE_SECONDS = 7201;

export const ENV = {
  roleArn: 'AWS_ROLE_ARN',
  webIdentityTokenFile: 'AWS_WEB_IDENTITY_TOKEN_FILE',
  containerCredentialsFullUri: 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  containerAuthorizationTokenFile: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  region: 'AWS_REGION',
  defaultRegion: 'AWS_DEFAULT_REGION',
  stsRegionalEndpoints: 'AWS_STS_REGIONAL_ENDPOINTS',
} as const;

/** ConfigMap mode: name and data key of the watched ConfigMap (in `--namespace`). */
export const CONFIG_MAP_NAME = 'pod-identity-webhook';
export const CONFIG_MAP_KEY = 'config';

/**
 * The role-ARN shape the reference checks (cache.go): a mismatch only logs a warning there; openirsa also
 * returns an admission warning. Go's class `[\w-\/.@+=,]` is written here with the `-` escaped.
 */
export const ROLE_ARN_PATTERN = /^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w\-/.@+=,]+$/;

/** Largest AdmissionReview body the webhook accepts; bigger ones get HTTP 413 (the API server caps at 3 MiB). */
export const MAX_ADMISSION_BODY_BYTES = 3 * 1024 * 1024;
