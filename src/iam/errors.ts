/** Typed errors of the policy engine. Messages never carry secrets (policies and ARNs are not secret). */
import { OpenIrsaError, messageOf } from '../errors.js';

export type IamErrorCode = 'MalformedPolicyDocument' | 'LimitExceeded' | 'InvalidArn' | 'InvalidInput';

export class IamError extends OpenIrsaError<IamErrorCode> {
  constructor(
    code: IamErrorCode,
    message: string,
    /** JSON path of the offending element, e.g. `$.Statement[0].Resource`, when there is one. */
    readonly path?: string,
  ) {
    super(code, message);
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
  }
}

export class InvalidArnError extends IamError {
  constructor(message: string) {
    super('InvalidArn', message);
  }
}

/** What a policy check's failure says: its message, and where and what exactly when it is an IAM error. */
export function policyErrorParts(err: unknown): { message: string; path?: string; detail?: string } {
  return {
    message: messageOf(err),
    ...(err instanceof IamError && err.path !== undefined ? { path: err.path } : {}),
    ...(err instanceof MalformedPolicyError && err.detail !== undefined ? { detail: err.detail } : {}),
  };
}
