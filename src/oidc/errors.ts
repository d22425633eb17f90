/**
 * Why oidc refused a web identity token, as a closed set of codes. oidc knows nothing of STS: the STS maps each
 * code to AWS's error code and wording in one place (src/sts/token-errors.ts). The message says the cause in
 * words, with the values involved, for explanations and logs.
 */
import { OpenIrsaError } from '../errors.js';

export type TokenErrorCode =
  | 'token-malformed'
  | 'alg-unsupported'
  | 'signature-invalid'
  | 'claim-missing'
  | 'claim-not-numeric-date'
  | 'issuer-unknown'
  | 'audience-mismatch'
  | 'token-expired'
  | 'token-too-old'
  | 'token-not-yet-valid'
  | 'token-issued-in-future'
  | 'session-tags-invalid'
  | 'source-identity-invalid'
  | 'jwks-unreachable'
  | 'thumbprint-mismatch';

/** The values a code's wording names; times are epoch seconds. */
export interface TokenErrorFacts {
  /** claim-missing, claim-not-numeric-date: the claim's name. */
  claim?: string;
  /** issuer-unknown: the token's iss. */
  iss?: string;
  /** alg-unsupported: the token's alg, as text. */
  alg?: string;
  /** The time the token was checked at, and the exp / nbf / iat it failed against. */
  now?: number;
  at?: number;
  /** token-too-old: the token's age in seconds. */
  age?: number;
  /** session-tags-invalid: what is wrong with the tags claim. */
  why?: string;
}

export class TokenError extends OpenIrsaError<TokenErrorCode> {
  constructor(
    code: TokenErrorCode,
    message: string,
    readonly facts: TokenErrorFacts = {},
  ) {
    super(code, message);
  }
}
