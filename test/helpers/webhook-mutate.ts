/** Shared builders for the mutation tests. */
import {
  CONTAINER_CREDENTIALS_DEFAULTS,
  DEFAULT_ANNOTATION_PREFIX,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_EXPIRATION,
  DEFAULT_TOKEN_MOUNT_PATH,
} from '../../src/webhook/constants.js';
import type { IdentityLookup, MutationConfig } from '../../src/webhook/types.js';

export const ROLE = 'arn:aws:iam::111122223333:role/s3-reader';
export const TOKEN_FILE = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';

export function config(over: Partial<MutationConfig> = {}): MutationConfig {
  return {
    annotationPrefix: DEFAULT_ANNOTATION_PREFIX,
    tokenAudience: DEFAULT_TOKEN_AUDIENCE,
    tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
    tokenExpiration: DEFAULT_TOKEN_EXPIRATION,
    awsDefaultRegion: '',
    stsRegionalEndpoint: false,
    containerCredentials: { ...CONTAINER_CREDENTIALS_DEFAULTS },
    ...over,
  };
}

/** Token expirations are exact int64s (bigint); the helpers also take plain numbers for readability. */
export function irsa(
  over: Partial<{
    roleArn: string;
    audience: string;
    useRegionalSts: boolean;
    tokenExpiration: number | bigint;
  }> = {},
): IdentityLookup {
  const { tokenExpiration = DEFAULT_TOKEN_EXPIRATION, ...rest } = over;
  return {
    mode: 'web-identity',
    source: 'service-account',
    settings: {
      roleArn: ROLE,
      audience: DEFAULT_TOKEN_AUDIENCE,
      useRegionalSts: false,
      ...rest,
      tokenExpiration: BigInt(tokenExpiration),
    },
  };
}

export function cc(
  useRegionalSts = false,
  tokenExpiration: number | bigint = DEFAULT_TOKEN_EXPIRATION,
): IdentityLookup {
  return {
    mode: 'container-credentials',
    common: { useRegionalSts, tokenExpiration: BigInt(tokenExpiration) },
  };
}

type Obj = Record<string, unknown>;

export function pod(spec: Obj = {}, metadata: Obj = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', ...metadata },
    spec: { serviceAccountName: 'sa', containers: [{ name: 'app', image: 'busybox' }], ...spec },
  };
}

export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v as object)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** RFC 6902 add (all the webhook emits), enough to apply a patch in tests. */
export function applyAdds(doc: unknown, patchJson: string): Obj {
  const root = structuredClone(doc) as Obj;
  for (const op of JSON.parse(patchJson) as Array<{ op: string; path: string; value?: unknown }>) {
    if (op.op !== 'add') throw new Error('unexpected op ' + op.op);
    const tokens = op.path
      .slice(1)
      .split('/')
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop() as string;
    let parent: unknown = root;
    for (const t of tokens) parent = (parent as Obj)[t];
    if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
    else (parent as Obj)[last] = op.value;
  }
  return root;
}

export function ops(patchJson: string | undefined): Array<{ op: string; path: string; value?: unknown }> {
  if (patchJson === undefined) throw new Error('no patch');
  return JSON.parse(patchJson) as Array<{ op: string; path: string; value?: unknown }>;
}

/** The env of container `i` (regular containers op) in a patch. */
export function envOf(patchJson: string | undefined, i = 0, path = '/spec/containers'): Array<Obj> {
  const o = ops(patchJson).find((x) => x.path === path);
  const c = (o?.value as Obj[] | undefined)?.[i];
  return (c?.env as Obj[] | undefined) ?? [];
}
