import { OpenIrsaError, type IssuerErrorCode } from '../errors.js';

export type { IssuerErrorCode } from '../errors.js';

/** A failure with a stable code and a one-line message that never contains key material or tokens. */
export class IssuerError extends OpenIrsaError<IssuerErrorCode> {}
