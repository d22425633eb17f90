/**
 * `openirsa dev --check`: proves the chain the way a pod would, over the wire: AssumeRoleWithWebIdentity
 * with the minted token, then a SigV4-signed GetCallerIdentity with the returned credentials.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../sts/sigv4.js';
import { httpRequestText, type HttpAnswer } from '../net/http-client.js';

/** A POST to dev's own STS, trusting dev's CA only. */
function post(url: URL, headers: Record<string, string>, body: string, ca: string): Promise<HttpAnswer> {
  return httpRequestText(url.href, { method: 'POST', headers, body, ca });
}

function xmlText(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  if (!m) return undefined;
  return m[1]!
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function awsError(answer: HttpAnswer): string {
  return `${answer.status} ${xmlText(answer.body, 'Code') ?? 'error'}: ${xmlText(answer.body, 'Message') ?? answer.body.slice(0, 200)}`;
}

export interface SelfCheckResult {
  assumedRoleArn: string;
  callerArn: string;
  accessKeyId: string;
  expiration: string;
}

export async function selfCheck(options: {
  stsEndpoint: string;
  caBundle: string;
  roleArn: string;
  token: string;
  region: string;
}): Promise<SelfCheckResult> {
  const url = new URL(options.stsEndpoint);
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: options.roleArn,
    RoleSessionName: `openirsa-dev-check-${Date.now()}`,
    WebIdentityToken: options.token,
  });
  const formType = { 'content-type': 'application/x-www-form-urlencoded' };
  const assumed = await post(url, formType, form.toString(), options.caBundle);
  if (assumed.status !== 200) throw new Error(`AssumeRoleWithWebIdentity failed: ${awsError(assumed)}`);
  const accessKeyId = xmlText(assumed.body, 'AccessKeyId');
  const secretAccessKey = xmlText(assumed.body, 'SecretAccessKey');
  const sessionToken = xmlText(assumed.body, 'SessionToken');
  const assumedRoleArn = xmlText(assumed.body, 'Arn');
  const expiration = xmlText(assumed.body, 'Expiration');
  if (!accessKeyId || !secretAccessKey || !sessionToken || !assumedRoleArn || !expiration) {
    throw new Error('AssumeRoleWithWebIdentity answered 200 without complete credentials');
  }

  const signer = new SignatureV4({
    service: 'sts',
    region: options.region,
    credentials: { accessKeyId, secretAccessKey, sessionToken },
    sha256: NodeSha256,
  });
  const body = 'Action=GetCallerIdentity&Version=2011-06-15';
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname || '/',
    headers: { ...formType, host: url.host },
    body,
  });
  const caller = await post(url, signed.headers, body, options.caBundle);
  if (caller.status !== 200) throw new Error(`GetCallerIdentity failed: ${awsError(caller)}`);
  const callerArn = xmlText(caller.body, 'Arn');
  if (callerArn !== assumedRoleArn) {
    throw new Error(`GetCallerIdentity returned ${callerArn ?? 'no Arn'}, expected ${assumedRoleArn}`);
  }
  return { assumedRoleArn, callerArn, accessKeyId, expiration };
}
