/**
 * The local IAM: the IAM Query API served beside the STS, its state (seed + stored changes) and the live STS
 * config that state makes. `openIamState` is the one way `sts serve`, `dev`, `check-config`, `explain` and `lint`
 * read it, so they all see the same roles.
 */
import type { Logger } from '../log.js';
import type { StsConfig } from '../sts/config.js';
import type { IamStoreConfig } from './config.js';
import { FileBackend } from './file-backend.js';
import { liveConfig, seedFromConfig, type LiveProblem } from './live.js';
import type { IamState } from './model.js';
import { IamStore, MemoryBackend, type StateBackend } from './store.js';

export { IamApiService } from './service.js';
export { IamStore, MemoryBackend, ConflictError } from './store.js';
export { FileBackend, StateFileError, writeFileAtomic } from './file-backend.js';
export { liveConfig, seedFromConfig } from './live.js';
export { ACTIONS } from './actions.js';

export interface LiveIam {
  store: IamStore;
  /** The STS config for the current state. */
  config: () => StsConfig;
  /** Called with the new config after every change (this process's or another's). */
  onConfig(listener: (c: StsConfig) => void): void;
  /** Entities left out because their stored policies do not parse (reported by check-config). */
  problems(): LiveProblem[];
  stop(): Promise<void>;
}

export async function backendFor(store: IamStoreConfig, logger?: Logger): Promise<StateBackend> {
  if (store.type === 'memory') return new MemoryBackend();
  if (store.type === 'file')
    return new FileBackend(store.file, (err) =>
      logger?.warn({ event: 'iam_state_error', err: err.message }, 'reading the IAM state file failed'),
    );
  const { KubeBackend } = await import('./kube-backend.js');
  return KubeBackend.create(store, logger);
}

/**
 * The seed (`base`'s providers, roles, policies) plus what the store holds. Without `base.iamApi` the state is the
 * seed alone (nothing can change it).
 */
export async function openIamState(
  base: StsConfig,
  options: { logger?: Logger; now?: number; backend?: StateBackend } = {},
): Promise<LiveIam> {
  const seed: IamState = seedFromConfig(base, options.now ?? Date.now());
  const backend =
    options.backend ??
    (base.iamApi ? await backendFor(base.iamApi.store, options.logger) : new MemoryBackend());
  const store = new IamStore(seed, backend);
  let problems: LiveProblem[] = [];
  let current = base;
  const listeners: Array<(c: StsConfig) => void> = [];
  const rebuild = (state: IamState) => {
    problems = [];
    current = liveConfig(base, state, problems);
    for (const p of problems)
      options.logger?.error({ event: 'iam_state_problem', ...p }, 'a stored IAM entity is left out');
    for (const l of listeners) l(current);
  };
  store.onChange(rebuild);
  await store.start();
  rebuild(store.state);
  return {
    store,
    config: () => current,
    onConfig: (l) => listeners.push(l),
    problems: () => problems,
    stop: () => store.stop(),
  };
}
