/**
 * The contract of the policy engine (src/iam): what the STS and the tools give it and get back.
 * The engine is pure: no clock, no I/O; the caller passes every condition-key value, the time included.
 */

/** A condition key's value in a request: single-valued keys are strings, multivalued keys string arrays. */
export type ConditionValue = string | string[];

export interface RequestContext {
  /** The action being authorised, e.g. `sts:AssumeRoleWithWebIdentity`. */
  action: string;
  /**
   * Who is asking. For web identity: `{ type: 'Federated', id: <IAM OIDC provider ARN> }`; for AssumeRole:
   * `{ type: 'AWS', id: <caller ARN> }` (the engine also matches the account ARN and root forms).
   * Undefined for identity-based (permission) policies, which have no Principal element.
   */
  principal?: { type: 'Federated' | 'AWS' | 'Service' | 'CanonicalUser'; id: string };
  /** The resource ARN, for permission policies (trust policies have no Resource element). */
  resource?: string;
  /** Condition keys exactly as IAM names them; lookup is case-insensitive. Absent key = missing in the request. */
  conditionKeys: Record<string, ConditionValue>;
}

export type Effect = 'Allow' | 'Deny';
export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

/** Why one element of a statement matched or not: the raw material of `explain`. */
export interface ElementResult {
  element: 'Principal' | 'NotPrincipal' | 'Action' | 'NotAction' | 'Resource' | 'NotResource' | 'Condition';
  matched: boolean;
  /**
   * True when the element's outcome cannot be known (a policy variable that cannot be resolved, or a resource
   * ARN AWS documents no reading for); `matched` is then false. Such an element never lets an Allow statement
   * apply, and never stops a Deny statement from applying.
   */
  undetermined?: boolean;
  /** Human-readable reason, naming the value(s) compared, e.g. `"system:serviceaccount:a:b" does not match ...`. */
  reason: string;
  /** For Condition: one entry per operator/key pair. */
  conditions?: ConditionResult[];
  /** For Action/NotAction/Resource/NotResource: the policy's values (added by the iam helper). */
  values?: string[];
  /** For Principal/NotPrincipal: the policy's principal element, `'*'` or values per principal type. */
  principal?: '*' | Partial<Record<'AWS' | 'Federated' | 'Service' | 'CanonicalUser', string[]>>;
}

export interface ConditionResult {
  operator: string;
  key: string;
  /** The policy's values for this key. */
  policyValues: string[];
  /** The request's value(s), or undefined when the key is missing from the request. */
  requestValues?: string[];
  matched: boolean;
  /** The outcome depends on a policy variable that cannot be resolved (`matched` is then false). */
  undetermined?: boolean;
  reason: string;
}

export interface StatementResult {
  /** Index in the Statement array, and its Sid when it has one. */
  index: number;
  sid?: string;
  effect: Effect;
  /**
   * True when the statement applies to the request: every element matched, or, for a Deny, every element matched
   * or was undetermined.
   */
  matched: boolean;
  elements: ElementResult[];
  /** JSON path of the statement in the document, e.g. `$.Statement[1]`. */
  path: string;
}

export interface EvaluationResult {
  decision: Decision;
  statements: StatementResult[];
}
