/**
 * `--workers N` (`sts serve`, `webhook`): the primary process forks N copies of the command, which all listen on the
 * same port (node:cluster; the primary accepts and hands connections round-robin). Each worker runs the whole
 * server; what must be shared (the STS's generated session key) goes to the workers in their environment.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../log.js';
import { OpenIrsaError } from '../errors.js';

/** What a worker tells the primary once it listens. */
interface ListeningMessage {
  listening?: string;
}

/** A worker ended before it listened (bad TLS file, port in use, …): replacing it would fail the same way. */
export class WorkerStartError extends OpenIrsaError {
  constructor(message: string) {
    super('WorkerStartFailed', message);
  }
}

/**
 * The primary of `--workers N`: forks N copies of this command (config already validated here, so a bad file fails
 * once), calls `onListening` once they all listen, replaces a worker that dies after it listened, and on
 * SIGTERM/SIGINT lets every worker drain and exit. Resolves when they all have. Rejects with WorkerStartError
 * (after stopping the others) when a worker exits before it listened, instead of forking forever.
 */
export async function superviseWorkers(options: {
  workers: number;
  /** Extra environment for every worker (e.g. a key they must share). */
  env?: Record<string, string>;
  logger: Logger;
  onListening: (url: string) => void;
  /** Any other message a worker sends (e.g. its readiness). */
  onMessage?: (worker: Worker, msg: unknown) => void;
  /** A worker exited (before it is replaced). */
  onExit?: (worker: Worker) => void;
}): Promise<void> {
  const { workers: n, logger } = options;
  let stopping = false;
  let listening = 0;
  const listened = new WeakSet<Worker>();
  const fork = () => cluster.fork(options.env ?? {});
  let stop: (reason: string, failure?: WorkerStartError) => void = () => {};
  cluster.on('message', (worker, msg: ListeningMessage) => {
    if (!msg?.listening) return options.onMessage?.(worker, msg);
    listened.add(worker);
    if (++listening === n) options.onListening(msg.listening);
  });
  cluster.on('exit', (worker, code, signal) => {
    options.onExit?.(worker);
    if (stopping) return;
    const pid = worker.process.pid;
    if (!listened.has(worker)) {
      logger.error({ event: 'worker_start_failed', pid, code, signal }, 'worker exited before it listened');
      stop(
        'worker start failed',
        new WorkerStartError(`a worker exited before it listened (${signal ?? `code ${code}`})`),
      );
      return;
    }
    logger.error({ event: 'worker_exit', pid, code, signal }, 'worker died; starting another');
    fork();
  });
  for (let i = 0; i < n; i++) fork();
  await new Promise<void>((resolve, reject) => {
    const done = (failure?: WorkerStartError) => (failure ? reject(failure) : resolve());
    stop = (reason, failure) => {
      if (stopping) return;
      stopping = true;
      logger.info({ event: 'shutdown', reason, workers: n }, 'shutting down workers');
      const alive = Object.values(cluster.workers ?? {}).filter((w) => w && !w.isDead());
      if (alive.length === 0) return done(failure);
      let left = alive.length;
      for (const w of alive) {
        w!.once('exit', () => --left === 0 && done(failure));
        w!.process.kill('SIGTERM');
      }
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** In a worker: tell the primary this worker listens at `url`. False in a process that is no worker. */
export function announceListening(url: string): boolean {
  if (!cluster.isWorker) return false;
  const msg: ListeningMessage = { listening: url };
  process.send?.(msg);
  return true;
}

/** In a worker whose server closed: drop the IPC channel, which would keep the process alive. */
export function leaveWorkerPool(): void {
  if (cluster.isWorker && cluster.worker?.isConnected()) cluster.worker.disconnect();
}

/** This process is a worker forked by superviseWorkers (the primary already checked the config and warned). */
export function isWorker(): boolean {
  return cluster.isWorker;
}
