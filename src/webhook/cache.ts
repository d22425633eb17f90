/**
 * The identity cache (reference pkg/cache @3bf80a34): ServiceAccount entries built from annotations or
 * the flag defaults, ConfigMap entries, the grace-period wait with a single-object GET fallback, and the resolution
 * of an IdentityLookup for the mutation (§1.3). Sources (API watch, ConfigMap, static file) feed it; it does no I/O
 * itself except through the injected `fetchServiceAccount`.
 */
import { ANNOTATION, DEFAULT_TOKEN_EXPIRATION, MIN_TOKEN_EXPIRATION } from './constants.js';
import { goKeyCompare, goString } from './go/json-string.js';
import { maxInt64, parseGoBool, parseGoInt64 } from './go/strconv.js';
import type { IdentityLookup, ServiceAccountSettings } from './types.js';
import type { Logger } from '../log.js';
import { messageOf } from '../errors.js';

/** A ServiceAccount reduced to what the cache needs (the reference's stripDownServiceAccount). */
export interface StrippedServiceAccount {
  namespace: string;
  name: string;
  resourceVersion?: string;
  /** Only the annotations under `<prefix>/`. */
  annotations: Record<string, string>;
}

/** Reduce any ServiceAccount-shaped object to its name, namespace, resourceVersion and the prefix's annotations. */
export function stripServiceAccount(
  obj: unknown,
  annotationPrefix: string,
): StrippedServiceAccount | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const meta = (obj as { metadata?: unknown }).metadata;
  if (typeof meta !== 'object' || meta === null) return undefined;
  const m = meta as { name?: unknown; namespace?: unknown; resourceVersion?: unknown; annotations?: unknown };
  if (typeof m.name !== 'string' || m.name === '') return undefined;
  const namespace = typeof m.namespace === 'string' && m.namespace !== '' ? m.namespace : 'default';
  const annotations: Record<string, string> = {};
  const prefix = annotationPrefix + '/';
  if (typeof m.annotations === 'object' && m.annotations !== null) {
    for (const [k, v] of Object.entries(m.annotations as Record<string, unknown>)) {
      if (k.startsWith(prefix) && typeof v === 'string') annotations[k] = v;
    }
  }
  const out: StrippedServiceAccount = { namespace, name: m.name, annotations };
  if (typeof m.resourceVersion === 'string') out.resourceVersion = m.resourceVersion;
  return out;
}

/** The role-ARN shape the reference warns about (the value is still used). */
const ROLE_ARN_RE = /^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w\-/.@+=,]+$/;

/** The account the webhook runs in, for --compose-role-arn. */
export interface ComposeRoleArn {
  partition: string;
  accountId: string;
}

export interface CacheDefaults {
  annotationPrefix: string;
  tokenAudience: string;
  stsRegionalEndpoint: boolean;
  /** Already clamped to >= 600. */
  tokenExpiration: bigint;
  composeRoleArn?: ComposeRoleArn | undefined;
}

/** addSA: the entry every ServiceAccount gets, from its annotations or the flag defaults (§1.2, §2.1). */
export function serviceAccountSettings(
  sa: StrippedServiceAccount,
  d: CacheDefaults,
  log?: Logger,
): ServiceAccountSettings {
  const a = sa.annotations;
  const p = d.annotationPrefix + '/';
  let roleArn = a[p + ANNOTATION.roleArn] ?? '';
  if (roleArn !== '' && d.composeRoleArn && !roleArn.includes('arn:')) {
    roleArn = `arn:${d.composeRoleArn.partition}:iam::${d.composeRoleArn.accountId}:role/${roleArn}`;
  }
  if (roleArn !== '' && !ROLE_ARN_RE.test(roleArn)) {
    log?.warn(
      { namespace: sa.namespace, serviceAccount: sa.name, roleArn },
      'ServiceAccount role ARN annotation does not look like an IAM role ARN; using it anyway',
    );
  }
  const audience = a[p + ANNOTATION.audience] ?? d.tokenAudience;
  let useRegionalSts = d.stsRegionalEndpoint;
  const sts = a[p + ANNOTATION.stsRegionalEndpoints];
  if (sts !== undefined) {
    const b = parseGoBool(sts);
    if (b === undefined)
      log?.debug(
        { namespace: sa.namespace, serviceAccount: sa.name, value: sts },
        'invalid sts-regional-endpoints annotation; using the flag default',
      );
    else useRegionalSts = b;
  }
  let tokenExpiration = d.tokenExpiration;
  const exp = a[p + ANNOTATION.tokenExpiration];
  if (exp !== undefined) {
    const n = parseGoInt64(exp);
    if (n === undefined)
      log?.debug(
        { namespace: sa.namespace, serviceAccount: sa.name, value: exp },
        'invalid token-expiration annotation; using the flag default',
      );
    else tokenExpiration = maxInt64(n, MIN_TOKEN_EXPIRATION);
  }
  return { roleArn, audience, useRegionalSts, tokenExpiration };
}

/** A ConfigMap entry as the reference stores it (§2.4): values used verbatim, TokenExpiration 0 = the flag. */
export type ConfigMapEntries = Map<string, ServiceAccountSettings>;

/** Who can tell "is this (namespace, serviceAccount) an EKS Pod Identity association?" (§2.5). */
export interface ContainerCredentialsLookup {
  has(namespace: string, serviceAccount: string): boolean;
}

/** A token bucket: `rate` tokens/s, `burst` capacity (the reference's 10 rps, burst 20 GET limiter). */
export class RateLimiter {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }
  /** Milliseconds to wait before the next token, taking it. */
  reserve(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }
}

export interface IdentityCacheOptions extends CacheDefaults {
  logger: Logger;
  /** --service-account-lookup-grace-period in ms; 0 disables the wait and the GET fallback. */
  gracePeriodMs: number;
  /** Single-object GET (the API source provides it): the SA, or undefined when it does not exist. */
  fetchServiceAccount?:
    ((namespace: string, name: string) => Promise<StrippedServiceAccount | undefined>) | undefined;
  /** Called the first time any SA is cached (gauge pod_identity_webhook_used). */
  onUsed?: () => void;
  containerCredentials?: ContainerCredentialsLookup | undefined;
  /** Max queued GETs (the reference's buffered channel holds 1000). */
  maxPendingFetches?: number;
  rateLimiter?: RateLimiter;
}

export interface CacheGetResult {
  settings?: ServiceAccountSettings;
  source?: 'service-account' | 'config-map';
  /** An SA or CM entry exists (the role may still be empty). */
  found: boolean;
}

const key = (ns: string, name: string): string => `${ns}/${name}`;

export class IdentityCache {
  private readonly sas = new Map<string, ServiceAccountSettings>();
  private cm: ConfigMapEntries = new Map();
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Keys with a GET queued or running: deduplicated; removed when the GET ends, so a failed GET can be retried. */
  private readonly fetching = new Set<string>();
  private readonly queue: Array<{ namespace: string; name: string }> = [];
  private pumping = false;
  private usedSignalled = false;
  private readonly limiter: RateLimiter;
  private stopped = false;
  fetchCount = 0;

  constructor(private readonly opts: IdentityCacheOptions) {
    this.limiter = opts.rateLimiter ?? new RateLimiter(10, 20);
  }

  get size(): number {
    return this.sas.size;
  }

  /** Add or update one ServiceAccount (informer add/update, file reload, GET fallback). */
  addServiceAccount(sa: StrippedServiceAccount): void {
    const k = key(sa.namespace, sa.name);
    this.sas.set(k, serviceAccountSettings(sa, this.opts, this.opts.logger));
    if (!this.usedSignalled) {
      this.usedSignalled = true;
      this.opts.onUsed?.();
    }
    this.notify(k);
  }

  removeServiceAccount(namespace: string, name: string): void {
    this.sas.delete(key(namespace, name));
  }

  /** Replace the whole SA set (a relist or a file reload): entries not in `items` are removed. */
  replaceServiceAccounts(items: Iterable<StrippedServiceAccount>): void {
    const seen = new Set<string>();
    for (const sa of items) {
      seen.add(key(sa.namespace, sa.name));
      this.addServiceAccount(sa);
    }
    for (const k of [...this.sas.keys()]) if (!seen.has(k)) this.sas.delete(k);
  }

  /**
   * ConfigMap update (§2.4): set every new entry, then delete the keys of the previous config that are gone.
   * Entries with TokenExpiration 0 take the flag value.
   */
  setConfigMapEntries(entries: ConfigMapEntries): void {
    const next: ConfigMapEntries = new Map();
    for (const [k, v] of entries) {
      next.set(k, {
        ...v,
        tokenExpiration: v.tokenExpiration === 0n ? this.opts.tokenExpiration : v.tokenExpiration,
      });
    }
    this.cm = next;
    for (const k of next.keys()) this.notify(k);
  }

  /** §2.2: SA entry with a role, else CM `ns/name`, else CM `* /name`. */
  get(namespace: string, name: string): CacheGetResult {
    const k = key(namespace, name);
    const sa = this.sas.get(k);
    if (sa && sa.roleArn !== '') return { settings: sa, source: 'service-account', found: true };
    const cm = this.cm.get(k) ?? this.cm.get(key('*', name));
    if (cm) return { settings: cm, source: 'config-map', found: true };
    return { found: sa !== undefined };
  }

  /** GetCommonConfigurations (§1.3 step 1): SA entry, else exact CM entry (no `*`), else (false, 86400). */
  getCommonConfigurations(
    namespace: string,
    name: string,
  ): { useRegionalSts: boolean; tokenExpiration: bigint } {
    const k = key(namespace, name);
    const e = this.sas.get(k) ?? this.cm.get(k);
    if (e) return { useRegionalSts: e.useRegionalSts, tokenExpiration: e.tokenExpiration };
    return { useRegionalSts: false, tokenExpiration: DEFAULT_TOKEN_EXPIRATION };
  }

  /** Resolve what the mutation needs for a pod's (namespace, serviceAccountName) (§1.3). */
  async lookup(namespace: string, name: string): Promise<IdentityLookup> {
    if (this.opts.containerCredentials?.has(namespace, name)) {
      return { mode: 'container-credentials', common: this.getCommonConfigurations(namespace, name) };
    }
    let r = this.get(namespace, name);
    if (!r.found && this.opts.gracePeriodMs > 0 && !this.stopped) {
      this.opts.logger.warn(
        { namespace, serviceAccount: name, gracePeriodMs: this.opts.gracePeriodMs },
        'Service account not found in the cache; waiting for it (grace period)',
      );
      await this.waitFor(namespace, name, this.opts.gracePeriodMs);
      r = this.get(namespace, name);
    }
    if (!r.found) return { mode: 'none', reason: 'not-found' };
    if (!r.settings || r.settings.roleArn === '') return { mode: 'none', reason: 'no-role' };
    return { mode: 'web-identity', settings: r.settings, source: r.source! };
  }

  /** Wait until `ns/name` is added (informer or GET) or `ms` elapse; triggers a GET when a fetcher exists. */
  private waitFor(namespace: string, name: string, ms: number): Promise<void> {
    const k = key(namespace, name);
    return new Promise((resolve) => {
      let set = this.waiters.get(k);
      if (!set) this.waiters.set(k, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(k) === set) this.waiters.delete(k);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      this.requestFetch(namespace, name);
    });
  }

  private notify(k: string): void {
    const set = this.waiters.get(k);
    if (!set) return;
    for (const done of [...set]) done();
  }

  private requestFetch(namespace: string, name: string): void {
    if (!this.opts.fetchServiceAccount) return;
    const k = key(namespace, name);
    if (this.fetching.has(k)) return;
    if (this.queue.length >= (this.opts.maxPendingFetches ?? 1000)) {
      this.opts.logger.warn(
        { namespace, serviceAccount: name },
        'ServiceAccount GET queue full; not fetching',
      );
      return;
    }
    this.fetching.add(k);
    this.queue.push({ namespace, name });
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const wait = this.limiter.reserve();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait).unref());
        const item = this.queue.shift()!;
        void this.fetchOne(item.namespace, item.name);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async fetchOne(namespace: string, name: string): Promise<void> {
    const k = key(namespace, name);
    this.fetchCount++;
    try {
      const sa = await this.opts.fetchServiceAccount!(namespace, name);
      if (sa) this.addServiceAccount(sa);
      else this.opts.logger.info({ namespace, serviceAccount: name }, 'ServiceAccount not found by the API');
    } catch (err) {
      this.opts.logger.warn(
        { namespace, serviceAccount: name, err: messageOf(err) },
        'ServiceAccount GET failed; a later request will retry',
      );
    } finally {
      // Unlike the reference (whose dead notifier blocks every later GET for the key), allow a retry.
      this.fetching.delete(k);
    }
  }

  /**
   * Debug handler: the SA map exactly as the reference dumps it, json.MarshalIndent(map, "", " "): keys sorted
   * bytewise, Go field names, Go string escaping (`<` → `\u003c`…), the int64 expiration exact.
   */
  dump(): string {
    const keys = [...this.sas.keys()].sort(goKeyCompare);
    if (keys.length === 0) return '{}';
    const entries = keys.map((k) => {
      const e = this.sas.get(k)!;
      return (
        ` ${goString(k)}: {\n` +
        `  "RoleARN": ${goString(e.roleArn)},\n` +
        `  "Audience": ${goString(e.audience)},\n` +
        `  "UseRegionalSTS": ${e.useRegionalSts ? 'true' : 'false'},\n` +
        `  "TokenExpiration": ${e.tokenExpiration}\n }`
      );
    });
    return `{\n${entries.join(',\n')}\n}`;
  }

  /** Debug handler: empty the SA and CM maps. */
  clear(): void {
    this.sas.clear();
    this.cm = new Map();
  }

  stop(): void {
    this.stopped = true;
    for (const set of this.waiters.values()) for (const done of [...set]) done();
    this.queue.length = 0;
  }
}
