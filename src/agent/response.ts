/**
 * The container credentials document the AWS SDKs read (`AWS_CONTAINER_CREDENTIALS_FULL_URI`), exactly as EKS's
 * agent writes it (pkg/credentials/model.go): fields in this order, empty ones left out, `Expiration` in Go's
 * RFC3339Nano (fraction without trailing zeros, none when whole seconds).
 */
export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  accountId: string;
  expiration: Date;
}

/** Go's time.RFC3339Nano for a UTC time. */
export function rfc3339Nano(d: Date): string {
  const iso = d.toISOString(); // 2026-01-01T00:00:00.000Z
  const [whole, frac] = iso.slice(0, -1).split('.') as [string, string];
  const trimmed = frac.replace(/0+$/, '');
  return `${whole}${trimmed ? `.${trimmed}` : ''}Z`;
}

export function credentialsBody(c: IssuedCredentials): string {
  const doc: Record<string, string> = {};
  if (c.accessKeyId) doc.AccessKeyId = c.accessKeyId;
  if (c.secretAccessKey) doc.SecretAccessKey = c.secretAccessKey;
  if (c.sessionToken) doc.Token = c.sessionToken;
  if (c.accountId) doc.AccountId = c.accountId;
  doc.Expiration = rfc3339Nano(c.expiration);
  return JSON.stringify(doc);
}
