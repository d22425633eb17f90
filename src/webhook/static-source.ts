/**
 * ServiceAccounts from a file (`--service-accounts-file`): for running without an API server (`openirsa dev`,
 * tests, air-gapped labs). YAML or JSON: a list of ServiceAccounts, a v1 List / ServiceAccountList, or one or more
 * YAML documents. Reloaded when the file changes; a bad reload keeps the previous set.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadYaml } from '../lazy-yaml.js';
import { FileWatcher } from './file-watch.js';
import { stripServiceAccount, type IdentityCache, type StrippedServiceAccount } from './cache.js';
import type { Logger } from '../log.js';
import { OpenIrsaError, messageOf } from '../errors.js';

export class ServiceAccountsFileError extends OpenIrsaError {
  constructor(message: string) {
    super('ServiceAccountsFileInvalid', message);
  }
}

function collect(doc: unknown, out: unknown[], where: string): void {
  if (doc === null || doc === undefined) return;
  if (Array.isArray(doc)) {
    doc.forEach((d, i) => collect(d, out, `${where}[${i}]`));
    return;
  }
  if (typeof doc !== 'object')
    throw new ServiceAccountsFileError(`${where}: expected a ServiceAccount, a list or a List`);
  const o = doc as { kind?: unknown; items?: unknown };
  if (
    Array.isArray(o.items) &&
    (o.kind === undefined || (typeof o.kind === 'string' && o.kind.endsWith('List')))
  ) {
    o.items.forEach((d, i) => collect(d, out, `${where}.items[${i}]`));
    return;
  }
  if (o.kind !== undefined && o.kind !== 'ServiceAccount') {
    throw new ServiceAccountsFileError(`${where}: kind ${JSON.stringify(o.kind)} is not ServiceAccount`);
  }
  out.push(doc);
}

/** Parse the file's content (YAML or JSON) into stripped ServiceAccounts. */
export function parseServiceAccounts(content: string, annotationPrefix: string): StrippedServiceAccount[] {
  const docs = loadYaml().parseAllDocuments(content);
  const raw: unknown[] = [];
  docs.forEach((d, i) => {
    if (d.errors.length > 0) throw new ServiceAccountsFileError(`document ${i + 1}: ${d.errors[0]!.message}`);
    collect(d.toJS(), raw, `document ${i + 1}`);
  });
  return raw.map((o, i) => {
    const sa = stripServiceAccount(o, annotationPrefix);
    if (!sa) throw new ServiceAccountsFileError(`ServiceAccount #${i + 1} has no metadata.name`);
    return sa;
  });
}

export class StaticServiceAccountSource {
  readonly path: string;
  private watcher: FileWatcher | undefined;
  private lastContent: string | undefined;
  synced = false;

  constructor(
    path: string,
    private readonly cache: IdentityCache,
    private readonly annotationPrefix: string,
    private readonly logger: Logger,
  ) {
    this.path = resolve(path);
  }

  /** First load (errors are fatal at startup), then watch. */
  async start(): Promise<void> {
    await this.load(true);
    this.watcher = new FileWatcher(this.path, () => this.load(false).then(() => undefined), this.logger);
  }

  async load(strict: boolean): Promise<boolean> {
    let content: string;
    try {
      content = await readFile(this.path, 'utf8');
    } catch (err) {
      const msg = `cannot read --service-accounts-file ${this.path}: ${messageOf(err)}`;
      if (strict) throw new ServiceAccountsFileError(msg);
      this.logger.warn({ path: this.path }, msg + '; keeping the previous ServiceAccounts');
      return false;
    }
    if (content === this.lastContent) return false;
    let items: StrippedServiceAccount[];
    try {
      items = parseServiceAccounts(content, this.annotationPrefix);
    } catch (err) {
      const msg = `invalid --service-accounts-file ${this.path}: ${messageOf(err)}`;
      if (strict) throw new ServiceAccountsFileError(msg);
      this.logger.error({ path: this.path }, msg + '; keeping the previous ServiceAccounts');
      return false;
    }
    this.cache.replaceServiceAccounts(items);
    this.lastContent = content;
    this.synced = true;
    this.logger.info({ path: this.path, serviceAccounts: items.length }, 'ServiceAccounts loaded from file');
    return true;
  }

  /** The cache was emptied (debug handler): read the file again even if it did not change. */
  async refill(): Promise<boolean> {
    this.lastContent = undefined;
    this.synced = false;
    return this.load(false);
  }

  stop(): void {
    this.watcher?.close();
  }
}
