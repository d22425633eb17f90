/** The AWS SDK v3 clients' configuration and error text, shared by `setup` and `doctor --aws`. */
import { readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { cannotRead } from '../file-errors.js';

/**
 * Client configuration from the standard AWS environment: the SDK itself reads credentials and
 * AWS_ENDPOINT_URL_<SERVICE>; the region defaults to us-east-1 (IAM is global), and AWS_CA_BUNDLE is honoured as
 * the AWS CLI honours it (the JavaScript SDK does not read it).
 */
export async function awsClientConfig(
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, unknown>> {
  // The SDK's Node version notice would turn a one-line error into ten lines.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config: Record<string, unknown> = { region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1' };
  if (env.AWS_CA_BUNDLE) {
    let ca: string;
    try {
      ca = await readFile(env.AWS_CA_BUNDLE, 'utf8');
    } catch (err) {
      throw new Error(cannotRead('AWS_CA_BUNDLE', env.AWS_CA_BUNDLE, err));
    }
    config.requestHandler = { httpsAgent: new Agent({ ca }) };
  }
  return config;
}

/** AWS's error code and message, never a stack or a credential. */
export function awsErrorText(err: unknown): string {
  const e = err as {
    name?: string;
    Code?: string;
    message?: string;
    $response?: { statusCode?: number };
  };
  // An answer the SDK could not read as AWS's (an HTML page: a proxy, or an IAM-compatible endpoint without the
  // action): the SDK's text is about its XML parser and a hidden field, so say what happened instead.
  if (e.$response && /Deserialization error/.test(e.message ?? '')) {
    const status = e.$response.statusCode ? ` HTTP ${e.$response.statusCode}` : '';
    return `the endpoint answered${status} with something that is not an AWS response (does it implement this action?)`;
  }
  return `${e.Code ?? e.name ?? 'Error'}: ${e.message ?? String(err)}`;
}

export const isNoSuchEntity = (err: unknown): boolean =>
  (err as { name?: string }).name === 'NoSuchEntityException' ||
  (err as { Code?: string }).Code === 'NoSuchEntity';
