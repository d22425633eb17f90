/**
 * Assemble and start the webhook from its flags: TLS (with hot reload), the identity sources, the servers. Used by
 * `openirsa webhook`, `openirsa dev` and the benchmark.
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
import { CertificateReloader, cipherString, loadKeyPair, minVersion, type TlsSettings } from './tls.js';
import type { IdentityLookup, MutationConfig } from './types.js';
import type { Logger } from '../log.js';
import { OpenIrsaError, messageOf } from '../errors.js';

export { FLAGS, parseArgs, resolveFlags, helpText, type WebhookFlags } from './flags.js';
export { mutatePod } from './mutate.js';
export { reviewAdmission } from './admission.js';
export * from './constants.js';
export type * from './types.js';
export { IdentityCache } from './cache.js';
export { createMetrics } from './metrics.js';

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
}

export interface RunningWebhook {
  port: number;
  metricsPort: number;
  cache: IdentityCache;
  server: WebhookServer;
  metrics: WebhookMetrics;
  readiness: () => Readiness;
  /** Resolves once every enabled source has synced. */
  synced: Promise<void>;
  /** Re-reads --tls-cert/--tls-key now (SIGHUP); true when a new certificate is served. */
  reloadTls: () => Promise<boolean>;
  /** Graceful stop: servers drained (true) or force-closed (false), then the sources stopped. */
  stop: () => Promise<boolean>;
}

export async function startWebhook(f: WebhookFlags, opts: StartOptions): Promise<RunningWebhook> {
  const log = opts.logger;
  if (f.inCluster) throw new WebhookStartError(IN_CLUSTER_UNSUPPORTED);
  if (f.watchConfigMap && f.serviceAccountsFile) {
    throw new WebhookStartError(
      '--watch-config-map needs the Kubernetes API and cannot be combined with --service-accounts-file',
    );
  }
  const tlsSettings: TlsSettings = {
    certFile: f.tlsCert,
    keyFile: f.tlsKey,
    ciphers: cipherString(f.tlsCipherSuites),
    minVersion: minVersion(f.tlsMinVersion),
  };
  const pair = await loadKeyPair(tlsSettings);
  const compose = f.composeRoleArn ? await (opts.composeRoleArn ?? composeRoleArnFromImds)() : undefined;
  if (compose)
    log.info(
      { partition: compose.partition, accountId: compose.accountId },
      '--compose-role-arn: role names are composed into ARNs',
    );

  const metrics = opts.metrics ?? createMetrics();
  if (f.watchPodIdentityAssociations && f.serviceAccountsFile) {
    throw new WebhookStartError(
      '--watch-pod-identity-associations needs the Kubernetes API and cannot be combined with --service-accounts-file',
    );
  }
  const cc = f.watchContainerCredentialsConfig
    ? new ContainerCredentialsConfig(f.watchContainerCredentialsConfig, log)
    : undefined;
  // The agent's associations are a second source of container-credentials ServiceAccounts (one source of truth
  // for agent and webhook); the identities file keeps working beside it.
  const associations = f.watchPodIdentityAssociations ? new AssociationIndex() : undefined;
  const containerCredentials: ContainerCredentialsLookup | undefined =
    cc && associations
      ? { has: (ns, sa) => cc.has(ns, sa) || associations.has(ns, sa) }
      : (cc ?? associations);

  let apiSource: ServiceAccountApiSource | undefined;
  const cache = new IdentityCache({
    annotationPrefix: f.annotationPrefix,
    tokenAudience: f.tokenAudience,
    stsRegionalEndpoint: f.stsRegionalEndpoint,
    tokenExpiration: f.tokenExpiration,
    composeRoleArn: compose,
    logger: log,
    gracePeriodMs: f.serviceAccountLookupGracePeriodMs,
    fetchServiceAccount: (ns, name) => (apiSource ? apiSource.fetch(ns, name) : Promise.resolve(undefined)),
    onUsed: () => metrics.used.set(1),
    containerCredentials,
  });

  const stops: Array<() => void> = [];
  const syncs: Array<Promise<void>> = [];
  const notReady: Array<() => string | undefined> = [];
  /** Fill the cache again after the debug handler emptied it; readiness follows until each source has. */
  const refills: Array<() => void> = [];
  try {
    if (cc) {
      try {
        await cc.start();
      } catch (err) {
        throw new WebhookStartError(
          `--watch-container-credentials-config ${cc.path}: cannot watch its directory: ${messageOf(err)}`,
        );
      }
      stops.push(() => cc.stop());
    }
    if (f.serviceAccountsFile) {
      const file = new StaticServiceAccountSource(f.serviceAccountsFile, cache, f.annotationPrefix, log);
      await file.start();
      stops.push(() => file.stop());
      refills.push(() => void file.refill());
      notReady.push(() =>
        file.synced
          ? undefined
          : `ServiceAccounts file ${f.serviceAccountsFile} not loaded since the cache was cleared`,
      );
    } else {
      // The lean transport, not @kubernetes/client-node (~80 MiB of RSS to load): see src/kube/lean.ts.
      const [{ loadKubeConnection, leanListWatch }, { ConfigMapApiSource, ServiceAccountApiSource }] =
        await Promise.all([import('../kube/lean.js'), import('./service-account-sources.js')]);
      const kube = loadKubeConnection({ kubeconfig: f.kubeconfig, kubeApi: f.kubeApi });
      apiSource = new ServiceAccountApiSource({
        kube,
        cache,
        annotationPrefix: f.annotationPrefix,
        logger: log,
        resyncPeriodMs: f.resyncPeriodMs,
      });
      const sa = apiSource;
      sa.start();
      stops.push(() => sa.stop());
      syncs.push(sa.reflector.synced);
      refills.push(() => sa.reflector.relist());
      notReady.push(() =>
        sa.reflector.hasSynced
          ? undefined
          : `ServiceAccount cache not synced${sa.reflector.lastError ? ` (last error: ${sa.reflector.lastError})` : ''}`,
      );
      if (associations) {
        const { AssociationApiSource } = await import('../agent/association-source.js');
        const pia = new AssociationApiSource(leanListWatch(kube, ASSOCIATION_API_PATH), associations, log);
        void pia.start();
        stops.push(() => pia.stop());
        syncs.push(pia.reflector.synced);
        notReady.push(() =>
          pia.reflector.hasSynced
            ? undefined
            : `PodIdentityAssociation cache not synced${pia.reflector.lastError ? ` (last error: ${pia.reflector.lastError})` : ''}`,
        );
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
        stops.push(() => cm.stop());
        syncs.push(cm.reflector.synced);
        refills.push(() => cm.reflector.relist());
        notReady.push(() =>
          cm.reflector.hasSynced
            ? undefined
            : `ConfigMap ${f.namespace}/pod-identity-webhook not synced${cm.reflector.lastError ? ` (last error: ${cm.reflector.lastError})` : ''}`,
        );
      }
      stops.push(() => kube.close()); // after the sources' stops, so their watches end as aborts
    }
  } catch (err) {
    for (const s of stops) s();
    throw err;
  }

  const readiness = (): Readiness => {
    const reasons = notReady.map((r) => r()).filter((r): r is string => r !== undefined);
    return { ready: reasons.length === 0, reasons };
  };

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
    readiness,
    cacheDump: () => cache.dump(),
    cacheClear: () => {
      cache.clear();
      log.warn({ sources: refills.length }, 'identity cache cleared by /debug/alpha/cache/clear; reloading');
      for (const refill of refills) refill();
    },
    shutdownTimeoutMs: opts.shutdownTimeoutMs,
  });
  const reloader = new CertificateReloader(tlsSettings, pair, (o) => server.setSecureContext(o), log);
  stops.push(() => reloader.close());

  let ports: { port: number; metricsPort: number };
  try {
    ports = await server.listen(f.port, f.metricsPort, f.bindAddress);
  } catch (err) {
    for (const s of stops) s();
    await server.shutdown();
    throw new WebhookStartError(
      `cannot listen on port ${f.port} / metrics port ${f.metricsPort}: ${messageOf(err)}`,
    );
  }
  log.info(
    { port: ports.port, metricsPort: ports.metricsPort, source: f.serviceAccountsFile ? 'file' : 'api' },
    'webhook listening',
  );
  const synced = Promise.all(syncs).then(() => {
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
      for (const s of stops) s();
      cache.stop();
      return graceful;
    },
  };
}
