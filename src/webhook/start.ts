/**
 * Assemble and start the webhook from its flags: TLS (with hot reload), the identity sources, the servers. Used by
 * `openirsa webhook`, `openirsa dev` and the benchmark. startWebhook runs the steps below in order; each source it
 * starts is stopped again when a later step fails.
 */
import { reviewAdmission } from './admission.js';
import { IdentityCache, type ComposeRoleArn, type ContainerCredentialsLookup } from './cache.js';
import { ASSOCIATION_API_PATH, AssociationIndex } from '../agent/association.js';
import { ContainerCredentialsConfig } from './container-credentials.js';
import type { WebhookFlags } from './flags.js';
import { composeRoleArnFromImds } from './imds.js';
import { createMetrics, type WebhookMetrics } from './metrics.js';
import { WebhookServer, type Readiness, type ReviewFn } from './server.js';
import type { ServiceAccountApiSource } from './service-account-sources.js';
import { StaticServiceAccountSource } from './static-source.js';
import { CertificateReloader, cipherString, loadKeyPair, minVersion, type TlsSettings } from '../net/tls.js';
import type { IdentityLookup, MutationConfig } from './types.js';
import type { Reflector } from '../kube/reflector.js';
import type { Logger } from '../log.js';
import { OpenIrsaError, messageOf } from '../errors.js';

export class WebhookStartError extends OpenIrsaError {
  constructor(message: string) {
    super('WebhookStartFailed', message);
  }
}

export const IN_CLUSTER_UNSUPPORTED =
  '--in-cluster=true (the default, kept for compatibility) requests a serving certificate through the CertificateSigningRequest API, which is deprecated and broken upstream and not supported by openirsa: pass --in-cluster=false with --tls-cert and --tls-key (e.g. a cert-manager Certificate mounted from a Secret, as the reference deploy files do)';

export function mutationConfig(f: WebhookFlags): MutationConfig {
  return {
    annotationPrefix: f.annotationPrefix,
    tokenAudience: f.tokenAudience,
    tokenMountPath: f.tokenMountPath,
    tokenExpiration: f.tokenExpiration,
    awsDefaultRegion: f.awsDefaultRegion,
    stsRegionalEndpoint: f.stsRegionalEndpoint,
    containerCredentials: {
      audience: f.containerCredentialsAudience,
      mountPath: f.containerCredentialsTokenMountPath,
      volumeName: f.containerCredentialsTokenVolumeName,
      tokenPath: f.containerCredentialsTokenPath,
      fullUri: f.containerCredentialsFullUri,
    },
  };
}

export interface StartOptions {
  logger: Logger;
  /** Override the admission core (tests); default admission.ts reviewAdmission. */
  review?: ReviewFn;
  /** Override --compose-role-arn's IMDS lookup (tests). */
  composeRoleArn?: () => Promise<ComposeRoleArn>;
  metrics?: WebhookMetrics;
  shutdownTimeoutMs?: number;
  /**
   * A `--workers` pool's worker (pool.ts): the primary serves the metrics port, and the webhook port's /readyz
   * answers for the whole pool (given this worker's own readiness).
   */
  poolWorker?: { readiness: (own: Readiness) => Readiness };
}

export interface RunningWebhook {
  port: number;
  /** Undefined in a pool's worker (the primary serves the metrics port). */
  metricsPort: number | undefined;
  cache: IdentityCache;
  server: WebhookServer;
  metrics: WebhookMetrics;
  /** This process's own readiness (its sources synced). */
  readiness: () => Readiness;
  /** Resolves once every enabled source has synced. */
  synced: Promise<void>;
  /** Re-reads --tls-cert/--tls-key now (SIGHUP); true when a new certificate is served. */
  reloadTls: () => Promise<boolean>;
  /** Graceful stop: servers drained (true) or force-closed (false), then the sources stopped. */
  stop: () => Promise<boolean>;
}

/** One started part of the webhook, as startWebhook tracks it for readiness, the cache's refill and shutdown. */
interface StartedPart {
  stop: () => void;
  /** Resolves once the part has filled the cache (API sources). */
  synced?: Promise<void>;
  /** Fill the cache again after the debug handler emptied it; readiness follows until the part has. */
  refill?: () => void;
  /** Why the part is not ready, or undefined when it is. */
  notReady?: () => string | undefined;
}

export async function startWebhook(f: WebhookFlags, opts: StartOptions): Promise<RunningWebhook> {
  const log = opts.logger;
  checkFlagCombinations(f);
  const tlsSettings = tlsSettingsOf(f);
  const pair = await loadKeyPair(tlsSettings);
  const compose = await composeRoleArnIfAsked(f, opts, log);
  const metrics = opts.metrics ?? createMetrics();
  const containerCredentials = containerCredentialsSources(f, log);
  // Filled in by startApiSources: the cache exists before the watch that fills it, and misses GET through it.
  const apiSource: { current?: ServiceAccountApiSource } = {};
  const cache = new IdentityCache({
    annotationPrefix: f.annotationPrefix,
    tokenAudience: f.tokenAudience,
    stsRegionalEndpoint: f.stsRegionalEndpoint,
    tokenExpiration: f.tokenExpiration,
    composeRoleArn: compose,
    logger: log,
    gracePeriodMs: f.serviceAccountLookupGracePeriodMs,
    fetchServiceAccount: (ns, name) => apiSource.current?.fetch(ns, name) ?? Promise.resolve(undefined),
    onUsed: () => metrics.used.set(1),
    containerCredentials: containerCredentials.lookup,
  });

  const parts = await startIdentitySources(f, cache, containerCredentials, apiSource, log);
  const stopParts = (): void => {
    for (const p of parts) p.stop();
  };
  const readiness = (): Readiness => {
    const reasons = parts.map((p) => p.notReady?.()).filter((r): r is string => r !== undefined);
    return { ready: reasons.length === 0, reasons };
  };
  const refills = parts.flatMap((p) => (p.refill ? [p.refill] : []));
  const lookup = async (namespace: string, serviceAccount: string): Promise<IdentityLookup> => {
    const r = await cache.lookup(namespace, serviceAccount);
    if (r.mode === 'none' && r.reason === 'not-found') metrics.missingSaCount.inc();
    return r;
  };

  const server = new WebhookServer({
    tls: pair.options,
    review: opts.review ?? reviewAdmission,
    lookup,
    config: mutationConfig(f),
    metrics,
    logger: log,
    maxRequestBytes: f.maxRequestBytes,
    maxConnections: f.maxConnections,
    enableDebuggingHandlers: f.enableDebuggingHandlers,
    readiness: opts.poolWorker ? () => opts.poolWorker!.readiness(readiness()) : readiness,
    cacheDump: () => cache.dump(),
    cacheClear: () => {
      cache.clear();
      log.warn({ sources: refills.length }, 'identity cache cleared by /debug/alpha/cache/clear; reloading');
      for (const refill of refills) refill();
    },
    shutdownTimeoutMs: opts.shutdownTimeoutMs,
  });
  const reloader = new CertificateReloader(tlsSettings, pair, (o) => server.setSecureContext(o), log);
  parts.push({ stop: () => reloader.close() });

  const ports = await listenOrStop(server, f, opts.poolWorker !== undefined, stopParts);
  log.info(
    { port: ports.port, metricsPort: ports.metricsPort, source: f.serviceAccountsFile ? 'file' : 'api' },
    'webhook listening',
  );
  const synced = Promise.all(parts.map((p) => p.synced ?? Promise.resolve())).then(() => {
    log.info('identity sources synced; ready');
  });

  return {
    ...ports,
    cache,
    server,
    metrics,
    readiness,
    synced,
    reloadTls: () => reloader.reload(),
    async stop() {
      const graceful = await server.shutdown();
      stopParts();
      cache.stop();
      return graceful;
    },
  };
}

/** Refuse the flag combinations openirsa cannot serve, before anything is started. */
function checkFlagCombinations(f: WebhookFlags): void {
  if (f.inCluster) throw new WebhookStartError(IN_CLUSTER_UNSUPPORTED);
  if (f.watchConfigMap && f.serviceAccountsFile) {
    throw new WebhookStartError(
      '--watch-config-map needs the Kubernetes API and cannot be combined with --service-accounts-file',
    );
  }
  if (f.watchPodIdentityAssociations && f.serviceAccountsFile) {
    throw new WebhookStartError(
      '--watch-pod-identity-associations needs the Kubernetes API and cannot be combined with --service-accounts-file',
    );
  }
}

function tlsSettingsOf(f: WebhookFlags): TlsSettings {
  return {
    certFile: f.tlsCert,
    keyFile: f.tlsKey,
    ciphers: cipherString(f.tlsCipherSuites),
    minVersion: minVersion(f.tlsMinVersion),
  };
}

/** --compose-role-arn: the webhook's own partition and account (IMDS), read once at start. */
async function composeRoleArnIfAsked(
  f: WebhookFlags,
  opts: StartOptions,
  log: Logger,
): Promise<ComposeRoleArn | undefined> {
  if (!f.composeRoleArn) return undefined;
  const compose = await (opts.composeRoleArn ?? composeRoleArnFromImds)();
  log.info(
    { partition: compose.partition, accountId: compose.accountId },
    '--compose-role-arn: role names are composed into ARNs',
  );
  return compose;
}

interface ContainerCredentialsSources {
  file: ContainerCredentialsConfig | undefined;
  associations: AssociationIndex | undefined;
  /** Either source (or both) names the ServiceAccounts that get container credentials. */
  lookup: ContainerCredentialsLookup | undefined;
}

function containerCredentialsSources(f: WebhookFlags, log: Logger): ContainerCredentialsSources {
  const file = f.watchContainerCredentialsConfig
    ? new ContainerCredentialsConfig(f.watchContainerCredentialsConfig, log)
    : undefined;
  // The agent's associations are a second source of container-credentials ServiceAccounts (one source of truth
  // for agent and webhook); the identities file keeps working beside it.
  const associations = f.watchPodIdentityAssociations ? new AssociationIndex() : undefined;
  const lookup: ContainerCredentialsLookup | undefined =
    file && associations
      ? { has: (ns, sa) => file.has(ns, sa) || associations.has(ns, sa) }
      : (file ?? associations);
  return { file, associations, lookup };
}

/**
 * Start the sources that fill the cache: the container-credentials file, then the ServiceAccounts file or the
 * Kubernetes API watches. On failure the ones already started are stopped.
 */
async function startIdentitySources(
  f: WebhookFlags,
  cache: IdentityCache,
  cc: ContainerCredentialsSources,
  apiSource: { current?: ServiceAccountApiSource },
  log: Logger,
): Promise<StartedPart[]> {
  const parts: StartedPart[] = [];
  try {
    if (cc.file) parts.push(await startContainerCredentialsFile(cc.file));
    if (f.serviceAccountsFile) parts.push(await startServiceAccountsFile(f, cache, log));
    else await startApiSources(f, cache, cc.associations, apiSource, log, parts);
  } catch (err) {
    for (const p of parts) p.stop();
    throw err;
  }
  return parts;
}

async function startContainerCredentialsFile(cc: ContainerCredentialsConfig): Promise<StartedPart> {
  try {
    await cc.start();
  } catch (err) {
    throw new WebhookStartError(
      `--watch-container-credentials-config ${cc.path}: cannot watch its directory: ${messageOf(err)}`,
    );
  }
  return { stop: () => cc.stop() };
}

async function startServiceAccountsFile(
  f: WebhookFlags,
  cache: IdentityCache,
  log: Logger,
): Promise<StartedPart> {
  const file = new StaticServiceAccountSource(f.serviceAccountsFile, cache, f.annotationPrefix, log);
  await file.start();
  return {
    stop: () => file.stop(),
    refill: () => void file.refill(),
    notReady: () =>
      file.synced
        ? undefined
        : `ServiceAccounts file ${f.serviceAccountsFile} not loaded since the cache was cleared`,
  };
}

/** Readiness of a watch: its reflector has listed, or the reason it has not. */
const notSynced = (what: string, reflector: Reflector) => (): string | undefined =>
  reflector.hasSynced
    ? undefined
    : `${what} not synced${reflector.lastError ? ` (last error: ${reflector.lastError})` : ''}`;

/**
 * The ServiceAccount watch, and the PodIdentityAssociation and ConfigMap watches when their flags ask. Each is
 * added to `parts` as soon as it runs, so that a failure further on stops it.
 */
async function startApiSources(
  f: WebhookFlags,
  cache: IdentityCache,
  associations: AssociationIndex | undefined,
  apiSource: { current?: ServiceAccountApiSource },
  log: Logger,
  parts: StartedPart[],
): Promise<void> {
  // The lean transport, not @kubernetes/client-node (~80 MiB of RSS to load): see src/kube/lean.ts.
  const [{ loadKubeConnection, leanListWatch }, { ConfigMapApiSource, ServiceAccountApiSource }] =
    await Promise.all([import('../kube/lean.js'), import('./service-account-sources.js')]);
  const kube = loadKubeConnection({ kubeconfig: f.kubeconfig, kubeApi: f.kubeApi });
  const sa = new ServiceAccountApiSource({
    kube,
    cache,
    annotationPrefix: f.annotationPrefix,
    logger: log,
    resyncPeriodMs: f.resyncPeriodMs,
  });
  apiSource.current = sa;
  sa.start();
  parts.push({
    stop: () => sa.stop(),
    synced: sa.reflector.synced,
    refill: () => sa.reflector.relist(),
    notReady: notSynced('ServiceAccount cache', sa.reflector),
  });
  if (associations) {
    const { AssociationApiSource } = await import('../agent/association-source.js');
    const pia = new AssociationApiSource(leanListWatch(kube, ASSOCIATION_API_PATH), associations, log);
    void pia.start();
    parts.push({
      stop: () => pia.stop(),
      synced: pia.reflector.synced,
      notReady: notSynced('PodIdentityAssociation cache', pia.reflector),
    });
  }
  if (f.watchConfigMap) {
    const cm = new ConfigMapApiSource({
      kube,
      cache,
      logger: log,
      resyncPeriodMs: f.resyncPeriodMs,
      namespace: f.namespace,
    });
    cm.start();
    parts.push({
      stop: () => cm.stop(),
      synced: cm.reflector.synced,
      refill: () => cm.reflector.relist(),
      notReady: notSynced(`ConfigMap ${f.namespace}/pod-identity-webhook`, cm.reflector),
    });
  }
  parts.push({ stop: () => kube.close() }); // after the sources' stops, so their watches end as aborts
}

/** Listen on both ports; when that fails, stop what was started and say which ports. */
async function listenOrStop(
  server: WebhookServer,
  f: WebhookFlags,
  poolWorker: boolean,
  stopParts: () => void,
): Promise<{ port: number; metricsPort: number | undefined }> {
  try {
    return await server.listen(f.port, poolWorker ? undefined : f.metricsPort, f.bindAddress);
  } catch (err) {
    stopParts();
    await server.shutdown();
    throw new WebhookStartError(
      `cannot listen on port ${f.port} / metrics port ${f.metricsPort}: ${messageOf(err)}`,
    );
  }
}
