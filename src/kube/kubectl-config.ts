/**
 * The Kubernetes client configuration of a user's command (`openirsa doctor`), found exactly where kubectl finds
 * it (client-go's clientcmd loading rules, documented in "Organizing Cluster Access Using kubeconfig Files"):
 *  1. `--kubeconfig FILE`: that file only; it must exist;
 *  2. else `KUBECONFIG`: a list of files (':' on POSIX, ';' on Windows), empty entries and missing files ignored,
 *     merged so that the first file to set a value or a map key (cluster, user, context name) wins;
 *  3. else `~/.kube/config` when it exists;
 *  4. else, in a pod (KUBERNETES_SERVICE_HOST/PORT set and the ServiceAccount token mounted), the in-cluster
 *     configuration;
 *  then `--context` overrides current-context, and the context's namespace is the default namespace.
 * Where kubectl would fall back to http://localhost:8080, this says what it looked for instead.
 *
 * The decisions (which source, how files merge, which context) are pure functions; `loadKubectlConfig` reads the
 * files with @kubernetes/client-node's parser (its loadFromDefault throws on duplicate names and lets a later file's
 * current-context win, unlike kubectl, hence the merge here).
 */
import { existsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
import { KubeConfigError } from './client-errors.js';

/** Where a pod's ServiceAccount credentials are mounted (client-go rest.InClusterConfig). */
export const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubectlFlags {
  /** --kubeconfig */
  kubeconfig?: string;
  /** --context */
  context?: string;
}

export interface KubectlEnv {
  KUBECONFIG?: string;
  HOME?: string;
  KUBERNETES_SERVICE_HOST?: string;
  KUBERNETES_SERVICE_PORT?: string;
}

export type ConfigSource =
  | { kind: 'flag'; files: string[] }
  | { kind: 'env'; files: string[]; missing: string[] }
  | { kind: 'home'; files: string[] }
  | { kind: 'in-cluster' }
  | { kind: 'none'; looked: string[] };

/** Which configuration kubectl would use, given its flags, environment and which files exist. Pure. */
export function chooseSource(
  flags: KubectlFlags,
  env: KubectlEnv,
  exists: (file: string) => boolean,
  pathDelimiter: string = delimiter,
): ConfigSource {
  if (flags.kubeconfig !== undefined && flags.kubeconfig !== '') {
    if (!exists(flags.kubeconfig))
      throw new KubeConfigError(`--kubeconfig ${flags.kubeconfig}: no such file`);
    return { kind: 'flag', files: [flags.kubeconfig] };
  }
  const looked: string[] = [];
  if (env.KUBECONFIG) {
    const listed = [...new Set(env.KUBECONFIG.split(pathDelimiter).filter((f) => f !== ''))];
    const files = listed.filter(exists);
    if (files.length > 0) return { kind: 'env', files, missing: listed.filter((f) => !files.includes(f)) };
    looked.push(`KUBECONFIG=${env.KUBECONFIG} (no such file${listed.length > 1 ? 's' : ''})`);
  } else if (env.HOME) {
    const home = join(env.HOME, '.kube', 'config');
    if (exists(home)) return { kind: 'home', files: [home] };
    looked.push(`${home} (no such file)`);
  } else {
    looked.push('~/.kube/config ($HOME is unset)');
  }
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && exists(IN_CLUSTER_TOKEN))
    return { kind: 'in-cluster' };
  looked.push(
    env.KUBERNETES_SERVICE_HOST
      ? `in-cluster (${IN_CLUSTER_TOKEN} is missing)`
      : 'in-cluster (KUBERNETES_SERVICE_HOST is unset)',
  );
  return { kind: 'none', looked };
}

export interface KubeconfigParts {
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext?: string;
}

/** Merges kubeconfig files in order, the first to set a map key or current-context winning (kubectl's rule). Pure. */
export function mergeKubeconfigs(parts: KubeconfigParts[]): KubeconfigParts {
  const firstByName = <T extends { name: string }>(lists: T[][]): T[] => {
    const seen = new Map<string, T>();
    for (const item of lists.flat()) if (!seen.has(item.name)) seen.set(item.name, item);
    return [...seen.values()];
  };
  return {
    clusters: firstByName(parts.map((p) => p.clusters)),
    users: firstByName(parts.map((p) => p.users)),
    contexts: firstByName(parts.map((p) => p.contexts)),
    currentContext: parts.map((p) => p.currentContext).find((c) => c !== undefined && c !== ''),
  };
}

export interface Selected {
  context: Context;
  cluster: Cluster;
  /** Undefined when the context names no user, or one no file defines: the requests go unauthenticated. */
  user?: User;
}

/** The context (--context, else current-context) and the cluster and user it names. Pure. */
export function selectContext(
  merged: KubeconfigParts,
  contextFlag: string | undefined,
  from: string,
): Selected {
  const name = contextFlag || merged.currentContext;
  const names = merged.contexts.map((c) => c.name);
  const known = names.length ? `contexts: ${names.join(', ')}` : 'it defines no context';
  if (!name) throw new KubeConfigError(`${from} sets no current-context: pass --context NAME (${known})`);
  const context = merged.contexts.find((c) => c.name === name);
  if (!context)
    throw new KubeConfigError(
      `${contextFlag ? '--context' : 'current-context'} ${JSON.stringify(name)} is not in ${from} (${known})`,
    );
  const cluster = merged.clusters.find((c) => c.name === context.cluster);
  if (!cluster)
    throw new KubeConfigError(
      `context ${JSON.stringify(name)} names cluster ${JSON.stringify(context.cluster)}, which ${from} does not define`,
    );
  const user = merged.users.find((u) => u.name === context.user);
  return { context, cluster, ...(user ? { user } : {}) };
}

export interface LoadedKubectlConfig {
  kubeConfig: KubeConfig;
  /** Where the configuration came from, as a user would say it: "--kubeconfig FILE", "KUBECONFIG=a:b", … */
  source: string;
  context: string;
  server: string;
  /** The context's namespace, else "default" (kubectl's default for -n). */
  namespace: string;
}

function describe(source: ConfigSource, env: KubectlEnv): string {
  switch (source.kind) {
    case 'flag':
      return `--kubeconfig ${source.files[0]}`;
    case 'env':
      return `KUBECONFIG=${env.KUBECONFIG}`;
    case 'home':
      return source.files[0]!;
    default:
      return 'the in-cluster configuration';
  }
}

const isFile = (f: string): boolean => {
  try {
    return statSync(f).isFile();
  } catch {
    return false;
  }
};

/** Loads the configuration kubectl would use; throws KubeConfigError with one line when there is none or it is bad. */
export function loadKubectlConfig(
  flags: KubectlFlags,
  env: KubectlEnv = process.env,
  exists: (file: string) => boolean = (f) => (f === IN_CLUSTER_TOKEN ? isFile(f) : existsSync(f)),
): LoadedKubectlConfig {
  const source = chooseSource(flags, env, exists);
  if (source.kind === 'none')
    throw new KubeConfigError(
      `no Kubernetes configuration found (looked at ${source.looked.join('; ')}): pass --kubeconfig FILE or set KUBECONFIG, as for kubectl`,
    );
  const from = describe(source, env);
  let merged: KubeconfigParts;
  if (source.kind === 'in-cluster') {
    const kc = new KubeConfig();
    kc.loadFromCluster();
    merged = kc;
  } else {
    merged = mergeKubeconfigs(
      source.files.map((file) => {
        const kc = new KubeConfig();
        try {
          // Parses the YAML and resolves relative certificate paths against the file's folder, as kubectl does.
          kc.loadFromFile(file);
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          throw new KubeConfigError(`${file}: not a valid kubeconfig: ${e.code ?? e.message.split('\n')[0]}`);
        }
        return kc;
      }),
    );
  }
  const { context, cluster, user } = selectContext(merged, flags.context, from);
  // client-node refuses plain http unless skipTLSVerify is set; kubectl talks http to e.g. `kubectl proxy`.
  const usable: Cluster = cluster.server.startsWith('http://')
    ? { ...cluster, skipTLSVerify: true }
    : cluster;
  // Without a user client-node would not apply the cluster's CA either: an anonymous user keeps TLS verified.
  const anonymous: User = { name: context.user || 'anonymous' };
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [usable],
    users: [user ?? anonymous],
    contexts: [{ ...context, user: (user ?? anonymous).name }],
    currentContext: context.name,
  });
  return {
    kubeConfig,
    source: from,
    context: context.name,
    server: cluster.server,
    namespace: context.namespace || 'default',
  };
}
