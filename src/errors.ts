/**
 * openirsa's one error base, modelled on panva/jose's util/errors.ts: every error openirsa throws on purpose is an
 * OpenIrsaError with a stable `code` from a closed union, so a caller (the CLI, a library user) decides on the code,
 * never on the wording. This module imports nothing: every part imports it from below.
 *
 * Two kinds of code:
 * - openirsa's own (`ErrorCode`, listed here, one name per kind of failure);
 * - a wire protocol's (STS, IAM, EKS Auth, the Kubernetes API's HTTP status) or a part's own closed set that a
 *   layer above maps (oidc's TokenErrorCode, mapped by the STS): the error answers or mirrors a client
 *   of that protocol, so its code is the protocol's own, declared beside the protocol (sts/protocol.ts, ...).
 */

/** The issuer library's codes: every failure a user can cause has one. */
export type IssuerErrorCode =
  | 'KeyUnreadable'
  | 'KeyInvalid'
  | 'KeyUnsupported'
  | 'KeyExists'
  | 'UrlInvalid'
  | 'DocumentInvalid'
  | 'PublishFailed'
  | 'NoCredentials'
  | 'PortInUse'
  | 'VerifyMismatch'
  | 'FetchFailed'
  | 'TokenInvalid'
  | 'BadInput';

/** `setup`'s planning refusals. */
export type SetupPlanErrorCode = 'ServiceAccountMissing' | 'TrustPolicyRefused';

/** `setup`'s execution failures (what ran is kept). */
export type SetupErrorCode = 'IamFailed' | 'KubernetesFailed' | 'IssuerCheckFailed' | 'ClientMissing';

/** Every code of openirsa's own errors. */
export type ErrorCode =
  // Input a user gave: a file, a flag, a config.
  | 'FileUnreadable'
  | 'SyntaxInvalid'
  | 'UsageInvalid'
  | 'CommandFailed'
  | 'FlagInvalid'
  | 'StsConfigInvalid'
  | 'IamApiConfigInvalid'
  | 'IamStateFileInvalid'
  | 'AgentConfigInvalid'
  | 'AssociationInvalid'
  | 'KubeconfigInvalid'
  | 'TlsConfigInvalid'
  | 'ConfigMapInvalid'
  | 'ContainerCredentialsConfigInvalid'
  | 'ServiceAccountsFileInvalid'
  | 'RenderUnsupported'
  // Something openirsa talks to failed or refused.
  | 'HttpFetchFailed'
  | 'KubeWatchGone'
  | 'ImdsUnavailable'
  | 'IamStateConflict'
  | 'PortsInUse'
  | 'WebhookStartFailed'
  | 'WorkerStartFailed'
  // The admission request body, judged as the reference's Go decoder would.
  | 'AdmissionBodyInvalid'
  | 'GoJsonSyntaxInvalid'
  | 'GoJsonTypeInvalid'
  | 'QuantityInvalid'
  // Parts' own families.
  | IssuerErrorCode
  | SetupPlanErrorCode
  | SetupErrorCode;

/**
 * The base of every error openirsa throws on purpose. `C` is `ErrorCode` unless the error speaks a wire protocol
 * (then it is that protocol's union). The message is one line meant for a user: no stack, no secret.
 */
export class OpenIrsaError<C extends string | number = ErrorCode> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The message of anything thrown, never its stack. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
