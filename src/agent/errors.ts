/**
 * Errors the agent answers with, shaped as EKS's Pod Identity Agent shapes them (aws/eks-pod-identity-agent,
 * pkg/errors/errors.go): Go's `http.Error` — a plain-text body of one line — with the status that says who is at fault.
 *
 * - request checks the agent itself makes (empty/unparsable token, basic claims): 400, the agent's own message;
 * - a request sent to an address the agent does not serve: 403 `Access Denied. …`;
 * - what the credentials service decides (EKS Auth's AssumeRoleForPodIdentity there, this agent's own checks here:
 *   signature, audience, pod, association) and any upstream STS error: the service's status, and the body
 *   `[<request id>]: (<error code>): <message>, fault: <client|server>`.
 */
import { OpenIrsaError } from '../errors.js';

/** EKS Auth's AssumeRoleForPodIdentity errors and their HTTP status (its Smithy model, eks-auth 2023-11-26). */
export const SERVICE_ERROR_STATUS = {
  AccessDeniedException: 400,
  ExpiredTokenException: 400,
  InternalServerException: 500,
  InvalidParameterException: 400,
  InvalidRequestException: 400,
  InvalidTokenException: 400,
  ResourceNotFoundException: 404,
  ServiceUnavailableException: 503,
  ThrottlingException: 429,
} as const;
export type ServiceErrorCode = keyof typeof SERVICE_ERROR_STATUS;

export type AgentErrorKind = 'request' | 'address' | 'service' | 'upstream' | 'internal';

export class AgentError extends OpenIrsaError<string> {
  constructor(
    readonly kind: AgentErrorKind,
    /** HTTP status of the answer. */
    readonly status: number,
    /** A stable code: the service error code, or the agent's own for request checks (the wire's, so open). */
    code: string,
    /** The response body (one line, without the trailing newline Go's http.Error adds). */
    readonly body: string,
  ) {
    super(code, body);
  }
}

/** The agent's own request validation (400). */
export function requestError(code: string, message: string): AgentError {
  return new AgentError('request', 400, code, message);
}

/** The Host of the request is not one of the agent's addresses (403). */
export function addressError(allowed: readonly string[], host: string): AgentError {
  return new AgentError(
    'address',
    403,
    'InvalidAddress',
    `Access Denied. Called agent through invalid address, please use either [${allowed.join(' ')}] address not ${host}`,
  );
}

/** A decision of the credentials service (token, pod, association), with EKS Auth's code and status. */
export function serviceError(
  code: ServiceErrorCode,
  message: string,
  requestId: string,
  fault: 'client' | 'server' = SERVICE_ERROR_STATUS[code] >= 500 ? 'server' : 'client',
): AgentError {
  return new AgentError(
    'service',
    SERVICE_ERROR_STATUS[code],
    code,
    `[${requestId}]: (${code}): ${message}, fault: ${fault}`,
  );
}

/** An error answer from STS, passed on as the EKS agent passes on EKS Auth's: its status, request id, code. */
export function upstreamError(
  status: number | undefined,
  code: string,
  message: string,
  requestId: string | undefined,
  fault: 'client' | 'server',
): AgentError {
  const httpStatus = status && status >= 400 && status <= 599 ? status : 500;
  const parts = [requestId ? `[${requestId}]` : undefined, `(${code}): ${message}, fault: ${fault}`].filter(
    (p): p is string => p !== undefined,
  );
  return new AgentError('upstream', httpStatus, code, parts.join(': '));
}

/** STS could not be reached or answered nonsense: 500 with a message that names no secret. */
export function internalError(message: string): AgentError {
  return new AgentError('internal', 500, 'InternalError', message);
}
