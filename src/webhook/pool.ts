/**
 * `openirsa webhook --workers N`: the primary forks N workers (src/net/workers.ts), each running the whole webhook
 * (its own caches, watches, certificate reload) on the shared webhook port; the primary serves the metrics port with
 * one view of the pool: the workers' registries aggregated (prom-client's AggregatorRegistry) and a /readyz that is
 * ready only when every worker is. The workers' webhook-port /readyz answers for the pool too, as the primary tells
 * them.
 */
import { createServer, type Server } from 'node:http';
import type { Worker } from 'node:cluster';
import cluster from 'node:cluster';
import client from 'prom-client';
import { applyLimits } from '../net/limits.js';
import { superviseWorkers } from '../net/workers.js';
import type { Logger } from '../log.js';
import { messageOf } from '../errors.js';
import type { WebhookFlags } from './flags.js';
import {
  WEBHOOK_REQUEST_TIMEOUT_MS,
  writeHealthy,
  writeMetrics,
  writeNotFound,
  writeReadiness,
  type Readiness,
} from './server.js';
import { WebhookStartError, type RunningWebhook } from './start.js';

/** Messages between the primary and its workers, beside the supervisor's and prom-client's. */
interface PoolMessage {
  /** Worker → primary: its own readiness, sent when it changes. */
  workerReadiness?: Readiness;
  /** Primary → workers: the pool's readiness, sent when it changes. */
  poolReadiness?: Readiness;
}

/** How often a worker checks whether its own readiness changed. */
const READINESS_CHECK_MS = 1000;

/** The pool's readiness: every one of `n` workers started and ready. */
export function poolReadiness(n: number, workers: ReadonlyMap<number, Readiness>): Readiness {
  const reasons: string[] = [];
  if (workers.size < n) reasons.push(`${n - workers.size} of ${n} workers not started`);
  for (const [pid, r] of workers) for (const reason of r.reasons) reasons.push(`worker ${pid}: ${reason}`);
  return { ready: reasons.length === 0, reasons };
}

/**
 * The primary: listen on the metrics port (so a busy port fails once, here), supervise the workers, and serve the
 * pool's metrics and readiness until SIGTERM/SIGINT has drained them. Rejects when the pool cannot start.
 */
export async function runPool(f: WebhookFlags, logger: Logger): Promise<void> {
  const aggregator = new client.AggregatorRegistry();
  const readiness = new Map<number, Readiness>();
  let pool = poolReadiness(f.workers, readiness);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') writeMetrics(res, aggregator.clusterMetrics(), aggregator.contentType);
    else if (path === '/healthz') writeHealthy(res);
    else if (path === '/readyz') writeReadiness(res, pool);
    else writeNotFound(res);
  });
  applyLimits(server, { requestTimeoutMs: WEBHOOK_REQUEST_TIMEOUT_MS, maxConnections: f.maxConnections });
  const metricsPort = await listen(server, f.metricsPort, f.bindAddress);
  const update = (): void => {
    const next = poolReadiness(f.workers, readiness);
    if (JSON.stringify(next) === JSON.stringify(pool)) return;
    pool = next;
    const msg: PoolMessage = { poolReadiness: pool };
    for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected()) w.send(msg);
  };
  const pidOf = (w: Worker): number => w.process.pid ?? -w.id;
  try {
    await superviseWorkers({
      workers: f.workers,
      logger,
      onListening: (url) =>
        logger.info(
          { port: Number(new URL(url).port), metricsPort, workers: f.workers },
          'webhook listening',
        ),
      onMessage: (worker, msg) => {
        const r = (msg as PoolMessage | undefined)?.workerReadiness;
        if (!r) return;
        readiness.set(pidOf(worker), r);
        update();
        // A new worker learns the pool's state even when it did not change.
        if (worker.isConnected()) worker.send({ poolReadiness: pool } satisfies PoolMessage);
      },
      onExit: (worker) => {
        readiness.delete(pidOf(worker));
        update();
      },
    });
  } finally {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections(); // a scraper's keep-alive connection must not hold the exit
    await closed;
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(new WebhookStartError(`cannot listen on metrics port ${port}: ${messageOf(err)}`)),
    );
    server.listen(port, host || undefined, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}

/**
 * In a worker: what startWebhook needs to be one (its /readyz answers for the pool), and `joined` to call once it
 * runs: its metrics are served by the primary, its readiness reported to it.
 */
export function poolWorker(): {
  readiness: (own: Readiness) => Readiness;
  joined: (webhook: RunningWebhook) => () => void;
} {
  let pool: Readiness = { ready: false, reasons: ['pool readiness not known yet'] };
  const onMessage = (msg: PoolMessage | undefined): void => {
    if (msg?.poolReadiness) pool = msg.poolReadiness;
  };
  process.on('message', onMessage);
  return {
    readiness: (own) => (own.ready ? pool : own),
    joined(webhook) {
      // Constructing one is what makes prom-client answer the primary's metrics requests in a worker.
      new client.AggregatorRegistry();
      client.AggregatorRegistry.setRegistries([webhook.metrics.registry]);
      // The pool is as old as its oldest worker (prom-client leaves this one out of a cluster's view by default).
      const startTime = webhook.metrics.registry.getSingleMetric('process_start_time_seconds');
      if (startTime) (startTime as unknown as { aggregator: string }).aggregator = 'min';
      let last = '';
      const report = (): void => {
        const r = webhook.readiness();
        const text = JSON.stringify(r);
        if (text === last) return;
        last = text;
        process.send?.({ workerReadiness: r } satisfies PoolMessage);
      };
      report();
      const timer = setInterval(report, READINESS_CHECK_MS);
      timer.unref();
      return () => {
        clearInterval(timer);
        process.off('message', onMessage);
      };
    },
  };
}
