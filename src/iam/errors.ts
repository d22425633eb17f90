/** Typed errors of the policy engine. Messages never carry secrets (policies and ARNs are not secret). */

export type IamErrorCode = 'MalformedPolicyDocument' | 'LimitExceeded' | 'InvalidArn' | 'InvalidInput';

export class IamError extends Error {
  constructor(
    readonly code: IamErrorCode,
    message: string,
    /** JSON path of the offending element, e.g. `$.Statement[0].Resource`, when there is one. */
    readonly path?: string,
  ) {
    super(message);
    this.name = 'IamError';
  }
}

/** IAM's `MalformedPolicyDocument`: the message is IAM's own wording; `path` says where. */
export class MalformedPolicyError extends IamError {
  constructor(
    message: string,
    path = '$',
    /** What exactly is wrong, when IAM's own message is terse ("Syntax errors in policy."). */
    readonly detail?: string,
  ) {
    super('MalformedPolicyDocument', message, path);
    this.name = 'MalformedPolicyError';
  }

  /** One line for humans: IAM's message, then where and what. */
  describe(): string {
    return `${this.message} (at ${this.path}${this.detail ? `: ${this.detail}` : ''})`;
  }
}

/** IAM's `LimitExceeded` for policy size quotas. */
export class PolicySizeError extends IamError {
  constructor(
    message: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super('LimitExceeded', message, '$');
    this.name = 'PolicySizeError';
  }
}

export class InvalidArnError extends IamError {
  constructor(message: string) {
    super('InvalidArn', message);
    this.name = 'InvalidArnError';
  }
}
