/**
 * The one mapping from oidc's token errors to what AWS STS answers: its error code and its exact wording (MSG).
 * The oidc message becomes the explanation (logs, `openirsa explain`); the wire carries AWS's text only.
 */
import type { TokenError, TokenErrorCode } from '../oidc/errors.js';
import { MSG, StsError, type StsErrorCode } from './protocol.js';

const AWS_ANSWER: {
  [C in TokenErrorCode]: [StsErrorCode, (f: TokenError['facts']) => string];
} = {
  'token-malformed': ['InvalidIdentityToken', () => MSG.notJwt],
  'alg-unsupported': ['InvalidIdentityToken', (f) => MSG.unsupportedAlg(f.alg ?? '')],
  'signature-invalid': ['InvalidIdentityToken', () => MSG.badSignature],
  'claim-missing': ['InvalidIdentityToken', (f) => MSG.missingClaim(f.claim ?? '')],
  'claim-not-numeric-date': ['InvalidIdentityToken', (f) => MSG.invalidNumericDate(f.claim ?? '')],
  'issuer-unknown': ['InvalidIdentityToken', (f) => MSG.noProvider(f.iss ?? '')],
  'audience-mismatch': ['InvalidIdentityToken', () => MSG.incorrectAudience],
  'token-expired': ['ExpiredTokenException', (f) => MSG.tokenExpired(f.now ?? 0, f.at ?? 0)],
  'token-too-old': ['ExpiredTokenException', (f) => MSG.tokenTooOld(f.age ?? 0)],
  'token-not-yet-valid': ['InvalidIdentityToken', (f) => MSG.notYetValid(f.now ?? 0, f.at ?? 0)],
  'token-issued-in-future': ['InvalidIdentityToken', (f) => MSG.issuedInFuture(f.now ?? 0, f.at ?? 0)],
  'session-tags-invalid': ['InvalidIdentityToken', (f) => MSG.invalidSessionTags(f.why ?? '')],
  'source-identity-invalid': ['InvalidIdentityToken', () => MSG.invalidSourceIdentity],
  // AWS answers InvalidIdentityToken (not IDPCommunicationError) when it cannot fetch the keys.
  'jwks-unreachable': ['InvalidIdentityToken', () => MSG.keyRetrieval],
  'thumbprint-mismatch': ['InvalidIdentityToken', () => MSG.thumbprint],
};

/**
 * AWS's answer to a refused token. The explanation (never sent on the wire) is oidc's reason, then `more`; the
 * TokenError stays the cause, for `openirsa explain`'s fixes.
 */
export function stsErrorOf(err: TokenError, more = ''): StsError {
  const [code, message] = AWS_ANSWER[err.code];
  return new StsError(code, message(err.facts), `${err.message}${more}`, { cause: err });
}
