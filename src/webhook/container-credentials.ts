/**
 * The container-credentials (EKS Pod Identity) identities file (`--watch-container-credentials-config`,
 * reference pkg/containercredentials): `{"identities":[{"namespace":"foo","serviceAccount":"bar"}]}`, keys matched
 * case-insensitively, exact (namespace, serviceAccount) matching. Reloaded when the file changes; a missing or empty
 * file clears the set; an invalid file keeps the previous set and is retried with backoff.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FileWatcher } from './file-watch.js';
import type { ContainerCredentialsLookup } from './cache.js';
import type { Logger } from '../log.js';
import { OpenIrsaError, messageOf } from '../errors.js';

export class ContainerCredentialsParseError extends OpenIrsaError {
  constructor(message: string) {
    super('ContainerCredentialsConfigInvalid', message);
  }
}

function field(obj: Record<string, unknown>, name: string): unknown {
  let found: unknown;
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === name.toLowerCase()) found = v;
  return obj[name] !== undefined ? obj[name] : found;
}

/** Parse the file's content into a set of `ns/sa` keys ("" or whitespace → empty set). */
export function parseIdentities(content: string): Set<string> {
  const out = new Set<string>();
  if (content.trim() === '') return out;
  let raw: unknown;
  try {
    raw = JSON.parse(content);
  } catch (err) {
    throw new ContainerCredentialsParseError(`invalid JSON: ${messageOf(err)}`);
  }
  if (raw === null) return out;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ContainerCredentialsParseError('expected an object with "identities"');
  const ids = field(raw as Record<string, unknown>, 'identities');
  if (ids === undefined || ids === null) return out;
  if (!Array.isArray(ids)) throw new ContainerCredentialsParseError('"identities" must be a list');
  for (const [i, id] of ids.entries()) {
    if (id === null) continue;
    if (typeof id !== 'object' || Array.isArray(id))
      throw new ContainerCredentialsParseError(`identities[${i}] must be an object`);
    const ns = field(id as Record<string, unknown>, 'namespace') ?? '';
    const sa = field(id as Record<string, unknown>, 'serviceAccount') ?? '';
    if (typeof ns !== 'string' || typeof sa !== 'string') {
      throw new ContainerCredentialsParseError(
        `identities[${i}]: namespace and serviceAccount must be strings`,
      );
    }
    out.add(`${ns}/${sa}`);
  }
  return out;
}

export class ContainerCredentialsConfig implements ContainerCredentialsLookup {
  private identities = new Set<string>();
  private watcher: FileWatcher | undefined;
  private lastContent: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = 10;
  readonly path: string;

  constructor(
    path: string,
    private readonly logger: Logger,
  ) {
    // The reference compares event names to the path exactly: use an absolute, clean path.
    this.path = resolve(path);
  }

  has(namespace: string, serviceAccount: string): boolean {
    return this.identities.size > 0 && this.identities.has(`${namespace}/${serviceAccount}`);
  }

  get size(): number {
    return this.identities.size;
  }

  /** Load once and start watching. Rejects only when the directory cannot be watched. */
  async start(): Promise<void> {
    await this.load();
    this.watcher = new FileWatcher(this.path, () => this.load().then(() => undefined), this.logger);
  }

  /** Read the file; returns true when the set changed. */
  async load(): Promise<boolean> {
    let content: string;
    try {
      content = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.warn(
          { path: this.path, err: messageOf(err) },
          'cannot read the container credentials config; keeping the previous one',
        );
        this.retry();
        return false;
      }
      content = '';
    }
    if (content === this.lastContent) return false;
    try {
      this.identities = parseIdentities(content);
    } catch (err) {
      this.logger.error(
        { path: this.path, err: messageOf(err) },
        'invalid container credentials config; keeping the previous one',
      );
      this.retry();
      return false;
    }
    this.lastContent = content;
    this.retryMs = 10;
    this.logger.info(
      { path: this.path, identities: this.identities.size },
      'container credentials config loaded',
    );
    return true;
  }

  /** The reference retries a failed load with a 10ms..5min exponential backoff. */
  private retry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.load();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, 300_000);
  }

  stop(): void {
    this.watcher?.close();
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }
}
