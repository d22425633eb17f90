/** Error codes of the issuer library: every failure a user can cause has one. */
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

/** A failure with a stable code and a one-line message that never contains key material or tokens. */
export class IssuerError extends Error {
  constructor(
    readonly code: IssuerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'IssuerError';
  }
}
