/**
 * Publishes an issuer folder to another folder or to an S3-compatible bucket, with
 * Content-Type application/json, then reads every object back and compares it byte for byte.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { IssuerError } from './errors.js';
import { writeDocuments, type DocumentFile } from './documents.js';
import { DEFAULT_MAX_AGE_SECONDS } from './serve.js';

export type PublishTarget = { kind: 'folder'; dir: string } | { kind: 's3'; bucket: string; prefix: string };

/** "s3://bucket/prefix" or a folder path. */
export function parsePublishTarget(to: string): PublishTarget {
  if (!to) throw new IssuerError('BadInput', 'a destination folder or s3://bucket/prefix is required');
  if (/^s3:/i.test(to)) {
    const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(to);
    // Bucket naming rules (3-63 chars, lower case, digits, dots, hyphens).
    if (!m || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1]!)) {
      throw new IssuerError('BadInput', `"${to}" is not s3://bucket[/prefix] with a valid bucket name`);
    }
    const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
    return { kind: 's3', bucket: m[1]!, prefix };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(to)) {
    throw new IssuerError('BadInput', `"${to}": only folders and s3:// destinations are supported`);
  }
  return { kind: 'folder', dir: to };
}

export interface PublishedObject {
  /** Where it went: a file path or s3://bucket/key. */
  location: string;
  contentType: string;
  bytes: number;
  /** It was already there with these bytes (and, in S3, this Content-Type and Cache-Control): nothing written. */
  unchanged: boolean;
}

async function publishToFolder(files: DocumentFile[], dir: string): Promise<PublishedObject[]> {
  const pathOf = (f: DocumentFile) => join(dir, ...f.path.split('/'));
  const before = await Promise.all(files.map((f) => readFile(pathOf(f), 'utf8').catch(() => undefined)));
  // Only what differs is written, so a second run can say "unchanged" (and leaves the files' dates alone).
  await writeDocuments(
    dir,
    files.filter((f, i) => before[i] !== f.body),
  );
  return Promise.all(
    files.map(async (f, i) => {
      const path = pathOf(f);
      const back = await readFile(path, 'utf8').catch(() => undefined);
      if (back !== f.body) throw new IssuerError('VerifyMismatch', `${path} does not read back as written`);
      return {
        location: path,
        contentType: f.contentType,
        bytes: Buffer.byteLength(f.body),
        unchanged: before[i] === f.body,
      };
    }),
  );
}

/** An S3 client from the standard AWS environment; an endpoint override means path-style addressing. */
export function s3ClientFromEnv(env: NodeJS.ProcessEnv = process.env): S3Client {
  // The SDK's Node version notice would turn a one-line error into ten lines.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  return new S3Client({
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
  });
}

/**
 * Where the AWS SDK looked for credentials (its default chain), said in one line: the SDK's own message is only
 * "Could not load credentials from any providers".
 */
export function noCredentialsMessage(env: NodeJS.ProcessEnv = process.env): string {
  const profile = env.AWS_PROFILE || 'default';
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE || '~/.aws/credentials';
  const configFile = env.AWS_CONFIG_FILE || '~/.aws/config';
  return (
    `no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), ` +
    `or put profile "${profile}" (AWS_PROFILE) in ${credentialsFile} or ${configFile}, ` +
    `or set AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE; on EC2 or ECS the instance or task role is used`
  );
}

function s3Error(action: string, where: string, err: unknown): IssuerError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'CredentialsProviderError')
    return new IssuerError('NoCredentials', `${action} ${where} failed: ${noCredentialsMessage()}`);
  const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
  const msg = (e.message ?? String(err)).split('\n')[0];
  return new IssuerError('PublishFailed', `${action} ${where} failed${status}: ${e.name ?? 'Error'}: ${msg}`);
}

async function publishToS3(
  files: DocumentFile[],
  bucket: string,
  prefix: string,
  client: S3Client,
  maxAgeSeconds: number,
): Promise<PublishedObject[]> {
  const out: PublishedObject[] = [];
  for (const f of files) {
    const key = prefix ? `${prefix}/${f.path}` : f.path;
    const where = `s3://${bucket}/${key}`;
    const cacheControl = `public, max-age=${maxAgeSeconds}`;
    // What is there already (absent or unreadable: written); the same object is not uploaded again.
    const existing = await client
      .send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      .catch(() => undefined);
    // The body is always read: a stream left unread would hold its connection.
    const existingBody = await existing?.Body?.transformToString('utf-8').catch(() => undefined);
    const unchanged =
      existing !== undefined &&
      existingBody === f.body &&
      existing.ContentType === f.contentType &&
      existing.CacheControl === cacheControl;
    if (!unchanged) {
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: f.body,
            ContentType: f.contentType,
            CacheControl: cacheControl,
          }),
        );
      } catch (err) {
        throw s3Error('upload to', where, err);
      }
    }
    let body: string;
    let contentType: string | undefined;
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      body = (await got.Body?.transformToString('utf-8')) ?? '';
      contentType = got.ContentType;
    } catch (err) {
      throw s3Error('read-back of', where, err);
    }
    if (body !== f.body) throw new IssuerError('VerifyMismatch', `${where} does not read back as uploaded`);
    if (contentType !== f.contentType) {
      throw new IssuerError(
        'VerifyMismatch',
        `${where} has Content-Type ${contentType ?? '(none)'}, not ${f.contentType}`,
      );
    }
    out.push({ location: where, contentType, bytes: Buffer.byteLength(f.body), unchanged });
  }
  return out;
}

export interface PublishOptions {
  /** S3 client to use (default: from the AWS environment). */
  s3?: S3Client;
  maxAgeSeconds?: number;
}

/** Publishes the documents and verifies them; returns what was written. */
export async function publishDocuments(
  files: DocumentFile[],
  to: string | PublishTarget,
  options: PublishOptions = {},
): Promise<PublishedObject[]> {
  const target = typeof to === 'string' ? parsePublishTarget(to) : to;
  if (target.kind === 'folder') return publishToFolder(files, target.dir);
  const client = options.s3 ?? s3ClientFromEnv();
  try {
    return await publishToS3(
      files,
      target.bucket,
      target.prefix,
      client,
      options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS,
    );
  } finally {
    if (!options.s3) client.destroy();
  }
}

/** The public URL a bucket object would have on AWS (virtual-hosted style), to compare with the issuer. */
export function s3PublicUrl(bucket: string, prefix: string, region: string): string {
  const host = region === 'us-east-1' ? `${bucket}.s3.amazonaws.com` : `${bucket}.s3.${region}.amazonaws.com`;
  return prefix ? `https://${host}/${prefix}` : `https://${host}`;
}
