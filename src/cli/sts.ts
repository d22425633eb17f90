import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CliError, messageOf } from './errors.js';
import { createLogger } from '../log.js';
import { ConfigError, loadConfig } from '../sts/config.js';
import { startServer } from '../sts/server.js';

const USAGE = `usage:
  openirsa sts serve --config FILE [--port N] [--host ADDR] [--tls-cert FILE --tls-key FILE]
  openirsa sts check-config --config FILE
  openirsa sts gen-key --out FILE

serve         run the AWS-STS-compatible endpoint (AssumeRoleWithWebIdentity, AssumeRole, GetCallerIdentity)
check-config  load and validate a config file, print a summary
gen-key       write a new random 32-byte session key (base64, mode 0600) for sessionKeyFile

flags:
  --config FILE    YAML or JSON config (accountId, oidcProviders, roles, ...; see docs/sts.md)
  --port N         listen port (default 8443 with TLS, 8080 without; 0 = any free port)
  --host ADDR      listen address (default 127.0.0.1)
  --tls-cert FILE  PEM certificate (chain) for HTTPS
  --tls-key FILE   PEM private key for HTTPS
  --out FILE       (gen-key) where to write the key`;

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`,
    );
  }
}

function load(file: string | undefined, warn?: (m: string) => void) {
  if (!file) throw new CliError('--config FILE is required');
  try {
    return loadConfig(file, { warn });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid config: ${err.message}`);
    throw err;
  }
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(USAGE);
    return sub === undefined ? 2 : 0;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new CliError(`${messageOf(err)}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  switch (sub) {
    case 'gen-key': {
      const out = values.out as string | undefined;
      if (!out) throw new CliError('--out FILE is required');
      writeFileSync(out, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      console.log(`wrote a new session key to ${out} (mode 0600); set sessionKeyFile: ${out}`);
      return 0;
    }
    case 'check-config': {
      const config = load(values.config as string | undefined);
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
      const config = load(values.config as string | undefined, (m) =>
        logger.warn({ event: 'session_key_generated' }, m),
      );
      const certFile = values['tls-cert'] as string | undefined;
      const keyFile = values['tls-key'] as string | undefined;
      if ((certFile === undefined) !== (keyFile === undefined))
        throw new CliError('--tls-cert and --tls-key go together');
      const tls =
        certFile && keyFile
          ? { cert: readText(certFile, 'TLS certificate'), key: readText(keyFile, 'TLS key') }
          : undefined;
      const portText = (values.port as string | undefined) ?? (tls ? '8443' : '8080');
      if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
        throw new CliError(`--port must be 0-65535, not ${portText}`);
      let running;
      try {
        running = await startServer({
          config,
          logger,
          tls,
          port: Number(portText),
          host: (values.host as string | undefined) ?? '127.0.0.1',
        });
      } catch (err) {
        throw new CliError(`cannot listen: ${messageOf(err)}`, 1);
      }
      logger.info(
        {
          event: 'listening',
          url: running.url,
          account: config.accountId,
          roles: config.roles.size,
          providers: config.providers.length,
        },
        'sts listening',
      );
      console.log(`openirsa sts listening on ${running.url}`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ event: 'shutdown', signal }, 'shutting down');
          running.close().then(resolve, resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      return 0;
    }
    default:
      throw new CliError(`unknown sts sub-command "${sub}"\n${USAGE}`);
  }
}
