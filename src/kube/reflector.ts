/**
 * A list/watch loop (client-go's Reflector) over an injected list and watch (the lean transport of lean.ts for the
 * webhook, @kubernetes/client-node's Watch through client.ts's clientNodeWatch elsewhere). client-node 2.x's informer
 * (ListWatch) still stops for good after any error other than 410 and a client timeout, lists without pagination and
 * keeps every whole object in its own map; this one:
 * - lists (paginated), hands the full set to `onReplace` (so vanished objects are removed; callers keep only the
 *   fields they need), then watches from the list's resourceVersion with bookmarks;
 * - re-watches from the last resourceVersion when the server ends the watch (`timeoutSeconds`) or when the watch
 *   received nothing for `watchIdleTimeoutMs` (client-node's inactivity timer; a stalled connection cannot last);
 * - relists on 410 Gone (HTTP or an ERROR event), and retries any other error with capped exponential backoff.
 */
import type { Logger } from '../log.js';
import { OpenIrsaError, messageOf } from '../errors.js';
import { kubeStatusOf } from './client-errors.js';

/**
 * Start one watch request on a collection (client-node's Watch.watch shape, plus the idle timeout): events go to
 * `onEvent`; `onDone` is called once when it ends (null: the server closed it; an error named TimeoutError: nothing
 * arrived for `idleTimeoutMs`; an AbortError after abort()).
 */
export type WatchFn = (
  path: string,
  query: Record<string, string | number | boolean>,
  onEvent: (type: string, obj: unknown) => void,
  onDone: (err: unknown) => void,
  idleTimeoutMs: number,
) => Promise<{ abort(): void }>;

export interface ListPage {
  items?: unknown[];
  metadata?: { resourceVersion?: string; _continue?: string; continue?: string };
}

export interface ReflectorOptions {
  name: string;
  watch: WatchFn;
  /** The collection path, e.g. `/api/v1/serviceaccounts`. */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  list: (opts: {
    limit: number;
    _continue?: string;
    fieldSelector?: string;
    labelSelector?: string;
  }) => Promise<ListPage>;
  onReplace: (items: unknown[]) => void;
  onUpsert: (obj: unknown) => void;
  onDelete: (obj: unknown) => void;
  logger: Logger;
  /** Server-side watch timeout; the watch is re-established (from the last resourceVersion) at least this often. */
  watchTimeoutSeconds?: number;
  /**
   * A watch that receives no bytes for this long is re-established from the last resourceVersion (default: the
   * server-side timeout + 30 s, so the server ends a healthy watch first; kube-apiserver 1.37 left a quiet watch
   * silent for 120 s before its first bookmark, docs/deploy.md §1.7).
   */
  watchIdleTimeoutMs?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  pageSize?: number;
}

/** Where a Reflector lists and watches: the transport, apart from what to do with the objects. */
export type ListWatch = Pick<ReflectorOptions, 'list' | 'watch'>;

class GoneError extends OpenIrsaError {
  constructor(message: string) {
    super('KubeWatchGone', message);
  }
}

export class Reflector {
  private readonly idleTimeoutMs: number;
  private resourceVersion = '';
  private stopped = false;
  private controller: { abort(): void } | undefined;
  private sleepTimer: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private backoffMs: number;
  private relistRequested = false;
  private endWatch: (() => void) | undefined;
  private resolveSynced!: () => void;
  /** Resolves once the first list has been applied. */
  readonly synced: Promise<void>;
  hasSynced = false;
  lastError: string | undefined;
  lists = 0;
  watches = 0;

  constructor(private readonly o: ReflectorOptions) {
    this.idleTimeoutMs = o.watchIdleTimeoutMs ?? ((o.watchTimeoutSeconds ?? 300) + 30) * 1000;
    this.backoffMs = o.initialBackoffMs ?? 1000;
    this.synced = new Promise((r) => (this.resolveSynced = r));
  }

  start(): void {
    void this.loop();
  }

  /**
   * Lists again from scratch (the cache it fills was emptied): not synced until that list is applied, so a
   * readiness check that follows `hasSynced` follows the cache.
   */
  relist(): void {
    if (this.stopped) return;
    this.hasSynced = false;
    this.relistRequested = true;
    this.endWatch?.(); // ends the watch under way (an abort we make ourselves is not always reported back)
    if (this.sleepTimer) {
      clearTimeout(this.sleepTimer.timer);
      this.sleepTimer.resolve();
    }
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
    if (this.sleepTimer) {
      clearTimeout(this.sleepTimer.timer);
      this.sleepTimer.resolve();
    }
  }

  private async loop(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.listAll();
          needList = false;
        }
        if (this.relistRequested) {
          this.relistRequested = false;
          needList = true;
          continue;
        }
        const started = Date.now();
        const events = await this.watchOnce();
        if (this.relistRequested) continue;
        // A watch the server ends at once, again and again, must not become a request storm.
        if (events === 0 && Date.now() - started < 1000) await this.sleep(this.nextBackoff());
        else this.resetBackoff();
      } catch (err) {
        if (this.stopped) break;
        if (this.relistRequested) continue;
        if (err instanceof GoneError || kubeStatusOf(err) === 410) {
          this.o.logger.info(
            { reflector: this.o.name },
            'watch resourceVersion expired (410 Gone); relisting',
          );
          needList = true;
          this.resourceVersion = '';
          continue;
        }
        const wait = this.nextBackoff();
        this.lastError = messageOf(err) ?? String(err);
        this.o.logger.warn(
          { reflector: this.o.name, err: this.lastError, retryInMs: wait },
          'list/watch failed; retrying',
        );
        await this.sleep(wait);
      }
    }
  }

  private nextBackoff(): number {
    const base = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.maxBackoffMs ?? 30_000);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  private resetBackoff(): void {
    this.backoffMs = this.o.initialBackoffMs ?? 1000;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleepTimer = undefined;
        resolve();
      }, ms);
      this.sleepTimer = { timer, resolve };
    });
  }

  private async listAll(): Promise<void> {
    const items: unknown[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const opts: { limit: number; _continue?: string; fieldSelector?: string; labelSelector?: string } = {
        limit: this.o.pageSize ?? 500,
      };
      if (cont) opts._continue = cont;
      if (this.o.fieldSelector) opts.fieldSelector = this.o.fieldSelector;
      if (this.o.labelSelector) opts.labelSelector = this.o.labelSelector;
      const page = await this.o.list(opts);
      if (page.items) items.push(...page.items);
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?._continue ?? page.metadata?.continue;
    } while (cont);
    if (this.stopped) return;
    this.o.onReplace(items);
    this.resourceVersion = rv;
    this.lists++;
    this.lastError = undefined;
    this.resetBackoff();
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.resolveSynced();
    }
    this.o.logger.info({ reflector: this.o.name, items: items.length, resourceVersion: rv }, 'listed');
  }

  /** One watch request; resolves with the number of events when it ends normally, rejects on errors. */
  private watchOnce(): Promise<number> {
    const timeoutSeconds = this.o.watchTimeoutSeconds ?? 300;
    return new Promise<number>((resolve, reject) => {
      let events = 0;
      let gone = false;
      let settled = false;
      let errorEvent: Error | undefined;
      let watchdog: NodeJS.Timeout | undefined;
      const finish = (err: unknown): void => {
        if (settled) return;
        settled = true;
        this.endWatch = undefined;
        if (watchdog) clearTimeout(watchdog);
        this.controller?.abort();
        this.controller = undefined;
        if (gone) reject(new GoneError('410 Gone'));
        else if (errorEvent) reject(errorEvent);
        else if (err instanceof Error && err.name === 'TimeoutError') {
          // Nothing arrived for the idle timeout: the connection is presumed dead; it already waited, so no backoff.
          this.o.logger.info(
            { reflector: this.o.name, resourceVersion: this.resourceVersion },
            'watch idle; re-watching from the last resourceVersion',
          );
          resolve(events);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the watch's own failure, passed on as it came
        } else if (err && !(err instanceof Error && err.name.includes('Abort')) && !this.stopped) reject(err);
        else resolve(events);
      };
      this.endWatch = () => finish(null);
      const query: Record<string, string | number | boolean> = {
        allowWatchBookmarks: true,
        timeoutSeconds,
      };
      if (this.resourceVersion) query.resourceVersion = this.resourceVersion;
      if (this.o.fieldSelector) query.fieldSelector = this.o.fieldSelector;
      if (this.o.labelSelector) query.labelSelector = this.o.labelSelector;
      this.watches++;
      this.o
        .watch(
          this.o.path,
          query,
          (type: string, obj: unknown) => {
            events++;
            const rv = (obj as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
            switch (type) {
              case 'ADDED':
              case 'MODIFIED':
                this.o.onUpsert(obj);
                break;
              case 'DELETED':
                this.o.onDelete(obj);
                break;
              case 'BOOKMARK':
                break;
              case 'ERROR': {
                const code = (obj as { code?: number } | null)?.code;
                if (code === 410) gone = true;
                else
                  errorEvent = new Error(
                    `watch ERROR event: ${(obj as { message?: string } | null)?.message ?? 'unknown'}`,
                  );
                finish(errorEvent);
                return;
              }
              default:
                return;
            }
            if (rv) this.resourceVersion = rv;
          },
          (err: unknown) => finish(err),
          this.idleTimeoutMs,
        )
        .then(
          (controller) => {
            if (settled) {
              controller.abort();
              return;
            }
            this.controller = controller;
            if (this.stopped) controller.abort();
            // The server should end the watch at timeoutSeconds; if it went silent, abort a little later.
            watchdog = setTimeout(() => controller.abort(), (timeoutSeconds + 30) * 1000);
            watchdog.unref();
          },
          (err: unknown) => finish(err),
        );
    });
  }
}
