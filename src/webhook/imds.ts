/**
 * `--compose-role-arn`: the webhook's own account and partition from the EC2 instance identity document (IMDSv2,
 * falling back to IMDSv1), read once at startup; any failure is fatal, as in the reference.
 */
import type { ComposeRoleArn } from './cache.js';
import { OpenIrsaError, messageOf } from '../errors.js';

/** Partition from a region name (the reference's prefix table). */
export function partitionForRegion(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('eusc-')) return 'aws-eusc';
  return 'aws';
}

export class ImdsError extends OpenIrsaError {
  constructor(message: string) {
    super('ImdsUnavailable', message);
  }
}

/** Fetch the instance identity document. The endpoint honours AWS_EC2_METADATA_SERVICE_ENDPOINT like the SDKs. */
export async function composeRoleArnFromImds(
  endpoint = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT || 'http://169.254.169.254',
  timeoutMs = 2000,
): Promise<ComposeRoleArn> {
  const base = endpoint.replace(/\/+$/, '');
  const headers: Record<string, string> = {};
  try {
    const t = await fetch(`${base}/latest/api/token`, {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (t.ok) headers['X-aws-ec2-metadata-token'] = await t.text();
  } catch {
    // IMDSv1 fallback below.
  }
  let doc: { accountId?: unknown; region?: unknown };
  try {
    const r = await fetch(`${base}/latest/dynamic/instance-identity/document`, {
      headers,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    doc = (await r.json()) as typeof doc;
  } catch (err) {
    throw new ImdsError(
      `--compose-role-arn: cannot read the EC2 instance identity document from ${base}: ${messageOf(err)}`,
    );
  }
  if (typeof doc.accountId !== 'string' || typeof doc.region !== 'string') {
    throw new ImdsError('--compose-role-arn: the instance identity document has no accountId/region');
  }
  return { accountId: doc.accountId, partition: partitionForRegion(doc.region) };
}
