/**
 * Where credentials come from: AWS STS (or `openirsa sts serve`) through the AWS SDK's own STS client.
 * - agent-identity: sts:AssumeRole with the agent's own credentials (the SDK's default chain — IRSA in a cluster),
 *   session tags and transitive tag keys; then, for a target role, a chained AssumeRole from that session;
 * - web-identity: sts:AssumeRoleWithWebIdentity with the pod's token (unsigned), then the same optional chaining.
 * STS errors are passed on as EKS's agent passes on EKS Auth's: STS's status, request id, code and message.
 */
import {
  AssumeRoleCommand,
  AssumeRoleWithWebIdentityCommand,
  STSClient,
  STSServiceException,
  type Credentials,
  type AssumedRoleUser,
} from '@aws-sdk/client-sts';
import { AgentError, internalError, upstreamError } from './errors.js';
import type { CredentialsPlan } from './plan.js';
import type { IssuedCredentials } from './response.js';

export interface Upstream {
  issue(plan: CredentialsPlan, podToken: string): Promise<IssuedCredentials>;
}

export interface StsUpstreamOptions {
  region: string;
  /** STS endpoint URL (default: the SDK's — AWS_ENDPOINT_URL_STS or the regional AWS endpoint). */
  endpoint?: string;
  /** Session length asked for (chained sessions are capped at 1 h by STS). */
  durationSeconds?: number;
  /** Per-call timeout (ms). */
  timeoutMs?: number;
}

const ACCOUNT_OF_ARN = /^arn:[^:]+:sts::(\d{12}):/;

/** Maps any SDK failure to an AgentError; never includes request parameters (tokens) in the message. */
export function toAgentError(err: unknown): Error {
  if (err instanceof AgentError) return err;
  if (err instanceof STSServiceException) {
    return upstreamError(
      err.$metadata.httpStatusCode,
      err.name,
      err.message,
      err.$metadata.requestId,
      err.$fault === 'server' ? 'server' : 'client',
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return internalError(
    `error getting credentials to cache: unable to fetch credentials from STS: ${message}`,
  );
}

function issued(creds: Credentials | undefined, user: AssumedRoleUser | undefined): IssuedCredentials {
  if (!creds?.AccessKeyId || !creds.SecretAccessKey || !creds.SessionToken || !creds.Expiration || !user?.Arn)
    throw internalError('invalid response from STS: credentials or assumed role empty');
  return {
    accessKeyId: creds.AccessKeyId,
    secretAccessKey: creds.SecretAccessKey,
    sessionToken: creds.SessionToken,
    expiration: creds.Expiration,
    accountId: ACCOUNT_OF_ARN.exec(user.Arn)?.[1] ?? '',
  };
}

export class StsUpstream implements Upstream {
  /** The agent's own identity (default credential chain); also used unsigned for AssumeRoleWithWebIdentity. */
  private readonly client: STSClient;
  calls = 0;

  constructor(private readonly o: StsUpstreamOptions) {
    this.client = this.makeClient();
  }

  private makeClient(credentials?: IssuedCredentials): STSClient {
    return new STSClient({
      region: this.o.region,
      ...(this.o.endpoint !== undefined && { endpoint: this.o.endpoint }),
      maxAttempts: 2,
      requestHandler: { requestTimeout: this.o.timeoutMs ?? 5000, connectionTimeout: 2000 },
      ...(credentials && {
        credentials: {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          sessionToken: credentials.sessionToken,
          expiration: credentials.expiration,
        },
      }),
    });
  }

  async issue(plan: CredentialsPlan, podToken: string): Promise<IssuedCredentials> {
    const duration = this.o.durationSeconds ?? 3600;
    try {
      this.calls++;
      let creds: IssuedCredentials;
      if (plan.model === 'web-identity') {
        const out = await this.client.send(
          new AssumeRoleWithWebIdentityCommand({
            RoleArn: plan.roleArn,
            RoleSessionName: plan.sessionName,
            WebIdentityToken: podToken,
            DurationSeconds: duration,
          }),
        );
        creds = issued(out.Credentials, out.AssumedRoleUser);
      } else {
        const tags = Object.entries(plan.tags).map(([Key, Value]) => ({ Key, Value }));
        const out = await this.client.send(
          new AssumeRoleCommand({
            RoleArn: plan.roleArn,
            RoleSessionName: plan.sessionName,
            DurationSeconds: duration,
            ...(tags.length > 0 && { Tags: tags }),
            ...(plan.transitiveTagKeys.length > 0 && { TransitiveTagKeys: plan.transitiveTagKeys }),
          }),
        );
        creds = issued(out.Credentials, out.AssumedRoleUser);
      }
      if (plan.targetRoleArn) {
        // Chained: transitive tags carry over from the first session on their own.
        this.calls++;
        const chained = this.makeClient(creds);
        try {
          const out = await chained.send(
            new AssumeRoleCommand({
              RoleArn: plan.targetRoleArn,
              RoleSessionName: plan.sessionName,
              DurationSeconds: Math.min(duration, 3600),
              ...(plan.externalId !== undefined && { ExternalId: plan.externalId }),
            }),
          );
          creds = issued(out.Credentials, out.AssumedRoleUser);
        } finally {
          chained.destroy();
        }
      }
      return creds;
    } catch (err) {
      throw toAgentError(err);
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}
