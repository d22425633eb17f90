/**
 * `openirsa agent`: EKS Pod Identity for any cluster (docs/agent.md). Wires the pure pieces (token, plan, response)
 * to their sources: the pod's token is authenticated (TokenReview, or the cluster's keys + the pod's lookup),
 * the association is found (PodIdentityAssociation objects, or a file), credentials come from STS through a
 * per-pod-session cache.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { checkJwks } from '../oidc/jwk.js';
import { ProviderKeys, type ProviderTrust } from '../oidc/keys.js';
import { FileWatcher } from '../webhook/file-watch.js';
import { AssociationIndex, parseAssociationsText } from './association.js';
import {
  CachedAuthenticator,
  JwksAuthenticator,
  TokenReviewAuthenticator,
  type PodTokenAuthenticator,
} from './authenticate.js';
import { CredentialsCache, type CredentialsCacheOptions } from './cache.js';
import { AssociationApiSource } from './association-source.js';
import { clientNodeAssociationListWatch, kubePodCheck, kubeTokenReviewer } from './kube.js';
import type { CredentialsModel } from './plan.js';
import {
  createAgentMetrics,
  credentialsListener,
  listenAll,
  probeListener,
  type AgentMetrics,
  type Listening,
} from './server.js';
import { StsUpstream, type StsUpstreamOptions, type Upstream } from './upstream.js';
import { OpenIrsaError, messageOf } from '../errors.js';

export type AgentAuth =
  | { kind: 'token-review' }
  | {
      kind: 'jwks';
      issuer: string;
      /** A JWKS file; without it, the issuer's discovery document over HTTPS. */
      jwksFile?: string;
      caBundleFile?: string;
      /** Look the bound pod up on every (uncached) request; off only for labs without an API server. */
      podCheck: boolean;
    };

export interface AgentOptions {
  clusterName: string;
  clusterArn?: string;
  model: CredentialsModel;
  bindHosts: string[];
  port: number;
  /** Hosts a request may name; default: the bind hosts. */
  allowedHosts?: string[];
  /** `host:port` of /healthz, /readyz, /metrics; undefined = none. */
  probe?: { host: string; port: number };
  audiences: string[];
  auth: AgentAuth;
  /** Kubernetes (required by token-review, the pod check and the kubernetes association source). */
  kubeConfig?: KubeConfig;
  associations: { kind: 'kubernetes' } | { kind: 'file'; path: string };
  sts: StsUpstreamOptions;
  cache?: CredentialsCacheOptions;
  /** How long an authenticated token is trusted before it is checked again (ms). */
  authCacheTtlMs?: number;
  logger: Logger;
  /** Tests: a stand-in upstream and clock. */
  upstream?: Upstream;
  now?: () => number;
}

export interface RunningAgent {
  addresses: string[];
  probeAddress: string | undefined;
  cache: CredentialsCache;
  associations: AssociationIndex;
  authenticator: CachedAuthenticator;
  upstream: Upstream;
  metrics: AgentMetrics;
  stop(): Promise<void>;
}

export class AgentConfigError extends OpenIrsaError {
  constructor(message: string) {
    super('AgentConfigInvalid', message);
  }
}

function needKube(o: AgentOptions, what: string): KubeConfig {
  if (!o.kubeConfig)
    throw new AgentConfigError(`${what} needs the Kubernetes API: pass --kubeconfig or run in a cluster`);
  return o.kubeConfig;
}

async function buildAuthenticator(o: AgentOptions): Promise<PodTokenAuthenticator> {
  if (o.auth.kind === 'token-review')
    return new TokenReviewAuthenticator(
      kubeTokenReviewer(needKube(o, 'token-review authentication')),
      o.audiences,
    );
  const a = o.auth;
  const log = o.logger;
  let jwks: ProviderTrust['jwks'];
  if (a.jwksFile) {
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(a.jwksFile, 'utf8'));
    } catch (err) {
      throw new AgentConfigError(`cannot read the JWKS file ${a.jwksFile}: ${messageOf(err)}`);
    }
    const checked = checkJwks(doc);
    if (!checked) throw new AgentConfigError(`${a.jwksFile} is not a JWKS (no "keys" list)`);
    // Left out by ProviderKeys as by a fetched JWKS: said here, or a token signed with one is refused unexplained.
    for (const message of checked.skipped)
      log.warn({ path: a.jwksFile }, `JWKS file ${a.jwksFile}: ${message}; entry ignored`);
    jwks = doc as ProviderTrust['jwks'];
  }
  let caBundle: string | undefined;
  if (a.caBundleFile) {
    try {
      caBundle = await readFile(a.caBundleFile, 'utf8');
    } catch (err) {
      throw new AgentConfigError(`cannot read the CA bundle ${a.caBundleFile}: ${messageOf(err)}`);
    }
  }
  // A failed fetch refuses every token ("not one of the cluster's keys"): the reason is logged, as `sts serve` does.
  const keys = new ProviderKeys(
    {
      url: a.issuer,
      thumbprints: [],
      ...(jwks && { jwks }),
      ...(caBundle !== undefined && { caBundle }),
    },
    {
      onFetch: (info) =>
        info.ok
          ? log.info({ event: 'jwks_fetch', url: info.url }, 'fetched the cluster keys')
          : log.warn(
              { event: 'jwks_fetch_failed', url: info.url, reason: info.error },
              'fetching the cluster keys failed',
            ),
      onWarning: (w) => log.warn({ event: 'jwks_entry_ignored', url: w.url }, w.message),
    },
  );
  return new JwksAuthenticator({
    issuer: a.issuer,
    audiences: o.audiences,
    keys,
    podCheck: a.podCheck ? kubePodCheck(needKube(o, 'the pod check')) : undefined,
  });
}

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const log = o.logger;
  const now = o.now ?? Date.now;
  const authenticator = new CachedAuthenticator(await buildAuthenticator(o), {
    ttlMs: o.authCacheTtlMs ?? 5000,
  });
  const associations = new AssociationIndex();
  let stopSource: () => void = () => undefined;
  if (o.associations.kind === 'kubernetes') {
    const source = new AssociationApiSource(
      clientNodeAssociationListWatch(needKube(o, 'the PodIdentityAssociation source')),
      associations,
      log,
    );
    await source.start();
    stopSource = () => source.stop();
  } else {
    const path = resolve(o.associations.path);
    let last: string | undefined;
    const load = async (): Promise<void> => {
      let text = '';
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (text === last) return;
      associations.replace(parseAssociationsText(text));
      last = text;
      log.info({ path, associations: associations.size }, 'associations loaded');
    };
    try {
      await load();
    } catch (err) {
      throw new AgentConfigError(`${path}: ${messageOf(err)}`);
    }
    const watcher = new FileWatcher(
      path,
      () =>
        load().catch((err: unknown) =>
          log.error({ path, err: messageOf(err) }, 'invalid associations file; keeping the previous one'),
        ),
      log,
    );
    stopSource = () => watcher.close();
  }
  const upstream = o.upstream ?? new StsUpstream(o.sts);
  const cache = new CredentialsCache({ now, ...o.cache });
  const metrics = createAgentMetrics();
  const listener = credentialsListener({
    authenticator,
    associations,
    plan: {
      model: o.model,
      clusterName: o.clusterName,
      ...(o.clusterArn !== undefined && { clusterArn: o.clusterArn }),
    },
    upstream,
    cache,
    allowedHosts: o.allowedHosts ?? o.bindHosts.map((h) => h.replace(/^\[|\]$/g, '')),
    now,
    logger: log,
    metrics,
  });
  let main: Listening;
  try {
    main = await listenAll(o.bindHosts, o.port, listener);
  } catch (err) {
    stopSource();
    throw new AgentConfigError(
      `cannot listen on ${o.bindHosts.join(', ')} port ${o.port}: ${messageOf(err)}`,
    );
  }
  let probe: Listening | undefined;
  if (o.probe) {
    try {
      probe = await listenAll(
        [o.probe.host],
        o.probe.port,
        probeListener(() => true, metrics),
      );
    } catch (err) {
      await main.close();
      stopSource();
      throw new AgentConfigError(`cannot listen on the probe address: ${messageOf(err)}`);
    }
  }
  log.info(
    { addresses: main.addresses, probe: probe?.addresses[0], model: o.model, cluster: o.clusterName },
    'agent listening',
  );
  return {
    addresses: main.addresses,
    probeAddress: probe?.addresses[0],
    cache,
    associations,
    authenticator,
    upstream,
    metrics,
    stop: async () => {
      stopSource();
      await Promise.all([main.close(), probe?.close()]);
      (upstream as { destroy?: () => void }).destroy?.();
    },
  };
}

export * from './association.js';
export * from './errors.js';
export * from './token.js';
export * from './plan.js';
export * from './response.js';
export * from './cache.js';
export * from './authenticate.js';
export { answerCredentialsRequest, targetHost, CREDENTIALS_PATH, DEFAULT_BIND_HOSTS } from './server.js';
export { StsUpstream, type Upstream, type StsUpstreamOptions } from './upstream.js';
