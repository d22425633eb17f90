/**
 * The one table of IAM API error codes, HTTP statuses and messages. Codes and statuses are botocore's IAM model
 * (botocore/data/iam/2010-05-08/service-2.json, `error.code` / `httpStatusCode` of each *Exception shape);
 * messages are IAM's own wording where AWS shows it (API reference "Errors" sections, real responses quoted in
 * the AWS CLI / Terraform issue trackers); `explanation` is for the log only, never the wire.
 */
import { validationMessage, type Violation } from '../sts/protocol.js';
import { OpenIrsaError } from '../errors.js';

export const IAM_ERROR_STATUS = {
  NoSuchEntity: 404,
  EntityAlreadyExists: 409,
  MalformedPolicyDocument: 400,
  ValidationError: 400,
  LimitExceeded: 409,
  DeleteConflict: 409,
  InvalidInput: 400,
  UnmodifiableEntity: 400,
  PolicyNotAttachable: 400,
  ConcurrentModification: 409,
  ServiceFailure: 500,
  // Authentication / authorization and the Query protocol (shared with every AWS Query service).
  AccessDenied: 403,
  InvalidClientTokenId: 403,
  SignatureDoesNotMatch: 403,
  IncompleteSignature: 400,
  MissingAuthenticationToken: 403,
  ExpiredToken: 403,
  InvalidAction: 400,
  MissingAction: 400,
  RequestEntityTooLarge: 413,
  MethodNotAllowed: 405,
} as const;

export type IamApiErrorCode = keyof typeof IAM_ERROR_STATUS;

/** IAM's messages; functions where IAM interpolates values. */
export const IAM_MSG = {
  noSuchRole: (name: string) => `The role with name ${name} cannot be found.`,
  noSuchRolePolicy: (policy: string) => `The role policy with name ${policy} cannot be found.`,
  roleExists: (name: string) => `Role with name ${name} already exists.`,
  noSuchProvider: (arn: string) => `OpenIDConnect Provider not found for arn ${arn}`,
  providerExists: (url: string) => `Provider with url ${url} already exists.`,
  policyExists: (name: string) => `A policy called ${name} already exists. Duplicate names are not allowed.`,
  noSuchPolicy: (arn: string) => `Policy ${arn} was not found.`,
  notAttachable: (arn: string) => `Policy ${arn} does not exist or is not attachable.`,
  policyNotAttached: (arn: string) => `Policy ${arn} was not found.`,
  noSuchPolicyVersion: (arn: string, v: string) =>
    `Policy ${arn} version ${v} does not exist or is not attachable.`,
  deleteRoleInline: 'Cannot delete entity, must delete policies first.',
  deleteRoleAttached: 'Cannot delete entity, must detach all policies first.',
  deletePolicyAttached: 'Cannot delete a policy attached to entities.',
  invalidArn: (arn: string) => `ARN ${arn} is not valid.`,
  invalidPath:
    'The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.',
  invalidUrl: 'Invalid Openid Connect Provider URL',
  thumbprintLength: (t: string) => `Thumbprint ${t} must be 40 characters long.`,
  thumbprintHex: (t: string) => `Thumbprint ${t} must be a hexadecimal string.`,
  thumbprintCount: 'Thumbprint list must contain fewer than 5 entries.',
  thumbprintRequired: 'Thumbprint list must contain at least one entry.',
  clientIdQuota: 'Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100',
  providerQuota: 'Cannot exceed quota for OpenIdConnectProvidersPerAccount: 100',
  rolesQuota: (n: number) => `Cannot exceed quota for RolesPerAccount: ${n}`,
  attachedQuota: (n: number) => `Cannot exceed quota for PoliciesPerRole: ${n}`,
  policiesQuota: (n: number) => `Cannot exceed quota for PoliciesPerAccount: ${n}`,
  inlineSizeQuota: (role: string) => `Maximum policy size of 10240 bytes exceeded for role ${role}`,
  tagsQuota: (what: string) => `Cannot exceed quota for TagsPer${what}: 50`,
  duplicateTagKeys: 'Duplicate tag keys found. Please note that Tag keys are case insensitive.',
  notAuthorized: (caller: string, action: string, resource: string, why: string) =>
    `User: ${caller} is not authorized to perform: ${action} on resource: ${resource} ${why}`,
  noIdentityPolicy: (action: string) => `because no identity-based policy allows the ${action} action`,
  explicitDeny: 'with an explicit deny in an identity-based policy',
  noSessionPolicy: (action: string) => `because no session policy allows the ${action} action`,
  invalidAction: (action: string, version: string) =>
    `Could not find operation ${action} for version ${version}`,
  missingAction: 'Missing Action',
  unsupportedVersion: (v: string) => `Could not find operation for version ${v}`,
  internal: 'An internal error occurred; the request was not processed',
  invalidClientTokenId: 'The security token included in the request is invalid.',
  concurrentModification:
    'The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.',
} as const;

/** An error answered as IAM error XML. */
export class IamApiError extends OpenIrsaError<IamApiErrorCode> {
  readonly status: number;
  /** Per-statement reasons for the log (authorization denials). */
  details?: string[];
  constructor(
    code: IamApiErrorCode,
    message: string,
    readonly explanation?: string,
  ) {
    super(code, message);
    this.status = IAM_ERROR_STATUS[code];
  }
  get type(): 'Sender' | 'Receiver' {
    return this.status >= 500 ? 'Receiver' : 'Sender';
  }
}

/** Constraint failures of the request model, in the Query protocol's "N validation errors detected: …" form. */
export function iamValidationError(violations: Violation[]): IamApiError {
  return new IamApiError('ValidationError', validationMessage(violations));
}
