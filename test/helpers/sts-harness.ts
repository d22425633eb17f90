/**
 * Integration harness: a local CA, an OIDC issuer served over HTTPS (discovery + JWKS), and a running
 * `openirsa sts serve` child process over HTTPS with a config pointing at that issuer.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { createCa, issueCertificate } from '../../src/pki/index.js';
import { makeKey, signToken, SESSION_KEY, SUB, type TestKey } from './sts-fixtures.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'dist/src/cli/bin.js');
export const VENV_BIN = join(ROOT, '.cache/venv/bin');

export interface Harness {
  dir: string;
  caFile: string;
  issuerUrl: string;
  stsUrl: string;
  key: TestKey;
  roleArn: string;
  providerArn: string;
  tokenFile: string;
  stderr: () => string;
  mintToken(over?: Record<string, unknown>): string;
  /** Stops the server (SIGTERM) and the issuer; resolves with the server's exit code. */
  stop(): Promise<number | null>;
}

export const ACCOUNT = '111122223333';

export interface HarnessOptions {
  /**
   * Starts `sts serve` with the files in `dir` (sts.yaml, tls.crt, tls.key); it must print "listening on
   * https://HOST:PORT" on stdout. Default: the built CLI on this machine.
   */
  launch?: (files: { dir: string }) => { child: ChildProcess; stop?: () => Promise<void> };
  /** The CA bundle path the config names (default: ca.pem in `dir`), for a server that sees `dir` elsewhere. */
  caBundlePath?: string;
  /** Change the config before the server starts (e.g. add an iamApi section). */
  configure?: (config: Record<string, unknown>) => void;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  if (!opts.launch && !existsSync(BIN))
    throw new Error(`${BIN} is missing: run "npm run build" before the integration suite`);
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-sts-it-'));
  const ca = await createCa('openirsa sts test CA');
  const leaf = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  writeFileSync(join(dir, 'tls.crt'), leaf.cert);
  writeFileSync(join(dir, 'tls.key'), leaf.key, { mode: 0o600 });
  const key = await makeKey('it-key-1');

  // The issuer: discovery + JWKS over HTTPS on localhost.
  let issuerUrl = '';
  const issuer: Server = createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          issuer: issuerUrl,
          jwks_uri: `${issuerUrl}/openid/v1/jwks`,
          id_token_signing_alg_values_supported: ['RS256'],
        }),
      );
    } else if (req.url === '/openid/v1/jwks') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [key.jwk] }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => issuer.listen(0, '127.0.0.1', r));
  issuerUrl = `https://localhost:${(issuer.address() as AddressInfo).port}`;
  const issuerId = issuerUrl.slice('https://'.length);
  const providerArn = `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuerId}`;
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/irsa/s3-writer`;
  const config = {
    accountId: ACCOUNT,
    region: 'us-east-1',
    sessionKey: SESSION_KEY,
    oidcProviders: [
      { Url: issuerUrl, ClientIDList: ['sts.amazonaws.com'], caBundle: opts.caBundlePath ?? caFile },
    ],
    roles: [
      {
        Role: {
          RoleName: 's3-writer',
          Path: '/irsa/',
          MaxSessionDuration: 3600,
          AssumeRolePolicyDocument: encodeURIComponent(
            JSON.stringify({
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Principal: { Federated: providerArn },
                  Action: 'sts:AssumeRoleWithWebIdentity',
                  Condition: {
                    StringEquals: { [`${issuerId}:sub`]: SUB, [`${issuerId}:aud`]: 'sts.amazonaws.com' },
                  },
                },
              ],
            }),
          ),
        },
      },
    ],
  };
  opts.configure?.(config);
  const configFile = join(dir, 'sts.yaml');
  writeFileSync(configFile, stringify(config));

  const launched = opts.launch?.({ dir }) ?? {
    child: spawn(
      process.execPath,
      [
        BIN,
        'sts',
        'serve',
        '--config',
        configFile,
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--tls-cert',
        join(dir, 'tls.crt'),
        '--tls-key',
        join(dir, 'tls.key'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OPENIRSA_LOG_LEVEL: 'info' } },
    ),
  };
  const child = launched.child;
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const stsUrl = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`sts serve did not start: ${stderr}`)), 20_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on https:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUrl(`https://localhost:${m[1]}`);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sts serve exited with ${code}: ${stderr}`));
    });
  });

  const mintToken = (over: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return signToken(key, {
      aud: ['sts.amazonaws.com'],
      exp: now + 3600,
      iat: now,
      iss: issuerUrl,
      nbf: now,
      sub: SUB,
      ...over,
    });
  };
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, mintToken());

  return {
    dir,
    caFile,
    issuerUrl,
    stsUrl,
    key,
    roleArn,
    providerArn,
    tokenFile,
    stderr: () => stderr,
    mintToken,
    stop: async () => {
      const exited = new Promise<number | null>((r) =>
        child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code)),
      );
      if (launched.stop) await launched.stop();
      else child.kill('SIGTERM');
      const code = await exited;
      await new Promise<void>((r) => issuer.close(() => r()));
      return code;
    },
  };
}

/**
 * The AWS SDK for JavaScript v3 in a clean child process with the environment the webhook injects (role, token file,
 * STS endpoint, region, CA): `fromTokenFile` (AssumeRoleWithWebIdentity), then GetCallerIdentity with the credentials.
 */
export async function sdkCallerIdentity(
  h: Harness,
): Promise<{ arn: string; userId: string; account: string; akid: string; exp: string }> {
  const script = `
    import { fromTokenFile } from '@aws-sdk/credential-providers';
    import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
    const creds = await fromTokenFile()();
    const sts = new STSClient({ region: 'us-east-1', credentials: creds });
    const id = await sts.send(new GetCallerIdentityCommand({}));
    console.log(JSON.stringify({ arn: id.Arn, userId: id.UserId, account: id.Account, akid: creds.accessKeyId, exp: creds.expiration }));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: cleanEnv({
      AWS_ROLE_ARN: h.roleArn,
      AWS_WEB_IDENTITY_TOKEN_FILE: h.tokenFile,
      AWS_ENDPOINT_URL_STS: h.stsUrl,
      AWS_REGION: 'us-east-1',
      NODE_EXTRA_CA_CERTS: h.caFile,
    }),
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as {
    arn: string;
    userId: string;
    account: string;
    akid: string;
    exp: string;
  };
}

/** A clean environment for a real client: no ambient AWS credentials or config. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  return {
    ...env,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

/** The venv binary, or a loud failure (never a silent skip). */
export function venvTool(name: string): string {
  const p = join(VENV_BIN, name);
  if (!existsSync(p))
    throw new Error(
      `${p} is missing: npm test installs the AWS CLI, boto3 and moto into .cache/venv (bash scripts/python-tools.sh)`,
    );
  return p;
}

/** `openirsa dev` with every listener on a free port, so that dev runs in one test run never meet. */
export const DEV_FREE_PORTS = [
  '--issuer-port=0',
  '--sts-port=0',
  '--webhook-port=0',
  '--metrics-port=0',
  '--agent-port=0',
];
