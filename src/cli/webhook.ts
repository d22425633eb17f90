/** `openirsa webhook [flags]`: the pod identity webhook with the reference's flags (docs/webhook.md). */
import { CliError, EXIT_FAILED, inContext } from './errors.js';
import { messageOf } from '../errors.js';
import { FlagError, helpText, parseArgs, resolveFlags, type WebhookFlags } from '../webhook/flags.js';
import { createWebhookLogger } from '../webhook/logging.js';
import { startWebhook } from '../webhook/start.js';
import { poolWorker, runPool } from '../webhook/pool.js';
import { announceListening, isWorker } from '../net/workers.js';

export const VERSION = 'v0.1.0';

export async function run(argv: string[]): Promise<number> {
  let flags: WebhookFlags;
  try {
    const parsed = parseArgs(argv);
    if (parsed.help) {
      console.log(helpText());
      return 0;
    }
    flags = resolveFlags(parsed.values);
    if (parsed.positional.length > 0) {
      // pflag keeps positional arguments and the reference ignores them; say so instead of silently dropping.
      console.error(`openirsa: ignoring positional arguments: ${parsed.positional.join(' ')}`);
    }
  } catch (err) {
    if (err instanceof FlagError)
      throw new CliError(`${err.message}\n${'usage: openirsa webhook [flags]; see --help'}`, 2);
    throw err;
  }
  if (flags.version) {
    console.log(VERSION);
    return 0;
  }
  const baseLogger = createWebhookLogger(flags.logFormat, flags.verbosity);
  const pooled = flags.workers > 1;
  if (pooled && !isWorker()) {
    try {
      await runPool(flags, baseLogger);
    } catch (err) {
      baseLogger.flush();
      throw inContext('', err, EXIT_FAILED);
    }
    baseLogger.flush();
    return 0;
  }
  // A worker's lines say which worker wrote them.
  const logger = pooled ? baseLogger.child({ worker: process.pid }) : baseLogger;
  const pool = pooled ? poolWorker() : undefined;
  let webhook: Awaited<ReturnType<typeof startWebhook>>;
  try {
    webhook = await startWebhook(flags, { logger, poolWorker: pool });
  } catch (err) {
    logger.flush();
    // The reference exits 1 on any start failure (klog.Fatal), whatever its cause.
    throw inContext('', err, EXIT_FAILED);
  }
  const leavePool = pool?.joined(webhook);
  const host = flags.bindAddress || '0.0.0.0';
  announceListening(`https://${host.includes(':') ? `[${host}]` : host}:${webhook.port}`);
  // A stray async error (e.g. inside a client library) is logged; it must not take the webhook down.
  process.on('unhandledRejection', (reason: unknown) => {
    logger.error({ err: messageOf(reason) }, 'unhandled promise rejection');
  });
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        // A second signal: exit now (controller-runtime's behaviour).
        logger.warn({ signal }, 'second signal; exiting immediately');
        logger.flush();
        process.exit(1);
      }
      logger.info({ signal }, 'shutting down: draining in-flight requests');
      webhook.stop().then(
        (graceful) => {
          if (graceful) logger.info('Webhook server shutdown gracefully');
          logger.flush();
          leavePool?.(); // bin.ts then leaves the worker pool
          // Watches or sockets that outlive the drain must not keep the process up.
          setTimeout(() => process.exit(0), 500).unref();
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err: messageOf(err) }, 'shutdown failed');
          logger.flush();
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    // A worker stops when its primary tells it (SIGTERM); Ctrl-C reaches the whole process group, primary included.
    process.on('SIGINT', isWorker() ? () => {} : onSignal);
    // The certificate files are watched; SIGHUP re-reads them at once (an invalid pair keeps the current one).
    process.on('SIGHUP', () => void webhook.reloadTls());
  });
}
