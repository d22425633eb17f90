/**
 * The IAM state in a cluster: one ConfigMap per changed entity (role, OIDC provider, managed policy) in the STS's
 * namespace, so every replica agrees through the Kubernetes API itself. Writes are conditional on the
 * resourceVersion the writer read (create = must not exist; update and delete carry the resourceVersion), so the
 * API server refuses a write over someone else's (409) and the store re-runs the action on the fresh entity.
 * Every replica list/watches the ConfigMaps (src/kube/reflector.ts) and applies changes within the watch latency.
 */
import { createHash } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { clientNodeWatch, loadKubeConfig } from '../kube/client.js';
import { Reflector } from '../kube/reflector.js';
import type { OverlayEntry } from './model.js';
import { ConflictError, entryKey, type StateBackend, type StoredEntry } from './store.js';
import { kubeStatusOf } from '../kube/client-errors.js';

export const MANAGED_BY = 'openirsa';
export const KIND_LABEL = 'iam.openirsa.dev/kind';
export const ID_ANNOTATION = 'iam.openirsa.dev/id';
export const DATA_KEY = 'entry.json';
const SELECTOR = `app.kubernetes.io/managed-by=${MANAGED_BY},${KIND_LABEL}`;

/** A DNS-1123 name per entity: kind plus a hash of its id (role names hold characters names cannot). */
export function configMapName(key: string): string {
  const [kind] = key.split('/');
  return `openirsa-iam-${kind}-${createHash('sha256').update(key).digest('hex').slice(0, 20)}`;
}

function decode(obj: unknown): { key: string; stored: StoredEntry } | undefined {
  const cm = obj as V1ConfigMap;
  const text = cm?.data?.[DATA_KEY];
  const rv = cm?.metadata?.resourceVersion;
  if (!text || !rv) return undefined;
  try {
    const entry = JSON.parse(text) as OverlayEntry;
    if (!entry || typeof entry.kind !== 'string' || typeof entry.id !== 'string') return undefined;
    return { key: entryKey(entry), stored: { version: rv, entry } };
  } catch {
    return undefined;
  }
}

/** etcd's resourceVersions are increasing integers; an older watch event must not undo a newer local write. */
function newer(a: string, b: string | undefined): boolean {
  if (b === undefined) return true;
  const x = Number(a);
  const y = Number(b);
  return Number.isFinite(x) && Number.isFinite(y) ? x >= y : true;
}

export class KubeBackend implements StateBackend {
  private map = new Map<string, StoredEntry>();
  private onChange: (e: ReadonlyMap<string, StoredEntry>) => void = () => undefined;
  private readonly core: CoreV1Api;
  private readonly reflector: Reflector;

  static async create(o: { namespace: string; kubeconfig?: string }, logger?: Logger): Promise<KubeBackend> {
    const kc = loadKubeConfig({ kubeconfig: o.kubeconfig });
    return new KubeBackend(kc, o.namespace, logger);
  }

  constructor(
    kc: KubeConfig,
    readonly namespace: string,
    private readonly logger?: Logger,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    const quiet = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;
    this.reflector = new Reflector({
      name: 'iam-state',
      watch: clientNodeWatch(kc),
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      labelSelector: SELECTOR,
      list: (opts) => this.core.listNamespacedConfigMap({ namespace, ...opts }),
      onReplace: (items) => {
        const next = new Map<string, StoredEntry>();
        for (const it of items) {
          const d = decode(it);
          if (d) next.set(d.key, d.stored);
        }
        this.map = next;
        this.onChange(this.map);
      },
      onUpsert: (obj) => {
        const d = decode(obj);
        if (d && newer(d.stored.version, this.map.get(d.key)?.version)) this.set(d.key, d.stored);
      },
      onDelete: (obj) => {
        const d = decode(obj);
        if (d && newer(d.stored.version, this.map.get(d.key)?.version)) this.set(d.key, undefined);
      },
      logger: logger ?? quiet,
      watchTimeoutSeconds: 240,
      initialBackoffMs: 500,
      maxBackoffMs: 10_000,
    });
  }

  get where(): string {
    return `ConfigMaps in namespace ${this.namespace} (${SELECTOR})`;
  }

  private set(key: string, stored: StoredEntry | undefined): void {
    const next = new Map(this.map);
    if (stored) next.set(key, stored);
    else next.delete(key);
    this.map = next;
    this.onChange(this.map);
  }

  async start(onChange: (e: ReadonlyMap<string, StoredEntry>) => void): Promise<void> {
    this.onChange = onChange;
    this.reflector.start();
    await this.reflector.synced;
  }

  entries(): ReadonlyMap<string, StoredEntry> {
    return this.map;
  }

  /** Re-read one entity after a 409, so the retry works on what is stored now. */
  private async reread(key: string): Promise<StoredEntry | undefined> {
    try {
      const cm = await this.core.readNamespacedConfigMap({
        name: configMapName(key),
        namespace: this.namespace,
      });
      const d = decode(cm);
      this.set(key, d?.stored);
      return d?.stored;
    } catch (err) {
      if (kubeStatusOf(err) !== 404) throw err;
      this.set(key, undefined);
      return undefined;
    }
  }

  async write(key: string, entry: OverlayEntry | undefined, expected: string | undefined): Promise<void> {
    const name = configMapName(key);
    const namespace = this.namespace;
    try {
      if (!entry) {
        if (expected === undefined) return;
        await this.core.deleteNamespacedConfigMap({
          name,
          namespace,
          body: { preconditions: { resourceVersion: expected } },
        });
        this.set(key, undefined);
        return;
      }
      const body: V1ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name,
          namespace,
          labels: { 'app.kubernetes.io/managed-by': MANAGED_BY, [KIND_LABEL]: entry.kind },
          annotations: { [ID_ANNOTATION]: entry.id },
          ...(expected !== undefined ? { resourceVersion: expected } : {}),
        },
        data: { [DATA_KEY]: JSON.stringify(entry) },
      };
      const out =
        expected === undefined
          ? await this.core.createNamespacedConfigMap({ namespace, body })
          : await this.core.replaceNamespacedConfigMap({ name, namespace, body });
      const d = decode(out);
      if (d) this.set(key, d.stored);
    } catch (err) {
      const status = kubeStatusOf(err);
      // 409: AlreadyExists / Conflict; 404: deleted meanwhile (an update or delete of something gone).
      if (status === 409 || status === 404) {
        this.logger?.info(
          { event: 'iam_state_conflict', key, status },
          'concurrent IAM change; retrying on the stored state',
        );
        throw new ConflictError(key, await this.reread(key));
      }
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.reflector.stop();
  }
}
