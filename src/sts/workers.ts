/**
 * `sts serve --workers N`: the primary process forks N copies of the command, which all listen on the same port
 * (node:cluster). Sessions are stateless, so any worker answers any request.
 */
import { randomBytes } from 'node:crypto';
import cluster from 'node:cluster';
import type { Logger } from '../log.js';

/** What a worker tells the primary once it listens. */
interface ListeningMessage {
  listening?: string;
}

/**
 * The primary of `--workers N`: forks N copies of this command (config already validated here, so a bad file fails
 * once), calls `onListening` once they all listen, replaces a worker that dies, and on SIGTERM/SIGINT lets every
 * worker drain and exit. Resolves when they all have.
 */
export async function superviseWorkers(options: {
  workers: number;
  /** The config's session key was generated (none configured): the workers must share one. */
  keyGenerated: boolean;
  logger: Logger;
  onListening: (url: string) => void;
}): Promise<void> {
  const { workers: n, logger } = options;
  // One generated key for all workers, or their credentials would not be accepted by each other.
  const env = options.keyGenerated ? { OPENIRSA_STS_SESSION_KEY: randomBytes(32).toString('base64') } : {};
  let stopping = false;
  let listening = 0;
  const fork = () => cluster.fork(env);
  cluster.on('message', (_worker, msg: ListeningMessage) => {
    if (msg?.listening && ++listening === n) options.onListening(msg.listening);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    logger.error(
      { event: 'worker_exit', pid: worker.process.pid, code, signal },
      'worker died; starting another',
    );
    fork();
  });
  for (let i = 0; i < n; i++) fork();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ event: 'shutdown', signal, workers: n }, 'shutting down workers');
      const alive = Object.values(cluster.workers ?? {}).filter((w) => w && !w.isDead());
      if (alive.length === 0) return resolve();
      let left = alive.length;
      for (const w of alive) {
        w!.once('exit', () => --left === 0 && resolve());
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
  if (cluster.isWorker) cluster.worker?.disconnect();
}

/** This process is a worker forked by superviseWorkers (the primary already checked the config and warned). */
export function isWorker(): boolean {
  return cluster.isWorker;
}
