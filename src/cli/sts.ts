import { readFileSync, writeFileSync } from 'node:fs';
import { FileReadError, cannotRead } from '../file-errors.js';
import { randomBytes } from 'node:crypto';
import { parseFlags } from './args.js';
import { CliError, EXIT_BAD_INPUT, EXIT_FAILED, inContext } from './errors.js';
import { createLogger } from '../log.js';
import { ConfigError, SESSION_KEY_ENV, loadConfig } from '../sts/config.js';
import { plainHttpWarning, startServer } from '../sts/server.js';
import { DEFAULT_LIMITS, parseMaxConnections } from '../net/limits.js';
import { IamApiService } from '../iam-api/index.js';
import { liveState } from './iam-state.js';
import { announceListening, isWorker, leaveWorkerPool, superviseWorkers } from '../net/workers.js';

const USAGE = `usage:
  openirsa sts serve --config FILE [--port N] [--host ADDR] [--tls-cert FILE --tls-key FILE] [--workers N]
  openirsa sts check-config --config FILE
  openirsa sts gen-key --out FILE

serve         run the AWS-STS-compatible endpoint (AssumeRoleWithWebIdentity, AssumeRole, GetCallerIdentity),
              and the IAM API on the same port when the config has an iamApi section (docs/iam-api.md)
check-config  load and validate a config file and the IAM state stored beside it, print a summary
gen-key       write a new random 32-byte session key (base64, mode 0600) for sessionKeyFile

flags:
  --config FILE    YAML or JSON config (accountId, oidcProviders, roles, ...; see docs/sts.md)
  --port N         listen port (default 8443 with TLS, 8080 without; 0 = any free port)
  --host ADDR      listen address (default 127.0.0.1)
  --tls-cert FILE  PEM certificate (chain) for HTTPS
  --tls-key FILE   PEM private key for HTTPS (both files are watched and re-read on change and on SIGHUP;
                   an invalid new pair keeps the current certificate)
  --max-connections N  open connections at most (default ${DEFAULT_LIMITS.maxConnections}); more are closed on accept
  --workers N      serve from N processes sharing the port (default 1; sessions are stateless, so any
                   worker answers any request)
  --out FILE       (gen-key) where to write the key`;

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(cannotRead(what, path, err));
  }
}

function load(file: string | undefined, warn?: (m: string) => void) {
  if (!file) throw new CliError('--config FILE is required');
  try {
    return loadConfig(file, { warn });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid config: ${err.message}`);
    if (err instanceof FileReadError) throw err.as('--config');
    throw err;
  }
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(USAGE);
    return sub === undefined ? 2 : 0;
  }
  const { values } = parseFlags('sts', rest, {
    config: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'max-connections': { type: 'string' },
    out: { type: 'string' },
    workers: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  switch (sub) {
    case 'gen-key': {
      const out = values.out;
      if (!out) throw new CliError('--out FILE is required');
      writeFileSync(out, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      console.log(`wrote a new session key to ${out} (mode 0600); set sessionKeyFile: ${out}`);
      return 0;
    }
    case 'check-config': {
      const seed = load(values.config);
      const iam = await liveState(seed);
      const config = iam.config();
      await iam.stop();
      if (seed.iamApi) {
        const where = iam.store.backend.where;
        console.log(
          `IAM API: on (${seed.iamApi.admin ? `admin key ${seed.iamApi.admin.accessKeyId}` : 'no admin key'}, session credentials ${seed.iamApi.sessionCredentials ? 'allowed by their role policies' : 'refused'}); state: ${where}, ${iam.store.backend.entries().size} stored change(s)`,
        );
        if (iam.problems().length > 0) {
          for (const p of iam.problems()) console.error(`openirsa: ${where}: ${p.entity}: ${p.what}`);
          return 1;
        }
      }
      console.log(
        `${config.file}: ok — account ${config.accountId} (${config.partition}, ${config.region}), ${config.providers.length} OIDC provider(s), ${config.roles.size} role(s)`,
      );
      for (const p of config.providers)
        console.log(
          `  provider ${p.arn}  audiences ${p.clientIds.join(', ')}${p.jwks ? '  (inline JWKS)' : ''}`,
        );
      for (const r of config.roles.values())
        console.log(`  role ${r.arn}  ${r.roleId}  max ${r.maxSessionDuration}s`);
      return 0;
    }
    case 'serve': {
      const logger = createLogger({ name: 'sts' });
      const seed = load(values.config, (m) => logger.warn({ event: 'session_key_generated' }, m));
      const certFile = values['tls-cert'];
      const keyFile = values['tls-key'];
      if ((certFile === undefined) !== (keyFile === undefined))
        throw new CliError('--tls-cert and --tls-key go together');
      const tls =
        certFile && keyFile
          ? { cert: readText(certFile, 'TLS certificate'), key: readText(keyFile, 'TLS key') }
          : undefined;
      const portText = values.port ?? (tls ? '8443' : '8080');
      if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
        throw new CliError(`--port must be 0-65535, not ${portText}`);
      const workersText = values.workers ?? '1';
      if (!/^\d{1,2}$/.test(workersText) || Number(workersText) < 1 || Number(workersText) > 64)
        throw new CliError(`--workers must be 1-64, not ${workersText}`);
      const workers = Number(workersText);
      let maxConnections: number;
      try {
        maxConnections = parseMaxConnections(
          values['max-connections'] ?? String(DEFAULT_LIMITS.maxConnections),
        );
      } catch (err) {
        throw inContext('', err, EXIT_BAD_INPUT);
      }
      const host = values.host ?? '127.0.0.1';
      const plain = !isWorker() ? plainHttpWarning(host, tls !== undefined) : undefined;
      if (plain) console.error(`openirsa: warning: ${plain}`);
      if (workers > 1 && !isWorker()) {
        try {
          await superviseWorkers({
            workers,
            // One generated key for all workers, or their credentials would not be accepted by each other.
            env: seed.sessionKeyGenerated
              ? { [SESSION_KEY_ENV]: randomBytes(32).toString('base64') }
              : undefined,
            logger,
            onListening: (url) => console.log(`openirsa sts listening on ${url} (${workers} workers)`),
          });
        } catch (err) {
          throw inContext('cannot start workers: ', err, EXIT_FAILED);
        }
        return 0;
      }
      const iam = await liveState(seed, logger);
      const config = iam.config();
      let running;
      try {
        running = await startServer({
          config,
          logger,
          tls,
          ...(certFile && keyFile ? { tlsFiles: { certFile, keyFile } } : {}),
          limits: { maxConnections },
          port: Number(portText),
          host,
          iam: seed.iamApi
            ? new IamApiService({ api: seed.iamApi, store: iam.store, config: iam.config, logger })
            : undefined,
        });
      } catch (err) {
        await iam.stop();
        throw inContext('cannot listen: ', err, EXIT_FAILED);
      }
      iam.onConfig((c) => running.service.updateConfig(c));
      logger.info(
        {
          event: 'listening',
          url: running.url,
          account: config.accountId,
          roles: config.roles.size,
          providers: config.providers.length,
          iamApi: seed.iamApi ? iam.store.backend.where : 'off',
        },
        'sts listening',
      );
      if (!announceListening(running.url)) console.log(`openirsa sts listening on ${running.url}`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ event: 'shutdown', signal }, 'shutting down');
          running.close().then(
            () => iam.stop().then(resolve, resolve),
            () => iam.stop().then(resolve, resolve),
          );
        };
        // SIGHUP re-reads --tls-cert/--tls-key (they are also watched); an invalid pair keeps the current one.
        process.on('SIGHUP', () => void running.reloadTls());
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      leaveWorkerPool();
      return 0;
    }
    default:
      throw new CliError(`unknown sts sub-command "${sub}"; run 'openirsa sts --help'`);
  }
}
