/**
 * The credentials `openirsa dev` keeps in its state folder (the STS session key, the IAM API admin key) and the
 * dev agent's own, traded at the dev STS.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Agent as HttpsAgent } from 'node:https';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { writeSecretFile } from '../secret-file.js';
import { base32 } from '../sts/config.js';
import { secretAccessKey } from '../sts/credentials.js';

/** The dev agent's own identity: its ServiceAccount token traded at the dev STS, renewed 5 minutes before expiry. */
export function agentCredentials(
  stsUrl: string,
  ca: string,
  region: string,
  roleArn: string,
  token: () => string,
): () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date }> {
  const client = new STSClient({
    region,
    endpoint: stsUrl,
    requestHandler: { httpsAgent: new HttpsAgent({ ca }) },
  });
  let current:
    { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date } | undefined;
  return async () => {
    if (current && current.expiration.getTime() - Date.now() > 300_000) return current;
    const out = await client.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: roleArn,
        RoleSessionName: 'openirsa-dev-agent',
        WebIdentityToken: token(),
      }),
    );
    const c = out.Credentials!;
    current = {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
      expiration: c.Expiration!,
    };
    return current;
  };
}

export const ADMIN_PROFILE = 'openirsa-admin';
export const ADMIN_SECRET_FILE = 'iam-admin.secret';
const ADMIN_CREDENTIALS_FILE = 'admin-credentials';

/**
 * The IAM API admin key, made on the first run and kept: the secret alone in iam-admin.secret (read by the STS
 * config) and as the `openirsa-admin` profile of an AWS shared credentials file (read by the AWS CLI and SDKs);
 * both 0600.
 */
export async function ensureAdminKey(dir: string): Promise<{ accessKeyId: string; credentialsFile: string }> {
  const credentialsFile = join(dir, ADMIN_CREDENTIALS_FILE);
  const secretFile = join(dir, ADMIN_SECRET_FILE);
  try {
    const text = await readFile(credentialsFile, 'utf8');
    const accessKeyId = /aws_access_key_id\s*=\s*(\S+)/.exec(text)?.[1];
    const secret = (await readFile(secretFile, 'utf8')).trim();
    if (accessKeyId && secret && text.includes(secret)) return { accessKeyId, credentialsFile };
  } catch {
    // first run, or a half-made pair: make a new key
  }
  const accessKeyId = 'AKIA' + base32(randomBytes(10), 16);
  const secret = secretAccessKey();
  await writeSecretFile(secretFile, secret + '\n');
  await writeSecretFile(
    credentialsFile,
    `[${ADMIN_PROFILE}]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secret}\n`,
  );
  return { accessKeyId, credentialsFile };
}

/** The STS session key lives in the state folder so credentials survive a restart of `openirsa dev`. */
export async function ensureSessionKey(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    const key = randomBytes(32).toString('base64') + '\n';
    await writeSecretFile(file, key, { mode: 0o600, replace: false });
    return key;
  }
}

/** A role session name that changes with the STS session key and reveals nothing of it (a hash prefix). */
export function devSessionName(sessionKey: string): string {
  return `openirsa-dev-${createHash('sha256').update(sessionKey.trim()).digest('hex').slice(0, 12)}`;
}
