/**
 * The live IAM state: the seed (YAML config) plus the overlay a backend keeps (a state file on one machine, the
 * Kubernetes API in a cluster). Each write is one entity, conditional on the version the writer read
 * (optimistic concurrency); a conflict re-reads and re-runs the action on the fresh state, so concurrent updates
 * are never lost. Listeners hear every change, local or from another process/replica.
 */
import { applyOverlay, seedHas, type IamState, type OverlayEntry } from './model.js';
import type { ActionOutcome } from './actions.js';
import { OpenIrsaError } from '../errors.js';

export interface StoredEntry {
  /** Opaque: a Kubernetes resourceVersion, or the file's per-entry counter. */
  version: string;
  entry: OverlayEntry;
}

/** The stored version moved on since it was read. `current` is what is stored now (undefined = absent). */
export class ConflictError extends OpenIrsaError {
  constructor(
    readonly key: string,
    readonly current?: StoredEntry,
  ) {
    super('IamStateConflict', `concurrent update of ${key}`);
  }
}

export interface StateBackend {
  /** Loads every stored entry, then keeps watching; `onChange` gets the whole set after every change. */
  start(onChange: (entries: ReadonlyMap<string, StoredEntry>) => void): Promise<void>;
  /** The entries as last seen. */
  entries(): ReadonlyMap<string, StoredEntry>;
  /**
   * Store `entry` under `key` (undefined removes the record) if the stored version is still `expected`
   * (undefined: the key must not exist). Throws ConflictError otherwise.
   */
  write(key: string, entry: OverlayEntry | undefined, expected: string | undefined): Promise<void>;
  stop(): Promise<void>;
  /** Catch up with other writers before an action reads the state, where that is cheap (a file's stat). */
  refresh?(): void;
  /** For logs and check-config: where the state lives. */
  readonly where: string;
}

export const entryKey = (e: Pick<OverlayEntry, 'kind' | 'id'>): string => `${e.kind}/${e.id}`;

/** No persistence: for tests and `--iam-state none`. */
export class MemoryBackend implements StateBackend {
  readonly where = 'memory (not persisted)';
  private map = new Map<string, StoredEntry>();
  private counter = 0;
  private onChange: (e: ReadonlyMap<string, StoredEntry>) => void = () => undefined;
  async start(onChange: (e: ReadonlyMap<string, StoredEntry>) => void): Promise<void> {
    this.onChange = onChange;
    onChange(this.map);
  }
  entries(): ReadonlyMap<string, StoredEntry> {
    return this.map;
  }
  async write(key: string, entry: OverlayEntry | undefined, expected: string | undefined): Promise<void> {
    const cur = this.map.get(key);
    if (cur?.version !== expected) throw new ConflictError(key, cur);
    const next = new Map(this.map);
    if (entry) next.set(key, { version: String(++this.counter), entry });
    else next.delete(key);
    this.map = next;
    this.onChange(this.map);
  }
  async stop(): Promise<void> {}
}

const MAX_ATTEMPTS = 20;

export class IamStore {
  private current: IamState;
  private readonly listeners = new Set<(s: IamState) => void>();

  constructor(
    readonly seed: IamState,
    readonly backend: StateBackend,
  ) {
    this.current = seed;
  }

  get state(): IamState {
    return this.current;
  }

  async start(): Promise<void> {
    await this.backend.start((entries) => this.recompute(entries));
  }

  stop(): Promise<void> {
    return this.backend.stop();
  }

  onChange(listener: (s: IamState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private recompute(entries: ReadonlyMap<string, StoredEntry>): void {
    this.current = applyOverlay(
      this.seed,
      [...entries.values()].map((e) => e.entry),
    );
    for (const l of this.listeners) l(this.current);
  }

  /**
   * Run an action on the current state and store what it writes, re-running it on the fresh state after a
   * conflict with another process or replica. Calls are queued, so this process never conflicts with itself.
   */
  apply(action: (state: IamState) => ActionOutcome): Promise<ActionOutcome> {
    const run = this.queue.then(() => this.applyNow(action));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private queue: Promise<unknown> = Promise.resolve();

  private async applyNow(action: (state: IamState) => ActionOutcome): Promise<ActionOutcome> {
    for (let attempt = 1; ; attempt++) {
      this.backend.refresh?.();
      const outcome = action(this.current);
      const w = outcome.write;
      if (!w) return outcome;
      const key = entryKey(w);
      const expected = this.backend.entries().get(key)?.version;
      // A deleted entity the seed does not have needs no tombstone: the record goes.
      const entry = w.deleted && !seedHas(this.seed, w.kind, w.id) ? undefined : w;
      try {
        await this.backend.write(key, entry, expected);
        return outcome;
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= MAX_ATTEMPTS) throw err;
        // Writers that collided retry at different moments.
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
      }
    }
  }
}
