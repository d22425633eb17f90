/** GetCallerIdentity: who the verified credentials belong to (always allowed, even under an explicit Deny). */
import { sessionArn, type Session } from './credentials.js';
import type { CallerIdentityOut } from './protocol.js';

export function callerIdentity(session: Session): CallerIdentityOut {
  return {
    arn: sessionArn(session),
    userId: `${session.roleId}:${session.sessionName}`,
    account: session.account,
  };
}
