/**
 * Credentials per pod session, refreshed before they expire, with concurrent misses for one session coalesced into
 * a single upstream call. The clock is injected; nothing here runs on a timer (a session that stops asking costs no
 * STS call — renewal happens when the pod asks inside the refresh window).
 */
import { AgentError } from './errors.js';
import type { IssuedCredentials } from './response.js';

export interface CredentialsCacheOptions {
  /** Milliseconds since the epoch. */
  now?: () => number;
  /**
   * Refresh when fewer than this many ms remain. Above the SDKs' own refresh margins (boto3 refreshes 15 min before
   * expiry, the JavaScript SDK 5 min) so a pod is never handed credentials its SDK considers stale.
   */
  refreshBeforeMs?: number;
  /** Never serve credentials with less than this left, even when STS fails (EKS agent: 15 s). */
  minTtlMs?: number;
  /** Renew at least this often however long credentials last (EKS agent: 3 h). */
  maxRetentionMs?: number;
  /** Sessions kept (least recently used dropped first; EKS agent: 2000). */
  maxEntries?: number;
}

interface Entry {
  creds: IssuedCredentials;
  fetchedAt: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  upstreamCalls: number;
  coalesced: number;
  servedStale: number;
  size: number;
}

export const DEFAULT_REFRESH_BEFORE_MS = 20 * 60_000;

/** A failure worth riding out on still-valid credentials: STS unreachable, throttled or failing on its side. */
export function isRecoverable(err: unknown): boolean {
  if (!(err instanceof AgentError)) return true;
  return err.kind === 'internal' || (err.kind === 'upstream' && (err.status >= 500 || err.status === 429));
}

export class CredentialsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<IssuedCredentials>>();
  private readonly now: () => number;
  private readonly refreshBeforeMs: number;
  private readonly minTtlMs: number;
  private readonly maxRetentionMs: number;
  private readonly maxEntries: number;
  readonly stats: CacheStats = {
    hits: 0,
    misses: 0,
    upstreamCalls: 0,
    coalesced: 0,
    servedStale: 0,
    size: 0,
  };

  constructor(o: CredentialsCacheOptions = {}) {
    this.now = o.now ?? Date.now;
    this.refreshBeforeMs = o.refreshBeforeMs ?? DEFAULT_REFRESH_BEFORE_MS;
    this.minTtlMs = o.minTtlMs ?? 15_000;
    this.maxRetentionMs = o.maxRetentionMs ?? 3 * 3_600_000;
    this.maxEntries = o.maxEntries ?? 2000;
  }

  /** Cached credentials for `key` if fresh, else one `fetch` shared by every concurrent caller. */
  get(key: string, fetch: () => Promise<IssuedCredentials>): Promise<IssuedCredentials> {
    const now = this.now();
    const entry = this.entries.get(key);
    if (entry && this.fresh(entry, now)) {
      this.stats.hits++;
      return Promise.resolve(entry.creds);
    }
    const running = this.inflight.get(key);
    if (running) {
      this.stats.coalesced++;
      return running;
    }
    this.stats.misses++;
    this.stats.upstreamCalls++;
    const call = fetch().then(
      (creds) => {
        this.store(key, creds);
        return creds;
      },
      (err: unknown) => {
        // Ride out a passing upstream failure on credentials that are still good; never on a refusal.
        const old = this.entries.get(key);
        if (old && isRecoverable(err) && old.creds.expiration.getTime() - this.now() > this.minTtlMs) {
          this.stats.servedStale++;
          return old.creds;
        }
        if (old && !isRecoverable(err)) this.entries.delete(key);
        throw err;
      },
    );
    const tracked = call.finally(() => this.inflight.delete(key));
    this.inflight.set(key, tracked);
    return tracked;
  }

  /** Forget a session (its pod is gone). */
  delete(key: string): void {
    this.entries.delete(key);
    this.stats.size = this.entries.size;
  }

  get size(): number {
    return this.entries.size;
  }

  private fresh(e: Entry, now: number): boolean {
    const expires = e.creds.expiration.getTime();
    // Short-lived credentials are renewed at half their life rather than on every request.
    const margin = Math.max(this.minTtlMs, Math.min(this.refreshBeforeMs, (expires - e.fetchedAt) / 2));
    return expires - now > margin && now - e.fetchedAt < this.maxRetentionMs;
  }

  private store(key: string, creds: IssuedCredentials): void {
    const now = this.now();
    if (creds.expiration.getTime() - now <= this.minTtlMs) return; // useless to keep
    this.entries.delete(key); // re-insert: Map order is the LRU order
    this.entries.set(key, { creds, fetchedAt: now });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.stats.size = this.entries.size;
  }
}
